//! The model's lifecycle, watched: after init, off the request path, each chat function asks
//! OpenAI about its model once (`GET /models/{id}`). An announced shutdown is a WARN line and
//! the metric `ModelDaysToShutdown` (on that line and on every summary line after it, so the
//! alarm always has data); a model that is gone is an ERROR line and `ModelUnavailable`. Bounded,
//! and never fatal: an answer it cannot get leaves the lifecycle unknown, said at DEBUG.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Map, Value, json};

use openai_client::{ModelLifecycle, ResponsesClient};

use crate::metrics::Metric;

/// How long the question may take; it runs beside requests, never before them.
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(10);

/// The announced shutdown day of this environment's model, once known.
static SHUTDOWN: OnceLock<time::Date> = OnceLock::new();

/// Starts the lookup on the runtime, not awaited: init goes on, and the first request does not
/// wait for it.
pub fn watch(function: &'static str, client: &'static ResponsesClient) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(check(function, client));
    }
}

/// Asks once and says what it learned (`function` names the metrics' dimension); returns it for
/// tests.
pub async fn check(function: &'static str, client: &ResponsesClient) -> Option<ModelLifecycle> {
    let model = client.config().model.clone();
    let deadline = tokio::time::Instant::now() + LOOKUP_LIMIT;
    let lifecycle = match client.model_lifecycle(deadline).await {
        Ok(lifecycle) => lifecycle,
        Err(error) => {
            tracing::debug!(%model, error = %error.log_detail(), "the model's lifecycle could not be read");
            return None;
        }
    };
    match &lifecycle {
        ModelLifecycle::Available { shutdown: None } => {
            tracing::debug!(%model, "OpenAI announces no shutdown for the model");
        }
        ModelLifecycle::Available { shutdown: Some(day) } => match chat_core::date::parse_day(day) {
            Some(date) => {
                let _ = SHUTDOWN.set(date);
                let days = days_to_shutdown().unwrap_or_default();
                let message = format!(
                    "OpenAI shuts down the model {model} on {day} (in {days} days): choose another in OPENAI_MODEL before then"
                );
                crate::metrics::write_line(
                    "WARN",
                    &message,
                    fields(function, &model, day),
                    &[("ModelDaysToShutdown", "Count", days as f64)],
                );
            }
            None => {
                tracing::warn!(%model, shutdown_date = %day, "OpenAI announces a shutdown date for the model that is not YYYY-MM-DD")
            }
        },
        ModelLifecycle::Unavailable => {
            let message = format!(
                "OpenAI does not serve the model {model} (shut down, or not open to this project): every question fails until OPENAI_MODEL names another"
            );
            crate::metrics::write_line(
                "ERROR",
                &message,
                fields(function, &model, ""),
                &[("ModelUnavailable", "Count", 1.0)],
            );
        }
    }
    Some(lifecycle)
}

/// Whole days from today (UTC) to the announced shutdown, when one is known.
pub fn days_to_shutdown() -> Option<i64> {
    SHUTDOWN.get().map(|day| chat_core::date::days_between(chat_core::date::today_date(), *day))
}

/// The metric every summary line carries once a shutdown is known.
pub fn shutdown_metric() -> Option<Metric> {
    days_to_shutdown().map(|days| ("ModelDaysToShutdown", "Count", days as f64))
}

fn fields(function: &str, model: &str, day: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("function".into(), json!(function));
    fields.insert("model".into(), json!(model));
    if !day.is_empty() {
        fields.insert("shutdown_date".into(), json!(day));
    }
    fields
}

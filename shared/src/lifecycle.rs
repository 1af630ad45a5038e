//! The model's lifecycle, watched: after init, off the request path, each chat function asks
//! OpenAI about its model once (`GET /models/{id}`), at the first moment no request is running
//! (after the first request, or a second after init when none came): on HTTP/1.1 a lookup
//! beside the first answer would take the connection init opened, and the answer would pay a
//! new handshake. An announced shutdown is a WARN line and
//! the metric `ModelDaysToShutdown` (on that line and on every summary line after it, so the
//! alarm always has data); a model that is gone is an ERROR line and `ModelUnavailable`. Bounded,
//! and never fatal: an answer it cannot get leaves the lifecycle unknown, said at WARN.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use serde_json::{Map, Value, json};

use openai_client::{ModelLifecycle, ResponsesClient};

use crate::metrics::Metric;

/// How long the question may take; it runs beside requests, never before them.
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(10);

/// How long an environment with no request waits before it asks anyway.
const IDLE_AFTER_INIT: Duration = Duration::from_secs(1);
/// Lookups that failed (a frozen environment's connection, OpenAI down) are tried again at the
/// next idle moment, this many times in all.
const ATTEMPTS: usize = 3;

/// The announced shutdown day of this environment's model, once known.
static SHUTDOWN: OnceLock<time::Date> = OnceLock::new();
/// The same of the fallback's model (`FALLBACK_MODEL`), when it is watched.
static FALLBACK_SHUTDOWN: OnceLock<time::Date> = OnceLock::new();
/// Requests running now, and whether one has finished, so the lookup waits for a quiet moment.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static ONE_FINISHED: AtomicBool = AtomicBool::new(false);
static QUIET: Notify = Notify::const_new();

/// Starts the lookup on the runtime, not awaited: init goes on, and no request waits for it.
pub fn watch(function: &'static str, client: &'static ResponsesClient) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            for _ in 0..ATTEMPTS {
                quiet_moment().await;
                if check(function, client).await.is_some() {
                    break;
                }
            }
            // The fallback's model is shut down on its own day, and its answers stop with it.
            let Some(fallback) = client.watched_fallback() else { return };
            for _ in 0..ATTEMPTS {
                quiet_moment().await;
                if check_provider(function, client, fallback, &FALLBACK_SHUTDOWN, "FALLBACK_MODEL").await.is_some() {
                    return;
                }
            }
        });
    }
}

/// A request began (its summary was started).
pub(crate) fn request_started() {
    IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
}

/// A request ended (its summary line was written).
pub(crate) fn request_finished() {
    ONE_FINISHED.store(true, Ordering::Relaxed);
    if IN_FLIGHT.fetch_sub(1, Ordering::Relaxed) <= 1 {
        QUIET.notify_waiters();
    }
}

/// Waits until no request runs, and one has finished or none came for [`IDLE_AFTER_INIT`].
async fn quiet_moment() {
    let started = tokio::time::Instant::now();
    loop {
        let waiting = QUIET.notified();
        let idle = IN_FLIGHT.load(Ordering::Relaxed) == 0;
        if idle && (ONE_FINISHED.load(Ordering::Relaxed) || started.elapsed() >= IDLE_AFTER_INIT) {
            return;
        }
        let _ = tokio::time::timeout(IDLE_AFTER_INIT, waiting).await;
    }
}

/// Asks once and says what it learned (`function` names the metrics' dimension); returns it for
/// tests.
pub async fn check(function: &'static str, client: &ResponsesClient) -> Option<ModelLifecycle> {
    check_provider(function, client, client, &SHUTDOWN, "OPENAI_MODEL").await
}

/// [`check`] of `provider`'s model (the deployment's, or its fallback's): the lines and metrics
/// keep the deployment's `model` dimension, which the alarms read, and name the model and the
/// `setting` that chooses it.
async fn check_provider(
    function: &'static str,
    deployment: &ResponsesClient,
    provider: &ResponsesClient,
    shutdown: &OnceLock<time::Date>,
    setting: &str,
) -> Option<ModelLifecycle> {
    let model = provider.config().model.clone();
    let dimension = deployment.config().model.clone();
    let deadline = tokio::time::Instant::now() + LOOKUP_LIMIT;
    let lifecycle = match provider.model_lifecycle(deadline).await {
        Ok(lifecycle) => lifecycle,
        Err(error) => {
            // Said where it is seen: until it is read, no shutdown alarm can fire for this model.
            tracing::warn!(%model, error = %error.log_detail(), "the model's lifecycle could not be read: its shutdown is not watched until it is");
            return None;
        }
    };
    match &lifecycle {
        ModelLifecycle::Available { shutdown: None } => {
            tracing::debug!(%model, "OpenAI announces no shutdown for the model");
        }
        ModelLifecycle::Available { shutdown: Some(day) } => match chat_core::date::parse_day(day) {
            Some(date) => {
                let _ = shutdown.set(date);
                let days = chat_core::date::days_between(chat_core::date::today_date(), date);
                let message = format!(
                    "OpenAI shuts down the model {model} on {day} (in {days} days): choose another in {setting} before then"
                );
                crate::metrics::write_line(
                    "WARN",
                    &message,
                    fields(function, &dimension, day),
                    &[("ModelDaysToShutdown", "Count", days as f64)],
                );
            }
            None => {
                tracing::warn!(%model, shutdown_date = %day, "OpenAI announces a shutdown date for the model that is not YYYY-MM-DD")
            }
        },
        ModelLifecycle::Unavailable => {
            let message = format!(
                "OpenAI does not serve the model {model} (shut down, or not open to this project): every question it is asked fails until {setting} names another"
            );
            crate::metrics::write_line(
                "ERROR",
                &message,
                fields(function, &dimension, ""),
                &[("ModelUnavailable", "Count", 1.0)],
            );
        }
    }
    Some(lifecycle)
}

/// Whole days from today (UTC) to the nearer announced shutdown (the model's, or its
/// fallback's), when one is known.
pub fn days_to_shutdown() -> Option<i64> {
    let today = chat_core::date::today_date();
    [SHUTDOWN.get(), FALLBACK_SHUTDOWN.get()]
        .into_iter()
        .flatten()
        .map(|day| chat_core::date::days_between(today, *day))
        .min()
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

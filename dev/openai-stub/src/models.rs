//! The models the stand-in knows, as OpenAI's deprecations page has them in December 2026: each
//! family's shutdown day and the `reasoning.effort` values it takes. `GET /v1/models/{id}`
//! answers from it; a create naming a model past its shutdown (by the day the stand-in is told,
//! so tests can stand after a shutdown) gets OpenAI's `404 model_not_found`, and an effort the
//! model does not take its `400 unsupported_value`. A model it does not know is served, with no
//! shutdown and every effort, so tests can name their own.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::StubState;
use crate::http::authorize;

const BEFORE_5_1: &[&str] = &["minimal", "low", "medium", "high"];
const FROM_5_1: &[&str] = &["none", "low", "medium", "high", "xhigh"];
const FROM_5_6: &[&str] = &["none", "low", "medium", "high", "xhigh", "max"];
const OPEN_WEIGHT: &[&str] = &["low", "medium", "high"];
/// GPT-6.1 Sol and GPT-6.2: "The API rejects requests that set reasoning effort to none".
const NO_NONE: &[&str] = &["low", "medium", "high", "xhigh", "max"];
const NO_REASONING: &[&str] = &[];

/// Family, shutdown day, efforts taken. Longest names win (`gpt-4.1-nano` over `gpt-4.1`).
const CATALOGUE: &[(&str, Option<&str>, &[&str])] = &[
    ("gpt-3.5-turbo", Some("2026-10-23"), NO_REASONING),
    ("gpt-4", Some("2026-10-23"), NO_REASONING),
    ("gpt-4-turbo", Some("2026-10-23"), NO_REASONING),
    ("gpt-4.1-nano", Some("2026-10-23"), NO_REASONING),
    ("o1", Some("2026-10-23"), BEFORE_5_1),
    ("o1-pro", Some("2026-10-23"), BEFORE_5_1),
    ("o3-mini", Some("2026-10-23"), BEFORE_5_1),
    ("o4-mini", Some("2026-10-23"), BEFORE_5_1),
    ("gpt-5", Some("2026-12-11"), BEFORE_5_1),
    ("gpt-5-mini", Some("2026-12-11"), BEFORE_5_1),
    ("gpt-5-nano", Some("2026-12-11"), BEFORE_5_1),
    ("gpt-5-pro", Some("2026-12-11"), BEFORE_5_1),
    ("o3", Some("2026-12-11"), BEFORE_5_1),
    ("o3-pro", Some("2026-12-11"), BEFORE_5_1),
    ("gpt-4o", Some("2027-01-14"), NO_REASONING),
    ("gpt-4o-mini", Some("2027-01-14"), NO_REASONING),
    ("gpt-4.1", Some("2027-01-14"), NO_REASONING),
    ("gpt-4.1-mini", Some("2027-01-14"), NO_REASONING),
    ("gpt-5.1", Some("2027-04-01"), FROM_5_1),
    ("gpt-5.3-codex", Some("2027-04-01"), FROM_5_1),
    ("gpt-5.4-nano", Some("2027-04-01"), FROM_5_1),
    ("gpt-5.4", None, FROM_5_1),
    ("gpt-5.4-mini", None, FROM_5_1),
    ("gpt-5.5", None, FROM_5_1),
    ("gpt-5.6", None, FROM_5_6),
    ("gpt-5.6-sol", None, FROM_5_6),
    ("gpt-5.6-terra", None, FROM_5_6),
    ("gpt-5.6-luna", None, FROM_5_6),
    ("gpt-6-luna", None, FROM_5_6),
    ("gpt-6-sol", None, FROM_5_6),
    ("gpt-6-astra", None, FROM_5_6),
    ("gpt-6.1-sol", None, NO_NONE),
    ("gpt-6.1-terra", None, FROM_5_6),
    ("gpt-6.2-sol", None, NO_NONE),
    ("gpt-6.2-astra", None, NO_NONE),
    ("gpt-oss-20b", None, OPEN_WEIGHT),
    ("gpt-oss-120b", None, OPEN_WEIGHT),
];

/// What the stand-in knows of `model`: `(shutdown day, efforts)`; `None` for a model it does not know.
pub fn facts(model: &str) -> Option<(Option<&'static str>, &'static [&'static str])> {
    // A fine-tune (`ft:gpt-4o-mini-2024-07-18:org::id`) takes what its base model takes.
    let model = model.strip_prefix("ft:").map_or(model, |rest| rest.split(':').next().unwrap_or(rest));
    let family = |name: &str| model == name || model.strip_prefix(name).is_some_and(|rest| rest.starts_with('-'));
    CATALOGUE
        .iter()
        .filter(|(name, _, _)| family(name))
        .max_by_key(|(name, _, _)| name.len())
        .map(|(_, shutdown, efforts)| (*shutdown, *efforts))
}

/// Whether `model` takes a `reasoning` parameter at all.
pub fn takes_reasoning(model: &str) -> bool {
    facts(model).is_none_or(|(_, efforts)| !efforts.is_empty())
}

/// Whether `model` is shut down on `today` (`YYYY-MM-DD`): from its shutdown day on.
pub fn is_gone(model: &str, today: &str) -> bool {
    facts(model).and_then(|(shutdown, _)| shutdown).is_some_and(|day| today >= day)
}

/// OpenAI's 400 for an effort the model does not take; `None` when it takes it.
pub fn refused_effort(model: &str, effort: &str) -> Option<Value> {
    let (_, efforts) = facts(model)?;
    if efforts.is_empty() || efforts.contains(&effort) {
        return None;
    }
    let supported: Vec<String> = efforts.iter().map(|e| format!("'{e}'")).collect();
    let message = format!(
        "Unsupported value: 'reasoning.effort' does not support '{effort}' with this model. Supported values are: {}.",
        supported.join(", ")
    );
    Some(
        json!({"error": {"message": message, "type": "invalid_request_error", "param": "reasoning.effort", "code": "unsupported_value"}}),
    )
}

/// The families that take `service_tier: "ultrafast"` (GPT-6.2's model pages).
const ULTRAFAST: &[&str] = &["gpt-6.2-sol", "gpt-6.2-astra"];

/// OpenAI's 400 for a service tier the model does not take (`ultrafast` before GPT-6.2); `None`
/// when it takes it, or the stand-in does not know the model.
pub fn refused_tier(model: &str, tier: &str) -> Option<Value> {
    let known = facts(model).is_some();
    let family = |name: &&str| model == *name || model.strip_prefix(name).is_some_and(|rest| rest.starts_with('-'));
    if tier != "ultrafast" || !known || ULTRAFAST.iter().any(family) {
        return None;
    }
    let message = format!("Unsupported value: 'service_tier' does not support '{tier}' with this model.");
    Some(
        json!({"error": {"message": message, "type": "invalid_request_error", "param": "service_tier", "code": "unsupported_value"}}),
    )
}

/// OpenAI's 404 for a model that does not exist, or no longer does.
pub fn model_not_found(model: &str) -> Value {
    let message = format!("The model `{model}` does not exist or you do not have access to it.");
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": "model_not_found"}})
}

/// `GET /v1/models/{id}`.
pub async fn retrieve(State(state): State<Arc<StubState>>, headers: HeaderMap, Path(model): Path<String>) -> Response {
    if let Err(refused) = authorize(&state, &headers) {
        return refused.into_response();
    }
    state.record_model_lookup(&model);
    if is_gone(&model, &state.today()) {
        return (StatusCode::NOT_FOUND, Json(model_not_found(&model))).into_response();
    }
    let shutdown = facts(&model).and_then(|(shutdown, _)| shutdown);
    Json(json!({"id": model, "object": "model", "created": 1_757_000_000u64, "owned_by": "openai", "shutdown_date": shutdown}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_shutdowns_and_efforts_are_openai_s() {
        assert!(is_gone("gpt-5-mini", "2026-12-11") && !is_gone("gpt-5-mini", "2026-12-10"));
        assert!(is_gone("gpt-4o-mini-2024-07-18", "2027-01-14") && !is_gone("gpt-4o-mini", "2027-01-13"));
        assert!(is_gone("gpt-4.1-nano", "2026-12-06") && !is_gone("gpt-4.1", "2026-12-06"));
        assert!(!is_gone("gpt-6-luna", "2030-01-01") && !is_gone("my-fine-tune", "2030-01-01"));
        assert!(refused_effort("gpt-6-luna", "minimal").is_some() && refused_effort("gpt-6-luna", "none").is_none());
        assert!(refused_effort("gpt-5", "none").is_some() && refused_effort("gpt-5", "minimal").is_none());
        assert!(
            refused_tier("gpt-6-luna", "ultrafast").is_some()
                && refused_tier("gpt-6.2-sol-2026-11-17", "ultrafast").is_none()
        );
        assert!(refused_effort("gpt-5.1", "max").is_some() && refused_effort("gpt-5.6-terra", "max").is_none());
        assert!(!takes_reasoning("gpt-4o-mini") && takes_reasoning("gpt-6-luna") && takes_reasoning("custom"));
    }
}

//! What a summary counts in CloudWatch: its metrics, a kind of failure each its own metric (so
//! the dimensions stay `function` and `model`), and `Failures` for every one not the caller's.

use chat_core::{ApiError, ErrorKind};
use openai_client::types::Usage;

use super::{Outcome, RequestSummary};
use crate::metrics::Metric;

impl RequestSummary {
    /// What this request adds to the CloudWatch metrics; a kind of failure is its own metric,
    /// so the dimensions stay `function` and `model`.
    pub(super) fn metrics(&self) -> Vec<Metric> {
        // A resumed answer's tokens are counted by the invocation that asked for it (by its
        // own line, or by the line written when it settled after its reader left).
        let counts_tokens = !self.resumed || self.settles_answer;
        let usage = if counts_tokens { self.counted_usage().unwrap_or_default() } else { Usage::default() };
        let tokens: [Metric; 4] = [
            ("InputTokens", "Count", usage.input_tokens as f64),
            // The prompt cache's share of the input (part of `InputTokens`), billed at a tenth.
            ("CachedInputTokens", "Count", usage.cached_tokens() as f64),
            ("OutputTokens", "Count", usage.output_tokens as f64),
            ("ReasoningTokens", "Count", usage.reasoning_tokens() as f64),
        ];
        if !self.counts_request {
            let mut metrics = tokens.to_vec();
            metrics.extend(self.cost_usd().map(|cost| ("EstimatedCost", "None", cost)));
            return metrics;
        }
        let mut metrics: Vec<Metric> = vec![
            ("Requests", "Count", 1.0),
            ("Retries", "Count", f64::from(self.retries)),
            ("TotalTime", "Milliseconds", self.started.elapsed().as_secs_f64() * 1000.0),
        ];
        metrics.extend(tokens);
        // A resume's first text is not the model's: it was written before the reader came back.
        if let Some(first) = self.first_text.filter(|_| !self.resumed) {
            metrics.push(("TimeToFirstText", "Milliseconds", first.as_secs_f64() * 1000.0));
        }
        if let Some(first) = self.first_reasoning.filter(|_| !self.resumed) {
            metrics.push(("TimeToFirstReasoning", "Milliseconds", first.as_secs_f64() * 1000.0));
        }
        if let Some(cost) = self.cost_usd().filter(|_| counts_tokens) {
            metrics.push(("EstimatedCost", "None", cost));
        }
        // Hosted tools' calls, billed per call: only when the answer made any.
        if usage.tool_calls.total() > 0 {
            metrics.push(("ToolCalls", "Count", f64::from(usage.tool_calls.total())));
        }
        if self.failed_over_to.is_some() {
            metrics.push(("FailedOver", "Count", 1.0));
        }
        // Refusals and unreachable stores by the error; the rest by how the request ended,
        // then by the error's kind (exhaustive in `ApiError::kind`).
        let error_kind = self.error.as_ref().map(ApiError::kind);
        let kind = match (&self.outcome, error_kind) {
            (_, Some(kind @ (ErrorKind::OverLimit | ErrorKind::Unauthorized))) => Some(kind),
            (_, Some(kind @ (ErrorKind::LimitsUnavailable | ErrorKind::AuthUnavailable))) => Some(kind),
            (Outcome::Rejected, _) => Some(ErrorKind::BadInput),
            (Outcome::Timeout, _) => Some(ErrorKind::Timeout),
            (Outcome::Incomplete, _) => Some(ErrorKind::Incomplete),
            (_, kind) => kind,
        };
        let name = match (&self.outcome, kind) {
            (Outcome::Cancelled, None) => Some("ReadersGone"),
            (Outcome::Stopped, None) => Some("Stopped"),
            (Outcome::HandedOver, None) => Some("HandOvers"),
            (_, kind) => kind.map(metric_name),
        };
        metrics.extend(name.map(|name| (name, "Count", 1.0)));
        // One metric for every failure that is not the caller's, so the error-rate alarm reads
        // two metrics whatever kinds are added later.
        if kind.is_some_and(ErrorKind::is_server_failure) {
            metrics.push(("Failures", "Count", 1.0));
        }
        metrics.extend(crate::lifecycle::shutdown_metric());
        metrics
    }
}

/// The metric that counts a kind of failure.
fn metric_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadInput => "RefusedBadInput",
        ErrorKind::OverLimit => "RefusedOverLimit",
        ErrorKind::Unauthorized => "RefusedUnauthorized",
        ErrorKind::LimitsUnavailable => "LimitsUnavailable",
        ErrorKind::AuthUnavailable => "AuthUnavailable",
        ErrorKind::RateLimited => "UpstreamRateLimited",
        ErrorKind::Misconfigured => "Misconfigured",
        ErrorKind::ModelUnavailable => "ModelUnavailable",
        ErrorKind::Timeout => "UpstreamTimeout",
        ErrorKind::Incomplete => "Incomplete",
        ErrorKind::Upstream => "UpstreamError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::{ApiError, Config};
    use tracing_subscriber::filter::LevelFilter;

    fn config() -> Config {
        Config::from_lookup(|_| None).unwrap()
    }

    #[test]
    fn a_completed_stream_reports_tokens_cost_and_time_to_first_text() {
        let mut summary = RequestSummary::start("chat-stream", "r1".into(), &config());
        summary.text_sent("Hi");
        summary.usage = Some(Usage {
            input_tokens: 200,
            output_tokens: 400,
            total_tokens: 600,
            output_tokens_details: None,
            input_tokens_details: None,
            tier: Default::default(),
            tool_calls: Default::default(),
        });
        summary.outcome = Outcome::Completed;
        let fields = summary.fields();
        assert_eq!((fields["outcome"].as_str(), fields["deltas"].as_u64()), (Some("completed"), Some(1)));
        assert!(!fields.contains_key("protocol"), "the contract's own protocol goes unsaid");
        summary.protocol = Some("ai_sdk_ui");
        assert_eq!(summary.fields()["protocol"].as_str(), Some("ai_sdk_ui"));
        // The default model, gpt-6-luna: 200 input at $0.10/M, 400 output at $0.50/M.
        assert!((fields["estimated_cost_usd"].as_f64().unwrap() - 0.00022).abs() < 1e-12);
        let names: Vec<&str> = summary.metrics().iter().map(|m| m.0).collect();
        assert!(names.contains(&"TimeToFirstText") && names.contains(&"EstimatedCost"), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("Upstream") || *n == "ReadersGone"), "{names:?}");
        // The same answer read again after a dropped connection is logged, not counted twice.
        summary.resumed = true;
        let fields = summary.fields();
        assert_eq!((fields["resumed"].as_bool(), fields["total_tokens"].as_u64()), (Some(true), Some(600)));
        let metrics = summary.metrics();
        assert!(metrics.iter().all(|m| m.0 != "EstimatedCost"), "{metrics:?}");
        assert_eq!(metrics.iter().find(|m| m.0 == "OutputTokens").map(|m| m.2), Some(0.0));
    }

    #[test]
    fn an_answer_settled_after_its_reader_left_counts_its_tokens_not_a_request() {
        let usage = Usage {
            input_tokens: 200,
            output_tokens: 400,
            total_tokens: 600,
            output_tokens_details: None,
            input_tokens_details: None,
            tier: Default::default(),
            tool_calls: Default::default(),
        };
        let summary =
            RequestSummary::settled_later("chat-stream", "r2".into(), &config(), "resp_1", Some(usage), false);
        let line = summary.json_line(LevelFilter::INFO).unwrap();
        assert_eq!((line["message"].as_str(), line["settled_later"].as_bool()), (Some("answer settled"), Some(true)));
        let names: Vec<&str> = summary.metrics().iter().map(|m| m.0).collect();
        assert_eq!(names, ["InputTokens", "CachedInputTokens", "OutputTokens", "ReasoningTokens", "EstimatedCost"]);
        assert_eq!(line["OutputTokens"].as_f64(), Some(400.0));
    }

    #[test]
    fn failures_are_counted_by_kind() {
        let kinds = [
            (ApiError::BlankMessage, true, "RefusedBadInput"),
            (ApiError::UpstreamTimeout(chat_core::Wait::Silence), false, "UpstreamTimeout"),
            (ApiError::RateLimited { retry_after: None }, true, "UpstreamRateLimited"),
            (ApiError::UpstreamServerError(503), true, "UpstreamError"),
            (ApiError::SecretUnavailable { secret_id: "s".into(), reason: "r".into() }, true, "Misconfigured"),
            (ApiError::AuthUnavailable, true, "AuthUnavailable"),
            (ApiError::ModelUnavailable("gpt-5".into()), true, "ModelUnavailable"),
            (ApiError::LimitsUnavailable, true, "LimitsUnavailable"),
            (ApiError::TokenExpired, true, "RefusedUnauthorized"),
        ];
        for (error, with_status, kind) in kinds {
            let mut summary = RequestSummary::start("chat-complete", "r".into(), &config());
            summary.failed(&error, with_status);
            let names: Vec<&str> = summary.metrics().iter().map(|m| m.0).collect();
            assert!(names.contains(&kind), "{error:?}: {names:?}");
            // Every failure that is not the caller's is one `Failures`, which the alarm reads.
            let callers = matches!(kind, "RefusedBadInput" | "RefusedUnauthorized");
            assert_eq!(names.contains(&"Failures"), !callers, "{error:?}: {names:?}");
        }
        let gone = RequestSummary::start("chat-stream", "r".into(), &config());
        assert!(gone.metrics().iter().any(|m| m.0 == "ReadersGone"));
    }
}

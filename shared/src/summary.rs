//! The one summary line each request logs, written when the summary is dropped: at the end of
//! a request, and also when Lambda drops a streamed body because its reader went away (Stop, a
//! closed tab, a failed write), so the requests that matter most for abuse and billing still
//! leave their trace, with what was streamed until then.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tracing_subscriber::filter::LevelFilter;

use chat_core::prices::Prices;
use chat_core::{ApiError, Config, ErrorKind};
use openai_client::types::Usage;

use crate::metrics::{self, Metric};

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The whole answer reached the caller.
    Completed,
    /// The model stopped early (`max_output_tokens`, a content filter); the text so far stands.
    Incomplete,
    /// Refused before anything went upstream: the caller's request was at fault.
    Rejected,
    /// Upstream failed, or the deployment is misconfigured.
    Failed,
    /// Upstream took too long.
    Timeout,
    /// The reader went away before the answer was complete.
    Cancelled,
    /// The caller stopped the answer (`POST /stop`); the text so far stands.
    Stopped,
    /// The invocation's time ran out while the answer went on: the reader reconnects and the
    /// next invocation streams the rest.
    HandedOver,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Incomplete => "incomplete",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Stopped => "stopped",
            Self::HandedOver => "handed_over",
        }
    }
}

/// What the summary line says; fill it in as the request goes, drop it to write the line.
pub struct RequestSummary {
    pub request_id: String,
    pub function: &'static str,
    model: String,
    prices: Option<Prices>,
    started: Instant,
    pub status: u16,
    pub upstream_status: Option<u16>,
    pub retries: u32,
    pub deltas: u64,
    pub streamed_bytes: u64,
    pub first_text: Option<Duration>,
    /// When the first piece of the reasoning summary went out, and how many.
    pub first_reasoning: Option<Duration>,
    pub reasoning_deltas: u64,
    /// How often a silent model was asked about (background mode), and found still working.
    pub silences_checked: u32,
    pub usage: Option<Usage>,
    /// Until the request says otherwise it was cancelled: a body dropped mid-answer never does.
    pub outcome: Outcome,
    pub error: Option<ApiError>,
    /// The upstream response this request created, resumed or stopped.
    pub response_id: Option<String>,
    /// The request continued an answer after a dropped connection (no new model call).
    pub resumed: bool,
    /// A resume that took over the answer's reservation (a hand-over): it settles the answer,
    /// so its tokens count here.
    pub settles_answer: bool,
    /// The protocol answered in, when not the contract's EventSource events (`ai_sdk_ui`).
    pub protocol: Option<&'static str>,
    /// False for the line of an answer settled after its request ended: its tokens count, it
    /// is no request of its own.
    counts_request: bool,
}

impl RequestSummary {
    pub fn start(function: &'static str, request_id: String, config: &Config) -> Self {
        crate::lifecycle::request_started();
        Self {
            request_id,
            function,
            model: config.model.clone(),
            prices: Prices::for_model(&config.model, config.prices),
            started: Instant::now(),
            status: 200,
            upstream_status: None,
            retries: 0,
            deltas: 0,
            streamed_bytes: 0,
            first_text: None,
            first_reasoning: None,
            reasoning_deltas: 0,
            silences_checked: 0,
            usage: None,
            outcome: Outcome::Cancelled,
            response_id: None,
            resumed: false,
            settles_answer: false,
            protocol: None,
            error: None,
            counts_request: true,
        }
    }

    /// The line of an answer whose reader left, written once it finished and was settled: its
    /// tokens and cost, which the request's own line (written when the reader left) could not
    /// know, so the token and spend metrics and alarms see every answer.
    pub fn settled_later(
        function: &'static str,
        request_id: String,
        config: &Config,
        response_id: &str,
        usage: Option<Usage>,
    ) -> Self {
        let mut summary = Self::start(function, request_id, config);
        // Written after its request ended: it is not one that runs now.
        crate::lifecycle::request_finished();
        summary.counts_request = false;
        summary.response_id = Some(response_id.to_owned());
        summary.usage = usage;
        summary.outcome = Outcome::Completed;
        summary
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Notes a piece of text sent to the caller.
    pub fn text_sent(&mut self, text: &str) {
        self.first_text.get_or_insert_with(|| self.started.elapsed());
        self.deltas += 1;
        self.streamed_bytes += text.len() as u64;
    }

    /// Notes a piece of the reasoning summary sent to the caller.
    pub fn reasoning_sent(&mut self) {
        self.first_reasoning.get_or_insert_with(|| self.started.elapsed());
        self.reasoning_deltas += 1;
    }

    /// Notes the error the request ended with, and the outcome and statuses it implies.
    pub fn failed(&mut self, error: &ApiError, answered_with_status: bool) {
        if answered_with_status {
            self.status = error.status().as_u16();
        }
        self.upstream_status = error.upstream_status().or(self.upstream_status);
        self.outcome = match error {
            ApiError::UpstreamTimeout(_) => Outcome::Timeout,
            ApiError::Incomplete(_) => Outcome::Incomplete,
            error if error.is_callers_fault() => Outcome::Rejected,
            _ => Outcome::Failed,
        };
        self.error = Some(error.clone());
    }
}

impl RequestSummary {
    /// The line's fields, in the order they are written.
    fn fields(&self) -> Map<String, Value> {
        let usage = self.usage.unwrap_or_default();
        let mut fields = Map::new();
        let mut put = |name: &str, value: Value| {
            if !value.is_null() {
                fields.insert(name.to_owned(), value);
            }
        };
        put("request_id", json!(self.request_id));
        put("function", json!(self.function));
        put("model", json!(self.model));
        put("outcome", json!(self.outcome.as_str()));
        put("status", json!(self.status));
        put("upstream_status", json!(self.upstream_status));
        put("retries", json!(self.retries));
        put("deltas", json!(self.deltas));
        put("streamed_bytes", json!(self.streamed_bytes));
        put("first_text_ms", json!(self.first_text.map(|d| d.as_millis() as u64)));
        put("first_reasoning_ms", json!(self.first_reasoning.map(|d| d.as_millis() as u64)));
        put("reasoning_deltas", json!((self.reasoning_deltas > 0).then_some(self.reasoning_deltas)));
        put("silences_checked", json!((self.silences_checked > 0).then_some(self.silences_checked)));
        put("total_ms", json!(self.started.elapsed().as_millis() as u64));
        put("input_tokens", json!(usage.input_tokens));
        put("cached_input_tokens", json!(usage.cached_tokens()));
        put("cache_write_tokens", json!(usage.cache_write_tokens()));
        put("output_tokens", json!(usage.output_tokens));
        put("reasoning_tokens", json!(usage.reasoning_tokens()));
        put("total_tokens", json!(usage.total_tokens));
        put("estimated_cost_usd", json!(self.cost_usd()));
        put("response_id", json!(self.response_id));
        put("resumed", json!(self.resumed.then_some(true)));
        put("protocol", json!(self.protocol));
        put("settled_later", json!((!self.counts_request).then_some(true)));
        put("code", json!(self.error.as_ref().map(ApiError::code)));
        put("error", json!(self.error.as_ref().map(ApiError::log_detail)));
        fields
    }

    fn cost_usd(&self) -> Option<f64> {
        let usage = self.usage?;
        Some(self.prices?.cost_usd(usage.billed()))
    }

    /// What this request adds to the CloudWatch metrics; a kind of failure is its own metric,
    /// so the dimensions stay `function` and `model`.
    fn metrics(&self) -> Vec<Metric> {
        // A resumed answer's tokens are counted by the invocation that asked for it (by its
        // own line, or by the line written when it settled after its reader left).
        let counts_tokens = !self.resumed || self.settles_answer;
        let usage = if counts_tokens { self.usage.unwrap_or_default() } else { Usage::default() };
        let tokens: [Metric; 3] = [
            ("InputTokens", "Count", usage.input_tokens as f64),
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

impl RequestSummary {
    /// The JSON line (with its metrics) at the configured level `floor`: written at least at
    /// that level, so a deployment logging only warnings still sends every metric to CloudWatch
    /// (Lambda drops lines below its `ApplicationLogLevel`, metrics and all); none when off.
    fn json_line(&self, floor: LevelFilter) -> Option<Value> {
        let warn = matches!(self.outcome, Outcome::Failed | Outcome::Timeout);
        let level = if floor == LevelFilter::OFF {
            return None;
        } else if floor == LevelFilter::ERROR {
            "ERROR"
        } else if floor == LevelFilter::WARN || warn {
            "WARN"
        } else {
            "INFO"
        };
        let mut line = Map::new();
        line.insert("timestamp".into(), json!(crate::logging::timestamp()));
        line.insert("level".into(), json!(level));
        line.insert("message".into(), json!(if self.counts_request { "request finished" } else { "answer settled" }));
        line.append(&mut self.fields());
        metrics::embed(&mut line, &self.metrics(), crate::logging::epoch_millis());
        Some(Value::Object(line))
    }
}

impl Drop for RequestSummary {
    fn drop(&mut self) {
        if self.counts_request {
            crate::lifecycle::request_finished();
        }
        if crate::logging::json() {
            if let Some(line) = self.json_line(crate::logging::level()) {
                crate::metrics::write_stdout(&line);
            }
            return;
        }
        // Callers decide how often their own mistakes happen: those stay below warn.
        let warn = matches!(self.outcome, Outcome::Failed | Outcome::Timeout);
        let text: Vec<String> = self.fields().iter().map(|(name, value)| format!("{name}={value}")).collect();
        let message = if self.counts_request { "request finished" } else { "answer settled" };
        if warn {
            tracing::warn!("{message} {}", text.join(" "));
        } else {
            tracing::info!("{message} {}", text.join(" "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn metrics_reach_cloudwatch_whatever_the_log_level() {
        let mut summary = RequestSummary::start("chat-stream", "r1".into(), &config());
        summary.usage = Some(Usage {
            input_tokens: 20,
            output_tokens: 40,
            total_tokens: 60,
            output_tokens_details: None,
            input_tokens_details: None,
        });
        summary.outcome = Outcome::Completed;
        for (floor, level) in [
            (LevelFilter::TRACE, "INFO"),
            (LevelFilter::INFO, "INFO"),
            (LevelFilter::WARN, "WARN"),
            (LevelFilter::ERROR, "ERROR"),
        ] {
            let line = summary.json_line(floor).expect("a line");
            assert_eq!(line["level"], level, "{floor}");
            assert_eq!(
                (line["Requests"].as_f64(), line["OutputTokens"].as_f64()),
                (Some(1.0), Some(40.0)),
                "{floor}: {line}"
            );
            assert!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().is_some_and(|m| !m.is_empty()));
        }
        assert!(summary.json_line(LevelFilter::OFF).is_none());
        summary.outcome = Outcome::Failed;
        assert_eq!(summary.json_line(LevelFilter::INFO).unwrap()["level"], "WARN");
    }

    #[test]
    fn an_answer_settled_after_its_reader_left_counts_its_tokens_not_a_request() {
        let usage = Usage {
            input_tokens: 200,
            output_tokens: 400,
            total_tokens: 600,
            output_tokens_details: None,
            input_tokens_details: None,
        };
        let summary = RequestSummary::settled_later("chat-stream", "r2".into(), &config(), "resp_1", Some(usage));
        let line = summary.json_line(LevelFilter::INFO).unwrap();
        assert_eq!((line["message"].as_str(), line["settled_later"].as_bool()), (Some("answer settled"), Some(true)));
        let names: Vec<&str> = summary.metrics().iter().map(|m| m.0).collect();
        assert_eq!(names, ["InputTokens", "OutputTokens", "ReasoningTokens", "EstimatedCost"]);
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

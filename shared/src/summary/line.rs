//! The summary's one log line: its fields, as JSON with the EMF directive or as text, written
//! when the summary is dropped.

use serde_json::{Map, Value, json};
use tracing_subscriber::filter::LevelFilter;

use chat_core::ApiError;

use super::{Outcome, RequestSummary};

impl RequestSummary {
    /// The line's fields, in the order they are written.
    pub(super) fn fields(&self) -> Map<String, Value> {
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
        put("provider", json!(self.provider()));
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
        put("admit_ms", json!(self.admitted.map(|d| (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0)));
        put("input_tokens", json!(usage.input_tokens));
        put("cached_input_tokens", json!(usage.cached_tokens()));
        put("cache_write_tokens", json!(usage.cache_write_tokens()));
        put("service_tier", json!(self.usage.map(|u| u.tier.as_str())));
        put("output_tokens", json!(usage.output_tokens));
        put("reasoning_tokens", json!(usage.reasoning_tokens()));
        put("total_tokens", json!(usage.total_tokens));
        let calls = usage.tool_calls;
        let by_tool: serde_json::Map<String, serde_json::Value> = chat_core::tools::ToolKind::ALL
            .into_iter()
            .filter(|kind| calls.of(*kind) > 0)
            .map(|kind| (kind.as_str().to_owned(), json!(calls.of(kind))))
            .collect();
        put("tool_calls", json!((!by_tool.is_empty()).then_some(by_tool)));
        put("sources", json!((!self.sources.is_empty()).then_some(self.sources.len())));
        put("function_calls", json!((self.function_calls > 0).then_some(self.function_calls)));
        put("estimated_cost_usd", json!(self.cost_usd()));
        put("response_id", json!(self.response_id));
        put("resumed", json!(self.resumed.then_some(true)));
        put("protocol", json!(self.protocol));
        put("failed_over_to", json!(self.failed_over_to));
        let abandoned = self.abandoned.map(|(usage, _)| usage);
        put("abandoned_input_tokens", json!(abandoned.map(|u| u.input_tokens)));
        put("abandoned_output_tokens", json!(abandoned.map(|u| u.output_tokens)));
        put("settled_later", json!((!self.counts_request).then_some(true)));
        put("code", json!(self.error.as_ref().map(ApiError::code)));
        put("error", json!(self.error.as_ref().map(ApiError::log_detail)));
        fields
    }

    /// The answer's cost, and an abandoned attempt's at its own provider's price.
    pub(super) fn cost_usd(&self) -> Option<f64> {
        let answer = self.usage.zip(self.prices).map(|(usage, prices)| prices.cost_usd(usage.billed()));
        let abandoned = self.abandoned.and_then(|(usage, prices)| Some(prices?.cost_usd(usage.billed())));
        match (answer, abandoned) {
            (None, None) => None,
            (answer, abandoned) => Some(answer.unwrap_or(0.0) + abandoned.unwrap_or(0.0)),
        }
    }
}

impl RequestSummary {
    /// The JSON line (with its metrics) at the configured level `floor`: written at least at
    /// that level, so a deployment logging only warnings still sends every metric to CloudWatch
    /// (Lambda drops lines below its `ApplicationLogLevel`, metrics and all); none when off.
    pub(super) fn json_line(&self, floor: LevelFilter) -> Option<Value> {
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
        crate::metrics::embed(&mut line, &self.metrics(), crate::logging::epoch_millis());
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
    use chat_core::Config;
    use openai_client::types::Usage;

    fn config() -> Config {
        Config::from_lookup(|_| None).unwrap()
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
            tier: Default::default(),
            tool_calls: Default::default(),
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
        // Without a fallback the dimensions are today's: no provider.
        let line = summary.json_line(LevelFilter::INFO).unwrap();
        assert_eq!(
            (line.get("provider"), &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]),
            (None, &json!([["function", "model"]]))
        );
    }

    #[test]
    fn with_a_fallback_the_metrics_are_also_by_provider_beside_the_sets_the_alarms_read() {
        let config = Config::from_lookup(|name| match name {
            "FALLBACK_BASE_URL" => Some("https://fallback.example/v1".into()),
            "FALLBACK_API_KEY" => Some("sk-fb".into()),
            "FALLBACK_MODEL" => Some("gpt-6-sol".into()),
            _ => None,
        })
        .unwrap();
        let mut summary = RequestSummary::start("chat-complete", "r2".into(), &config);
        summary.outcome = Outcome::Completed;
        let both = json!([["function", "model"], ["function", "model", "provider"]]);
        let line = summary.json_line(LevelFilter::INFO).unwrap();
        assert_eq!(
            (line["provider"].as_str(), &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]),
            (Some("primary"), &both)
        );
        summary.answered_by("gpt-6-sol", true);
        let line = summary.json_line(LevelFilter::INFO).unwrap();
        assert_eq!(
            (line["provider"].as_str(), line["model"].as_str()),
            (Some("fallback"), Some(config.model.as_str()))
        );
        assert_eq!(line["FailedOver"].as_f64(), Some(1.0), "{line}");
    }
}

//! Metrics in CloudWatch's Embedded Metric Format: the request's summary line carries an `_aws`
//! directive and the values, so CloudWatch turns each line into metrics with no API call and
//! nothing added to the request path. Dimensions are kept to `function` and `model`, so the
//! number of metrics (and their bill) stays small; with a fallback set, each metric is also
//! emitted by `provider` (`primary` or `fallback`), a second dimension set beside the first,
//! which the alarms keep reading. The cost is an estimate from list prices
//! (`chat_core::prices`).

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric the functions emit.
pub const NAMESPACE: &str = "LambdaOpenAIChat";

/// One metric of a line: CloudWatch name, unit, value.
pub type Metric = (&'static str, &'static str, f64);

/// Adds the `_aws` directive for `metrics` to `line`, with each value at the top level beside
/// the `function` and `model` dimensions the line already holds (and `provider`, when it does).
pub fn embed(line: &mut Map<String, Value>, metrics: &[Metric], timestamp_ms: u64) {
    let mut dimensions = vec![json!(["function", "model"])];
    if line.get("provider").is_some_and(Value::is_string) {
        dimensions.push(json!(["function", "model", "provider"]));
    }
    let declared: Vec<Value> = metrics.iter().map(|(name, unit, _)| json!({ "Name": name, "Unit": unit })).collect();
    for (name, _, value) in metrics {
        line.insert((*name).to_owned(), json!(value));
    }
    line.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": declared }],
        }),
    );
}

/// Writes a line of its own with `metrics` (not a request's): as JSON with the `_aws` directive
/// when the logs are JSON, else as a plain log line at `level`. `fields` must hold the `function`
/// and `model` dimensions. Never panics, even on a closed stdout.
pub fn write_line(level: &'static str, message: &str, mut fields: Map<String, Value>, metrics: &[Metric]) {
    if !crate::logging::json() {
        let text: Vec<String> = fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
        match level {
            "ERROR" => tracing::error!("{message} {}", text.join(" ")),
            _ => tracing::warn!("{message} {}", text.join(" ")),
        }
        return;
    }
    let mut line = Map::new();
    line.insert("timestamp".into(), json!(crate::logging::timestamp()));
    line.insert("level".into(), json!(level));
    line.insert("message".into(), json!(message));
    line.append(&mut fields);
    embed(&mut line, metrics, crate::logging::epoch_millis());
    write_stdout(&Value::Object(line));
}

/// One line to stdout, where Lambda collects logs; an error (a closed stdout) is ignored, where
/// `println!` would panic, and in a `Drop` abort the execution environment.
pub fn write_stdout(line: &Value) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directive_declares_each_metric_present() {
        let mut line = Map::new();
        line.insert("function".into(), json!("chat-stream"));
        line.insert("model".into(), json!("gpt-4o-mini"));
        embed(&mut line, &[("Requests", "Count", 1.0), ("TotalTime", "Milliseconds", 12.0)], 1_700_000_000_000);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["function", "model"]]));
        assert_eq!(directive["Metrics"][1], json!({ "Name": "TotalTime", "Unit": "Milliseconds" }));
        assert_eq!((line["Requests"].as_f64(), line["TotalTime"].as_f64()), (Some(1.0), Some(12.0)));
    }
}

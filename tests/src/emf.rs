//! Checks a log line against CloudWatch's Embedded Metric Format specification, so the metrics
//! the dashboard and alarms read are proven to be emitted, in a form CloudWatch accepts.

use serde_json::Value;

/// Units CloudWatch accepts in an EMF directive.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The metric names a valid EMF line declares, as `namespace/name`; an error says what is wrong.
pub fn declared_metrics(line: &Value) -> Result<Vec<String>, String> {
    let directive = line.get("_aws").ok_or("no _aws directive")?;
    directive["Timestamp"].as_u64().ok_or("_aws.Timestamp is not epoch milliseconds")?;
    let sets = directive["CloudWatchMetrics"].as_array().filter(|s| !s.is_empty()).ok_or("no CloudWatchMetrics")?;
    let mut names = Vec::new();
    for set in sets {
        let namespace = set["Namespace"].as_str().filter(|n| !n.is_empty()).ok_or("no Namespace")?;
        let dimension_sets = set["Dimensions"].as_array().ok_or("Dimensions is not an array")?;
        for dimensions in dimension_sets {
            let dimensions =
                dimensions.as_array().filter(|d| d.len() <= 30).ok_or("a dimension set is not an array")?;
            for name in dimensions {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                line.get(name).and_then(Value::as_str).ok_or(format!("dimension {name} has no string value"))?;
            }
        }
        let metrics = set["Metrics"].as_array().filter(|m| !m.is_empty() && m.len() <= 100).ok_or("no Metrics")?;
        for metric in metrics {
            let name = metric["Name"].as_str().filter(|n| !n.is_empty()).ok_or("a metric has no Name")?;
            if let Some(unit) = metric.get("Unit") {
                let unit = unit.as_str().unwrap_or_default();
                if !UNITS.contains(&unit) {
                    return Err(format!("{name}: unit {unit:?} is not a CloudWatch unit"));
                }
            }
            line.get(name)
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite())
                .ok_or(format!("{name} has no numeric value"))?;
            names.push(format!("{namespace}/{name}"));
        }
    }
    Ok(names)
}

/// Writes the metric names a suite saw declared to `target/emf-metrics/<suite>.json`; the
/// template check allows the dashboard and alarms only the names some suite recorded.
pub fn record_emitted(suite: &str, names: &std::collections::BTreeSet<String>) {
    let folder = crate::workspace_root().join("target").join("emf-metrics");
    std::fs::create_dir_all(&folder).expect("make target/emf-metrics");
    let list = folder.join(format!("{suite}.json"));
    std::fs::write(&list, serde_json::to_string_pretty(names).expect("JSON"))
        .unwrap_or_else(|e| panic!("write {}: {e}", list.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_what_cloudwatch_would_refuse() {
        let good: Value = serde_json::json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["function"]], "Metrics": [{"Name": "Requests", "Unit": "Count"}]}]}, "function": "f", "Requests": 1});
        assert_eq!(declared_metrics(&good), Ok(vec!["N/Requests".to_owned()]));
        let mut no_value = good.clone();
        no_value.as_object_mut().unwrap().remove("Requests");
        assert!(declared_metrics(&no_value).is_err());
        let mut bad_unit = good.clone();
        bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Tokens".into();
        assert!(declared_metrics(&bad_unit).is_err());
        let mut no_dimension = good;
        no_dimension.as_object_mut().unwrap().remove("function");
        assert!(declared_metrics(&no_dimension).is_err());
    }
}

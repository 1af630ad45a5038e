//! Logs as Lambda's logging controls ask: `AWS_LAMBDA_LOG_FORMAT=JSON` for one JSON object per
//! line, `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`, a level name) for the level, INFO by default.

use std::sync::OnceLock;

use tracing_subscriber::filter::LevelFilter;

static JSON: OnceLock<bool> = OnceLock::new();
static LEVEL: OnceLock<LevelFilter> = OnceLock::new();

/// Whether lines are JSON (Lambda's JSON log format): the request summary then writes itself
/// as one JSON object carrying CloudWatch metrics (see `metrics`).
pub fn json() -> bool {
    JSON.get().copied().unwrap_or(false)
}

/// The level the logs were set to (INFO before `init`).
pub fn level() -> LevelFilter {
    LEVEL.get().copied().unwrap_or(LevelFilter::INFO)
}

/// The level and format from the environment: the level filter, and whether to write JSON.
/// TRACE is read as DEBUG: at TRACE the Lambda runtime logs every raw event it receives, access
/// keys in headers and queries included, and nothing of ours needs it. A level that is none of
/// Lambda's (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`, any case) is refused, so a typo
/// stops init instead of logging at a level nobody chose; `RUST_LOG`'s directives
/// (`info,hyper=warn`) give their first bare level.
pub fn settings(lookup: impl Fn(&str) -> Option<String>) -> Result<(LevelFilter, bool), String> {
    let level = match (lookup("AWS_LAMBDA_LOG_LEVEL"), lookup("RUST_LOG")) {
        (Some(value), _) => level_named(&value).ok_or(("AWS_LAMBDA_LOG_LEVEL", value)),
        (None, Some(value)) => value.split(',').find_map(level_named).ok_or(("RUST_LOG", value)),
        (None, None) => Ok(LevelFilter::INFO),
    };
    let level = level.map_err(|(name, value)| {
        format!("environment variable {name}={value:?} is not valid: expected TRACE, DEBUG, INFO, WARN, ERROR or FATAL")
    })?;
    let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|v| v.trim().eq_ignore_ascii_case("json"));
    Ok((level.min(LevelFilter::DEBUG), json))
}

/// One of Lambda's level names (FATAL is ERROR here: nothing of ours logs beyond it).
fn level_named(name: &str) -> Option<LevelFilter> {
    match name.trim() {
        // tracing reads "" as ERROR: nobody means that.
        "" => None,
        fatal if fatal.eq_ignore_ascii_case("fatal") => Some(LevelFilter::ERROR),
        other => other.parse::<LevelFilter>().ok().filter(|_| !other.contains('=')),
    }
}

/// Installs the global subscriber, writing to stdout (which Lambda sends to CloudWatch).
///
/// JSON lines carry `timestamp`, `level` and `message` at the top level, with every field
/// beside them: Lambda reads the level of a JSON line only when it has a valid timestamp, and
/// filters by `ApplicationLogLevel` on it. Text lines (local runs) stay short and readable.
pub fn init() -> Result<(), String> {
    let (level, json) = settings(|name| std::env::var(name).ok())?;
    let _ = JSON.set(json);
    let _ = LEVEL.set(level);
    if json {
        let _ = tracing::subscriber::set_global_default(json_subscriber(level, std::io::stdout));
    } else {
        tracing_subscriber::fmt().with_max_level(level).with_target(false).without_time().init();
    }
    Ok(())
}

/// Now, as the JSON lines write it (RFC 3339, UTC).
pub fn timestamp() -> String {
    use tracing_subscriber::fmt::time::FormatTime;
    let mut text = String::new();
    let _ = tracing_subscriber::fmt::time::SystemTime
        .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut text));
    text
}

pub fn epoch_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn json_subscriber<W>(level: LevelFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_controls_win_over_rust_log() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(settings(vars(&[])), Ok((LevelFilter::INFO, false)));
        assert_eq!(
            settings(vars(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "error")])),
            Ok((LevelFilter::DEBUG, false))
        );
        assert_eq!(
            settings(vars(&[("RUST_LOG", "warn"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")])),
            Ok((LevelFilter::WARN, true))
        );
        assert_eq!(settings(vars(&[("RUST_LOG", "info,hyper=warn")])), Ok((LevelFilter::INFO, false)));
        assert_eq!(settings(vars(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")])), Ok((LevelFilter::ERROR, false)));
        assert_eq!(settings(vars(&[("AWS_LAMBDA_LOG_LEVEL", "warn")])), Ok((LevelFilter::WARN, false)));
        // The runtime's raw events (access keys in them) are never logged, whatever is asked.
        assert_eq!(settings(vars(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")])).map(|s| s.0), Ok(LevelFilter::DEBUG));
        assert_eq!(settings(vars(&[("RUST_LOG", "trace")])).map(|s| s.0), Ok(LevelFilter::DEBUG));
        // A level nobody could have meant stops init, naming the variable.
        for (name, value) in
            [("AWS_LAMBDA_LOG_LEVEL", "INFOO"), ("AWS_LAMBDA_LOG_LEVEL", ""), ("RUST_LOG", "hyper=warn")]
        {
            let refused = settings(move |n: &str| (n == name).then(|| value.to_owned())).unwrap_err();
            assert!(refused.contains(name) && refused.contains("FATAL"), "{refused}");
        }
    }

    #[test]
    fn json_lines_have_top_level_timestamp_level_and_message() {
        #[derive(Clone, Default)]
        struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_subscriber(LevelFilter::INFO, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(request_id = "r1", status = 502, "request failed")
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(
            (line["level"].as_str(), line["message"].as_str()),
            (Some("WARN"), Some("request failed")),
            "{text}"
        );
        assert_eq!((line["request_id"].as_str(), line["status"].as_u64()), (Some("r1"), Some(502)), "{text}");
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(timestamp.len() >= 20 && timestamp.as_bytes()[4] == b'-' && timestamp.contains('T'), "{text}");
        assert!(line.get("fields").is_none(), "{text}");
    }
}

//! Logs as Lambda's logging controls ask: `AWS_LAMBDA_LOG_FORMAT=JSON` for one JSON object per
//! line, `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`, a level name) for the level, INFO by default.

use tracing_subscriber::filter::LevelFilter;

/// The level and format from the environment: the level filter, and whether to write JSON.
pub fn settings(lookup: impl Fn(&str) -> Option<String>) -> (LevelFilter, bool) {
    let level = lookup("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| lookup("RUST_LOG"))
        .and_then(|v| v.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|v| v.trim().eq_ignore_ascii_case("json"));
    (level, json)
}

/// Installs the global subscriber, writing to stdout (which Lambda sends to CloudWatch).
pub fn init() {
    let (level, json) = settings(|name| std::env::var(name).ok());
    let builder = tracing_subscriber::fmt().with_max_level(level).with_target(false).without_time();
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_controls_win_over_rust_log() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(settings(vars(&[])), (LevelFilter::INFO, false));
        assert_eq!(settings(vars(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "error")])), (LevelFilter::DEBUG, false));
        assert_eq!(settings(vars(&[("RUST_LOG", "warn"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")])), (LevelFilter::WARN, true));
        assert_eq!(settings(vars(&[("RUST_LOG", "info,hyper=warn")])), (LevelFilter::INFO, false));
    }
}

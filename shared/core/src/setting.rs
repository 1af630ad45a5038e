//! What both the configuration and the access settings need of one environment variable: the
//! error that names it, and the loopback rule for plain `http://` URLs.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name}={value:?} is not valid: expected {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

/// `localhost` or a loopback address, bracketed or not: the only hosts plain `http://` may reach.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

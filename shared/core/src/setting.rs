//! What both the configuration and the access settings need of one environment variable: the
//! error that names it, and the loopback rule for plain `http://` URLs.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name}={value:?} is not valid: expected {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
    /// A valid value the model does not take (the catalogue says what it does).
    #[error("environment variable {name}={value:?} is not taken by the model: expected {expected}")]
    Refused { name: &'static str, value: String, expected: String },
}

/// `localhost` or a loopback address, bracketed or not: the only hosts plain `http://` may reach.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Where the OpenAI API key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyConfig {
    /// `OPENAI_API_KEY_SECRET_ID`: a Secrets Manager secret (wins over the plain key).
    Secret(String),
    /// `OPENAI_API_KEY`: the key itself.
    Plain(String),
    /// `FALLBACK_AUTH=bedrock`: a short-term Amazon Bedrock API key, minted from the function's
    /// own AWS credentials for this region (no key is stored anywhere).
    Bedrock {
        region: String,
    },
    Missing,
}

// Hand-written so the key never reaches a log line through `{:?}`.
impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(id) => f.debug_tuple("Secret").field(id).finish(),
            Self::Plain(_) => f.write_str("Plain(<redacted>)"),
            Self::Bedrock { region } => f.debug_struct("Bedrock").field("region", region).finish(),
            Self::Missing => f.write_str("Missing"),
        }
    }
}

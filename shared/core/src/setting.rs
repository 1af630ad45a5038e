//! What both the configuration and the access settings need of one environment variable: the
//! error that names it, the parsers they share, and the loopback rule for plain `http://` URLs.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name}={value:?} is not valid: expected {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
    /// A valid value the model does not take (the catalogue says what it does).
    #[error("environment variable {name}={value:?} is not taken by the model: expected {expected}")]
    Refused { name: &'static str, value: String, expected: String },
}

/// One environment read through a lookup: each value trimmed (an empty one is unset), and the
/// parsers the settings share, each error naming its variable.
pub(crate) struct Settings<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    pub(crate) fn new(lookup: F) -> Self {
        Self { lookup }
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A positive number of milliseconds, else `default`.
    pub(crate) fn millis(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        let Some(value) = self.get(name) else { return Ok(default) };
        let ms = value.parse::<u64>().ok().filter(|ms| *ms > 0);
        ms.map(Duration::from_millis).ok_or(ConfigError::Invalid {
            name,
            value,
            expected: "a positive number of milliseconds",
        })
    }

    pub(crate) fn number(&self, name: &'static str) -> Result<Option<u64>, ConfigError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        value.parse::<u64>().map(Some).map_err(|_| ConfigError::Invalid { name, value, expected: "a whole number" })
    }

    /// A whole number above zero, when set; `expected` says what it counts.
    pub(crate) fn positive(&self, name: &'static str, expected: &'static str) -> Result<Option<u64>, ConfigError> {
        match self.number(name)? {
            Some(0) => Err(ConfigError::Invalid { name, value: "0".into(), expected }),
            number => Ok(number),
        }
    }

    /// `true` or `false` (any case), else `default`.
    pub(crate) fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(value) => Err(ConfigError::Invalid { name, value, expected: "true or false" }),
        }
    }

    /// A key from a Secrets Manager secret (`secret_id`, which wins) or given plainly.
    pub(crate) fn key(&self, secret_id: &str, plain: &str) -> Option<KeyConfig> {
        self.get(secret_id).map(KeyConfig::Secret).or_else(|| self.get(plain).map(KeyConfig::Plain))
    }
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

//! `FALLBACK_*`: a second provider that answers when the first cannot, read once at init.

use crate::setting::{ConfigError, KeyConfig};

/// Where answers go when OpenAI (the primary) cannot take them: another OpenAI project, Azure
/// OpenAI's v1 API, or any server of the Responses API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackConfig {
    /// `FALLBACK_BASE_URL`, without a trailing slash (`.../v1`, `.../openai/v1` on Azure).
    pub base_url: String,
    /// `FALLBACK_MODEL`: the model (or Azure deployment) it answers with; unset, the primary's.
    pub model: String,
    pub auth: FallbackAuth,
    /// `FALLBACK_API_KEY_SECRET_ID` or `FALLBACK_API_KEY`.
    pub key: KeyConfig,
}

/// How the fallback's key is presented (`FALLBACK_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackAuth {
    /// `Authorization: Bearer <key>`, as OpenAI takes it.
    Bearer,
    /// `api-key: <key>`, as Azure OpenAI takes it.
    Azure,
}

impl FallbackConfig {
    /// `None` when `FALLBACK_BASE_URL` is unset: no failover, every answer from the primary.
    pub(crate) fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        primary_model: &str,
        check_url: impl Fn(&'static str, &str) -> Result<(), ConfigError>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(base_url) = get("FALLBACK_BASE_URL") else { return Ok(None) };
        check_url("FALLBACK_BASE_URL", &base_url)?;
        let auth = match get("FALLBACK_AUTH").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("bearer") => FallbackAuth::Bearer,
            Some("azure") => FallbackAuth::Azure,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "FALLBACK_AUTH",
                    value: get("FALLBACK_AUTH").unwrap_or_default(),
                    expected: "bearer (Authorization: Bearer) or azure (api-key)",
                });
            }
        };
        let key = match (get("FALLBACK_API_KEY_SECRET_ID"), get("FALLBACK_API_KEY")) {
            (Some(secret), _) => KeyConfig::Secret(secret),
            (None, Some(key)) => KeyConfig::Plain(key),
            (None, None) => {
                return Err(ConfigError::Invalid {
                    name: "FALLBACK_API_KEY_SECRET_ID",
                    value: String::new(),
                    expected: "the fallback's key (FALLBACK_API_KEY_SECRET_ID, or FALLBACK_API_KEY) with FALLBACK_BASE_URL",
                });
            }
        };
        let model = get("FALLBACK_MODEL").unwrap_or_else(|| primary_model.to_owned());
        Ok(Some(Self { base_url: base_url.trim_end_matches('/').to_owned(), model, auth, key }))
    }
}

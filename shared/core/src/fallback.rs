//! `FALLBACK_*`: a second provider that answers when the first cannot, read once at init.

use crate::setting::{ConfigError, KeyConfig};

/// Where answers go when OpenAI (the primary) cannot take them: another OpenAI project, Azure
/// OpenAI's v1 API, Amazon Bedrock's `bedrock-mantle`, or any server of the Responses API.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackConfig {
    /// `FALLBACK_BASE_URL`, without a trailing slash (`.../v1`, `.../openai/v1` on Azure).
    pub base_url: String,
    /// `FALLBACK_MODEL`: the model (or Azure deployment) it answers with; unset, the primary's.
    pub model: String,
    pub auth: FallbackAuth,
    /// `FALLBACK_API_KEY_SECRET_ID` or `FALLBACK_API_KEY`; with `bedrock`, minted (`KeyConfig::Bedrock`).
    pub key: KeyConfig,
    /// `FALLBACK_PRICE_*`: its rates, when the list does not price its model (Bedrock's ids).
    pub prices: Option<crate::prices::Prices>,
}

/// How the fallback's key is presented (`FALLBACK_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackAuth {
    /// `Authorization: Bearer <key>`, as OpenAI takes it.
    Bearer,
    /// `api-key: <key>`, as Azure OpenAI takes it.
    Azure,
    /// `Authorization: Bearer <key>` with a short-term Bedrock API key the function mints from
    /// its own role, as AWS's `aws-bedrock-token-generator` does.
    Bedrock,
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
            Some("bedrock") => FallbackAuth::Bedrock,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "FALLBACK_AUTH",
                    value: get("FALLBACK_AUTH").unwrap_or_default(),
                    expected: "bearer (Authorization: Bearer), azure (api-key) or bedrock (a key minted from the function's role)",
                });
            }
        };
        let key = match (get("FALLBACK_API_KEY_SECRET_ID"), get("FALLBACK_API_KEY"), auth) {
            (None, None, FallbackAuth::Bedrock) => KeyConfig::Bedrock { region: bedrock_region(get, &base_url)? },
            // A key given beside `bedrock` would be silently unused: the user meant one of the two.
            (secret, Some(_), FallbackAuth::Bedrock) | (secret @ Some(_), None, FallbackAuth::Bedrock) => {
                return Err(ConfigError::Invalid {
                    name: if secret.is_some() { "FALLBACK_API_KEY_SECRET_ID" } else { "FALLBACK_API_KEY" },
                    value: String::new(),
                    expected: "no fallback key with FALLBACK_AUTH=bedrock, which mints its own from the function's role (a long-term Bedrock API key goes with FALLBACK_AUTH=bearer)",
                });
            }
            (Some(secret), _, _) => KeyConfig::Secret(secret),
            (None, Some(key), _) => KeyConfig::Plain(key),
            (None, None, _) => {
                return Err(ConfigError::Invalid {
                    name: "FALLBACK_API_KEY_SECRET_ID",
                    value: String::new(),
                    expected: "the fallback's key (FALLBACK_API_KEY_SECRET_ID, or FALLBACK_API_KEY) with FALLBACK_BASE_URL",
                });
            }
        };
        let model = match (get("FALLBACK_MODEL"), auth) {
            (Some(model), _) => model,
            // OpenAI's model name is no Bedrock id: failing over would only then be refused.
            (None, FallbackAuth::Bedrock) => {
                return Err(ConfigError::Invalid {
                    name: "FALLBACK_MODEL",
                    value: String::new(),
                    expected: "a Bedrock inference profile (us.openai.gpt-5.6-sol) with FALLBACK_AUTH=bedrock",
                });
            }
            (None, _) => primary_model.to_owned(),
        };
        let prices = crate::prices::from_settings(get, &crate::prices::FALLBACK_PRICES)?;
        Ok(Some(Self { base_url: base_url.trim_end_matches('/').to_owned(), model, auth, key, prices }))
    }
}

/// The region a Bedrock key is signed for: the one the base URL names
/// (`bedrock-mantle.{region}.api.aws`, `bedrock-runtime.{region}.amazonaws.com`), since a
/// short-term key works only in the region it was made for; else `AWS_REGION` (a stand-in).
fn bedrock_region(get: &impl Fn(&str) -> Option<String>, base_url: &str) -> Result<String, ConfigError> {
    let uri = base_url.parse::<http::Uri>().ok();
    let host = uri.as_ref().and_then(http::Uri::host).unwrap_or_default();
    let named = match host.split('.').collect::<Vec<_>>().as_slice() {
        ["bedrock-mantle" | "bedrock-runtime", region, ..] => Some((*region).to_owned()),
        _ => None,
    };
    let configured = get("AWS_REGION").filter(|r| !r.trim().is_empty());
    match (named, configured) {
        (Some(named), _) => Ok(named),
        (None, Some(region)) => Ok(region),
        (None, None) => Err(ConfigError::Invalid {
            name: "AWS_REGION",
            value: String::new(),
            expected: "the region to mint the Bedrock key for, with FALLBACK_AUTH=bedrock (Lambda sets it)",
        }),
    }
}

/// The primary's settings as the fallback is sent them, and the variables left out: what is
/// OpenAI's own and another provider's model may refuse (a 400 on every failover): the service
/// tier, compaction, the reasoning context, hosted tools (they run at OpenAI), and an effort
/// beyond low, medium and high. The one rule, for the client and for the catalogue's check.
pub fn sent_to_fallback(mut config: crate::Config) -> (crate::Config, Vec<&'static str>) {
    let mut dropped = Vec::new();
    if config.service_tier.take().is_some() {
        dropped.push("OPENAI_SERVICE_TIER");
    }
    if config.compact_threshold.take().is_some() {
        dropped.push("OPENAI_COMPACT_THRESHOLD");
    }
    if config.reasoning.context.take().is_some() {
        dropped.push("OPENAI_REASONING_CONTEXT");
    }
    if config.tools.take().is_some() {
        dropped.push("OPENAI_TOOLS");
    }
    if config.reasoning.effort.is_some_and(|effort| !PORTABLE_EFFORTS.contains(&effort)) {
        config.reasoning.effort = None;
        dropped.push("OPENAI_REASONING_EFFORT");
    }
    (config, dropped)
}

/// The efforts every provider's reasoning models take (OpenAI's, Azure's and Bedrock's): what
/// a fallback is sent of the primary's effort.
pub const PORTABLE_EFFORTS: [&str; 3] = ["low", "medium", "high"];

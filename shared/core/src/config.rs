use std::time::Duration;

pub use crate::setting::{ConfigError, KeyConfig};
use crate::setting::{Settings, is_loopback};

/// Everything the functions read from the environment, once, at init.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: String,
    pub model: String,
    pub key: KeyConfig,
    /// `TOKEN_SIGNING_SECRET_ID` or `TOKEN_SIGNING_SECRET`: the HMAC key of resume tokens and of
    /// the owner tag on responses; without one they are signed with the OpenAI API key.
    pub signing: Option<KeyConfig>,
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u32>,
    pub max_message_bytes: usize,
    pub timeouts: Timeouts,
    pub max_retries: u32,
    pub heartbeat: Duration,
    /// `OPENAI_PRICE_INPUT_PER_MTOK`, `OPENAI_PRICE_OUTPUT_PER_MTOK` and the optional
    /// `OPENAI_PRICE_CACHED_INPUT_PER_MTOK` / `OPENAI_PRICE_CACHE_WRITE_PER_MTOK`, for the estimate.
    pub prices: Option<crate::prices::Prices>,
    pub limits: LimitsConfig,
    /// `RESUMABLE_STREAMS`: streamed answers run in OpenAI's background mode, so a dropped
    /// connection resumes and Stop cancels them upstream.
    pub resumable: bool,
    /// `OPENAI_REASONING_EFFORT`, `OPENAI_REASONING_SUMMARY`.
    pub reasoning: crate::reasoning::ReasoningConfig,
    /// `OPENAI_MAX_THINK_MS`: how long a background answer may stay silent while OpenAI says
    /// it is still working, before it counts as stuck.
    pub max_think: Duration,
    /// `OPENAI_COMPACT_THRESHOLD`: OpenAI compacts a conversation past this many input tokens,
    /// so a follow-up costs at most about that much again, and a long chat keeps answering.
    pub compact_threshold: Option<u64>,
    /// `OPENAI_SERVICE_TIER`: `auto`, `default`, `flex` (half price, slower), `priority` (twice
    /// the price) or `ultrafast` (GPT-6.2: 3x, 6x from 2027-03-01), sent as `service_tier`; the
    /// estimate prices the tier OpenAI answers in, the reservation the dearest it can be.
    pub service_tier: Option<&'static str>,
    /// `FALLBACK_BASE_URL` and the rest: the provider that answers when OpenAI cannot.
    pub fallback: Option<crate::fallback::FallbackConfig>,
    /// `OPENAI_TOOLS`, `OPENAI_MAX_TOOL_CALLS`: the owner's hosted tools, sent on every create.
    pub tools: Option<crate::tools::ToolsConfig>,
    /// `CALLER_TOOLS` (default true): whether a request may bring its own function tools and
    /// answer their calls (no fee: their definitions, calls and results are tokens, reserved).
    pub caller_tools: bool,
    /// `MAX_ATTACHMENT_BYTES`: the most bytes a question's attachments may take, decoded.
    pub max_attachment_bytes: usize,
    /// `OPENAI_IMAGE_DETAIL`: `low`, `high` or `auto`, sent with each image; unset, OpenAI's default.
    pub image_detail: Option<&'static str>,
}

/// Upstream time limits; each one is also capped by the Lambda invocation's own deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending the request (each attempt) until its response headers, and for a stream
    /// until the first text of the answer (`OPENAI_FIRST_EVENT_TIMEOUT_MS`).
    pub first_event: Duration,
    /// Longest silence allowed between two streamed events.
    pub idle: Duration,
    /// The whole request, retries included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_event: Duration::from_secs(60),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(280),
        }
    }
}

impl Config {
    /// The price an answer of this provider is counted at: the override, else today's list price.
    pub fn price(&self) -> Option<crate::prices::Prices> {
        crate::prices::Prices::for_model(&self.model, self.prices)
    }

    /// The fallback's price: `FALLBACK_PRICE_*`, else the primary's override when it answers
    /// with the primary's model, else its list price.
    pub fn fallback_price(&self) -> Option<crate::prices::Prices> {
        let fallback = self.fallback.as_ref()?;
        crate::prices::Prices::for_model(&fallback.model, fallback.prices.or(self.primary_override_for(fallback)))
    }

    /// `OPENAI_PRICE_*`, when the fallback answers with the model they price.
    fn primary_override_for(&self, fallback: &crate::fallback::FallbackConfig) -> Option<crate::prices::Prices> {
        self.prices.filter(|_| fallback.model == self.model)
    }

    pub const DEFAULT_BASE_URL: &'static str = "https://api.openai.com/v1";
    /// OpenAI's named replacement for `gpt-4o-mini` (shut down 2027-01-14), with no announced
    /// shutdown of its own; it reasons by default, so it is asked for `low` effort unless set.
    pub const DEFAULT_MODEL: &'static str = "gpt-6-luna";
    pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 32 * 1024;
    pub const DEFAULT_MAX_THINK: Duration = Duration::from_secs(10 * 60);

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let settings = Settings::new(lookup);
        let get = |name: &str| settings.get(name);
        let base_url = get("OPENAI_BASE_URL").unwrap_or_else(|| Self::DEFAULT_BASE_URL.to_owned());
        let insecure_allowed = settings.flag("OPENAI_ALLOW_INSECURE_HTTP", false)?;
        check_base_url("OPENAI_BASE_URL", &base_url, insecure_allowed)?;
        let limits = limits(&get)?;
        let model = get("OPENAI_MODEL").unwrap_or_else(|| Self::DEFAULT_MODEL.to_owned());
        let prices = crate::prices::from_settings(&get, &crate::prices::OPENAI_PRICES)?;
        limits.check_dollars("OPENAI_MODEL", &model, prices)?;
        let fallback = crate::fallback::FallbackConfig::from_lookup(&get, &model, |name, url| {
            check_base_url(name, url, insecure_allowed)
        })?;
        if let Some(fallback) = &fallback {
            // An answer from the fallback is counted at its price: a dollar limit needs that too.
            let same_model = (fallback.model == model).then_some(prices).flatten();
            limits.check_dollars("FALLBACK_MODEL", &fallback.model, fallback.prices.or(same_model))?;
        }
        // With limits on, every request asks for at most what its reservation assumed.
        let max_output_tokens = settings
            .number("OPENAI_MAX_OUTPUT_TOKENS")?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .or(limits.table.as_ref().map(|_| DEFAULT_OUTPUT_RESERVE));
        let config = Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: settings.key("OPENAI_API_KEY_SECRET_ID", "OPENAI_API_KEY").unwrap_or(KeyConfig::Missing),
            signing: settings.key("TOKEN_SIGNING_SECRET_ID", "TOKEN_SIGNING_SECRET"),
            instructions: get("OPENAI_INSTRUCTIONS"),
            max_output_tokens,
            max_message_bytes: settings
                .number("MAX_MESSAGE_BYTES")?
                .map_or(Self::DEFAULT_MAX_MESSAGE_BYTES, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            timeouts: Timeouts::from_settings(&settings)?,
            max_retries: settings.number("OPENAI_MAX_RETRIES")?.map_or(2, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            heartbeat: settings.millis("HEARTBEAT_INTERVAL_MS", Duration::from_secs(15))?,
            prices,
            limits,
            resumable: settings.flag("RESUMABLE_STREAMS", true)?,
            reasoning: crate::reasoning::ReasoningConfig::from_lookup(&get)?
                .with_default_effort(is_snapshot_of(&model, Self::DEFAULT_MODEL)),
            max_think: settings.millis("OPENAI_MAX_THINK_MS", Self::DEFAULT_MAX_THINK)?,
            service_tier: service_tier(get("OPENAI_SERVICE_TIER"))?,
            fallback,
            tools: crate::tools::ToolsConfig::from_settings(
                get("OPENAI_TOOLS"),
                settings.number("OPENAI_MAX_TOOL_CALLS")?,
                get("MCP_AUTHORIZATION_SECRET_ID"),
            )?,
            caller_tools: settings.flag("CALLER_TOOLS", true)?,
            max_attachment_bytes: settings
                .positive("MAX_ATTACHMENT_BYTES", "a positive number of bytes (unset: 4194304)")?
                .map_or(crate::attachments::DEFAULT_MAX_ATTACHMENT_BYTES, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            image_detail: image_detail(get("OPENAI_IMAGE_DETAIL"))?,
            compact_threshold: settings
                .positive("OPENAI_COMPACT_THRESHOLD", "a positive number of input tokens (unset: no compaction)")?,
            model,
        };
        crate::catalogue::check(&config)?;
        Ok(config)
    }
}

impl Timeouts {
    fn from_settings<F: Fn(&str) -> Option<String>>(settings: &Settings<F>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            connect: settings.millis("OPENAI_CONNECT_TIMEOUT_MS", defaults.connect)?,
            first_event: settings.millis("OPENAI_FIRST_EVENT_TIMEOUT_MS", defaults.first_event)?,
            idle: settings.millis("OPENAI_IDLE_TIMEOUT_MS", defaults.idle)?,
            total: settings.millis("OPENAI_TOTAL_TIMEOUT_MS", defaults.total)?,
        })
    }
}

fn limits(get: &impl Fn(&str) -> Option<String>) -> Result<LimitsConfig, ConfigError> {
    let defaults = LimitsConfig::default();
    let count = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
        get(name).map_or(Ok(default), |v| {
            v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(ConfigError::Invalid {
                name,
                value: v,
                expected: "a positive whole number",
            })
        })
    };
    let table = get("LIMITS_TABLE");
    let (keys, jwt) = match get("ACCESS").as_deref() {
        None | Some("public") => (false, None),
        Some("keys") if table.is_some() => (true, None),
        Some("jwt") => (false, Some(crate::access::JwtConfig::from_lookup(get)?)),
        Some(other) => {
            let expected = if other == "keys" {
                "public, or keys together with LIMITS_TABLE (the keys live there)"
            } else {
                "public, keys or jwt"
            };
            return Err(ConfigError::Invalid { name: "ACCESS", value: other.to_owned(), expected });
        }
    };
    let dollars = |name: &'static str| -> Result<Option<crate::prices::Nanos>, ConfigError> {
        get(name)
            .map(|v| {
                crate::prices::parse_usd(&v).filter(|n| *n > 0).ok_or(ConfigError::Invalid {
                    name,
                    value: v,
                    expected: "a positive amount of dollars, e.g. 5 or 0.50",
                })
            })
            .transpose()
    };
    let origins = get("ALLOWED_ORIGINS").unwrap_or_default();
    Ok(LimitsConfig {
        daily_budget_usd: dollars("DAILY_BUDGET_USD")?,
        caller_usd_per_day: dollars("CALLER_USD_PER_DAY")?,
        table,
        keys,
        jwt,
        rate_per_minute: count("RATE_LIMIT_PER_MINUTE", defaults.rate_per_minute)?,
        caller_tokens_per_day: count("CALLER_TOKENS_PER_DAY", defaults.caller_tokens_per_day)?,
        daily_budget: count("DAILY_TOKEN_BUDGET", defaults.daily_budget)?,
        allowed_origins: origins
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
    })
}

/// Both prices or neither: half an override would silently price the other half at zero.
/// The key travels in every request to `base_url`: over plain `http://` only to this machine
/// (a local stand-in or gateway), unless the owner opts in with `OPENAI_ALLOW_INSECURE_HTTP`.
fn check_base_url(name: &'static str, base_url: &str, insecure_allowed: bool) -> Result<(), ConfigError> {
    let invalid = |expected| ConfigError::Invalid { name, value: base_url.to_owned(), expected };
    let uri: http::Uri = base_url.parse().map_err(|_| invalid("an http(s) URL"))?;
    let host = uri.host().ok_or_else(|| invalid("an http(s) URL"))?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if insecure_allowed || is_loopback(host) => Ok(()),
        Some("http") => Err(invalid(
            "https, or http only to a loopback address (it would send the API key in clear; set OPENAI_ALLOW_INSECURE_HTTP=true to allow it)",
        )),
        _ => Err(invalid("an http(s) URL")),
    }
}

/// The limits a deployment sets (`RATE_LIMIT_PER_MINUTE`, `CALLER_TOKENS_PER_DAY`,
/// `DAILY_TOKEN_BUDGET`); read with the rest of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    pub table: Option<String>,
    pub rate_per_minute: u64,
    pub caller_tokens_per_day: u64,
    pub daily_budget: u64,
    /// `DAILY_BUDGET_USD`, in nano-dollars: the deployment's dollars of a UTC day.
    pub daily_budget_usd: Option<crate::prices::Nanos>,
    /// `CALLER_USD_PER_DAY`, in nano-dollars: each caller's dollars of a UTC day.
    pub caller_usd_per_day: Option<crate::prices::Nanos>,
    pub allowed_origins: Vec<String>,
    /// `ACCESS=keys`: callers are access keys, not addresses.
    pub keys: bool,
    /// `ACCESS=jwt`: callers are the users an identity provider signed in.
    pub jwt: Option<crate::access::JwtConfig>,
}

impl LimitsConfig {
    /// Whether callers prove who they are (an access key, or a signed-in user's token), so that
    /// resume tokens and stops can be bound to them; an address proves nothing.
    pub fn callers_are_identified(&self) -> bool {
        self.keys || self.jwt.is_some()
    }

    /// Whether any limit is in dollars: the deployment's, each caller's, or a plan's.
    pub fn counts_dollars(&self) -> bool {
        let plans = self.jwt.as_ref().is_some_and(|jwt| jwt.plans.iter().any(|p| p.usd_per_day.is_some()));
        self.daily_budget_usd.is_some() || self.caller_usd_per_day.is_some() || plans
    }

    /// A dollar limit that cannot be kept stops the function at init (fail closed): one without
    /// the limits table to count in, or for a model whose price is neither listed nor overridden.
    fn check_dollars(
        &self,
        name: &'static str,
        model: &str,
        overridden: Option<crate::prices::Prices>,
    ) -> Result<(), ConfigError> {
        if !self.counts_dollars() {
            return Ok(());
        }
        if self.table.is_none() {
            return Err(ConfigError::Invalid {
                name: "LIMITS_TABLE",
                value: String::new(),
                expected: "the limits table's name: DAILY_BUDGET_USD, CALLER_USD_PER_DAY and plans' dollars are counted there",
            });
        }
        if crate::prices::Prices::for_model(model, overridden).is_none() {
            return Err(ConfigError::Invalid {
                name,
                value: model.to_owned(),
                expected: "a model in the price list, or its price set (OPENAI_PRICE_INPUT_PER_MTOK and OPENAI_PRICE_OUTPUT_PER_MTOK for OPENAI_MODEL, FALLBACK_PRICE_INPUT_PER_MTOK and FALLBACK_PRICE_OUTPUT_PER_MTOK for FALLBACK_MODEL): a dollar limit (DAILY_BUDGET_USD, CALLER_USD_PER_DAY, a plan's dollars) cannot be kept without the price of every model that may answer",
            });
        }
        Ok(())
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            table: None,
            rate_per_minute: 10,
            caller_tokens_per_day: 100_000,
            daily_budget: 2_000_000,
            daily_budget_usd: None,
            caller_usd_per_day: None,
            allowed_origins: Vec::new(),
            keys: false,
            jwt: None,
        }
    }
}

/// The output cap when limits are on and the deployment sets no `OPENAI_MAX_OUTPUT_TOKENS`
/// (`Config` then sends it upstream), so a reservation always bounds the answer.
pub const DEFAULT_OUTPUT_RESERVE: u32 = 4096;

/// `OPENAI_SERVICE_TIER` as OpenAI spells it; whether the model takes it and whether it is priced
/// is the catalogue's check.
fn service_tier(value: Option<String>) -> Result<Option<&'static str>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let tier =
        ["auto", "default", "flex", "priority", "ultrafast"].into_iter().find(|t| t.eq_ignore_ascii_case(&value));
    tier.map(Some).ok_or(ConfigError::Invalid {
        name: "OPENAI_SERVICE_TIER",
        value,
        expected: "auto, default, flex, priority or ultrafast (unset: the project's default)",
    })
}

/// Whether `model` is `family` or one of its dated snapshots (`gpt-6-luna-2026-09-15`): the
/// same model, which takes the family's defaults.
pub(crate) fn is_snapshot_of(model: &str, family: &str) -> bool {
    let Some(rest) = model.strip_prefix(family) else { return false };
    let date = rest.strip_prefix('-').unwrap_or("-");
    rest.is_empty() || (date.len() == 10 && crate::date::parse_day(date).is_some())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

/// `OPENAI_IMAGE_DETAIL`: one of OpenAI's three values.
fn image_detail(value: Option<String>) -> Result<Option<&'static str>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    match ["low", "high", "auto"].into_iter().find(|known| *known == value) {
        Some(known) => Ok(Some(known)),
        None => Err(ConfigError::Invalid { name: "OPENAI_IMAGE_DETAIL", value, expected: "low, high or auto" }),
    }
}

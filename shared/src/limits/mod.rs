//! Who may spend how much: the gate every chat request passes before anything goes upstream.
//!
//! - Other websites: a request whose `Origin` is present and not in `ALLOWED_ORIGINS` is refused
//!   (403). CORS stops a foreign page from reading an answer, not from asking for one.
//! - The caller is the Function URL's `sourceIp` (IPv6 grouped by /64), which it cannot forge.
//! - With `LIMITS_TABLE` set, each request takes one slot of its caller's requests per minute
//!   and reserves a safe upper bound of the tokens it can use against the caller's and the
//!   deployment's daily tokens, atomically in DynamoDB (conditional writes: concurrent requests
//!   can never push a counter past its limit). The answer's real usage settles the reservation;
//!   a request that never reached the model releases it. The store unreachable or slow: 503.

mod caller;
mod keys;
mod store;

use std::time::Duration;

use crate::openai::types::Usage;
use crate::{ApiError, ChatRequest, Config};

pub use caller::{caller_id, safety_identifier};
pub use keys::{KeyRecord, generate as generate_key, hash as key_hash, presented_key};
pub use store::{Store, day_now};

/// The limits a deployment sets (`RATE_LIMIT_PER_MINUTE`, `CALLER_TOKENS_PER_DAY`,
/// `DAILY_TOKEN_BUDGET`); read with the rest of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    pub table: Option<String>,
    pub rate_per_minute: u64,
    pub caller_tokens_per_day: u64,
    pub daily_budget: u64,
    pub allowed_origins: Vec<String>,
    /// `ACCESS=keys`: callers are access keys, not addresses.
    pub keys: bool,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { table: None, rate_per_minute: 10, caller_tokens_per_day: 100_000, daily_budget: 2_000_000, allowed_origins: Vec::new(), keys: false }
    }
}

/// The output cap when limits are on and the deployment sets no `OPENAI_MAX_OUTPUT_TOKENS`
/// (`Config` then sends it upstream), so a reservation always bounds the answer.
pub const DEFAULT_OUTPUT_RESERVE: u32 = 4096;
/// What a follow-up's earlier turns may add to the input: unknown until OpenAI reports usage,
/// so a fixed allowance, settled to the truth afterwards.
const CONVERSATION_RESERVE: u64 = 8192;

/// The gate, built once per execution environment.
pub struct Gate {
    config: LimitsConfig,
    store: Option<Store>,
}

impl Gate {
    /// With `LIMITS_TABLE` set, a store on the AWS SDK's own configuration (built on first use,
    /// so nothing is added before the first Runtime API poll); without it, no limits, said once.
    pub fn from_config(config: LimitsConfig) -> Self {
        let store = config.table.clone().map(Store::from_env);
        if store.is_none() {
            tracing::warn!("LIMITS_TABLE is not set: this deployment runs WITHOUT per-caller limits or a daily budget; anyone with its URL can spend its OpenAI key");
        }
        Self { config, store }
    }

    /// A gate on a given DynamoDB client (tests, tools).
    pub fn with_client(config: LimitsConfig, client: aws_sdk_dynamodb::Client) -> Self {
        let store = config.table.clone().map(|table| Store::with_client(table, client));
        Self { config, store }
    }

    /// No origin check and no limits: handler tests that are about something else.
    pub fn open() -> Self {
        Self { config: LimitsConfig::default(), store: None }
    }

    /// Admits the request or says why not, before anything goes upstream.
    pub async fn admit(&self, request: &lambda_http::Request, chat: &ChatRequest, config: &Config) -> Result<Admission, ApiError> {
        let (caller, record) = self.identify_with_record(request).await?;
        let Some(store) = &self.store else { return Ok(Admission { caller, held: None }) };
        let limits = &self.config;
        // A key's own limits override the per-caller ones.
        let rate_per_minute = record.as_ref().and_then(|r| r.rate_per_minute).unwrap_or(limits.rate_per_minute);
        let tokens_per_day = record.as_ref().and_then(|r| r.tokens_per_day).unwrap_or(limits.caller_tokens_per_day);
        store.take_request_slot(&caller, rate_per_minute).await?;
        let conversation = if chat.previous_response_id.is_some() { CONVERSATION_RESERVE } else { 0 };
        // A token is never shorter than a byte, so bytes bound the input's tokens.
        let instructions = config.instructions.as_deref().map_or(0, str::len) as u64;
        let output = u64::from(config.max_output_tokens.unwrap_or(DEFAULT_OUTPUT_RESERVE));
        let tokens = chat.input_bytes() as u64 + instructions + conversation + 64 + output;
        store.reserve(&caller, tokens, tokens_per_day, limits.daily_budget).await?;
        Ok(Admission { caller, held: Some(Held { store: store.clone(), tokens, day: store::day_now() }) })
    }

    /// Who is asking, for a request that spends nothing (a resume, a stop): the origin check
    /// and, with access keys, a valid key; no slot and no reservation.
    pub async fn identify(&self, request: &lambda_http::Request) -> Result<String, ApiError> {
        self.identify_with_record(request).await.map(|(caller, _)| caller)
    }

    async fn identify_with_record(&self, request: &lambda_http::Request) -> Result<(String, Option<KeyRecord>), ApiError> {
        if let Some(origin) = request.headers().get(http::header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
            if !self.config.allowed_origins.is_empty() && !self.config.allowed_origins.iter().any(|o| o == origin) {
                return Err(ApiError::OriginNotAllowed);
            }
        }
        match &self.store {
            Some(store) if self.config.keys => {
                let key = presented_key(request).ok_or(ApiError::AccessKeyMissing)?;
                let record = store.key(&keys::hash(&key)).await?.ok_or(ApiError::AccessKeyUnknown)?;
                if record.revoked {
                    return Err(ApiError::AccessKeyRevoked);
                }
                Ok((format!("key:{}", record.id), Some(record)))
            }
            _ => Ok((caller_id(request), None)),
        }
    }
}

/// An admitted request: who it is, and the tokens it holds until it is settled.
pub struct Admission {
    pub caller: String,
    held: Option<Held>,
}

struct Held {
    store: Store,
    tokens: u64,
    day: u64,
}

impl Admission {
    /// The answer's real usage replaces the reservation. Without usage (a failure or a cut part
    /// way) the reservation stands: the model may have generated what nobody read.
    pub async fn settle(self, usage: Option<Usage>) {
        let Some(held) = self.held else { return };
        if let Some(usage) = usage {
            let change = usage.total_tokens as i64 - held.tokens as i64;
            held.store.adjust(&self.caller, held.day, change).await;
        }
    }

    /// The request never reached the model: it gives its reservation back.
    pub async fn release(self) {
        let Some(held) = self.held else { return };
        held.store.adjust(&self.caller, held.day, -(held.tokens as i64)).await;
    }
}

/// Seconds until the next minute and the next UTC day, for `Retry-After`.
pub(crate) fn until_next(period: u64, now: u64) -> Duration {
    Duration::from_secs(period - now % period)
}

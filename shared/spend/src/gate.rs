//! The gate: [`Gate::enter`], then [`Gate::reserve`], and the [`Admission`] that settles.

use chat_core::config::DEFAULT_OUTPUT_RESERVE;
use chat_core::prices::{Billed, Prices};
use chat_core::{ApiError, ChatRequest, Config, LimitsConfig};

use identity::Verifier;

use crate::amount::{Amount, DayLimit};
use crate::caller::caller_id;
use crate::keys::{self, presented_key, presented_token};
use crate::origin;
use crate::store::{Change, Store};

/// Tokens a message's framing may add beyond its text (role and separators), with room to spare.
const TOKENS_PER_MESSAGE: u64 = 8;

/// What a caller is identified for: a question (or a stop) needs a valid sign-in; the rest of an
/// answer already admitted needs the user, whose token may have expired since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Ask,
    Resume,
}

/// The gate, built once per execution environment.
pub struct Gate {
    config: LimitsConfig,
    store: Option<Store>,
    /// `ACCESS=jwt`: the users' tokens are checked here, with or without a limits table.
    users: Option<Verifier>,
}

impl Gate {
    /// With `LIMITS_TABLE` set, a store on the AWS SDK's own configuration (built on first use,
    /// so nothing is added before the first Runtime API poll); without it, no limits, said once.
    pub fn from_config(config: LimitsConfig) -> Result<Self, ApiError> {
        let store = config.table.clone().map(Store::from_env);
        if store.is_none() {
            let who = if config.jwt.is_some() { "any signed-in user" } else { "anyone with its URL" };
            tracing::warn!(
                "LIMITS_TABLE is not set: this deployment runs WITHOUT per-caller limits or a daily budget; {who} can spend its OpenAI key"
            );
        }
        Self::with(config, store)
    }

    /// A gate on a given DynamoDB client (tests, tools).
    pub fn with_client(config: LimitsConfig, client: aws_sdk_dynamodb::Client) -> Result<Self, ApiError> {
        let store = config.table.clone().map(|table| Store::with_client(table, client));
        Self::with(config, store)
    }

    /// A gate on a given store (tests that set its clock).
    pub fn with_store(config: LimitsConfig, store: Store) -> Result<Self, ApiError> {
        Self::with(config, Some(store))
    }

    fn with(config: LimitsConfig, store: Option<Store>) -> Result<Self, ApiError> {
        let users = config.jwt.clone().map(Verifier::from_config).transpose()?;
        Ok(Self { config, store, users })
    }

    pub(crate) fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Opens what the first request would otherwise wait for (during init): the connection to
    /// the limits table and the identity provider's keys. Never fails.
    pub async fn open_connections(&self) {
        let store = async {
            if let Some(store) = &self.store {
                store.open_connections().await;
            }
        };
        let users = async {
            if let Some(users) = &self.users {
                users.fetch_keys().await;
            }
        };
        tokio::join!(store, users);
    }

    /// No origin check and no limits: handler tests that are about something else.
    pub fn open() -> Self {
        Self { config: LimitsConfig::default(), store: None, users: None }
    }

    /// Who is asking, and one of their requests this minute: [`Gate::identify`], then
    /// [`Gate::take_slot`]. Every chat request that spends no tokens (a resume, a stop) passes
    /// here, since each still costs upstream calls; a question passes [`Gate::admit`], or this
    /// and [`Gate::reserve`] when it continues a conversation.
    pub async fn enter(&self, request: &lambda_http::Request) -> Result<Pass, ApiError> {
        let caller = self.identify(request).await?;
        self.take_slot(caller).await
    }

    /// [`Gate::enter`] for a resume of an answer already admitted: a signed-in user whose token
    /// expired since the question still gets the rest (their resume token, bound to them, must
    /// prove the answer is theirs); a new question still needs a valid token.
    pub async fn enter_to_resume(&self, request: &lambda_http::Request) -> Result<Pass, ApiError> {
        let caller = self.identify_as(request, Purpose::Resume).await?;
        self.take_slot(caller).await
    }

    /// Who is asking: the origin check, then the caller (an access key with `ACCESS=keys`, a
    /// signed-in user with `ACCESS=jwt`, else the address) with their own limits. Nothing is
    /// counted yet.
    pub async fn identify(&self, request: &lambda_http::Request) -> Result<Caller, ApiError> {
        self.identify_as(request, Purpose::Ask).await
    }

    async fn identify_as(&self, request: &lambda_http::Request, purpose: Purpose) -> Result<Caller, ApiError> {
        origin::check(request, &self.config.allowed_origins)?;
        match (&self.store, &self.users) {
            (_, Some(users)) => {
                let token = presented_token(request).ok_or(ApiError::TokenMissing)?;
                let user = match purpose {
                    Purpose::Ask => users.verify(&token).await?,
                    Purpose::Resume => users.verify_for_resume(&token).await?,
                };
                let plan = user.plan.as_deref().and_then(|plan| self.config.jwt.as_ref()?.plan(plan));
                let own = OwnLimits {
                    rate_per_minute: plan.map(|p| p.rate_per_minute),
                    tokens_per_day: plan.map(|p| p.tokens_per_day),
                    usd_per_day: plan.and_then(|p| p.usd_per_day),
                };
                Ok(Caller { id: user.caller_id(), own })
            }
            (Some(store), None) if self.config.keys => {
                let key = presented_key(request).ok_or(ApiError::AccessKeyMissing)?;
                let record = store.key(&keys::hash(&key)).await?.ok_or(ApiError::AccessKeyUnknown)?;
                if record.revoked {
                    return Err(ApiError::AccessKeyRevoked);
                }
                let own = OwnLimits {
                    rate_per_minute: record.rate_per_minute,
                    tokens_per_day: record.tokens_per_day,
                    usd_per_day: None,
                };
                Ok(Caller { id: format!("key:{}", record.id), own })
            }
            _ => Ok(Caller { id: caller_id(request), own: OwnLimits::default() }),
        }
    }

    /// One of `caller`'s requests this minute.
    pub async fn take_slot(&self, caller: Caller) -> Result<Pass, ApiError> {
        if let Some(store) = &self.store {
            store.take_request_slot(&caller.id, self.rate_per_minute(&caller)).await?;
        }
        Ok(Pass { caller: caller.id, own: caller.own })
    }

    /// Reserves the most `chat` can cost (see [`reservation`]), in tokens and in dollars, against
    /// the deployment's budget and the caller's day, before it is sent.
    pub async fn reserve(
        &self,
        pass: Pass,
        chat: &ChatRequest,
        config: &Config,
        earlier_tokens: u64,
    ) -> Result<Admission, ApiError> {
        let Pass { caller, own } = pass;
        let Some(store) = &self.store else { return Ok(Admission { caller, held: None }) };
        let amount = worst_case(chat, config, earlier_tokens);
        let caller_per_day = self.caller_per_day(&own);
        self.fits_in_a_day(amount, caller_per_day)?;
        let day = store.reserve(&caller, amount, caller_per_day, self.budget()).await?;
        let limits = Some((caller_per_day, self.budget()));
        Ok(Admission { caller, held: Some(Held { store: store.clone(), amount, day, limits }) })
    }

    /// A question that continues no conversation: its request slot and its reservation in one
    /// round trip ([`Store::take_slot_and_reserve`]), under the same limits as
    /// [`Gate::take_slot`] then [`Gate::reserve`].
    pub async fn admit(&self, caller: Caller, chat: &ChatRequest, config: &Config) -> Result<Admission, ApiError> {
        let Some(store) = &self.store else { return Ok(Admission { caller: caller.id, held: None }) };
        let amount = worst_case(chat, config, 0);
        let caller_per_day = self.caller_per_day(&caller.own);
        self.fits_in_a_day(amount, caller_per_day)?;
        let per_minute = self.rate_per_minute(&caller);
        let day = store.take_slot_and_reserve(&caller.id, per_minute, amount, caller_per_day, self.budget()).await?;
        let limits = Some((caller_per_day, self.budget()));
        Ok(Admission { caller: caller.id, held: Some(Held { store: store.clone(), amount, day, limits }) })
    }

    /// A question whose worst case is more than a whole day allows (the caller's, or the
    /// deployment's) is refused as too large, not told to come back tomorrow.
    fn fits_in_a_day(&self, amount: Amount, caller_per_day: DayLimit) -> Result<(), ApiError> {
        match caller_per_day.within(self.budget()).too_large(amount) {
            Some((worst, limit)) => Err(ApiError::QuestionTooLarge { worst, limit }),
            None => Ok(()),
        }
    }

    /// The deployment's day: `DAILY_TOKEN_BUDGET`, and `DAILY_BUDGET_USD` when set.
    fn budget(&self) -> DayLimit {
        DayLimit { tokens: self.config.daily_budget, nanos: self.config.daily_budget_usd }
    }

    /// A caller's day: their key's or plan's own limits, else the per-caller defaults.
    fn caller_per_day(&self, own: &OwnLimits) -> DayLimit {
        DayLimit {
            tokens: own.tokens_per_day.unwrap_or(self.config.caller_tokens_per_day),
            nanos: own.usd_per_day.or(self.config.caller_usd_per_day),
        }
    }

    fn rate_per_minute(&self, caller: &Caller) -> u64 {
        caller.own.rate_per_minute.unwrap_or(self.config.rate_per_minute)
    }
}

/// The most `chat` can be billed, in tokens: its input's bytes (a token is never shorter than a
/// byte), each message's framing, the instructions, `earlier_tokens` (the conversation it
/// continues, as OpenAI reported it, which OpenAI bills again as input), with hosted tools the
/// tool objects and every step of the answer reading it all again with each result so far
/// (`ToolsConfig::input_tokens`), and the output cap (reasoning tokens count within it).
pub fn reservation(chat: &ChatRequest, config: &Config, earlier_tokens: u64) -> u64 {
    let instructions = config.instructions.as_deref().map_or(0, str::len) as u64;
    let messages = chat.earlier.len() as u64 + 1;
    let output = u64::from(config.max_output_tokens.unwrap_or(DEFAULT_OUTPUT_RESERVE));
    let question =
        (chat.input_bytes() as u64 + instructions + TOKENS_PER_MESSAGE * messages + 64).saturating_add(earlier_tokens);
    // Attachments' tokens are OpenAI's count of the whole input: no byte count bounds them.
    let question = chat.counted_input.map_or(question, |counted| counted.max(question));
    let input = match &config.tools {
        Some(tools) => tools.input_tokens(question.saturating_add(tools.definition_bytes()), &chat_core::date::today()),
        None => question,
    };
    input.saturating_add(output)
}

/// The most `chat` can cost: [`reservation`] tokens, and in nano-dollars its input at the dearest
/// class and its output cap at the output price, by the dearer of the models that may answer it
/// (the primary's, the fallback's); none when unpriced, which a deployment with a dollar limit
/// refuses at init.
fn worst_case(chat: &ChatRequest, config: &Config, earlier_tokens: u64) -> Amount {
    let tokens = reservation(chat, config, earlier_tokens);
    let output = u64::from(config.max_output_tokens.unwrap_or(DEFAULT_OUTPUT_RESERVE));
    let worst = |p: Prices| p.worst_case_nanos(tokens.saturating_sub(output), output, config.service_tier);
    let nanos = [config.price(), config.fallback_price()].into_iter().flatten().map(worst).max().unwrap_or(0);
    // Hosted tools' fees are billed outside the tokens, whatever the model's price.
    let fees = config.tools.as_ref().map_or(0, |tools| tools.worst_fees_nanos(&chat_core::date::today()));
    Amount { tokens, nanos: nanos.saturating_add(fees) }
}

/// Who is asking, with their own limits when their key or plan sets them; nothing counted yet.
pub struct Caller {
    pub id: String,
    own: OwnLimits,
}

/// A request let in (its request of the minute counted): who it is, with their own limits.
pub struct Pass {
    pub caller: String,
    own: OwnLimits,
}

/// Limits of one caller that override the per-caller defaults.
#[derive(Default)]
struct OwnLimits {
    rate_per_minute: Option<u64>,
    tokens_per_day: Option<u64>,
    usd_per_day: Option<chat_core::prices::Nanos>,
}

/// An admitted request: who it is, and the tokens it holds until it is settled.
pub struct Admission {
    pub caller: String,
    pub(crate) held: Option<Held>,
}

pub(crate) struct Held {
    pub(crate) store: Store,
    pub(crate) amount: Amount,
    /// The day the reservation was made on: it is settled there, whenever that happens.
    pub(crate) day: u64,
    /// The caller's day and the deployment's, which a failover's second reservation must fit
    /// (`None` for a reservation taken over after a hand-over, which never fails over).
    pub(crate) limits: Option<(DayLimit, DayLimit)>,
}

impl Admission {
    /// The bill OpenAI reported replaces the reservation, in tokens and dollars, on the day it
    /// was made. Without it (a failure or a cut part way) the reservation stands: the model may
    /// have generated what nobody read. A bill beyond the reservation (which bounds it) is
    /// counted all the same. `price` is the answering provider's (`Config::price` of the client
    /// that holds the answer).
    pub async fn settle(self, billed: Option<Billed>, price: Option<Prices>) {
        let Some(held) = self.held else { return };
        let Some(billed) = billed else { return };
        let used = used(billed, price);
        if used.tokens > held.amount.tokens || used.nanos > held.amount.nanos {
            tracing::warn!(
                reserved_tokens = held.amount.tokens,
                used_tokens = used.tokens,
                reserved_nanos = held.amount.nanos,
                used_nanos = used.nanos,
                "an answer cost more than its reservation allowed for"
            );
        }
        held.store.adjust(&self.caller, held.day, settlement_delta(used, held.amount)).await;
    }

    /// The request never reached the model: it gives its reservation back.
    pub async fn release(self) {
        let Some(held) = self.held else { return };
        held.store.adjust(&self.caller, held.day, settlement_delta(Amount::default(), held.amount)).await;
    }
}

/// What a bill comes to at `price` (no dollars when unpriced).
pub(crate) fn used(billed: Billed, price: Option<Prices>) -> Amount {
    Amount { tokens: billed.tokens(), nanos: price.map_or(0, |p| p.cost_nanos(billed)) }
}

/// What settling changes the counters by: the bill less the reservation, saturated both ways,
/// so an absurd usage from upstream counts as the most there is, never as a refund.
pub(crate) fn settlement_delta(used: Amount, reserved: Amount) -> Change {
    let delta = |used: u64, reserved: u64| crate::store::signed(used).saturating_sub(crate::store::signed(reserved));
    Change { tokens: delta(used.tokens, reserved.tokens), nanos: delta(used.nanos, reserved.nanos) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_bill_saturates_and_never_becomes_a_refund() {
        let tokens = |used, reserved| {
            settlement_delta(Amount { tokens: used, nanos: used }, Amount { tokens: reserved, nanos: reserved }).tokens
        };
        assert_eq!(tokens(50, 100), -50);
        assert_eq!(tokens(150, 100), 50);
        assert_eq!(tokens(u64::MAX, 100), i64::MAX - 100);
        assert!(tokens(u64::MAX, u64::MAX) >= 0);
        let mixed = settlement_delta(Amount { tokens: 10, nanos: 900 }, Amount { tokens: 100, nanos: 500 });
        assert_eq!(mixed, Change { tokens: -90, nanos: 400 });
        assert_eq!(crate::store::signed(u64::MAX), i64::MAX);
    }
}

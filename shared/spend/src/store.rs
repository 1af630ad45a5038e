//! The limits table in DynamoDB. Key schema fixed for outside tools: partition key `pk`
//! (String), TTL attribute `expires_at` (epoch seconds). What lives under which `pk`:
//! `tokens#<caller>#<day>` (`used` tokens and `nano_usd` nano-dollars, and the caller's requests of
//! the minute: `minute`, `count`, see `window`) and `budget#<day>` (`used`, `nano_usd`); beside them a handed-over reservation
//! (`handover#<response id>`, see `handover`), a chat's running answer (`chat#<caller>#<chat id>`)
//! and the answers it was given (`answer#<caller>#<chat id>#<fingerprint>`, see `chats`); the
//! plain reads and writes of one item those use are in `items`. Every limit is a conditional write, so concurrent
//! requests never pass a limit; the deployment's budget and the caller's item are written at once
//! (one round trip), and the one that took is given back when the other is refused.
//! A give-back is sent once, never retried (a retry of a write that was applied but whose answer
//! was lost would give back twice), and never takes a counter below zero: when in doubt, the
//! counters count too much, never too little.

use std::sync::Arc;
use std::time::Duration;

use chat_core::date::epoch_seconds;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use tokio::sync::OnceCell;

use chat_core::ApiError;

use crate::amount::{Amount, DayLimit, NANOS, Refused, TOKENS};
use crate::table::{self, DEADLINE as STORE_DEADLINE, Updated};
use crate::until_next;
use crate::window::{Ask, Counted, Table, Windows};

const MINUTE: u64 = 60;
pub(crate) const DAY: u64 = 86_400;

/// Epoch seconds: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

#[derive(Clone)]
pub struct Store {
    table: Arc<str>,
    client: Arc<OnceCell<Client>>,
    clock: Clock,
    windows: Windows,
}

enum Write {
    Done,
    OverLimit(Refused),
}

/// One reservation's day, read from the clock once, and the counters it is made against.
struct Reservation {
    now: u64,
    day: u64,
    expires_at: u64,
    budget_pk: String,
    caller_pk: String,
    amount: Amount,
    caller_per_day: DayLimit,
    budget: DayLimit,
}

impl Reservation {
    fn new(now: u64, caller: &str, amount: Amount, caller_per_day: DayLimit, budget: DayLimit) -> Self {
        let day = now / DAY;
        let (budget_pk, caller_pk) = (budget_key(day), caller_key(caller, day));
        Self { now, day, expires_at: expiry(day), budget_pk, caller_pk, amount, caller_per_day, budget }
    }
}

/// A change of both counters: positive reserves, negative gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub tokens: i64,
    pub nanos: i64,
}

impl Change {
    /// Tokens alone.
    pub fn tokens(tokens: i64) -> Self {
        Self { tokens, nanos: 0 }
    }

    pub(crate) fn of(amount: Amount) -> Self {
        Self { tokens: signed(amount.tokens), nanos: signed(amount.nanos) }
    }

    fn back(self) -> Self {
        Self { tokens: -self.tokens, nanos: -self.nanos }
    }

    fn is_zero(self) -> bool {
        self.tokens == 0 && self.nanos == 0
    }

    /// What it adds: its positive parts (a give-back adds nothing).
    fn added(self) -> Amount {
        Amount { tokens: self.tokens.max(0).unsigned_abs(), nanos: self.nanos.max(0).unsigned_abs() }
    }
}

/// The key of the deployment's budget of `day`.
fn budget_key(day: u64) -> String {
    format!("budget#{day}")
}

/// The key of `caller`'s item of `day`.
fn caller_key(caller: &str, day: u64) -> String {
    format!("tokens#{caller}#{day}")
}

/// When a day's items expire (TTL): a day after it ends, so a late settlement still finds them.
pub(crate) fn expiry(day: u64) -> u64 {
    (day + 2) * DAY
}

impl Store {
    pub fn from_env(table: String) -> Self {
        Self {
            table: table.into(),
            client: Arc::new(OnceCell::new()),
            clock: Arc::new(epoch_seconds),
            windows: Windows::default(),
        }
    }

    pub fn with_client(table: String, client: Client) -> Self {
        Self {
            table: table.into(),
            client: Arc::new(OnceCell::new_with(Some(client))),
            clock: Arc::new(epoch_seconds),
            windows: Windows::default(),
        }
    }

    /// The same store reading time from `clock` (tests of what happens at midnight).
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    pub(crate) fn table(&self) -> &str {
        &self.table
    }

    /// Epoch seconds by this store's clock.
    pub(crate) fn now(&self) -> u64 {
        (self.clock)()
    }

    pub(crate) async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let sdk = chat_core::tls::aws_sdk_config().await;
                let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(500))
                    .operation_timeout(STORE_DEADLINE)
                    .build();
                let retries = aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(2);
                let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .timeout_config(timeouts)
                    .retry_config(retries)
                    .build();
                Client::from_conf(config)
            })
            .await
    }

    /// Opens the connections to DynamoDB ahead of the first request (during init): the client
    /// built, and three eventually consistent reads at once of a key that never exists, so the
    /// three writes a new environment's first question sends together (its request both ways,
    /// and the budget) each find a connection open. Never fails.
    pub async fn open_connections(&self) {
        let client = self.client().await;
        let read = || async {
            let read = client.get_item().table_name(&*self.table).key("pk", AttributeValue::S("warm#up".to_owned()));
            match tokio::time::timeout(STORE_DEADLINE, read.send()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::debug!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error), "a connection to the limits table was not opened ahead")
                }
                Err(_) => tracing::debug!("the limits table did not answer the read ahead in time"),
            }
        };
        tokio::join!(read(), read(), read());
    }

    async fn count_request(&self, pk: &str, ask: &Ask) -> Result<Counted, ApiError> {
        let table = Table { client: self.client().await, name: &self.table, windows: &self.windows };
        table.count_request(pk, ask).await
    }

    /// One of `caller`'s `per_minute` requests this minute.
    pub async fn take_request_slot(&self, caller: &str, per_minute: u64) -> Result<(), ApiError> {
        let now = (self.clock)();
        let day = now / DAY;
        let ask =
            Ask { minute: now / MINUTE, per_minute, amount: Amount::default(), per_day: None, expires_at: expiry(day) };
        match self.count_request(&caller_key(caller, day), &ask).await? {
            Counted::Done => Ok(()),
            _ => Err(rate_refusal(per_minute, now)),
        }
    }

    /// Reserves `amount` against the deployment's budget and the caller's day, both written at
    /// once (one round trip of waiting, not two); whichever is refused, the other is given back.
    /// Returns the day they were reserved on, read once, which is where they are settled.
    pub async fn reserve(
        &self,
        caller: &str,
        amount: Amount,
        caller_per_day: DayLimit,
        budget: DayLimit,
    ) -> Result<u64, ApiError> {
        let r = Reservation::new((self.clock)(), caller, amount, caller_per_day, budget);
        let (for_budget, for_caller) = tokio::join!(
            self.add(&r.budget_pk, Change::of(amount), Some(budget), r.expires_at),
            self.add(&r.caller_pk, Change::of(amount), Some(caller_per_day), r.expires_at),
        );
        let for_caller = for_caller.map(|write| match write {
            Write::Done => Counted::Done,
            Write::OverLimit(refused) => Counted::SpendRefused(refused),
        });
        self.settle_pair(&r, for_budget, for_caller).await
    }

    /// [`Store::take_request_slot`] and [`Store::reserve`] in one round trip: the caller's
    /// request of the minute and its day's amount in one conditional write (both or neither),
    /// beside the budget's. A budget refusal gives the caller's amount back and keeps the request
    /// counted, as when they were taken one after the other.
    pub async fn take_slot_and_reserve(
        &self,
        caller: &str,
        per_minute: u64,
        amount: Amount,
        caller_per_day: DayLimit,
        budget: DayLimit,
    ) -> Result<u64, ApiError> {
        let r = Reservation::new((self.clock)(), caller, amount, caller_per_day, budget);
        let ask =
            Ask { minute: r.now / MINUTE, per_minute, amount, per_day: Some(caller_per_day), expires_at: r.expires_at };
        let (for_budget, for_caller) = tokio::join!(
            self.add(&r.budget_pk, Change::of(amount), Some(budget), r.expires_at),
            self.count_request(&r.caller_pk, &ask)
        );
        if matches!(for_caller, Ok(Counted::RateRefused)) {
            if matches!(for_budget, Ok(Write::Done)) {
                self.add_once(&r.budget_pk, Change::of(amount).back(), r.expires_at).await;
            }
            return Err(rate_refusal(per_minute, r.now));
        }
        self.settle_pair(&r, for_budget, for_caller).await
    }

    /// The outcome of a budget write and a caller write sent together: the day, or the refusal
    /// (the deployment's limit named first) once whichever took is given back.
    async fn settle_pair(
        &self,
        r: &Reservation,
        for_budget: Result<Write, ApiError>,
        for_caller: Result<Counted, ApiError>,
    ) -> Result<u64, ApiError> {
        match (for_budget, for_caller) {
            (Ok(Write::Done), Ok(Counted::Done)) => Ok(r.day),
            (budget_outcome, caller_outcome) => {
                let back = Change::of(r.amount).back();
                if matches!(budget_outcome, Ok(Write::Done)) {
                    self.add_once(&r.budget_pk, back, r.expires_at).await;
                }
                if matches!(caller_outcome, Ok(Counted::Done)) {
                    self.add_once(&r.caller_pk, back, r.expires_at).await;
                }
                let retry_after = until_next(DAY, r.now);
                match (budget_outcome?, caller_outcome?) {
                    (Write::OverLimit(refused), _) => {
                        Err(ApiError::BudgetExhausted { budget: r.budget.words(refused), retry_after })
                    }
                    (_, Counted::SpendRefused(refused)) => Err(ApiError::OverLimit {
                        limit: format!("{} per day", r.caller_per_day.words(refused)),
                        retry_after,
                    }),
                    _ => Err(ApiError::OverLimit {
                        limit: format!("{} per day", r.caller_per_day.words(Refused::Unknown)),
                        retry_after,
                    }),
                }
            }
        }
    }

    /// A give-back of a reservation half made, sent once; its outcome only logged.
    async fn add_once(&self, pk: &str, change: Change, expires: u64) {
        if let Err(error) = self.add(pk, change, None, expires).await {
            tracing::warn!(error = %error.log_detail(), "half a reservation could not be given back");
        }
    }

    /// Moves both of a reservation's counters by `change` (negative gives back).
    pub async fn adjust(&self, caller: &str, day: u64, change: Change) {
        if change.is_zero() {
            return;
        }
        let expires = expiry(day);
        for pk in [budget_key(day), caller_key(caller, day)] {
            match self.add(&pk, change, None, expires).await {
                Ok(Write::Done) => {}
                Ok(Write::OverLimit(_)) => {
                    tracing::warn!(?change, "a give-back larger than its counter was not applied")
                }
                Err(error) => tracing::warn!(error = %error.log_detail(), "a reservation could not be settled"),
            }
        }
    }

    /// `ADD used :t, nano_usd :d`, only while both stay within `limit` when one is given. A
    /// negative part (a give-back) is sent once, and only while its counter stays at or above zero.
    async fn add(&self, pk: &str, change: Change, limit: Option<DayLimit>, expires_at: u64) -> Result<Write, ApiError> {
        let mut update = self
            .client()
            .await
            .update_item()
            .table_name(&*self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .update_expression("ADD #t :t, #d :d SET expires_at = if_not_exists(expires_at, :exp)")
            .expression_attribute_names("#t", TOKENS)
            .expression_attribute_names("#d", NANOS)
            .expression_attribute_values(":t", AttributeValue::N(change.tokens.to_string()))
            .expression_attribute_values(":d", AttributeValue::N(change.nanos.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()));
        let mut conditions = Vec::new();
        if let Some(limit) = limit {
            // DynamoDB conditions cannot add, so the check is "at most limit - n before".
            let amount = change.added();
            let Some((tokens_room, nanos_room)) = limit.room(amount) else {
                return Ok(Write::OverLimit(if amount.tokens > limit.tokens {
                    Refused::Tokens
                } else {
                    Refused::Dollars
                }));
            };
            conditions.push("(attribute_not_exists(#t) OR #t <= :troom)");
            update = update
                .expression_attribute_values(":troom", AttributeValue::N(tokens_room.to_string()))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            if let Some(room) = nanos_room {
                conditions.push("(attribute_not_exists(#d) OR #d <= :droom)");
                update = update.expression_attribute_values(":droom", AttributeValue::N(room.to_string()));
            }
        } else {
            if change.tokens < 0 {
                conditions.push("#t >= :tback");
                update = update
                    .expression_attribute_values(":tback", AttributeValue::N(change.tokens.unsigned_abs().to_string()));
            }
            if change.nanos < 0 {
                conditions.push("#d >= :dback");
                update = update
                    .expression_attribute_values(":dback", AttributeValue::N(change.nanos.unsigned_abs().to_string()));
            }
        }
        if !conditions.is_empty() {
            update = update.condition_expression(conditions.join(" AND "));
        }
        let gives_back = change.tokens < 0 || change.nanos < 0;
        let send = async {
            if gives_back {
                let once = aws_sdk_dynamodb::config::Builder::default()
                    .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
                update.customize().config_override(once).send().await
            } else {
                update.send().await
            }
        };
        Ok(match table::update(send).await? {
            Updated::Applied => Write::Done,
            Updated::ConditionFailed(item) => Write::OverLimit(
                limit.map_or(Refused::Unknown, |limit| limit.refused_by(change.added(), item.as_ref())),
            ),
        })
    }
}

fn rate_refusal(per_minute: u64, now: u64) -> ApiError {
    ApiError::OverLimit { limit: format!("{per_minute} requests per minute"), retry_after: until_next(MINUTE, now) }
}

pub fn day_now() -> u64 {
    epoch_seconds() / DAY
}

/// A token count as DynamoDB's signed `ADD` takes it: saturated, never wrapped into a negative
/// number that would give budget back.
pub(crate) fn signed(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

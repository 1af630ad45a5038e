//! The limits table in DynamoDB. Key schema fixed for outside tools: partition key `pk`
//! (String), TTL attribute `expires_at` (epoch seconds). What lives under which `pk`:
//! `tokens#<caller>#<day>` (`used`, and the caller's requests of the minute: `minute`, `count`,
//! see `window`) and `budget#<day>` (`used`). Every limit is a conditional write, so concurrent
//! requests never pass a limit; the deployment's budget and the caller's item are written at once
//! (one round trip), and the one that took is given back when the other is refused.
//! A give-back is sent once, never retried (a retry of a write that was applied but whose answer
//! was lost would give back twice), and never takes a counter below zero: when in doubt, the
//! counters count too much, never too little.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::OnceCell;

use chat_core::ApiError;

use crate::table::{self, DEADLINE as STORE_DEADLINE, Item, Updated, unavailable};
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
    OverLimit,
}

/// One reservation's day, read from the clock once, and the counters it is made against.
struct Reservation {
    now: u64,
    day: u64,
    expires_at: u64,
    budget_pk: String,
    caller_pk: String,
    tokens: u64,
    caller_per_day: u64,
    budget: u64,
}

impl Reservation {
    fn new(now: u64, caller: &str, tokens: u64, caller_per_day: u64, budget: u64) -> Self {
        let day = now / DAY;
        let (budget_pk, caller_pk) = (budget_key(day), caller_key(caller, day));
        Self { now, day, expires_at: expiry(day), budget_pk, caller_pk, tokens, caller_per_day, budget }
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
        let ask = Ask { minute: now / MINUTE, per_minute, tokens: 0, per_day: None, expires_at: expiry(day) };
        match self.count_request(&caller_key(caller, day), &ask).await? {
            Counted::Done => Ok(()),
            _ => Err(rate_refusal(per_minute, now)),
        }
    }

    /// Reserves `tokens` against the deployment's budget and the caller's daily tokens, both
    /// written at once (one round trip of waiting, not two); whichever is refused, the other is
    /// given back. Returns the day they were reserved on, read once, which is where they are
    /// settled.
    pub async fn reserve(&self, caller: &str, tokens: u64, caller_per_day: u64, budget: u64) -> Result<u64, ApiError> {
        let r = Reservation::new((self.clock)(), caller, tokens, caller_per_day, budget);
        let (for_budget, for_caller) = tokio::join!(
            self.add(&r.budget_pk, "used", signed(tokens), Some(budget), r.expires_at),
            self.add(&r.caller_pk, "used", signed(tokens), Some(caller_per_day), r.expires_at),
        );
        let for_caller =
            for_caller.map(|write| if matches!(write, Write::Done) { Counted::Done } else { Counted::TokensRefused });
        self.settle_pair(&r, for_budget, for_caller).await
    }

    /// [`Store::take_request_slot`] and [`Store::reserve`] in one round trip: the caller's
    /// request of the minute and tokens of the day in one conditional write (both or neither),
    /// beside the budget's. A budget refusal gives the caller's tokens back and keeps the request
    /// counted, as when they were taken one after the other.
    pub async fn take_slot_and_reserve(
        &self,
        caller: &str,
        per_minute: u64,
        tokens: u64,
        caller_per_day: u64,
        budget: u64,
    ) -> Result<u64, ApiError> {
        let r = Reservation::new((self.clock)(), caller, tokens, caller_per_day, budget);
        let ask =
            Ask { minute: r.now / MINUTE, per_minute, tokens, per_day: Some(caller_per_day), expires_at: r.expires_at };
        let (for_budget, for_caller) = tokio::join!(
            self.add(&r.budget_pk, "used", signed(tokens), Some(budget), r.expires_at),
            self.count_request(&r.caller_pk, &ask)
        );
        if matches!(for_caller, Ok(Counted::RateRefused)) {
            if matches!(for_budget, Ok(Write::Done)) {
                self.add_once(&r.budget_pk, -signed(tokens), r.expires_at).await;
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
                if matches!(budget_outcome, Ok(Write::Done)) {
                    self.add_once(&r.budget_pk, -signed(r.tokens), r.expires_at).await;
                }
                if matches!(caller_outcome, Ok(Counted::Done)) {
                    self.add_once(&r.caller_pk, -signed(r.tokens), r.expires_at).await;
                }
                let retry_after = until_next(DAY, r.now);
                match (budget_outcome?, caller_outcome?) {
                    (Write::OverLimit, _) => Err(ApiError::BudgetExhausted { budget: r.budget, retry_after }),
                    _ => {
                        Err(ApiError::OverLimit { limit: format!("{} tokens per day", r.caller_per_day), retry_after })
                    }
                }
            }
        }
    }

    /// A give-back of a reservation half made, sent once; its outcome only logged.
    async fn add_once(&self, pk: &str, change: i64, expires: u64) {
        if let Err(error) = self.add(pk, "used", change, None, expires).await {
            tracing::warn!(error = %error.log_detail(), "half a reservation could not be given back");
        }
    }

    /// Moves both of a reservation's counters by `change` tokens (negative gives back).
    pub async fn adjust(&self, caller: &str, day: u64, change: i64) {
        if change == 0 {
            return;
        }
        let expires = expiry(day);
        for pk in [budget_key(day), caller_key(caller, day)] {
            match self.add(&pk, "used", change, None, expires).await {
                Ok(Write::Done) => {}
                Ok(Write::OverLimit) => tracing::warn!(change, "a give-back larger than its counter was not applied"),
                Err(error) => tracing::warn!(error = %error.log_detail(), "a reservation could not be settled"),
            }
        }
    }

    /// `ADD field :n`, only while the field stays within `limit` when one is given. A negative
    /// `n` (a give-back) is sent once, and only while the field stays at or above zero.
    async fn add(&self, pk: &str, field: &str, n: i64, limit: Option<u64>, expires_at: u64) -> Result<Write, ApiError> {
        let mut update = self
            .client()
            .await
            .update_item()
            .table_name(&*self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .update_expression("ADD #f :n SET expires_at = if_not_exists(expires_at, :exp)")
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()));
        if let Some(limit) = limit {
            // DynamoDB conditions cannot add, so the check is "at most limit - n before".
            let Some(room) = signed(limit).checked_sub(n).filter(|room| *room >= 0) else {
                return Ok(Write::OverLimit);
            };
            update = update
                .condition_expression("attribute_not_exists(#f) OR #f <= :room")
                .expression_attribute_values(":room", AttributeValue::N(room.to_string()));
        } else if n < 0 {
            update = update
                .condition_expression("#f >= :back")
                .expression_attribute_values(":back", AttributeValue::N(n.unsigned_abs().to_string()));
        }
        let send = async {
            if n < 0 {
                let once = aws_sdk_dynamodb::config::Builder::default()
                    .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
                update.customize().config_override(once).send().await
            } else {
                update.send().await
            }
        };
        Ok(match table::update(send).await? {
            Updated::Applied => Write::Done,
            Updated::ConditionFailed(_) => Write::OverLimit,
        })
    }

    /// `used` of a counter (tests, the keys tool).
    pub async fn used(&self, pk: &str) -> Result<u64, ApiError> {
        let item = self.get(pk).await?.unwrap_or_default();
        let value = item.get("used").or_else(|| item.get("count"));
        Ok(value.and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0))
    }

    pub(super) async fn get(&self, pk: &str) -> Result<Option<Item>, ApiError> {
        table::read(self.client().await, &self.table, pk).await
    }

    pub(super) async fn put(&self, item: Item) -> Result<(), ApiError> {
        let request = self.client().await.put_item().table_name(&*self.table).set_item(Some(item));
        request.send().await.map(drop).map_err(unavailable)
    }

    pub(super) async fn set(&self, pk: &str, changes: Vec<(&str, AttributeValue)>) -> Result<(), ApiError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut request =
            self.client().await.update_item().table_name(&*self.table).key("pk", AttributeValue::S(pk.to_owned()));
        let mut expression = Vec::new();
        for (i, (name, value)) in changes.into_iter().enumerate() {
            expression.push(format!("#a{i} = :v{i}"));
            request = request
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        request.update_expression(format!("SET {}", expression.join(", "))).send().await.map(drop).map_err(unavailable)
    }

    /// Every item whose key starts with `prefix` (the keys tool; not on the request path).
    pub(super) async fn scan_prefix(&self, prefix: &str) -> Result<Vec<Item>, ApiError> {
        let pages = self
            .client()
            .await
            .scan()
            .table_name(&*self.table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
            .into_paginator()
            .items()
            .send();
        let items: Vec<Result<Item, _>> = pages.collect().await;
        items.into_iter().map(|item| item.map_err(unavailable)).collect()
    }
}

fn rate_refusal(per_minute: u64, now: u64) -> ApiError {
    ApiError::OverLimit { limit: format!("{per_minute} requests per minute"), retry_after: until_next(MINUTE, now) }
}

pub fn day_now() -> u64 {
    epoch_seconds() / DAY
}

fn epoch_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A token count as DynamoDB's signed `ADD` takes it: saturated, never wrapped into a negative
/// number that would give budget back.
pub(crate) fn signed(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

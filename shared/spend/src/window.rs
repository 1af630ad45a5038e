//! A caller's requests of the minute live in the caller's item of the day, beside the day's
//! tokens (`minute`: the window's epoch minute, `count`: its requests, `used`: the day's tokens),
//! so a new question's request slot and its tokens are one conditional write: both or neither,
//! with no moment where a request the rate refuses holds tokens that another is refused for.
//!
//! A write either opens the window of this minute (the item's window is older, or there is none)
//! or counts in the open one. When this environment counted the caller in this minute, it counts;
//! otherwise both are sent at once (one round trip either way; the one whose condition fails
//! costs a write unit), marked as a pair so that at most one applies. A window moved meanwhile (a
//! clock ahead elsewhere) is told by the item DynamoDB returns with the failure (or, from an
//! emulator that returns none, one read), and written again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use chat_core::ApiError;

use crate::amount::{Amount, DayLimit, NANOS, Refused, TOKENS, number};
use crate::table::{self, Item, Updated};

/// Callers remembered per environment before the memory is cleared (a guess, never a limit).
const REMEMBERED: usize = 4096;
/// Wrong guesses in a row (the window moved between them) before the store counts as unavailable.
const ATTEMPTS: usize = 3;

/// The minute of each caller's last counted request in this execution environment.
#[derive(Clone, Default)]
pub(crate) struct Windows(Arc<Mutex<HashMap<String, u64>>>);

impl Windows {
    fn open(&self, pk: &str) -> Option<u64> {
        self.0.lock().ok()?.get(pk).copied()
    }

    fn remember(&self, pk: &str, minute: u64) {
        if let Ok(mut windows) = self.0.lock() {
            if windows.len() >= REMEMBERED {
                windows.clear();
            }
            windows.insert(pk.to_owned(), minute);
        }
    }
}

/// What one write to a caller's item did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    Done,
    RateRefused,
    /// The caller's tokens or dollars of the day.
    SpendRefused(Refused),
}

/// A request and `amount` against what the day's item allows.
pub(crate) struct Ask {
    pub minute: u64,
    pub per_minute: u64,
    pub amount: Amount,
    pub per_day: Option<DayLimit>,
    pub expires_at: u64,
}

/// The table a caller's item is written in, and this environment's memory of windows.
pub(crate) struct Table<'a> {
    pub client: &'a Client,
    pub name: &'a str,
    pub windows: &'a Windows,
}

impl Table<'_> {
    /// Counts one request of `ask.minute` and adds `ask.amount`, in one conditional write.
    pub(crate) async fn count_request(&self, pk: &str, ask: &Ask) -> Result<Counted, ApiError> {
        let room = match ask.per_day {
            Some(limit) => match limit.room(ask.amount) {
                Some(room) => Some(room),
                None => return Ok(Counted::SpendRefused(limit.refused_by(ask.amount, Some(&Item::new())))),
            },
            None => None,
        };
        let failed = if self.windows.open(pk) == Some(ask.minute) {
            self.failed_item(pk, self.send_count(pk, ask, ask.minute, Way::Count(None), room).await?).await?
        } else {
            // Not known here: both ways at once, one round trip whichever is right. At most one
            // applies: an open that comes after the opening finds the pair's own mark and fails.
            let pair = pair_mark();
            let (opening, counting) = tokio::join!(
                self.send_count(pk, ask, ask.minute, Way::Open(Some(&pair)), room),
                self.send_count(pk, ask, ask.minute, Way::Count(Some(&pair)), room),
            );
            match (opening, counting) {
                (Ok(Updated::Applied), _) | (_, Ok(Updated::Applied)) => None,
                (Err(error), _) | (_, Err(error)) => return Err(error),
                (Ok(Updated::ConditionFailed(Some(a))), Ok(Updated::ConditionFailed(Some(b)))) => {
                    Some(if number(&a, "count") >= number(&b, "count") { a } else { b })
                }
                // Read only now: when the other of the pair applied, why this one failed is moot.
                (Ok(Updated::ConditionFailed(_)), Ok(Updated::ConditionFailed(_))) => Some(self.read(pk).await?),
            }
        };
        let Some(mut item) = failed else {
            self.windows.remember(pk, ask.minute);
            return Ok(Counted::Done);
        };
        for _ in 0..ATTEMPTS {
            if let (Some(limit), Some((tokens, nanos))) = (ask.per_day, room) {
                let over = |name, room| number(&item, name).unwrap_or(0) > room;
                if over(TOKENS, tokens) || nanos.is_some_and(|nanos| over(NANOS, nanos)) {
                    return Ok(Counted::SpendRefused(limit.refused_by(ask.amount, Some(&item))));
                }
            }
            // The window to count in: this minute's (opened if need be), or a later one another
            // environment opened by its clock.
            let way = match number(&item, "minute") {
                Some(theirs) if theirs >= ask.minute => {
                    if number(&item, "count").unwrap_or(0) >= ask.per_minute {
                        self.windows.remember(pk, theirs);
                        return Ok(Counted::RateRefused);
                    }
                    (theirs, Way::Count(None))
                }
                _ => (ask.minute, Way::Open(None)),
            };
            match self.failed_item(pk, self.send_count(pk, ask, way.0, way.1, room).await?).await? {
                None => {
                    self.windows.remember(pk, way.0);
                    return Ok(Counted::Done);
                }
                Some(now) => item = now,
            }
        }
        tracing::warn!("a caller's window of requests moved under three writes in a row");
        Err(ApiError::LimitsUnavailable)
    }

    /// `None` when the write was counted, else the item as it was (read if the failure had none).
    async fn failed_item(&self, pk: &str, sent: Updated) -> Result<Option<Item>, ApiError> {
        match sent {
            Updated::Applied => Ok(None),
            Updated::ConditionFailed(Some(item)) => Ok(Some(item)),
            // An emulator that returns no item: one read tells why.
            Updated::ConditionFailed(None) => self.read(pk).await.map(Some),
        }
    }

    /// One try.
    async fn send_count(
        &self,
        pk: &str,
        ask: &Ask,
        window: u64,
        way: Way<'_>,
        room: Option<(u64, Option<u64>)>,
    ) -> Result<Updated, ApiError> {
        let mut update = self
            .client
            .update_item()
            .table_name(self.name)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .expression_attribute_names("#m", "minute")
            .expression_attribute_names("#c", "count")
            .expression_attribute_names("#u", TOKENS)
            .expression_attribute_names("#d", NANOS)
            .expression_attribute_values(":m", AttributeValue::N(window.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":t", AttributeValue::N(ask.amount.tokens.to_string()))
            .expression_attribute_values(":dn", AttributeValue::N(ask.amount.nanos.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(ask.expires_at.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut fits = String::new();
        if let Some((tokens, nanos)) = room {
            update = update.expression_attribute_values(":room", AttributeValue::N(tokens.to_string()));
            fits.push_str(" AND (attribute_not_exists(#u) OR #u <= :room)");
            if let Some(nanos) = nanos {
                update = update.expression_attribute_values(":droom", AttributeValue::N(nanos.to_string()));
                fits.push_str(" AND (attribute_not_exists(#d) OR #d <= :droom)");
            }
        }
        let (Way::Open(pair) | Way::Count(pair)) = way;
        if let Some(pair) = pair {
            update = update
                .expression_attribute_names("#p", "pair")
                .expression_attribute_values(":p", AttributeValue::S(pair.to_owned()));
        }
        update = match way {
            Way::Count(_) => {
                let not_after_opening = if pair.is_some() { " AND (attribute_not_exists(#p) OR #p <> :p)" } else { "" };
                update
                    .update_expression("ADD #c :one, #u :t, #d :dn SET expires_at = if_not_exists(expires_at, :exp)")
                    .condition_expression(format!("#m = :m AND #c < :limit{fits}{not_after_opening}"))
                    .expression_attribute_values(":limit", AttributeValue::N(ask.per_minute.to_string()))
            }
            Way::Open(_) => {
                let mark = if pair.is_some() { ", #p = :p" } else { "" };
                update
                    .update_expression(format!(
                        "SET #m = :m, #c = :one, expires_at = if_not_exists(expires_at, :exp){mark} ADD #u :t, #d :dn"
                    ))
                    .condition_expression(format!("(attribute_not_exists(#m) OR #m < :m){fits}"))
            }
        };
        table::update(update.send()).await
    }

    async fn read(&self, pk: &str) -> Result<Item, ApiError> {
        Ok(table::read(self.client, self.name, pk).await?.unwrap_or_default())
    }
}

/// How a write counts: opening the window of its minute, or in the window open; with a pair's
/// mark when both are sent at once.
#[derive(Clone, Copy)]
enum Way<'a> {
    Open(Option<&'a str>),
    Count(Option<&'a str>),
}

/// A mark no other request's pair shares: a std hasher's random keys and the clock.
fn pair_mark() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    format!("{:016x}", hasher.finish())
}

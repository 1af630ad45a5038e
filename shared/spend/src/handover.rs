//! A reservation that outlives its invocation: an answer longer than one Lambda invocation is
//! handed over to the next one (the browser reconnects with `Last-Event-ID`), and so is the
//! reservation that must be settled once, at the real end. It is parked in the limits table under
//! `handover#<response id>` and taken back with one delete, so of any number of resumes exactly
//! one holds it: the one that takes it when it starts, or, when it began before the reservation
//! was parked, when the answer ends.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::amount::Amount;
use crate::gate::{Admission, Gate, Held};
use crate::store::{Store, expiry};

fn key(response_id: &str) -> String {
    format!("handover#{response_id}")
}

impl Admission {
    /// Parks the reservation for the invocation that continues `response_id`. On failure it
    /// stays as reserved (counted, never settled): the counters count too much, never too little.
    pub async fn hand_over(self, response_id: &str) {
        let Some(Held { store, amount, day, .. }) = self.held else { return };
        let item = [
            ("pk", AttributeValue::S(key(response_id))),
            ("caller", AttributeValue::S(self.caller)),
            ("tokens", AttributeValue::N(amount.tokens.to_string())),
            ("nanos", AttributeValue::N(amount.nanos.to_string())),
            ("day", AttributeValue::N(day.to_string())),
            ("expires_at", AttributeValue::N(expiry(day).to_string())),
        ];
        if let Err(error) = store.put(item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).await {
            tracing::warn!(error = %error.log_detail(), "a handed-over reservation could not be parked; it stays reserved");
        }
    }
}

impl Gate {
    /// Where `response_id`'s parked reservation is looked for, now or when the answer ends;
    /// `None` without a limits table.
    pub fn parked(&self, response_id: &str) -> Option<Parked> {
        let store = self.store()?.clone();
        Some(Parked { store, response_id: response_id.to_owned() })
    }
}

/// The reservation an earlier invocation of an answer parked, or may park: the invocation that
/// began before it (its reader came back before the hand-over, perhaps from another address)
/// looks again when the answer ends, so whoever finishes the answer settles it.
pub struct Parked {
    store: Store,
    response_id: String,
}

impl Parked {
    /// The reservation, taken so that no other invocation can (one delete: of any number at
    /// once, one gets the item); settled against the caller who parked it. `None` when none is
    /// parked (yet).
    pub async fn take(&self) -> Option<Admission> {
        let item = self.store.take(&key(&self.response_id)).await?;
        let number = |name: &str| crate::amount::number(&item, name);
        let amount = Amount { tokens: number("tokens")?, nanos: number("nanos").unwrap_or(0) };
        let caller = item.get("caller").and_then(|v| v.as_s().ok())?.clone();
        let held = Held { store: self.store.clone(), amount, day: number("day")?, limits: None };
        Some(Admission { caller, held: Some(held) })
    }
}

impl Store {
    /// Deletes `pk`, returning what it held when this delete removed it.
    async fn take(&self, pk: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        let request = self
            .client()
            .await
            .delete_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(pk.to_owned()))
            .return_values(ReturnValue::AllOld);
        match request.send().await {
            Ok(output) => output.attributes,
            Err(error) => {
                tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error), "a handed-over reservation could not be taken");
                None
            }
        }
    }
}

//! A reservation that outlives its invocation: an answer longer than one Lambda invocation is
//! handed over to the next one (the browser reconnects with `Last-Event-ID`), and so is the
//! reservation that must be settled once, at the real end. It is parked in the limits table under
//! `handover#<response id>` and taken back with one conditional delete, so of any number of
//! resumes exactly one holds it.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use chat_core::Config;
use chat_core::prices::Prices;

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
    /// The reservation parked for `response_id` by `caller`'s earlier invocation, taken so that
    /// no other resume can; `None` when there is none (or it is another caller's). `config` is
    /// the model's, whose price counts the bill in dollars.
    pub async fn take_handed_over(&self, caller: &str, response_id: &str, config: &Config) -> Option<Admission> {
        let store = self.store()?;
        let item = store.take(&key(response_id), caller).await?;
        let number = |name: &str| crate::amount::number(&item, name);
        let amount = Amount { tokens: number("tokens")?, nanos: number("nanos").unwrap_or(0) };
        let prices = Prices::for_model(&config.model, config.prices);
        let held = Held { store: store.clone(), amount, day: number("day")?, prices };
        Some(Admission { caller: caller.to_owned(), held: Some(held) })
    }
}

impl Store {
    /// Deletes `pk` if it is `caller`'s, returning what it held.
    async fn take(&self, pk: &str, caller: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        let request = self
            .client()
            .await
            .delete_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(pk.to_owned()))
            .condition_expression("caller = :caller")
            .expression_attribute_values(":caller", AttributeValue::S(caller.to_owned()))
            .return_values(ReturnValue::AllOld);
        match request.send().await {
            Ok(output) => output.attributes,
            Err(error) => {
                let missing = error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception());
                if !missing {
                    tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error), "a handed-over reservation could not be taken");
                }
                None
            }
        }
    }
}

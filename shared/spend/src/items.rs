//! Plain reads and writes of one item of the limits table, for what keeps no limit: the keys
//! tool, a chat's records, a parked hand-over, and the tests' look at a counter.

use aws_sdk_dynamodb::types::AttributeValue;

use chat_core::ApiError;

use crate::amount::{NANOS, TOKENS};
use crate::store::Store;
use crate::table::{self, Item, unavailable};

impl Store {
    /// `used` of a counter (tests, the keys tool).
    pub async fn used(&self, pk: &str) -> Result<u64, ApiError> {
        let item = self.get(pk).await?.unwrap_or_default();
        Ok(crate::amount::number(&item, TOKENS).or_else(|| crate::amount::number(&item, "count")).unwrap_or(0))
    }

    /// The nano-dollars a counter holds (tests, the keys tool).
    pub async fn used_nanos(&self, pk: &str) -> Result<u64, ApiError> {
        let item = self.get(pk).await?.unwrap_or_default();
        Ok(crate::amount::number(&item, NANOS).unwrap_or(0))
    }

    pub(super) async fn get(&self, pk: &str) -> Result<Option<Item>, ApiError> {
        table::read(self.client().await, self.table(), pk).await
    }

    pub(super) async fn put(&self, item: Item) -> Result<(), ApiError> {
        let request = self.client().await.put_item().table_name(self.table()).set_item(Some(item));
        request.send().await.map(drop).map_err(unavailable)
    }

    pub(super) async fn set(&self, pk: &str, changes: Vec<(&str, AttributeValue)>) -> Result<(), ApiError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut request =
            self.client().await.update_item().table_name(self.table()).key("pk", AttributeValue::S(pk.to_owned()));
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
            .table_name(self.table())
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
            .into_paginator()
            .items()
            .send();
        let items: Vec<Result<Item, _>> = pages.collect().await;
        items.into_iter().map(|item| item.map_err(unavailable)).collect()
    }
}

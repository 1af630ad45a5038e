//! Which answer a chat is running, for the AI SDK's `resume: true` (`GET {chat id}/stream`): one
//! item per caller and chat, `chat#<caller>#<chat id>`, holding the answer's run id (`run`) until
//! the answer ends or `expires_at` passes. The caller is part of the key, so one caller's chat id
//! never finds, replaces or clears another's. What a run id means is the caller's business here.
//!
//! Beside it, each answer a chat was given (`answer#<caller>#<chat id>#<fingerprint>`): the
//! response id that answered the conversation with that fingerprint, so the chat's next turn can
//! go on from it on OpenAI's side. What a fingerprint covers is the caller's business too.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use chat_core::ApiError;

use crate::gate::Gate;
use crate::store::Store;

const RUN: &str = "run";
const ANSWER: &str = "answer";

fn key(caller: &str, chat_id: &str) -> String {
    format!("chat#{caller}#{chat_id}")
}

impl Gate {
    /// Where chats' running answers are kept; `None` without a limits table.
    pub fn chat_runs(&self) -> Option<ChatRuns> {
        self.store().map(|store| ChatRuns { store: store.clone() })
    }
}

/// The chats' running answers, in the limits table.
#[derive(Clone)]
pub struct ChatRuns {
    store: Store,
}

impl ChatRuns {
    /// `chat_id` of `caller` is running `run`, for `lifetime` at most (a newer answer replaces it).
    pub async fn record(&self, caller: &str, chat_id: &str, run: &str, lifetime: Duration) -> Result<(), ApiError> {
        let expires_at = self.store.now().saturating_add(lifetime.as_secs());
        let item = [
            ("pk", AttributeValue::S(key(caller, chat_id))),
            (RUN, AttributeValue::S(run.to_owned())),
            ("expires_at", AttributeValue::N(expires_at.to_string())),
        ];
        self.store.put(item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).await
    }

    /// `response_id` answered `caller`'s chat `chat_id` at the conversation `fingerprint`, for
    /// `lifetime` at most.
    pub async fn remember_answer(
        &self,
        caller: &str,
        chat_id: &str,
        fingerprint: &str,
        response_id: &str,
        lifetime: Duration,
    ) -> Result<(), ApiError> {
        let expires_at = self.store.now().saturating_add(lifetime.as_secs());
        let item = [
            ("pk", AttributeValue::S(format!("answer#{caller}#{chat_id}#{fingerprint}"))),
            (ANSWER, AttributeValue::S(response_id.to_owned())),
            ("expires_at", AttributeValue::N(expires_at.to_string())),
        ];
        self.store.put(item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).await
    }

    /// The answer `caller`'s chat `chat_id` was given at the conversation `fingerprint`; `None`
    /// when none was recorded, or its time is past.
    pub async fn answer_to(&self, caller: &str, chat_id: &str, fingerprint: &str) -> Result<Option<String>, ApiError> {
        let key = format!("answer#{caller}#{chat_id}#{fingerprint}");
        let Some(item) = self.store.get(&key).await? else { return Ok(None) };
        if crate::amount::number(&item, "expires_at").unwrap_or(0) <= self.store.now() {
            return Ok(None);
        }
        Ok(item.get(ANSWER).and_then(|v| v.as_s().ok()).cloned())
    }

    /// The run `chat_id` of `caller` is running; `None` when none is, or its time is past (the
    /// table's TTL deletes late, so the expiry is read too).
    pub async fn running(&self, caller: &str, chat_id: &str) -> Result<Option<String>, ApiError> {
        let Some(item) = self.store.get(&key(caller, chat_id)).await? else { return Ok(None) };
        let expires_at = crate::amount::number(&item, "expires_at").unwrap_or(0);
        if expires_at <= self.store.now() {
            return Ok(None);
        }
        Ok(item.get(RUN).and_then(|v| v.as_s().ok()).cloned())
    }

    /// `run` of `chat_id` ended: its item goes, unless a newer answer of the chat replaced it.
    pub async fn finished(&self, caller: &str, chat_id: &str, run: &str) {
        let request = self
            .store
            .client()
            .await
            .delete_item()
            .table_name(self.store.table())
            .key("pk", AttributeValue::S(key(caller, chat_id)))
            .condition_expression("#r = :r")
            .expression_attribute_names("#r", RUN)
            .expression_attribute_values(":r", AttributeValue::S(run.to_owned()));
        let sent = tokio::time::timeout(crate::table::DEADLINE, request.send()).await;
        match sent {
            Ok(Ok(_)) => {}
            Ok(Err(error)) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error), "a chat's finished answer could not be cleared; it expires")
            }
            Err(_) => tracing::warn!("the limits table did not clear a chat's finished answer in time; it expires"),
        }
    }
}

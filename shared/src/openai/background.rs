//! Calls about a response that already exists (background mode): read it, stream it again
//! after an event, cancel it, and the resume tokens and ownership that guard those calls.

use std::time::Duration;

use tokio::time::Instant;

use super::retry::Call;
use super::types::{ResponseObject, Usage};
use super::{ResponseStream, ResponsesClient, Sent, read_object};
use crate::resume::{self, Position, Signer};
use crate::{ApiError, limits};

impl ResponsesClient {
    /// The response as it is now (`GET /responses/{id}`).
    pub async fn retrieve(&self, response_id: &str, deadline: Instant) -> Result<ResponseObject, ApiError> {
        self.object_call(reqwest::Method::GET, response_id, "", deadline).await
    }

    /// Stops a background response (`POST /responses/{id}/cancel`); cancelling a finished one
    /// returns it as it ended.
    pub async fn cancel(&self, response_id: &str, deadline: Instant) -> Result<ResponseObject, ApiError> {
        self.object_call(reqwest::Method::POST, response_id, "/cancel", deadline).await
    }

    /// Streams a background response again, from the event after `after` (from its start
    /// without one): no new answer is asked for.
    pub async fn resume(&self, response_id: &str, after: Option<u64>, deadline: Instant) -> Result<ResponseStream, ApiError> {
        let query = after.map_or_else(|| "?stream=true".to_owned(), |n| format!("?stream=true&starting_after={n}"));
        let call = self.call_about(reqwest::Method::GET, response_id, &query);
        let first_event = self.config.timeouts.first_event;
        let Sent { response, key, retries, sent_at } = self.send(&call, deadline, Some(first_event)).await?;
        Ok(ResponseStream::new(response, key, retries, self.config.timeouts, (sent_at + first_event).min(deadline), deadline))
    }

    /// The rest of an answer after `position`, with no new model call: from the stored
    /// response once it has finished, else streamed again from OpenAI after the reader's last
    /// event (or, past OpenAI's resume window, from the stored response when it finishes).
    pub async fn continue_after(&self, position: &Position, deadline: Instant) -> Result<ResponseStream, ApiError> {
        let response = self.retrieve(&position.response_id, deadline).await?;
        let response = if response.is_finished() {
            response
        } else {
            match self.resume(&position.response_id, Some(position.sequence), deadline).await {
                Err(ApiError::UpstreamRejected(reason)) => {
                    tracing::info!(%reason, "OpenAI would not stream the answer again; reading the stored one");
                    self.when_finished(&position.response_id, deadline).await?
                }
                other => return other,
            }
        };
        Ok(ResponseStream::finished(&response, position.offset, &self.key.get().await?))
    }

    /// The usage of an answer nobody reads any more, once it has finished (polled for up to
    /// `patience`), so its reservation can still be settled to the truth.
    pub async fn usage_when_finished(&self, response_id: &str, patience: Duration) -> Option<Usage> {
        self.when_finished(response_id, Instant::now() + patience).await.ok()?.usage
    }

    /// The stored response once it has finished, polled with a growing wait until `deadline`.
    async fn when_finished(&self, response_id: &str, deadline: Instant) -> Result<ResponseObject, ApiError> {
        let mut wait = Duration::from_millis(250);
        loop {
            let response = self.retrieve(response_id, deadline).await?;
            if response.is_finished() {
                return Ok(response);
            }
            if Instant::now() + wait >= deadline {
                return Err(ApiError::UpstreamTimeout("the overall deadline"));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Signs the event ids of `response_id` for `caller`.
    pub async fn signer(&self, caller: &str, response_id: &str) -> Result<Signer, ApiError> {
        let key = self.key.get().await?;
        Ok(Signer::new(&key, resume::owner(&self.config, caller), response_id))
    }

    /// Reads a resume token presented by `caller`.
    pub async fn verify_token(&self, caller: &str, token: &str) -> Result<Position, ApiError> {
        let key = self.key.get().await?;
        resume::verify(token, &key, resume::owner(&self.config, caller))
    }

    /// Whether `caller` may stop `response`: with access keys, only the key that asked for it;
    /// in public mode whoever holds its id, which only ever went to the stream that carried it.
    pub async fn owns(&self, caller: &str, response: &ResponseObject) -> Result<bool, ApiError> {
        if !self.config.limits.keys {
            return Ok(true);
        }
        let key = self.key.get().await?;
        Ok(response.owner() == Some(limits::safety_identifier(caller, &key).as_str()))
    }

    async fn object_call(&self, method: reqwest::Method, response_id: &str, rest: &str, deadline: Instant) -> Result<ResponseObject, ApiError> {
        let sent = self.send(&self.call_about(method, response_id, rest), deadline, None).await?;
        read_object(sent.response, deadline).await
    }

    fn call_about(&self, method: reqwest::Method, response_id: &str, rest: &str) -> Call {
        // The id was checked to be [A-Za-z0-9_-] before it got here: it cannot change the path.
        Call { method, url: format!("{}/{response_id}{rest}", self.endpoint), body: None, names_a_response: true }
    }
}

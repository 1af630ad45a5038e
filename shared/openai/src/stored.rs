//! Calls about a response that already exists: read it, stream it again after an event, cancel
//! it (background mode), the conversation a follow-up continues, and the resume tokens and
//! ownership that guard those calls.

use std::time::Duration;

use tokio::time::Instant;

use chat_core::{ApiError, ChatRequest};

use crate::client::ResponsesClient;
use crate::owner::safety_identifier;
use crate::resume::{self, Position, Signer};
use crate::retry::{Call, Sent, read_object};
use crate::stream::ResponseStream;
use crate::types::{ResponseObject, Usage};

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
    pub async fn resume(
        &self,
        response_id: &str,
        after: Option<u64>,
        deadline: Instant,
    ) -> Result<ResponseStream, ApiError> {
        let query = after.map_or_else(|| "?stream=true".to_owned(), |n| format!("?stream=true&starting_after={n}"));
        let provider = self.for_id(response_id);
        let call = provider.call_about(reqwest::Method::GET, response_id, &query);
        let first_event = provider.config.timeouts.first_event;
        let Sent { response, key, retries, sent_at } = provider.send(&call, deadline, Some(first_event)).await?;
        let first_by = (sent_at + first_event).min(deadline);
        Ok(ResponseStream::new(response, key, retries, provider.config.timeouts, first_by, deadline)
            .answered_by(provider))
    }

    /// An answer from its first event, with no new model call: streamed again from OpenAI, or,
    /// past OpenAI's stream-again window, read whole from the stored answer once it finishes (as
    /// [`ResponsesClient::continue_after`] does for a reader's place), so a reconnect that comes
    /// late still gets the whole answer.
    pub async fn from_the_start(&self, response_id: &str, deadline: Instant) -> Result<ResponseStream, ApiError> {
        let response = match self.resume(response_id, None, deadline).await {
            Err(ApiError::UpstreamRejected(reason)) => {
                tracing::info!(%reason, "OpenAI would not stream the answer again; reading the stored one");
                self.when_finished(response_id, deadline).await?
            }
            other => return other,
        };
        let provider = self.for_id(response_id);
        Ok(ResponseStream::finished(&response, 0, &provider.key.get().await?).answered_by(provider))
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
                other => return other.map(|stream| stream.resuming_at(position.offset)),
            }
        };
        let provider = self.for_id(&position.response_id);
        Ok(ResponseStream::finished(&response, position.offset, &provider.key.get().await?).answered_by(provider))
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
                return Err(ApiError::UpstreamTimeout(chat_core::Wait::Overall));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// The tokens of the conversation `request` continues (`previous_response_id`), which
    /// OpenAI bills again as the new answer's input: the previous answer's own input and output,
    /// as OpenAI reported them (it keeps them with the response, whichever function or day made
    /// it). 0 for a new conversation. Only the caller whose answer it is may continue it: anyone
    /// else is told it does not exist, so ids can be neither used nor probed. An answer that
    /// called the caller's functions is continued only with each call's result (`tool_outputs`).
    pub async fn earlier_tokens(
        &self,
        request: &mut ChatRequest,
        caller: &str,
        deadline: Instant,
    ) -> Result<u64, ApiError> {
        let Some(id) = request.previous_response_id.as_deref() else { return Ok(0) };
        let previous = match self.retrieve(id, deadline).await {
            Err(ApiError::ResponseNotFound) => return Err(ApiError::PreviousResponseNotFound),
            other => other?,
        };
        if !self.is_owner(caller, &previous).await? {
            return Err(ApiError::PreviousResponseNotFound);
        }
        if !previous.is_finished() {
            return Err(ApiError::BadRequest(
                "the answer this message follows is still being written: send it once that answer has finished".into(),
            ));
        }
        let calls = previous.function_calls();
        let calls: Vec<&str> = calls.iter().map(|call| call.call_id.as_str()).collect();
        if request.outputs_of_whole_message {
            request.tool_outputs.retain(|output| calls.contains(&output.call_id.as_str()));
        }
        chat_core::functions::check_answers(&calls, &request.tool_outputs)?;
        let requests = previous.approval_requests();
        let requests: Vec<&str> = requests.iter().map(|request| request.approval_request_id.as_str()).collect();
        if request.outputs_of_whole_message {
            request.approvals.retain(|approval| requests.contains(&approval.approval_request_id.as_str()));
        }
        chat_core::approvals::check_answers(&requests, &request.approvals)?;
        self.carried_tokens(&previous).ok_or(ApiError::PreviousResponseNotFound)
    }

    /// The tokens a follow-up of `previous` is billed again as input: its own input and output,
    /// or after a turn that compacted, at most the threshold (the turn that crosses it is billed
    /// for the whole conversation). `None` when OpenAI reported no usage.
    fn carried_tokens(&self, previous: &ResponseObject) -> Option<u64> {
        let earlier = previous.usage.as_ref().map(Usage::billed_tokens)?;
        let carried = self.config.compact_threshold.filter(|_| previous.compacted());
        Some(carried.map_or(earlier, |threshold| earlier.min(threshold)))
    }

    /// Whether a chat's history can go on from answer `id` on OpenAI's side: it is `caller`'s,
    /// completed, and its text is exactly `text` (what the client's history says it answered);
    /// then the tokens it carries ([`ResponsesClient::earlier_tokens`]). `None` for anything
    /// else, a failed lookup included: the history is then sent whole, never a wrong chain.
    pub async fn chainable(&self, id: &str, caller: &str, text: &str, deadline: Instant) -> Option<u64> {
        let previous = match self.retrieve(id, deadline).await {
            Ok(previous) => previous,
            Err(error) => {
                tracing::info!(error = %error.log_detail(), "a chat's last answer could not be read; its history is sent whole");
                return None;
            }
        };
        // An answer waiting on the caller's functions goes on only with their results.
        let completed = previous.status.as_deref() == Some("completed") && previous.waiting_on().is_empty();
        if !completed || previous.output_text() != text || !self.is_owner(caller, &previous).await.ok()? {
            return None;
        }
        self.carried_tokens(&previous)
    }

    /// Signs the event ids of `response_id` for `caller`, valid for [`resume::TOKEN_LIFETIME`].
    pub async fn signer(&self, caller: &str, response_id: &str) -> Result<Signer, ApiError> {
        let key = self.signing_key().await?;
        Ok(Signer::new(&key, resume::owner(&self.config, caller), response_id, resume::expiry_from_now()))
    }

    /// The `id:` of a hand-over at this position, carrying when the model was last heard.
    pub async fn handover_token(
        &self,
        signer: &Signer,
        caller: &str,
        sequence: u64,
        offset: usize,
        heard: u64,
    ) -> Result<String, ApiError> {
        let key = self.signing_key().await?;
        Ok(signer.handover_token(&key, resume::owner(&self.config, caller), sequence, offset, heard))
    }

    /// Reads a resume token presented by `caller`.
    pub async fn verify_token(&self, caller: &str, token: &str) -> Result<Position, ApiError> {
        let key = self.signing_key().await?;
        resume::verify(token, &key, resume::owner(&self.config, caller), resume::epoch_seconds())
    }

    /// Whether `caller` may stop `response`: with access keys or users, only whoever asked for it;
    /// in public mode whoever holds its id (which only ever went to the stream that carried it),
    /// if this deployment made it: never another app's answer in the same OpenAI project.
    pub async fn owns(&self, caller: &str, response: &ResponseObject) -> Result<bool, ApiError> {
        if !self.config.limits.callers_are_identified() {
            let expected = crate::owner::deployment_tag(&self.signing_key().await?);
            return Ok(response
                .deployment()
                .is_some_and(|tag| bool::from(subtle::ConstantTimeEq::ct_eq(tag.as_bytes(), expected.as_bytes()))));
        }
        self.is_owner(caller, response).await
    }

    /// Whether `response` was made for `caller` (its `metadata.owner`, a keyed hash of them).
    async fn is_owner(&self, caller: &str, response: &ResponseObject) -> Result<bool, ApiError> {
        let key = self.signing_key().await?;
        let expected = safety_identifier(caller, &key);
        Ok(response
            .owner()
            .is_some_and(|owner| bool::from(subtle::ConstantTimeEq::ct_eq(owner.as_bytes(), expected.as_bytes()))))
    }

    async fn object_call(
        &self,
        method: reqwest::Method,
        response_id: &str,
        rest: &str,
        deadline: Instant,
    ) -> Result<ResponseObject, ApiError> {
        let provider = self.for_id(response_id);
        let sent = provider.send(&provider.call_about(method, response_id, rest), deadline, None).await?;
        read_object(sent.response, deadline).await
    }

    fn call_about(&self, method: reqwest::Method, response_id: &str, rest: &str) -> Call {
        // The id was checked to be [A-Za-z0-9_-] before it got here: it cannot change the path.
        let id = self.own_id(response_id);
        Call { method, url: format!("{}/{id}{rest}", self.endpoint), body: None, names_a_response: true }
    }
}

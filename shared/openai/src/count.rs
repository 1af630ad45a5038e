//! How many input tokens a question is, as OpenAI counts them (`POST /responses/input_tokens`,
//! which generates nothing and bills nothing): asked before a question with attachments is
//! reserved, since an image's or a PDF's tokens are not known from its size. When the primary
//! cannot count (down, or its circuit open), the fallback that will answer counts it.

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use chat_core::{ApiError, ChatRequest};

use crate::client::ResponsesClient;
use crate::retry::{Call, read_json};
use crate::types::Input;

/// The fields of a create that decide its input.
#[derive(Serialize)]
struct CountRequest<'a> {
    model: &'a str,
    input: Input<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_response_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<&'a serde_json::Value>,
}

#[derive(Deserialize)]
struct Counted {
    input_tokens: u64,
}

impl ResponsesClient {
    /// Counts `request` before it is reserved: the most input tokens it can be billed for its
    /// first step, as the provider that will answer it counts them (the holder of the
    /// conversation it follows; else the primary, or the fallback when the primary cannot count,
    /// down or its circuit open, the request then marked `counted_by_fallback` so only the
    /// fallback answers it), and when neither can, the widest context window of the two models,
    /// if the catalogue knows both.
    pub async fn count_input(&self, request: &mut ChatRequest, deadline: Instant) -> Result<(), ApiError> {
        let (counted, by_fallback) = self.input_bound(request, deadline).await?;
        request.counted_input = Some(counted);
        request.counted_by_fallback = by_fallback;
        Ok(())
    }

    /// The bound, and whether it is the fallback's count.
    async fn input_bound(&self, request: &ChatRequest, deadline: Instant) -> Result<(u64, bool), ApiError> {
        if let Some(previous) = request.previous_response_id.as_deref() {
            return Ok((self.for_id(previous).count_within(request, deadline, None).await?, false));
        }
        let Some(fallback) = &self.fallback else {
            return Ok((self.count_within(request, deadline, None).await?, false));
        };
        if !self.circuit.is_open() {
            // A hanging primary gets the first-event window an answer would, not the deadline.
            let window = Some(self.config.timeouts.first_event);
            match self.count_within(request, deadline, window).await {
                Err(error) if error.another_provider_could_answer() => {
                    tracing::warn!(error = %error.log_detail(), "the primary could not count a question with attachments: the fallback counts it, and answers it");
                    self.circuit.failed();
                }
                counted => return Ok((counted?, false)),
            }
        }
        match fallback.count_within(request, deadline, None).await {
            Ok(counted) => Ok((counted, true)),
            Err(error) => match self.widest_window() {
                Some(window) => {
                    tracing::warn!(error = %error.log_detail(), window, "the fallback could not count a question with attachments either: it is reserved at the context window");
                    Ok((window, false))
                }
                None => Err(error),
            },
        }
    }

    /// The largest context window of the primary's and the fallback's models, when the catalogue
    /// knows both: no input either bills for one step is longer.
    fn widest_window(&self) -> Option<u64> {
        let fallback = self.fallback.as_ref()?;
        let window = |model: &str| chat_core::catalogue::describe(model).and_then(|facts| facts.context_window);
        Some(window(&self.config.model)?.max(window(&fallback.config.model)?))
    }

    /// The input tokens of `request` as this provider would bill them for its first step, its
    /// headers awaited for `window` at most.
    async fn count_within(
        &self,
        request: &ChatRequest,
        deadline: Instant,
        window: Option<std::time::Duration>,
    ) -> Result<u64, ApiError> {
        let tools = self.owner_tools().await?;
        let body = CountRequest {
            model: &self.config.model,
            input: Input::of(request, self.config.image_detail),
            instructions: self.config.instructions.as_deref(),
            previous_response_id: request.previous_response_id.as_deref().map(|id| self.own_id(id)),
            tools: tools.iter().chain(&request.tools).collect(),
        };
        let body = serde_json::to_vec(&body).map_err(|_| ApiError::Misconfigured("the count's body".into()))?;
        let url = format!("{}/responses/input_tokens", self.config.base_url);
        let call = Call { method: reqwest::Method::POST, url, body: Some(body.into()), names_a_response: false };
        let sent = self.send(&call, deadline, window).await?;
        let counted: Counted = read_json(sent.response, deadline).await?;
        Ok(counted.input_tokens)
    }
}

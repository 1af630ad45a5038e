//! How many input tokens a question is, as OpenAI counts them (`POST /responses/input_tokens`,
//! which generates nothing and bills nothing): asked before a question with attachments is
//! reserved, since an image's or a PDF's tokens are not known from its size.

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
    /// The input tokens of `request` as this provider would bill them for its first step.
    pub async fn count_input(&self, request: &ChatRequest, deadline: Instant) -> Result<u64, ApiError> {
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
        let sent = self.send(&call, deadline, None).await?;
        let counted: Counted = read_json(sent.response, deadline).await?;
        Ok(counted.input_tokens)
    }
}

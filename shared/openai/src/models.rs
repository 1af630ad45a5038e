//! What OpenAI says of the deployment's model (`GET /models/{id}`): whether it is still there,
//! and the day it shuts down when one is announced.

use serde::Deserialize;
use tokio::time::Instant;

use chat_core::ApiError;

use crate::client::ResponsesClient;
use crate::retry::{Call, read_json};

/// The model's place in its lifecycle, as OpenAI tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelLifecycle {
    /// Served; `shutdown` is the announced last day (`YYYY-MM-DD`), when there is one.
    Available { shutdown: Option<String> },
    /// `404`: shut down, or not open to this project.
    Unavailable,
}

#[derive(Debug, Deserialize)]
struct ModelObject {
    #[serde(default)]
    shutdown_date: Option<String>,
}

impl ResponsesClient {
    /// Asks OpenAI about the configured model. Any failure but a 404 is an error: the lifecycle
    /// is then unknown, never assumed.
    pub async fn model_lifecycle(&self, deadline: Instant) -> Result<ModelLifecycle, ApiError> {
        // A model name is the owner's own setting; encoded so that it stays one path segment.
        let model: String = self
            .config
            .model
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._:".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let call = Call {
            method: reqwest::Method::GET,
            url: format!("{}/models/{model}", self.config.base_url),
            body: None,
            names_a_response: true,
        };
        let sent = match self.send(&call, deadline, None).await {
            Err(ApiError::ResponseNotFound) => return Ok(ModelLifecycle::Unavailable),
            other => other?,
        };
        let object: ModelObject = read_json(sent.response, deadline).await?;
        Ok(ModelLifecycle::Available { shutdown: object.shutdown_date.filter(|d| !d.trim().is_empty()) })
    }
}

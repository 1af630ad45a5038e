//! What the three chat functions share: configuration, the OpenAI Responses client, request
//! validation, SSE encoding, errors and the API key.

pub mod config;
pub mod error;
pub mod key;
pub mod openai;
pub mod request;
pub mod sse;

pub use config::Config;
pub use error::ApiError;
pub use key::{ApiKey, redact};
pub use openai::{Completion, ResponseStream, ResponsesClient, UpstreamEvent};
pub use request::ChatRequest;
pub use sse::SseEncoder;

/// The Lambda invocation's deadline as a tokio instant, when the request came through Lambda.
pub fn lambda_deadline(request: &lambda_http::Request) -> Option<tokio::time::Instant> {
    use lambda_http::RequestExt;
    let context = request.lambda_context_ref()?;
    let left = context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    (context.deadline > 0).then(|| tokio::time::Instant::now() + left)
}

//! What the three chat functions share: configuration, the OpenAI Responses client, request
//! validation, SSE encoding, errors and the API key.

pub mod admit;
pub mod config;
pub mod error;
pub mod key;
pub mod limits;
pub mod logging;
pub mod metrics;
mod nodelay;
pub mod openai;
pub mod request;
pub mod resume;
pub mod runtime;
pub mod sse;
pub mod summary;
pub mod tls;
pub mod ui_chat;
mod uri_safe;

pub use config::Config;
pub use error::ApiError;
pub use key::{ApiKey, redact};
pub use openai::{Completion, ResponseStream, ResponsesClient, UpstreamEvent};
pub use request::{ChatRequest, StreamAction};
pub use sse::SseEncoder;
pub use summary::{Outcome, RequestSummary};

/// The Lambda invocation's deadline as a tokio instant, when the request came through Lambda.
///
/// A deadline already past is ignored: real Lambda never sends one, but local emulators do
/// (`cargo lambda watch` sends a relative number), and it must not fail every request.
pub fn lambda_deadline(request: &lambda_http::Request) -> Option<tokio::time::Instant> {
    use lambda_http::RequestExt;
    let context = request.lambda_context_ref()?;
    let left = context.deadline().duration_since(std::time::SystemTime::now()).ok()?;
    (!left.is_zero()).then(|| tokio::time::Instant::now() + left)
}

/// The Lambda request id, for the one summary line each request logs.
pub fn request_id(request: &lambda_http::Request) -> String {
    use lambda_http::RequestExt;
    request.lambda_context_ref().map(|context| context.request_id.clone()).unwrap_or_default()
}

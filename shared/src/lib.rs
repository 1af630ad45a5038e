//! The HTTP face of the chat functions: reading a request (the query, a JSON body, the AI SDK's
//! body), telling what it asks for, admitting it in order (`admit`), writing the answer as SSE or
//! as the AI SDK's stream, the one summary line each request logs with its metrics, the logs, and
//! the glue to the Lambda runtime. It builds on `chat-core`, `openai-client` and `spend`.

pub mod action;
pub mod admit;
pub mod chain;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
mod nodelay;
pub mod request;
pub mod runtime;
pub mod sse;
pub mod summary;
pub mod ui_chat;
pub mod ui_request;
mod uri_safe;
pub mod warm;

pub use action::StreamAction;
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

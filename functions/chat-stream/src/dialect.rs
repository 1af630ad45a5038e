//! The two ways chat-stream speaks, chosen by the request's shape: the EventSource events of
//! the contract, and the Vercel AI SDK's UI message stream. The relay says what happened to
//! the answer; a dialect says it in its own words.

use bytes::Bytes;
use chat_core::{ApiError, ChatRequest};
use lambda_http::Request;
use openai_client::types::Usage;
use serde_json::json;
use shared::SseEncoder;
use shared::ui_chat::{self, UiStreamEncoder};

/// `token` is the resume token of the event (background mode), for dialects that carry ids.
pub trait Dialect: Send + 'static {
    /// Reads the question in this dialect's request shape.
    fn chat_request(&self, request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError>;
    fn start(&mut self) -> Bytes;
    fn ping(&mut self) -> Bytes {
        SseEncoder.ping()
    }
    /// OpenAI named the answer; `model` answers it.
    fn response(&mut self, token: Option<&str>, response_id: &str, model: &str) -> Bytes;
    fn text(&mut self, token: Option<&str>, delta: &str) -> Bytes;
    /// A piece of the reasoning summary, before the text.
    fn reasoning(&mut self, token: Option<&str>, delta: &str) -> Bytes;
    fn completed(&mut self, token: Option<&str>, usage: Option<Usage>) -> Bytes;
    fn stopped(&mut self, token: Option<&str>, response_id: Option<&str>, usage: Option<Usage>) -> Bytes;
    /// The answer ended early (an incomplete answer, a failure); the text sent stays sent.
    fn failed(&mut self, token: Option<&str>, error: &ApiError, usage: Option<Usage>) -> Bytes;
    fn end(&mut self) -> Bytes;
    /// The invocation's time is up while the answer goes on: the last bytes of a stream that
    /// ends without `end`, so the reader reconnects at `token`. `None`: this dialect's client
    /// cannot follow, and the answer fails instead.
    fn hand_over(&mut self, _token: Option<&str>) -> Option<Bytes> {
        None
    }
    /// A failure before the answer started, in the stream (`errors=inline`): the whole body.
    fn problem(&mut self, error: &ApiError, request_id: &str) -> Bytes;
    /// Response headers beyond SSE's own.
    fn headers(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// The summary line's `protocol`, for any dialect but the contract's own.
    fn protocol(&self) -> Option<&'static str> {
        None
    }
}

/// The contract's events: `start`, `response`, unnamed deltas, `usage` | `stopped` | `error`, `end`.
pub struct EventSource;

/// How long a browser waits before it reconnects a dropped stream (its default is 3 s).
const RECONNECT_AFTER_MS: u32 = 1000;

impl Dialect for EventSource {
    fn chat_request(&self, request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError> {
        shared::request::chat_request(request, max_message_bytes)
    }

    fn start(&mut self) -> Bytes {
        SseEncoder.start()
    }

    fn response(&mut self, token: Option<&str>, response_id: &str, model: &str) -> Bytes {
        let event = SseEncoder.named_at(token, "response", &json!({ "id": response_id, "model": model }).to_string());
        // Ids make a browser reconnect by itself: soon, since the answer goes on meanwhile.
        match token {
            Some(_) => [event, SseEncoder.retry(RECONNECT_AFTER_MS)].concat().into(),
            None => event,
        }
    }

    fn text(&mut self, token: Option<&str>, delta: &str) -> Bytes {
        SseEncoder.text_at(token, delta)
    }

    /// `event: reasoning`, framed as text deltas are: `event.data` is exactly the delta.
    fn reasoning(&mut self, token: Option<&str>, delta: &str) -> Bytes {
        SseEncoder.named_at(token, "reasoning", delta)
    }

    fn completed(&mut self, token: Option<&str>, usage: Option<Usage>) -> Bytes {
        usage.map(|usage| SseEncoder.named_at(token, "usage", &json!(usage).to_string())).unwrap_or_default()
    }

    fn stopped(&mut self, token: Option<&str>, response_id: Option<&str>, usage: Option<Usage>) -> Bytes {
        SseEncoder.named_at(token, "stopped", &json!({ "response_id": response_id, "usage": usage }).to_string())
    }

    fn failed(&mut self, token: Option<&str>, error: &ApiError, _usage: Option<Usage>) -> Bytes {
        SseEncoder.named_at(token, "error", &error.detail())
    }

    fn end(&mut self) -> Bytes {
        SseEncoder.end()
    }

    /// A last event, `handover`, carrying the position as its `id:`; then the stream closes
    /// and the browser's EventSource reconnects by itself (`retry:`) with it as `Last-Event-ID`.
    fn hand_over(&mut self, token: Option<&str>) -> Option<Bytes> {
        let data = json!({ "reconnect_after_ms": RECONNECT_AFTER_MS }).to_string();
        token.map(|token| SseEncoder.named_at(Some(token), "handover", &data))
    }

    fn problem(&mut self, error: &ApiError, request_id: &str) -> Bytes {
        let problem = json!({ "status": error.status().as_u16(), "code": error.code(), "detail": error.detail(), "request_id": request_id });
        let sse = SseEncoder;
        [sse.start(), sse.named("problem", &problem.to_string()), sse.named("error", &error.detail()), sse.end()]
            .concat()
            .into()
    }
}

/// The AI SDK's UI message stream (`useChat`); no resume ids, since its client reconnects by
/// chat id, not by `Last-Event-ID`.
#[derive(Default)]
pub struct UiMessageStream(UiStreamEncoder);

impl Dialect for UiMessageStream {
    fn chat_request(&self, request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError> {
        ui_chat::chat_request(request, max_message_bytes)
    }

    fn start(&mut self) -> Bytes {
        self.0.start()
    }

    fn response(&mut self, _token: Option<&str>, response_id: &str, model: &str) -> Bytes {
        self.0.response(response_id, model)
    }

    fn text(&mut self, _token: Option<&str>, delta: &str) -> Bytes {
        self.0.text(delta)
    }

    fn reasoning(&mut self, _token: Option<&str>, delta: &str) -> Bytes {
        self.0.reasoning(delta)
    }

    fn completed(&mut self, _token: Option<&str>, usage: Option<Usage>) -> Bytes {
        self.0.finish("stop", usage, false)
    }

    fn stopped(&mut self, _token: Option<&str>, _response_id: Option<&str>, usage: Option<Usage>) -> Bytes {
        self.0.finish("other", usage, true)
    }

    fn failed(&mut self, _token: Option<&str>, error: &ApiError, usage: Option<Usage>) -> Bytes {
        match error {
            // Cut short is how an answer ends in the SDK's words, not an error.
            ApiError::Incomplete(reason) => self.0.finish(ui_chat::finish_reason(reason), usage, false),
            other => self.0.error(&other.detail()),
        }
    }

    fn end(&mut self) -> Bytes {
        self.0.done()
    }

    fn problem(&mut self, error: &ApiError, _request_id: &str) -> Bytes {
        [self.0.start(), self.0.error(&error.detail()), self.0.done()].concat().into()
    }

    fn headers(&self) -> &'static [(&'static str, &'static str)] {
        &[ui_chat::STREAM_HEADER]
    }

    fn protocol(&self) -> Option<&'static str> {
        Some("ai_sdk_ui")
    }
}

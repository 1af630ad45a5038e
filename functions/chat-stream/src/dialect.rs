//! The two ways chat-stream speaks, chosen by the request's shape: the EventSource events of
//! the contract, and the Vercel AI SDK's UI message stream. The relay says what happened to
//! the answer; a dialect says it in its own words.

use bytes::Bytes;
use chat_core::approvals::ApprovalRequest;
use chat_core::functions::FunctionCall;
use chat_core::{ApiError, ChatRequest};
use lambda_http::Request;
use openai_client::types::{Source, Usage};
use serde_json::json;
use shared::SseEncoder;
use shared::ui_chat::{self, UiStreamEncoder};

/// `token` is the resume token of the event (background mode), for dialects that carry ids.
pub trait Dialect: Send + 'static {
    /// Reads the question in this dialect's request shape.
    fn chat_request(&mut self, request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError>;
    fn start(&mut self) -> Bytes;
    fn ping(&mut self) -> Bytes {
        SseEncoder.ping()
    }
    /// OpenAI named the answer; `model` answers it.
    fn response(&mut self, token: Option<&str>, response_id: &str, model: &str) -> Bytes;
    fn text(&mut self, token: Option<&str>, delta: &str) -> Bytes;
    /// A piece of the reasoning summary, before the text.
    fn reasoning(&mut self, token: Option<&str>, delta: &str) -> Bytes;
    /// A hosted tool at work.
    fn tool(&mut self, token: Option<&str>, step: &ToolStep<'_>) -> Bytes;
    /// A page the answer cites, once each.
    fn source(&mut self, token: Option<&str>, source: &Source) -> Bytes;
    /// A call of the caller's function, its arguments whole: the answer waits on its result.
    fn function_call(&mut self, token: Option<&str>, call: &FunctionCall) -> Bytes;
    /// An MCP call of the owner's waiting on the caller's yes: the answer ends with it.
    fn approval(&mut self, token: Option<&str>, request: &ApprovalRequest) -> Bytes;
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

/// One step of a hosted tool's call: its item id, the tool, OpenAI's status, and what it
/// searched for once done, when OpenAI says.
pub struct ToolStep<'a> {
    pub call: &'a str,
    pub tool: &'a str,
    pub status: &'a str,
    pub query: Option<&'a str>,
}

/// The contract's events: `start`, `response`, unnamed deltas, `usage` | `stopped` | `error`, `end`.
pub struct EventSource;

/// How long a browser waits before it reconnects a dropped stream (its default is 3 s).
const RECONNECT_AFTER_MS: u32 = 1000;

impl Dialect for EventSource {
    fn chat_request(&mut self, request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError> {
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

    /// `event: tool`: `{"type","status"}`, and `"query"` once a search says what it looked for.
    fn tool(&mut self, token: Option<&str>, step: &ToolStep<'_>) -> Bytes {
        let (tool, status) = (step.tool, step.status);
        let data = match step.query {
            Some(query) => json!({ "type": tool, "status": status, "query": query }),
            None => json!({ "type": tool, "status": status }),
        };
        SseEncoder.named_at(token, "tool", &data.to_string())
    }

    /// `event: source`: `{"url","title"}`.
    fn source(&mut self, token: Option<&str>, source: &Source) -> Bytes {
        SseEncoder.named_at(token, "source", &json!(source).to_string())
    }

    /// `event: tool_call`: `{"call_id","name","arguments"}`, the arguments as the model wrote them.
    fn function_call(&mut self, token: Option<&str>, call: &FunctionCall) -> Bytes {
        SseEncoder.named_at(token, "tool_call", &json!(call).to_string())
    }

    /// `event: approval`: `{"approval_request_id","server_label","name","arguments"}`.
    fn approval(&mut self, token: Option<&str>, request: &ApprovalRequest) -> Bytes {
        SseEncoder.named_at(token, "approval", &json!(request).to_string())
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

/// The AI SDK's UI message stream (`useChat`). Its chunks are numbered as the client counts
/// them (every `data:` of JSON; not `[DONE]` or pings), the same on every replay of the answer,
/// so a `WorkflowChatTransport` that reconnects with `startIndex=N` gets chunk N onward.
#[derive(Default)]
pub struct UiMessageStream {
    encoder: UiStreamEncoder,
    /// Whether the client reconnects by run id at a hand-over (`WorkflowChatTransport`).
    follows: bool,
    /// Chunks the reader already has: not sent again.
    skip: u64,
    /// Chunks written so far, sent or skipped.
    count: u64,
    /// Whether the client reads `tool-approval-request` (ai 6 and later; ai 5 refuses a chunk
    /// type it does not know, so without its word an approval is told in text).
    approvals: bool,
}

impl UiMessageStream {
    /// For a client that follows a hand-over, from chunk `skip` on: `WorkflowChatTransport`,
    /// which comes with ai 7, so it reads approvals.
    pub fn following(skip: u64) -> Self {
        Self { follows: true, skip, approvals: true, ..Self::default() }
    }

    /// `bytes` (whole chunks) less the ones the reader already has.
    fn numbered(&mut self, bytes: Bytes) -> Bytes {
        if self.count >= self.skip {
            self.count += sse_events(&bytes).filter(|event| counted(event)).count() as u64;
            return bytes;
        }
        let mut kept = Vec::new();
        for event in sse_events(&bytes) {
            if counted(event) {
                self.count += 1;
                if self.count <= self.skip {
                    continue;
                }
            }
            kept.extend_from_slice(event);
        }
        kept.into()
    }
}

/// The SSE events in `bytes`, each with its blank line.
fn sse_events(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let end = rest.windows(2).position(|w| w == b"\n\n").map_or(rest.len(), |at| at + 2);
        let (event, after) = rest.split_at_checked(end)?;
        rest = after;
        (!event.is_empty()).then_some(event)
    })
}

/// Whether an SSE event is a chunk the SDK counts: a `data:` line that is not `[DONE]`.
fn counted(event: &[u8]) -> bool {
    event.starts_with(b"data: ") && !event.starts_with(UiStreamEncoder::DONE)
}

impl Dialect for UiMessageStream {
    fn chat_request(&mut self, request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError> {
        self.approvals |= ui_chat::takes_approvals(request);
        ui_chat::chat_request(request, max_message_bytes)
    }

    fn start(&mut self) -> Bytes {
        let start = self.encoder.start();
        self.numbered(start)
    }

    fn response(&mut self, _token: Option<&str>, response_id: &str, model: &str) -> Bytes {
        let bytes = self.encoder.response(response_id, model);
        self.numbered(bytes)
    }

    fn text(&mut self, _token: Option<&str>, delta: &str) -> Bytes {
        let bytes = self.encoder.text(delta);
        self.numbered(bytes)
    }

    fn reasoning(&mut self, _token: Option<&str>, delta: &str) -> Bytes {
        let bytes = self.encoder.reasoning(delta);
        self.numbered(bytes)
    }

    /// A provider-executed tool call, as the AI SDK's own OpenAI provider shows a hosted tool:
    /// `tool-input-start` when it starts, its input (what it searched for) and its output once
    /// done; the steps between say nothing new.
    fn tool(&mut self, _token: Option<&str>, step: &ToolStep<'_>) -> Bytes {
        let bytes = match step.status {
            "in_progress" => self.encoder.tool_started(step.call, step.tool),
            "completed" => self.encoder.tool_done(step.call, step.tool, step.query),
            _ => Bytes::new(),
        };
        self.numbered(bytes)
    }

    /// `source-url`, which every supported version reads.
    fn source(&mut self, _token: Option<&str>, source: &Source) -> Bytes {
        let bytes = self.encoder.source(&source.url, &source.title);
        self.numbered(bytes)
    }

    fn function_call(&mut self, _token: Option<&str>, call: &FunctionCall) -> Bytes {
        let bytes = self.encoder.function_call(call);
        self.numbered(bytes)
    }

    fn approval(&mut self, _token: Option<&str>, request: &ApprovalRequest) -> Bytes {
        let bytes = self.encoder.approval(request, self.approvals);
        self.numbered(bytes)
    }

    fn completed(&mut self, _token: Option<&str>, usage: Option<Usage>) -> Bytes {
        let bytes = self.encoder.finish("stop", usage, false);
        self.numbered(bytes)
    }

    fn stopped(&mut self, _token: Option<&str>, _response_id: Option<&str>, usage: Option<Usage>) -> Bytes {
        let bytes = self.encoder.finish("other", usage, true);
        self.numbered(bytes)
    }

    fn failed(&mut self, _token: Option<&str>, error: &ApiError, usage: Option<Usage>) -> Bytes {
        let bytes = match error {
            // Cut short is how an answer ends in the SDK's words, not an error.
            ApiError::Incomplete(reason) => self.encoder.finish(ui_chat::finish_reason(reason), usage, false),
            other => self.encoder.error(&other.detail()),
        };
        self.numbered(bytes)
    }

    fn end(&mut self) -> Bytes {
        self.encoder.done()
    }

    /// Nothing more: the stream ends without `finish`, so `WorkflowChatTransport` reconnects
    /// with the count of chunks it has. Any other client gets the `error` part instead.
    fn hand_over(&mut self, _token: Option<&str>) -> Option<Bytes> {
        self.follows.then(Bytes::new)
    }

    fn problem(&mut self, error: &ApiError, _request_id: &str) -> Bytes {
        [self.encoder.start(), self.encoder.error(&error.detail()), self.encoder.done()].concat().into()
    }

    fn headers(&self) -> &'static [(&'static str, &'static str)] {
        &[ui_chat::STREAM_HEADER]
    }

    fn protocol(&self) -> Option<&'static str> {
        Some(if self.follows { "ai_sdk_workflow" } else { "ai_sdk_ui" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(ui: &mut UiMessageStream) -> Vec<Bytes> {
        let (start, response) = (ui.start(), ui.response(None, "resp_1", "gpt-6-luna"));
        let (reasoning, a, b) = (ui.reasoning(None, "r"), ui.text(None, "a"), ui.text(None, "b"));
        vec![start, response, reasoning, a, b, ui.completed(None, None)]
    }

    #[test]
    fn a_replay_from_chunk_n_sends_exactly_the_chunks_after_n() {
        let whole = chunks(&mut UiMessageStream::default()).concat();
        let events: Vec<&[u8]> = sse_events(&whole).collect();
        // start, metadata, start-step, reasoning start/delta/end, text start/delta/delta/end,
        // finish-step, finish.
        assert_eq!(events.len(), 12, "{}", String::from_utf8_lossy(&whole));
        for skip in 0..=13 {
            let rest = chunks(&mut UiMessageStream::following(skip)).concat();
            assert_eq!(rest, events.iter().skip(skip as usize).copied().collect::<Vec<_>>().concat(), "from {skip}");
        }
        let mut ui = UiMessageStream::following(1);
        assert_eq!((ui.start(), ui.end()), (Bytes::new(), ui.encoder.done()), "[DONE] is never counted or skipped");
        assert_eq!(ui.hand_over(None), Some(Bytes::new()));
        assert_eq!(UiMessageStream::default().hand_over(None), None, "DefaultChatTransport cannot follow");
    }
}

//! The Vercel AI SDK's chat protocol (`useChat`, `DefaultChatTransport`): a `POST` whose JSON
//! body carries `messages`, answered in the UI message stream protocol (v1). chat-stream tells
//! it from the EventSource contract by the request's shape alone.
//!
//! The stream: `start`, `message-metadata` with the OpenAI response id (what a stop names),
//! `text-start`, one `text-delta` per delta, `text-end`, then `finish` (its reason, and the
//! usage in the message metadata) or `error`, then `data: [DONE]`.
//!
//! A chunk carries only keys the SDK's chunk schemas name: ai 6.0.99 (strict objects) refuses any other.

use bytes::Bytes;
use lambda_http::Request;
use serde::Deserialize;
use serde_json::{Value, json};

use chat_core::{ApiError, ChatRequest, Role, Turn};
use openai_client::types::Usage;

use crate::request::{body_bytes, parse_json_typed, validate_message, validate_previous_response_id};

/// How many times `MAX_MESSAGE_BYTES` the turns before the new message may carry in all.
pub const HISTORY_MESSAGES: usize = 8;

/// The header the AI SDK's docs say a UI message stream carries.
pub const STREAM_HEADER: (&str, &str) = ("x-vercel-ai-ui-message-stream", "v1");
/// The header that names an answer's run, read by `WorkflowChatTransport` after its `POST`.
pub const RUN_ID_HEADER: &str = "x-workflow-run-id";
/// Where a reconnect with a negative `startIndex` starts counting: `-1`, since the whole answer
/// follows from its first chunk (the transport then counts from 0).
pub const TAIL_INDEX_HEADER: &str = "x-workflow-stream-tail-index";

#[derive(Deserialize)]
struct Probe {
    messages: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    trigger: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    id: Option<Value>,
}

fn probe(request: &Request) -> Option<Probe> {
    serde_json::from_slice::<Probe>(body_bytes(request)).ok()
}

/// Whether this is the AI SDK's request: a `POST` whose JSON body has `messages`. Anything else
/// (including a body that is not JSON) takes the EventSource path, which reports what is wrong.
pub fn asks(request: &Request) -> bool {
    request.method() == http::Method::POST && probe(request).is_some_and(|probe| probe.messages.is_some())
}

/// Whether the client follows a hand-over: `WorkflowChatTransport` sends no `trigger` (every
/// `DefaultChatTransport` request has one) and reconnects by its run id until `finish`.
pub fn follows_hand_overs(request: &Request) -> bool {
    probe(request).is_some_and(|probe| probe.trigger.is_none())
}

/// The chat's `id`, as `DefaultChatTransport` sends it: what its `resume: true` reconnects by.
pub fn chat_id(request: &Request) -> Option<String> {
    let id = probe(request)?.id?;
    let id = id.as_str()?;
    is_chat_id(id).then(|| id.to_owned())
}

/// Whether `id` is a chat id this service records: 1 to 128 letters, digits, `_` or `-`.
pub fn is_chat_id(id: &str) -> bool {
    openai_client::resume::is_answer_id(id)
}

#[derive(Deserialize)]
struct UiChatBody {
    messages: Vec<UiMessage>,
    #[serde(default)]
    previous_response_id: Option<String>,
}

#[derive(Deserialize)]
struct UiMessage {
    role: String,
    #[serde(default)]
    parts: Vec<UiPart>,
}

#[derive(Deserialize)]
struct UiPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// Parses and validates the AI SDK's chat request: the last message is the new one (the user's,
/// checked like `message`); the ones before it are the history, unless `previous_response_id`
/// says OpenAI already holds it.
pub fn chat_request(request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError> {
    let expected = || ApiError::BadRequest("send {\"messages\": [...]} as the AI SDK's useChat does".into());
    let body: UiChatBody = parse_json_typed(request, expected, true)?;
    let mut turns = Vec::with_capacity(body.messages.len());
    for message in body.messages {
        let role = match message.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => {
                return Err(ApiError::BadRequest(
                    "`system` messages are not accepted: the instructions are this deployment's own (OPENAI_INSTRUCTIONS)".into(),
                ));
            }
            other => {
                return Err(ApiError::BadRequest(format!("a message's role must be user or assistant, not {other:?}")));
            }
        };
        turns.push(Turn { role, text: text_of(message.parts)? });
    }
    let last = turns
        .pop()
        .ok_or_else(|| ApiError::BadRequest("`messages` is empty: end it with the user's message".into()))?;
    if last.role != Role::User {
        return Err(ApiError::BadRequest("the last of `messages` must be the user's".into()));
    }
    let message = validate_message(Some(last.text), max_message_bytes)?;
    let previous_response_id = validate_previous_response_id(body.previous_response_id)?;
    // OpenAI holds the conversation a previous response id names; sending it again would double it.
    let earlier: Vec<Turn> = if previous_response_id.is_some() {
        Vec::new()
    } else {
        turns.into_iter().filter(|t| !t.text.trim().is_empty()).collect()
    };
    let limit = max_message_bytes.saturating_mul(HISTORY_MESSAGES);
    let actual: usize = earlier.iter().map(|turn| turn.text.len()).sum();
    if actual > limit {
        return Err(ApiError::ConversationTooLong { actual, limit });
    }
    Ok(ChatRequest { message, previous_response_id, caller: None, earlier })
}

/// A message's text: its text parts joined. Reasoning, steps, sources, tools and data parts are
/// the UI's, not the conversation's; a file cannot be passed on, so it is refused, not dropped.
fn text_of(parts: Vec<UiPart>) -> Result<String, ApiError> {
    let mut text = String::new();
    for part in parts {
        match part.kind.as_str() {
            "text" => text.push_str(part.text.as_deref().unwrap_or_default()),
            "file" => return Err(ApiError::BadRequest("file parts are not supported: send text".into())),
            _ => {}
        }
    }
    Ok(text)
}

/// Writes one answer as a UI message stream. It remembers whether a text or reasoning part is
/// open, so that every `*-start` gets its `*-end` however the answer ends.
#[derive(Debug, Default)]
pub struct UiStreamEncoder {
    text_open: bool,
    reasoning_open: bool,
    response_id: Option<String>,
    sources: u32,
    /// The hosted tool calls whose `tool-input-start` went out.
    tools_started: Vec<String>,
}

/// The one text part of an answer.
const TEXT_ID: &str = "text-0";
/// The one reasoning part: the summary, before the text (`useChat` shows a `reasoning` part).
const REASONING_ID: &str = "reasoning-0";

impl UiStreamEncoder {
    pub const DONE: &'static [u8] = b"data: [DONE]\n\n";

    pub fn start(&self) -> Bytes {
        chunk(&json!({ "type": "start" }))
    }

    /// The OpenAI response id, as message metadata: what `POST /stop` names, and what a client
    /// may send back as `previous_response_id`.
    pub fn response(&mut self, response_id: &str, model: &str) -> Bytes {
        self.response_id = Some(response_id.to_owned());
        let metadata = json!({ "responseId": response_id, "model": model });
        chunk(&json!({ "type": "message-metadata", "messageMetadata": metadata }))
    }

    pub fn text(&mut self, delta: &str) -> Bytes {
        let delta = chunk(&json!({ "type": "text-delta", "id": TEXT_ID, "delta": delta }));
        if self.text_open {
            return delta;
        }
        self.text_open = true;
        [self.close_reasoning(), chunk(&json!({ "type": "text-start", "id": TEXT_ID })), delta].concat().into()
    }

    /// A hosted tool's call began: `tool-input-start`, run by the provider.
    pub fn tool_started(&mut self, call: &str, tool: &str) -> Bytes {
        self.tools_started.push(call.to_owned());
        chunk(&json!({ "type": "tool-input-start", "toolCallId": call, "toolName": tool, "providerExecuted": true }))
    }

    /// A hosted tool's call is done: its input (what it searched for) and its output, both
    /// run by the provider; started first if its start was not seen.
    pub fn tool_done(&mut self, call: &str, tool: &str, query: Option<&str>) -> Bytes {
        let start = match self.tools_started.iter().any(|started| started == call) {
            true => Bytes::new(),
            false => self.tool_started(call, tool),
        };
        let input = query.map_or_else(|| json!({}), |query| json!({ "query": query }));
        let available = json!({ "type": "tool-input-available", "toolCallId": call, "toolName": tool, "input": input, "providerExecuted": true });
        let output = json!({ "type": "tool-output-available", "toolCallId": call, "output": { "status": "completed" }, "providerExecuted": true });
        [start, chunk(&available), chunk(&output)].concat().into()
    }

    /// A page the answer cites: a `source-url` part, numbered in the answer.
    pub fn source(&mut self, url: &str, title: &str) -> Bytes {
        self.sources += 1;
        chunk(
            &json!({ "type": "source-url", "sourceId": format!("source-{}", self.sources), "url": url, "title": title }),
        )
    }

    /// A piece of the reasoning summary; the part ends when the text begins, or with the answer.
    pub fn reasoning(&mut self, delta: &str) -> Bytes {
        let delta = chunk(&json!({ "type": "reasoning-delta", "id": REASONING_ID, "delta": delta }));
        if self.reasoning_open {
            return delta;
        }
        self.reasoning_open = true;
        [chunk(&json!({ "type": "reasoning-start", "id": REASONING_ID })), delta].concat().into()
    }

    /// `finish` with the AI SDK's reason (`stop`, `length`, `content-filter`, `other`) and the
    /// usage as message metadata; `stopped` is set when the answer was cancelled.
    pub fn finish(&mut self, reason: &str, usage: Option<Usage>, stopped: bool) -> Bytes {
        let mut metadata = serde_json::Map::new();
        metadata.insert("responseId".into(), json!(self.response_id));
        if let Some(usage) = usage {
            let usage = json!({
                "inputTokens": usage.input_tokens,
                "outputTokens": usage.output_tokens,
                "totalTokens": usage.total_tokens,
                "reasoningTokens": usage.reasoning_tokens(),
            });
            metadata.insert("usage".into(), usage);
        }
        if stopped {
            metadata.insert("stopped".into(), Value::Bool(true));
        }
        let finish = chunk(&json!({ "type": "finish", "finishReason": reason, "messageMetadata": metadata }));
        [self.close_reasoning(), self.close_text(), finish].concat().into()
    }

    /// An error part: the SDK's `useChat` shows `errorText` as its `error.message`.
    pub fn error(&mut self, detail: &str) -> Bytes {
        [self.close_reasoning(), self.close_text(), chunk(&json!({ "type": "error", "errorText": detail }))]
            .concat()
            .into()
    }

    pub fn done(&self) -> Bytes {
        Bytes::from_static(Self::DONE)
    }

    fn close_reasoning(&mut self) -> Bytes {
        if !std::mem::take(&mut self.reasoning_open) {
            return Bytes::new();
        }
        chunk(&json!({ "type": "reasoning-end", "id": REASONING_ID }))
    }

    fn close_text(&mut self) -> Bytes {
        if !std::mem::take(&mut self.text_open) {
            return Bytes::new();
        }
        chunk(&json!({ "type": "text-end", "id": TEXT_ID }))
    }
}

/// The AI SDK's finish reason for an answer OpenAI marked incomplete.
pub fn finish_reason(incomplete_reason: &str) -> &'static str {
    match incomplete_reason {
        "max_output_tokens" => "length",
        "content_filter" => "content-filter",
        _ => "other",
    }
}

/// One SSE event of JSON: serde escapes every line break, so a chunk is always one `data:` line.
fn chunk(value: &Value) -> Bytes {
    format!("data: {value}\n\n").into()
}

#[cfg(test)]
mod tests {
    use lambda_http::Body;

    use super::*;

    fn post(body: &str) -> Request {
        http::Request::post("https://x/")
            .header("content-type", "application/json")
            .body(Body::Text(body.into()))
            .unwrap()
    }

    fn user(text: &str) -> Value {
        json!({ "id": "u", "role": "user", "parts": [{ "type": "text", "text": text }] })
    }

    fn assistant(text: &str) -> Value {
        json!({ "id": "a", "role": "assistant", "parts": [{ "type": "step-start" }, { "type": "reasoning", "text": "hm" }, { "type": "text", "text": text }] })
    }

    fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        chat_request(&post(&body.to_string()), 64)
    }

    #[test]
    fn the_request_shape_chooses_the_protocol() {
        assert!(asks(&post(r#"{"id":"c","messages":[],"trigger":"submit-message"}"#)));
        assert!(!asks(&post(r#"{"message":"hi"}"#)));
        assert!(!asks(&post("{not json")));
        assert!(!asks(&http::Request::get("https://x/?messages=1").body(Body::Empty).unwrap()));
        assert!(!follows_hand_overs(&post(r#"{"id":"c","messages":[],"trigger":"submit-message"}"#)));
        assert!(follows_hand_overs(&post(r#"{"messages":[]}"#)));
        assert_eq!(chat_id(&post(r#"{"id":"c-1","messages":[]}"#)).as_deref(), Some("c-1"));
        assert_eq!(chat_id(&post(r#"{"id":"../c","messages":[]}"#)), None);
        let plain = http::Request::post("https://x/")
            .header("content-type", "text/plain;charset=UTF-8")
            .body(Body::Text(json!({ "messages": [user("hi")] }).to_string()))
            .unwrap();
        assert_eq!(chat_request(&plain, 64).unwrap().message, "hi", "JSON as text/plain, a CORS-simple request");
    }

    #[test]
    fn the_last_message_is_asked_and_the_rest_is_history() {
        let chat = parse(json!({ "id": "c", "trigger": "submit-message", "messages": [user("hi"), assistant("hello"), user("again")] })).unwrap();
        assert_eq!(chat.message, "again");
        assert_eq!(
            chat.earlier,
            [Turn { role: Role::User, text: "hi".into() }, Turn { role: Role::Assistant, text: "hello".into() }]
        );
        let chat = parse(
            json!({ "messages": [user("hi"), assistant("hello"), user("again")], "previous_response_id": "resp_1" }),
        )
        .unwrap();
        assert_eq!(
            (chat.message.as_str(), chat.earlier.len(), chat.previous_response_id.as_deref()),
            ("again", 0, Some("resp_1"))
        );
    }

    #[test]
    fn bad_conversations_are_clear_4xx() {
        let cases = [
            (json!({ "messages": [] }), 400, "empty"),
            (json!({ "messages": [user("hi"), assistant("yo")] }), 400, "last"),
            (json!({ "messages": [{ "role": "system", "parts": [] }, user("hi")] }), 400, "INSTRUCTIONS"),
            (json!({ "messages": [{ "role": "tool", "parts": [] }] }), 400, "role"),
            (json!({ "messages": [{ "role": "user", "parts": [{ "type": "file", "url": "x" }] }] }), 400, "file"),
            (json!({ "messages": [user(" ")] }), 400, "blank"),
            (json!({ "messages": [user(&"x".repeat(65))] }), 413, "limit"),
            (json!({ "messages": [assistant(&"x".repeat(64 * 8 + 1)), user("hi")] }), 413, "previous_response_id"),
            (json!({ "messages": "hi" }), 400, "wrong shape"),
            (json!({ "messages": [user("hi")], "previous_response_id": "../x" }), 400, "previous_response_id"),
        ];
        for (body, status, words) in cases {
            let error = parse(body.clone()).unwrap_err();
            assert_eq!(error.status(), status, "{body}");
            assert!(error.detail().contains(words), "{body}: {}", error.detail());
        }
    }

    #[test]
    fn the_stream_pairs_text_start_and_end_and_ends_with_done() {
        let mut ui = UiStreamEncoder::default();
        let mut out = vec![ui.start(), ui.response("resp_1", "gpt-6-luna"), ui.text("a\n"), ui.text("b")];
        out.push(ui.finish(
            "stop",
            Some(Usage { input_tokens: 1, output_tokens: 2, total_tokens: 3, ..Default::default() }),
            false,
        ));
        out.push(ui.done());
        let text = String::from_utf8(out.concat()).unwrap();
        let chunks: Vec<&str> = text.split("\n\n").filter(|c| !c.is_empty()).collect();
        assert!(chunks.iter().all(|c| c.starts_with("data: ") && !c.contains('\n')), "{text}");
        let types: Vec<String> = chunks[..chunks.len() - 1]
            .iter()
            .map(|c| serde_json::from_str::<Value>(&c[6..]).unwrap()["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            ["start", "message-metadata", "text-start", "text-delta", "text-delta", "text-end", "finish"]
        );
        assert!(
            text.contains(r#""usage":{"inputTokens":1,"outputTokens":2,"reasoningTokens":0,"totalTokens":3}"#),
            "{text}"
        );
        assert!(text.contains(r#""responseId":"resp_1""#) && text.ends_with("data: [DONE]\n\n"));
        let mut ui = UiStreamEncoder::default();
        assert!(
            !String::from_utf8(ui.error("x").to_vec()).unwrap().contains("text-end"),
            "no text-end without text-start"
        );
    }
}

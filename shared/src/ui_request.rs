//! The AI SDK's chat request (`useChat`'s `POST` with `messages`): told from the EventSource
//! contract by its shape, read into the question it asks. Its last message is the new one, or
//! an answer whose calls of the caller's own functions now carry their results.

use lambda_http::Request;
use serde::Deserialize;
use serde_json::{Value, json};

use chat_core::{ApiError, ChatRequest, Role, Turn};

use crate::request::{body_bytes, parse_json_typed, validate_message, validate_previous_response_id};

/// How many times `MAX_MESSAGE_BYTES` the turns before the new message may carry in all.
pub const HISTORY_MESSAGES: usize = 8;

#[derive(Deserialize)]
struct Probe {
    messages: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    trigger: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    id: Option<Value>,
    /// Set through the transport's `body` option (see [`takes_approvals`]).
    #[serde(default)]
    ai_sdk_version: Option<Value>,
}

fn probe(request: &Request) -> Option<Probe> {
    serde_json::from_slice::<Probe>(body_bytes(request)).ok()
}

/// Whether the client reads approval chunks: its body says `ai_sdk_version` 6 or later (set
/// through the transport's `body` option).
pub fn takes_approvals(request: &Request) -> bool {
    let version = probe(request).and_then(|probe| probe.ai_sdk_version);
    let major = version.as_ref().and_then(Value::as_str).and_then(|v| v.split('.').next());
    major.and_then(|major| major.parse::<u32>().ok()).is_some_and(|major| major >= 6)
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
    /// The caller's own function tools, set through the transport's `body` option.
    #[serde(default)]
    tools: Option<Value>,
}

#[derive(Deserialize)]
struct UiMessage {
    role: String,
    #[serde(default)]
    parts: Vec<UiPart>,
    /// What the stream's `message-metadata` set: `responseId` names the answer.
    #[serde(default)]
    metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    /// A tool part's call, state and result (`output-available` with `output`, or
    /// `output-error` with `errorText`).
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    error_text: Option<String>,
    /// A hosted tool's part: run by OpenAI, never answered by the client.
    #[serde(default)]
    provider_executed: Option<bool>,
    /// An MCP approval's answer (`approval-responded`): `{"id", "approved"}`.
    #[serde(default)]
    approval: Option<Value>,
    /// A `file` part: a data URL (what `sendMessage({ files })` sends) and its name.
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

impl UiPart {
    /// The client's result of a call of its own function: `tool-{name}` (or `dynamic-tool`)
    /// parts that it ran, in a final state.
    fn tool_output(&self) -> Option<Value> {
        let is_tool = self.kind.starts_with("tool-") || self.kind == "dynamic-tool";
        if !is_tool || self.provider_executed == Some(true) {
            return None;
        }
        let output = match self.state.as_deref()? {
            "output-available" => self.output.clone().unwrap_or(Value::Null),
            // The call failed in the client: the model is told so, as OpenAI's guide does.
            "output-error" => json!({ "error": self.error_text.clone().unwrap_or_default() }),
            _ => return None,
        };
        Some(json!({ "call_id": self.tool_call_id, "output": output }))
    }

    /// The user's answer to an MCP approval request (`addToolApprovalResponse`).
    fn approval(&self) -> Option<Value> {
        let approval = self.approval.as_ref().filter(|_| self.state.as_deref() == Some("approval-responded"))?;
        Some(json!({ "approval_request_id": approval["id"], "approve": approval["approved"] }))
    }
}

/// Parses and validates the AI SDK's chat request: the last message is the new one (the user's,
/// checked like `message`); the ones before it are the history, unless `previous_response_id`
/// says OpenAI already holds it.
pub fn chat_request(request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError> {
    let expected = || ApiError::BadRequest("send {\"messages\": [...]} as the AI SDK's useChat does".into());
    let mut body: UiChatBody = parse_json_typed(request, expected, true)?;
    let tools = chat_core::functions::function_tools(body.tools.take())?;
    if let Some(answered) = tool_round_trip(&mut body, max_message_bytes)? {
        return Ok(ChatRequest { tools, ..answered });
    }
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
        turns.push(turn_of(role, message.parts)?);
    }
    let last = turns
        .pop()
        .ok_or_else(|| ApiError::BadRequest("`messages` is empty: end it with the user's message".into()))?;
    if last.role != Role::User {
        return Err(ApiError::BadRequest(
            "the last of `messages` must be the user's, or an answer whose tool calls carry their outputs".into(),
        ));
    }
    let message = match last.text.trim().is_empty() && !last.attachments.is_empty() {
        true => String::new(),
        false => validate_message(Some(last.text), max_message_bytes)?,
    };
    let previous_response_id = validate_previous_response_id(body.previous_response_id)?;
    // OpenAI holds the conversation a previous response id names; sending it again would double it.
    let earlier: Vec<Turn> = if previous_response_id.is_some() {
        Vec::new()
    } else {
        turns.into_iter().filter(|t| !t.text.trim().is_empty() || !t.attachments.is_empty()).collect()
    };
    let limit = max_message_bytes.saturating_mul(HISTORY_MESSAGES);
    let actual: usize = earlier.iter().map(|turn| turn.text.len()).sum();
    if actual > limit {
        return Err(ApiError::ConversationTooLong { actual, limit });
    }
    let attachments = last.attachments;
    Ok(ChatRequest { message, previous_response_id, earlier, tools, attachments, ..ChatRequest::default() })
}

/// A history that ends with an answer whose calls of the caller's functions now carry their
/// results (`addToolResult`, then `sendAutomaticallyWhen`): those results, as a follow-up of
/// that answer (`previous_response_id`, or the answer's own `responseId` metadata).
fn tool_round_trip(body: &mut UiChatBody, max_message_bytes: usize) -> Result<Option<ChatRequest>, ApiError> {
    let Some(last) = body.messages.last().filter(|message| message.role == "assistant") else { return Ok(None) };
    let outputs: Vec<Value> = last.parts.iter().filter_map(UiPart::tool_output).collect();
    let approvals: Vec<Value> = last.parts.iter().filter_map(UiPart::approval).collect();
    if outputs.is_empty() && approvals.is_empty() {
        return Ok(None);
    }
    let named = last.metadata.as_ref().and_then(|metadata| metadata["responseId"].as_str()).map(str::to_owned);
    let previous_response_id = validate_previous_response_id(body.previous_response_id.take().or(named))?;
    let Some(previous_response_id) = previous_response_id else {
        return Err(ApiError::InvalidToolOutputs(
            "the answer they follow is not named: its message has no `responseId` metadata, and no `previous_response_id` was sent".into(),
        ));
    };
    let tool_outputs = chat_core::functions::tool_outputs(Some(Value::Array(outputs)), max_message_bytes)?;
    let approvals = chat_core::approvals::approvals(Some(Value::Array(approvals)))?;
    Ok(Some(ChatRequest {
        previous_response_id: Some(previous_response_id),
        tool_outputs,
        approvals,
        outputs_of_whole_message: true,
        ..ChatRequest::default()
    }))
}

/// A message's text (its text parts joined) and a user's files. Reasoning, steps, sources,
/// tools and data parts are the UI's, not the conversation's.
fn turn_of(role: Role, parts: Vec<UiPart>) -> Result<Turn, ApiError> {
    let mut text = String::new();
    let mut files = Vec::new();
    for part in parts {
        match part.kind.as_str() {
            "text" => text.push_str(part.text.as_deref().unwrap_or_default()),
            // A user's files go with their turn; an answer's own files are the UI's.
            "file" if role == Role::User => {
                let name = part.filename.as_deref().unwrap_or("attachment");
                let url = part.url.as_deref().unwrap_or_default();
                files.push(chat_core::attachments::Attachment::from_data_url(url, name)?);
            }
            _ => {}
        }
    }
    let attachments = chat_core::attachments::checked(files, chat_core::attachments::READ_LIMIT)?;
    Ok(Turn { role, text, attachments })
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
        assert_eq!(chat.earlier, [Turn::text(Role::User, "hi"), Turn::text(Role::Assistant, "hello")]);
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
            (json!({ "messages": [{ "role": "user", "parts": [{ "type": "file", "url": "x" }] }] }), 400, "data URL"),
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
    fn an_answer_whose_calls_carry_results_is_a_follow_up_with_the_outputs() {
        let weather = json!({ "type": "function", "name": "get_weather", "parameters": { "type": "object" } });
        let answered = json!({
            "id": "a", "role": "assistant", "metadata": { "responseId": "resp_7", "model": "m" },
            "parts": [
                { "type": "tool-web_search", "toolCallId": "ws_1", "state": "output-available", "input": {}, "output": { "status": "completed" }, "providerExecuted": true },
                { "type": "tool-get_weather", "toolCallId": "call_1", "state": "output-available", "input": { "city": "Oslo" }, "output": { "celsius": -3 } },
                { "type": "dynamic-tool", "toolName": "now", "toolCallId": "call_2", "state": "output-error", "input": {}, "errorText": "no clock" },
                { "type": "tool-get_weather", "toolCallId": "call_3", "state": "input-available", "input": {} }
            ]
        });
        let chat = parse(json!({ "messages": [user("weather?"), answered], "tools": [weather] })).unwrap();
        assert_eq!(chat.previous_response_id.as_deref(), Some("resp_7"));
        assert_eq!((chat.message.as_str(), chat.earlier.len(), chat.outputs_of_whole_message), ("", 0, true));
        let outputs: Vec<(&str, &str)> =
            chat.tool_outputs.iter().map(|o| (o.call_id.as_str(), o.output.as_str())).collect();
        assert_eq!(outputs, [("call_1", r#"{"celsius":-3}"#), ("call_2", r#"{"error":"no clock"}"#)]);
        assert_eq!(chat.tools, [weather]);
        // An answer with results but no name to follow is refused, not sent whole.
        let unnamed = json!({ "role": "assistant", "parts": [{ "type": "tool-f", "toolCallId": "call_1", "state": "output-available", "output": 1 }] });
        let error = parse(json!({ "messages": [user("x"), unnamed] })).unwrap_err();
        assert_eq!(error.code(), "invalid_tool_outputs", "{}", error.detail());
        // Tools that are not the caller's functions are refused with their own code.
        let error = parse(json!({ "messages": [user("x")], "tools": [{ "type": "web_search" }] })).unwrap_err();
        assert_eq!(error.code(), "invalid_tools");
    }

    #[test]
    fn a_user_s_file_parts_are_attachments_of_their_turn_and_an_answer_s_are_not() {
        const PNG: &str =
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
        let file = json!({ "type": "file", "mediaType": "application/pdf", "filename": "dot.png", "url": format!("data:image/png;base64,{PNG}") });
        let first = json!({ "id": "u", "role": "user", "parts": [{ "type": "text", "text": "what is it?" }, file] });
        let answer = json!({ "id": "a", "role": "assistant", "parts": [{ "type": "text", "text": "a dot" }, file] });
        let only_a_file = json!({ "id": "u2", "role": "user", "parts": [file] });
        let chat = parse(json!({ "messages": [first, answer, only_a_file] })).unwrap();
        assert_eq!((chat.message.as_str(), chat.attachments.len()), ("", 1), "a file alone is a question");
        assert_eq!(chat.attachments[0].kind, chat_core::attachments::AttachmentKind::Png, "read from the bytes");
        assert_eq!(chat.attachments[0].name, "dot.png");
        let counts: Vec<usize> = chat.earlier.iter().map(|turn| turn.attachments.len()).collect();
        assert_eq!(counts, [1, 0], "sent again with the user's turn; an answer's own files are the UI's");
        let refused = json!({ "role": "user", "parts": [{ "type": "file", "url": "data:image/png;base64,aGVsbG8=" }] });
        assert_eq!(parse(json!({ "messages": [refused] })).unwrap_err().code(), "unsupported_attachment");
    }
}

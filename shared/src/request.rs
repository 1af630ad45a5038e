use lambda_http::{Body, Request};
use serde::Deserialize;

use chat_core::query::decode_component;
use chat_core::{ApiError, ChatRequest};

/// The names the parser reads a request by. The parser uses these constants, never the
/// literals, so that the OpenAPI drift test (index) can check each one against
/// `static/openapi.json`: a parameter added here is a parameter the document must describe.
pub mod names {
    /// `?message=`: what to ask (GET).
    pub const MESSAGE: &str = "message";
    /// `?previous_response_id=`: the answer a message follows (GET).
    pub const PREVIOUS_RESPONSE_ID: &str = "previous_response_id";
    /// `?errors=inline` (chat-stream): failures inside the event stream.
    pub const ERRORS: &str = "errors";
    /// The one value of [`ERRORS`] that means something.
    pub const ERRORS_INLINE: &str = "inline";
    /// `?last_event_id=` (chat-stream): a resume token, for clients that cannot set headers.
    pub const LAST_EVENT_ID: &str = "last_event_id";
    /// `?key=`: an access key (`ACCESS=keys`), read by [`spend::presented_key`].
    pub const KEY: &str = spend::KEY_PARAMETER;
    /// `?access_token=`: a signed-in user's token (`ACCESS=jwt`), read by [`spend::presented_token`].
    pub const ACCESS_TOKEN: &str = spend::TOKEN_PARAMETER;
    /// The header a reconnecting EventSource sends its last event's id in (lower case, as
    /// `http` names headers).
    pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";
    /// The path, after chat-stream's URL, that a `POST` stops an answer at.
    pub const STOP_PATH: &str = "/stop";
    /// `.../{id}/stream`: the AI SDK's reconnect to an answer.
    pub const STREAM_SEGMENT: &str = "/stream";
    /// `?startIndex=`: the UI chunks a `WorkflowChatTransport` already has.
    pub const START_INDEX: &str = "startIndex";
    /// `?approve=` and `?deny=` (GET, repeatable): the caller's yes or no to an MCP approval
    /// request of the answer `previous_response_id` names.
    pub const APPROVE: &str = "approve";
    pub const DENY: &str = "deny";
    /// Every query parameter any function reads: the drift test's list of what must be
    /// documented. A new constant above that names a query parameter belongs here too.
    pub const QUERY: [&str; 9] =
        [MESSAGE, PREVIOUS_RESPONSE_ID, ERRORS, LAST_EVENT_ID, KEY, ACCESS_TOKEN, START_INDEX, APPROVE, DENY];
}

#[derive(Deserialize)]
struct JsonBody {
    message: Option<String>,
    previous_response_id: Option<String>,
    /// The caller's own function tools.
    #[serde(default)]
    tools: Option<serde_json::Value>,
    /// The caller's answers to the calls of the answer `previous_response_id` names.
    #[serde(default)]
    tool_outputs: Option<serde_json::Value>,
    /// The caller's yes or no to the MCP approval requests of that answer.
    #[serde(default)]
    approvals: Option<serde_json::Value>,
    /// Pictures and documents, in base64.
    #[serde(default)]
    attachments: Option<serde_json::Value>,
}

/// Parses and validates a GET `?message=` or a POST JSON body.
pub fn chat_request(request: &Request, max_message_bytes: usize) -> Result<ChatRequest, ApiError> {
    let query = QueryString::parse(request.uri().query().unwrap_or(""))?;
    let body = match request.method().as_str() {
        "GET" => JsonBody {
            message: query.get(names::MESSAGE),
            previous_response_id: query.get(names::PREVIOUS_RESPONSE_ID),
            tools: None,
            tool_outputs: None,
            approvals: approvals_in_query(&query),
            attachments: None,
        },
        "POST" => parse_json_body(request)?,
        other => return Err(ApiError::MethodNotAllowed { method: other.to_owned(), allow: ApiError::ALLOW_ASK }),
    };
    let tools = chat_core::functions::function_tools(body.tools)?;
    let tool_outputs = chat_core::functions::tool_outputs(body.tool_outputs, max_message_bytes)?;
    let approvals = chat_core::approvals::approvals(body.approvals)?;
    let attachments = chat_core::attachments::attachments(body.attachments, chat_core::attachments::READ_LIMIT)?;
    let previous_response_id = validate_previous_response_id(body.previous_response_id)?;
    // Results, approvals and attachments are a turn of their own: a message is optional with them.
    let answers = !tool_outputs.is_empty() || !approvals.is_empty() || !attachments.is_empty();
    let message = match body.message {
        None if answers => String::new(),
        Some(text) if answers && text.trim().is_empty() => String::new(),
        message => validate_message(message, max_message_bytes)?,
    };
    let follows = "they answer an earlier answer: send its id as `previous_response_id`";
    match previous_response_id {
        None if !tool_outputs.is_empty() => return Err(ApiError::InvalidToolOutputs(follows.into())),
        None if !approvals.is_empty() => return Err(ApiError::InvalidApprovals(follows.into())),
        _ => {}
    }
    Ok(ChatRequest {
        message,
        previous_response_id,
        tools,
        tool_outputs,
        approvals,
        attachments,
        ..ChatRequest::default()
    })
}

/// `?approve=<id>` and `?deny=<id>` (each repeatable): an EventSource page's answers to MCP
/// approval requests, as `approvals`.
fn approvals_in_query(query: &QueryString) -> Option<serde_json::Value> {
    let answers: Vec<serde_json::Value> = [(names::APPROVE, true), (names::DENY, false)]
        .into_iter()
        .flat_map(|(name, approve)| {
            query.all(name).map(move |id| serde_json::json!({ "approval_request_id": id, "approve": approve }))
        })
        .collect();
    (!answers.is_empty()).then_some(serde_json::Value::Array(answers))
}

/// `errors=inline`: whether to report every failure inside the event stream (for EventSource
/// pages, which cannot read the body of a non-200 answer). Read apart from validation, so
/// that even a request that fails it gets its error in the form it asked for.
pub fn wants_inline_errors(request: &Request) -> bool {
    query_values(request, names::ERRORS).any(|v| v == names::ERRORS_INLINE)
}

/// Every value of the query parameter `name` (see [`chat_core::query::values`]).
pub fn query_values<'a>(request: &'a Request, name: &'a str) -> impl Iterator<Item = String> + 'a {
    chat_core::query::values(request.uri().query().unwrap_or(""), name)
}

#[derive(Deserialize)]
struct StopBody {
    response_id: Option<String>,
}

/// The response a `POST /stop` names, validated.
pub fn stop_target(request: &Request) -> Result<String, ApiError> {
    let missing =
        || ApiError::BadRequest("send {\"response_id\": \"...\"}: the id from the stream's `response` event".into());
    let body: StopBody = parse_json(request, missing)?;
    let id = body.response_id.filter(|id| !id.trim().is_empty()).ok_or_else(missing)?;
    validate_response_id(id, "response_id")
}

fn parse_json_body(request: &Request) -> Result<JsonBody, ApiError> {
    parse_json(request, || ApiError::MissingMessage)
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    request: &Request,
    empty: impl Fn() -> ApiError,
) -> Result<T, ApiError> {
    parse_json_typed(request, empty, false)
}

/// As [`parse_json`]; `plain_too` also takes JSON sent as `text/plain` (a CORS-simple request,
/// as the AI SDK's `WorkflowChatTransport` sends it).
pub(crate) fn parse_json_typed<T: serde::de::DeserializeOwned>(
    request: &Request,
    empty: impl Fn() -> ApiError,
    plain_too: bool,
) -> Result<T, ApiError> {
    if let Some(content_type) = request.headers().get(http::header::CONTENT_TYPE) {
        let value = content_type.to_str().unwrap_or_default();
        let essence = value.split(';').next().unwrap_or_default().trim();
        let plain = plain_too && essence.eq_ignore_ascii_case("text/plain");
        if !essence.eq_ignore_ascii_case("application/json") && !essence.is_empty() && !plain {
            return Err(ApiError::UnsupportedMediaType(value.to_owned()));
        }
    }
    let bytes = body_bytes(request);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(empty());
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let what = if error.is_data() { "the JSON body has the wrong shape" } else { "the body is not valid JSON" };
        let expected = match empty() {
            ApiError::BadRequest(expected) => expected,
            _ => "send {\"message\": \"...\"}".to_owned(),
        };
        ApiError::BadRequest(format!("{what} ({error}); {expected}"))
    })
}

/// The request body's bytes (none for an empty body).
pub(crate) fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// `previous_response_id` as sent: blank means a new chat, anything else must be an id.
pub(crate) fn validate_previous_response_id(id: Option<String>) -> Result<Option<String>, ApiError> {
    id.filter(|id| !id.trim().is_empty()).map(|id| validate_response_id(id, names::PREVIOUS_RESPONSE_ID)).transpose()
}

pub(crate) fn validate_message(message: Option<String>, max_bytes: usize) -> Result<String, ApiError> {
    let message = message.ok_or(ApiError::MissingMessage)?;
    if message.len() > max_bytes {
        return Err(ApiError::MessageTooLong { actual: message.len(), limit: max_bytes });
    }
    if message.trim().is_empty() {
        return Err(ApiError::BlankMessage);
    }
    if let Some(c) = message.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::ControlCharacter(c as u32));
    }
    Ok(message)
}

pub(crate) fn validate_response_id(id: String, field: &str) -> Result<String, ApiError> {
    if openai_client::resume::is_answer_id(&id) {
        Ok(id)
    } else {
        Err(ApiError::BadRequest(format!("`{field}` must be an id returned by an earlier answer")))
    }
}

/// A query string decoded strictly: broken percent-encoding or invalid UTF-8 is an error, not
/// a silently mangled message.
struct QueryString(Vec<(String, String)>);

impl QueryString {
    fn parse(raw: &str) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((decode_component(name)?, decode_component(value)?));
        }
        Ok(Self(pairs))
    }

    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// Every value of `name`, in order.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &str) -> Result<ChatRequest, ApiError> {
        let request = http::Request::get(format!("https://x/?{query}")).body(Body::Empty).unwrap();
        chat_request(&request, 64)
    }

    fn post(content_type: Option<&str>, body: &str) -> Result<ChatRequest, ApiError> {
        let mut builder = http::Request::post("https://x/");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        chat_request(&builder.body(Body::Text(body.into())).unwrap(), 64)
    }

    #[test]
    fn get_decodes_percent_and_plus() {
        let request = get("message=caf%C3%A9+au%20lait%26more").unwrap();
        assert_eq!(request.message, "café au lait&more");
        let raw = |query: &str| http::Request::get(format!("https://x/?{query}")).body(Body::Empty).unwrap();
        assert!(!wants_inline_errors(&raw("message=hi")));
        assert!(wants_inline_errors(&raw("message=hi&errors=inline")));
        assert!(wants_inline_errors(&raw("message=&errors=inline")));
        assert!(wants_inline_errors(&raw("message=%E0%A4%A&errors=inline")), "broken encoding elsewhere");
        assert!(wants_inline_errors(&raw("errors=%69nline&message=%zz")));
        assert!(!wants_inline_errors(&raw("errors=inlinex")));
    }

    #[test]
    fn missing_blank_long_and_control_messages_are_rejected() {
        assert_eq!(get(""), Err(ApiError::MissingMessage));
        assert_eq!(get("other=1"), Err(ApiError::MissingMessage));
        assert_eq!(get("message=%20%0A%09"), Err(ApiError::BlankMessage));
        assert_eq!(
            get(&format!("message={}", "a".repeat(65))),
            Err(ApiError::MessageTooLong { actual: 65, limit: 64 })
        );
        assert_eq!(get("message=a%00b"), Err(ApiError::ControlCharacter(0)));
        assert_eq!(get("message=line%0Anext").unwrap().message, "line\nnext");
    }

    #[test]
    fn broken_percent_encoding_is_a_clear_400() {
        for query in ["message=%E0%A4%A", "message=%zz", "message=%", "message=%C3%28"] {
            let error = get(query).unwrap_err();
            assert_eq!(error.status(), 400, "{query}");
            assert!(error.detail().contains("query string"), "{query}: {}", error.detail());
        }
    }

    #[test]
    fn post_json_is_accepted_and_checked() {
        let request =
            post(Some("application/json; charset=utf-8"), r#"{"message":"hi","previous_response_id":"resp_1"}"#)
                .unwrap();
        assert_eq!(request.message, "hi");
        assert_eq!(request.previous_response_id.as_deref(), Some("resp_1"));
        assert_eq!(post(None, r#"{"message":"hi"}"#).unwrap().message, "hi");
        assert_eq!(post(None, ""), Err(ApiError::MissingMessage));
        assert_eq!(post(None, "{}"), Err(ApiError::MissingMessage));
        assert!(post(None, "{not json").unwrap_err().detail().contains("not valid JSON"));
        assert!(post(None, r#"{"message":5}"#).unwrap_err().detail().contains("wrong shape"));
        assert!(post(None, r#"{"message":"x","previous_response_id":"../etc"}"#).is_err());
        assert_eq!(post(Some("text/plain"), "hi").unwrap_err().status(), 415);
    }

    #[test]
    fn other_methods_are_405() {
        let request = http::Request::delete("https://x/?message=hi").body(Body::Empty).unwrap();
        assert_eq!(chat_request(&request, 64).unwrap_err().status(), 405);
    }
}

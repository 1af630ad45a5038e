use std::borrow::Cow;

use lambda_http::{Body, Request};
use percent_encoding::percent_decode;
use serde::Deserialize;

use crate::ApiError;

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
    /// `?key=`: an access key (`ACCESS=keys`), read by [`crate::limits::presented_key`].
    pub const KEY: &str = "key";
    /// The header a reconnecting EventSource sends its last event's id in (lower case, as
    /// `http` names headers).
    pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";
    /// The path, after chat-stream's URL, that a `POST` stops an answer at.
    pub const STOP_PATH: &str = "/stop";
    /// Every query parameter any function reads: the drift test's list of what must be
    /// documented. A new constant above that names a query parameter belongs here too.
    pub const QUERY: [&str; 5] = [MESSAGE, PREVIOUS_RESPONSE_ID, ERRORS, LAST_EVENT_ID, KEY];
}

/// A validated chat request: what the user asked, and the turn it follows, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatRequest {
    pub message: String,
    pub previous_response_id: Option<String>,
    /// Who asks (set once the request is admitted); OpenAI gets a keyed hash of it.
    pub caller: Option<String>,
    /// The conversation before `message`, when the client sends it whole (the AI SDK's
    /// `messages`) rather than as `previous_response_id`; oldest first.
    pub earlier: Vec<Turn>,
}

/// One earlier turn of a conversation sent whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

/// Who said a turn, as the Responses API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

#[derive(Deserialize)]
struct JsonBody {
    message: Option<String>,
    previous_response_id: Option<String>,
}

impl ChatRequest {
    /// Parses and validates a GET `?message=` or a POST JSON body.
    pub fn from_http(request: &Request, max_message_bytes: usize) -> Result<Self, ApiError> {
        let query = QueryString::parse(request.uri().query().unwrap_or(""))?;
        let (message, previous_response_id) = match request.method().as_str() {
            "GET" => (query.get(names::MESSAGE), query.get(names::PREVIOUS_RESPONSE_ID)),
            "POST" => {
                let body = parse_json_body(request)?;
                (body.message, body.previous_response_id)
            }
            other => return Err(ApiError::MethodNotAllowed(other.to_owned())),
        };
        let message = validate_message(message, max_message_bytes)?;
        let previous_response_id = validate_previous_response_id(previous_response_id)?;
        Ok(Self { message, previous_response_id, caller: None, earlier: Vec::new() })
    }

    /// Bytes of text sent as input (each earlier turn counted with a little framing): a bound on
    /// the input's tokens, since a token is never shorter than a byte.
    pub fn input_bytes(&self) -> usize {
        self.message.len() + self.earlier.iter().map(|turn| turn.text.len() + 8).sum::<usize>()
    }

    /// `errors=inline`: whether to report every failure inside the event stream (for EventSource
    /// pages, which cannot read the body of a non-200 answer). Read apart from validation, so
    /// that even a request that fails it gets its error in the form it asked for.
    pub fn wants_inline_errors(request: &Request) -> bool {
        query_values(request, names::ERRORS).any(|v| v == names::ERRORS_INLINE)
    }
}

/// Every value of the query parameter `name`, read pair by pair, so that broken encoding
/// elsewhere in the query (which the strict parse of `message` refuses) cannot hide it; a
/// pair that does not decode is skipped.
pub fn query_values<'a>(request: &'a Request, name: &'a str) -> impl Iterator<Item = String> + 'a {
    request.uri().query().unwrap_or("").split('&').filter_map(move |pair| {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        decode_component(raw_name).ok().filter(|n| n == name)?;
        decode_component(raw_value).ok()
    })
}

/// What a request to chat-stream asks for, told apart before any validation of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamAction {
    /// A new answer.
    Ask,
    /// A new answer asked by the Vercel AI SDK (`POST {"messages": [...]}`), in its protocol.
    AskUiChat,
    /// The rest of an answer: the token a reconnecting EventSource sends as `Last-Event-ID`
    /// (or a client as `?last_event_id=`).
    Resume(String),
    /// `POST .../stop`.
    Stop,
}

impl StreamAction {
    pub fn of(request: &Request) -> Self {
        // Any method: a GET on the stop path is a wrong method (405), never a new question.
        if request.uri().path().trim_end_matches('/').ends_with(names::STOP_PATH) {
            return Self::Stop;
        }
        if request.method() != http::Method::GET {
            return if crate::ui_chat::asks(request) { Self::AskUiChat } else { Self::Ask };
        }
        let header = request.headers().get(names::LAST_EVENT_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let query = || query_values(request, names::LAST_EVENT_ID).next();
        match header.or_else(query).filter(|token| !token.trim().is_empty()) {
            Some(token) => Self::Resume(token),
            None => Self::Ask,
        }
    }
}

#[derive(Deserialize)]
struct StopBody {
    response_id: Option<String>,
}

/// The response a `POST /stop` names, validated.
pub fn stop_target(request: &Request) -> Result<String, ApiError> {
    let missing = || ApiError::BadRequest("send {\"response_id\": \"...\"}: the id from the stream's `response` event".into());
    let body: StopBody = parse_json(request, missing)?;
    let id = body.response_id.filter(|id| !id.trim().is_empty()).ok_or_else(missing)?;
    validate_response_id(id, "response_id")
}

fn parse_json_body(request: &Request) -> Result<JsonBody, ApiError> {
    parse_json(request, || ApiError::MissingMessage)
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(request: &Request, empty: impl Fn() -> ApiError) -> Result<T, ApiError> {
    if let Some(content_type) = request.headers().get(http::header::CONTENT_TYPE) {
        let value = content_type.to_str().unwrap_or_default();
        let essence = value.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/json") && !essence.is_empty() {
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
    let valid = id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
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
}

fn decode_component(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::BadRequest("the query string has broken percent-encoding; encode it with encodeURIComponent".into());
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(bad());
            }
        }
    }
    let plus_as_space: Cow<'_, str> =
        if raw.contains('+') { Cow::Owned(raw.replace('+', " ")) } else { Cow::Borrowed(raw) };
    percent_decode(plus_as_space.as_bytes())
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| ApiError::BadRequest("the query string is not valid UTF-8 once decoded".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(query: &str) -> Result<ChatRequest, ApiError> {
        let request = http::Request::get(format!("https://x/?{query}")).body(Body::Empty).unwrap();
        ChatRequest::from_http(&request, 64)
    }

    fn post(content_type: Option<&str>, body: &str) -> Result<ChatRequest, ApiError> {
        let mut builder = http::Request::post("https://x/");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        ChatRequest::from_http(&builder.body(Body::Text(body.into())).unwrap(), 64)
    }

    #[test]
    fn get_decodes_percent_and_plus() {
        let request = get("message=caf%C3%A9+au%20lait%26more").unwrap();
        assert_eq!(request.message, "café au lait&more");
        let raw = |query: &str| http::Request::get(format!("https://x/?{query}")).body(Body::Empty).unwrap();
        assert!(!ChatRequest::wants_inline_errors(&raw("message=hi")));
        assert!(ChatRequest::wants_inline_errors(&raw("message=hi&errors=inline")));
        assert!(ChatRequest::wants_inline_errors(&raw("message=&errors=inline")));
        assert!(ChatRequest::wants_inline_errors(&raw("message=%E0%A4%A&errors=inline")), "broken encoding elsewhere");
        assert!(ChatRequest::wants_inline_errors(&raw("errors=%69nline&message=%zz")));
        assert!(!ChatRequest::wants_inline_errors(&raw("errors=inlinex")));
    }

    #[test]
    fn missing_blank_long_and_control_messages_are_rejected() {
        assert_eq!(get(""), Err(ApiError::MissingMessage));
        assert_eq!(get("other=1"), Err(ApiError::MissingMessage));
        assert_eq!(get("message=%20%0A%09"), Err(ApiError::BlankMessage));
        assert_eq!(get(&format!("message={}", "a".repeat(65))), Err(ApiError::MessageTooLong { actual: 65, limit: 64 }));
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
        let request = post(Some("application/json; charset=utf-8"), r#"{"message":"hi","previous_response_id":"resp_1"}"#).unwrap();
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
    fn resume_and_stop_are_told_apart_from_a_new_question() {
        let get = |uri: &str, last: Option<&str>| {
            let mut builder = http::Request::get(uri);
            if let Some(last) = last {
                builder = builder.header("last-event-id", last);
            }
            StreamAction::of(&builder.body(Body::Empty).unwrap())
        };
        assert_eq!(get("https://x/?message=hi", None), StreamAction::Ask);
        assert_eq!(get("https://x/?message=hi", Some("resp_1.4.2.t")), StreamAction::Resume("resp_1.4.2.t".into()));
        assert_eq!(get("https://x/?last_event_id=resp_1.4.2.t", None), StreamAction::Resume("resp_1.4.2.t".into()));
        assert_eq!(get("https://x/?message=hi", Some(" ")), StreamAction::Ask);
        let stop = |path: &str, body: &str| http::Request::post(format!("https://x{path}")).body(Body::Text(body.into())).unwrap();
        assert_eq!(StreamAction::of(&stop("/stop", "")), StreamAction::Stop);
        assert_eq!(StreamAction::of(&stop("/", r#"{"message":"stop"}"#)), StreamAction::Ask);
        assert_eq!(stop_target(&stop("/stop", r#"{"response_id":"resp_1"}"#)), Ok("resp_1".into()));
        for bad in ["", "{}", r#"{"response_id":""}"#, r#"{"response_id":"../x"}"#, "nope", r#"{"response_id":5}"#] {
            let error = stop_target(&stop("/stop", bad)).unwrap_err();
            assert_eq!(error.status(), 400, "{bad}");
        }
        assert!(stop_target(&stop("/stop", "{}")).unwrap_err().detail().contains("response_id"));
    }

    #[test]
    fn other_methods_are_405() {
        let request = http::Request::delete("https://x/?message=hi").body(Body::Empty).unwrap();
        assert_eq!(ChatRequest::from_http(&request, 64).unwrap_err().status(), 405);
    }
}

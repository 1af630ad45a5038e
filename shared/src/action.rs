//! What a request to chat-stream asks for: a new answer (in the contract's events or the AI
//! SDK's stream), the rest of one, or a stop. Told apart before any validation of a message.

use lambda_http::Request;

use crate::request::{names, query_values};
use crate::ui_chat;

/// What a request to chat-stream asks for.
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
    /// `GET .../{id}/stream[?startIndex=N]`: the AI SDK's reconnect (`WorkflowChatTransport` by
    /// run id, `resume: true` by chat id), from UI chunk `start_index` (the raw value, if any).
    StreamAgain { id: String, start_index: Option<String> },
}

impl StreamAction {
    pub fn of(request: &Request) -> Self {
        // Any method: a GET on the stop path is a wrong method (405), never a new question.
        if request.uri().path().trim_end_matches('/').ends_with(names::STOP_PATH) {
            return Self::Stop;
        }
        // Any method, as for stop: a POST there is a wrong method (405), never a new question.
        if let Some(id) = stream_again_id(request.uri().path()) {
            let start_index = query_values(request, names::START_INDEX).next();
            return Self::StreamAgain { id, start_index };
        }
        if request.method() != http::Method::GET {
            return if ui_chat::asks(request) { Self::AskUiChat } else { Self::Ask };
        }
        let header =
            request.headers().get(names::LAST_EVENT_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let query = || query_values(request, names::LAST_EVENT_ID).next();
        match header.or_else(query).filter(|token| !token.trim().is_empty()) {
            Some(token) => Self::Resume(token),
            None => Self::Ask,
        }
    }
}

/// The id in `.../{id}/stream`; the transport's doubled slash after a URL ending in `/` is fine.
fn stream_again_id(path: &str) -> Option<String> {
    let rest = path.trim_end_matches('/').strip_suffix(names::STREAM_SEGMENT)?;
    let id = rest.rsplit('/').next().filter(|id| !id.is_empty())?;
    Some(id.to_owned())
}

#[cfg(test)]
mod tests {
    use lambda_http::{Body, http};

    use super::*;
    use crate::request::stop_target;

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
        let stop = |path: &str, body: &str| {
            http::Request::post(format!("https://x{path}")).body(Body::Text(body.into())).unwrap()
        };
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
    fn a_stream_path_asks_for_an_answer_again() {
        let get = |uri: &str| StreamAction::of(&http::Request::get(uri).body(Body::Empty).unwrap());
        let again = |id: &str, start: Option<&str>| StreamAction::StreamAgain {
            id: id.into(),
            start_index: start.map(Into::into),
        };
        assert_eq!(get("https://x//run.1.a/stream?startIndex=5"), again("run.1.a", Some("5")));
        assert_eq!(get("https://x/lambda-url/chat-stream/chat1/stream"), again("chat1", None));
        let post = http::Request::post("https://x/run.1.a/stream").body(Body::Empty).unwrap();
        assert_eq!(StreamAction::of(&post), again("run.1.a", None), "a wrong method, told as such");
        assert_eq!(get("https://x/stream?message=hi"), StreamAction::Ask);
        assert_eq!(get("https://x//stream"), StreamAction::Ask);
    }
}

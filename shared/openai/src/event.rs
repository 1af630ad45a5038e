//! One upstream event (the `data:` of an SSE event of the Responses API) read into what the chat
//! functions act on, [`UpstreamEvent`]; everything else OpenAI sends is skipped.

use crate::types::{ErrorObject, SUMMARY_PART_SEPARATOR, Source, Usage, WireEvent};
use chat_core::approvals::ApprovalRequest;
use chat_core::functions::FunctionCall;
use chat_core::{ApiError, redact};

/// What the chat functions act on; everything else upstream sends is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamEvent {
    /// The response exists upstream; its id continues the conversation.
    Created {
        id: String,
    },
    /// A piece of the reasoning summary (a new part starts with [`SUMMARY_PART_SEPARATOR`]).
    ReasoningDelta(String),
    TextDelta(String),
    Completed {
        usage: Option<Usage>,
    },
    /// The answer stopped early; the text so far stands.
    Incomplete {
        reason: String,
        usage: Option<Usage>,
    },
    /// The answer was cancelled upstream (a Stop): the text so far is all there is.
    Cancelled {
        usage: Option<Usage>,
    },
    /// A hosted tool at work: its type (`web_search`), its status (`in_progress`, `searching`,
    /// `completed`, ...) and, once it is done, what it searched for when OpenAI says.
    Tool {
        /// The call's item id, the same on every event about it.
        call: String,
        tool: String,
        status: String,
        query: Option<String>,
    },
    /// A page the answer's text cites (http or https only).
    Source(Source),
    /// A call of one of the caller's functions, its arguments whole: the answer waits on it.
    FunctionCall(FunctionCall),
    /// An MCP call waiting on the caller's yes: the answer ends with it.
    Approval(ApprovalRequest),
}

/// Reads one upstream event's JSON (`data:` of the SSE event). `Ok(None)` for the many events
/// the chat functions do not need. `key` is redacted from any message passed on.
pub fn parse(data: &str, key: &str) -> Result<Option<UpstreamEvent>, ApiError> {
    parse_positioned(data, key).map(|(_, item)| match item {
        Some(Item::Event(event)) => Some(event),
        Some(Item::ReasoningPart) | None => None,
    })
}

/// One upstream event as the stream reads it: an event to act on, or the start of a reasoning
/// part (a reasoning item, a summary part, a raw `reasoning_text` part).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item {
    Event(UpstreamEvent),
    ReasoningPart,
}

/// One definition of the reasoning text for live and stored answers alike: every non-empty
/// part, in order, set apart by [`SUMMARY_PART_SEPARATOR`] ([`ResponseObject::reasoning_summary`]).
/// Live, the separator goes before the first delta of a part after one that reached the reader,
/// so an empty part or item adds nothing, as it adds nothing to the stored text.
pub(crate) struct ReasoningParts {
    pub(crate) started: bool,
    pub(crate) pending: bool,
}

impl ReasoningParts {
    pub(crate) fn read(&mut self, item: Option<Item>) -> Option<UpstreamEvent> {
        match item? {
            Item::ReasoningPart => {
                self.pending = self.started;
                None
            }
            Item::Event(UpstreamEvent::ReasoningDelta(delta)) if !delta.is_empty() => {
                self.started = true;
                let separated = std::mem::take(&mut self.pending);
                Some(UpstreamEvent::ReasoningDelta(if separated {
                    format!("{SUMMARY_PART_SEPARATOR}{delta}")
                } else {
                    delta
                }))
            }
            Item::Event(event) => Some(event),
        }
    }
}

/// The error codes of a question refused for its content (OpenAI's `invalid_prompt`, Azure's
/// `content_filter`): the same question is refused anywhere, so it is never sent elsewhere.
pub const REFUSALS: [&str; 3] = ["invalid_prompt", "content_filter", "content_policy_violation"];

/// [`parse`], with the event's `sequence_number` when it has one.
pub(crate) fn parse_positioned(data: &str, key: &str) -> Result<(Option<u64>, Option<Item>), ApiError> {
    let event: WireEvent = serde_json::from_str(data).map_err(|error| {
        tracing::warn!(%error, "OpenAI sent an event that is not valid JSON");
        ApiError::MalformedUpstream
    })?;
    let failure = |error: Option<ErrorObject>, code: Option<String>, message: Option<String>| {
        let error = error.unwrap_or(ErrorObject { message, code, kind: None, param: None });
        // The question's own failures: the caller's to act on, never another provider's to try.
        match error.code.as_deref() {
            Some("context_length_exceeded") => return ApiError::ContextTooLong,
            Some(code) if REFUSALS.contains(&code) => {
                let text = error.message.unwrap_or_else(|| code.to_owned());
                return ApiError::UpstreamRejected(redact(&text, key));
            }
            _ => {}
        }
        let text = match (error.message, error.code) {
            (Some(message), _) => message,
            (None, Some(code)) => code,
            (None, None) => "OpenAI reported an error without details".into(),
        };
        ApiError::StreamFailed(redact(&text, key))
    };
    let cancelled = event.response.as_ref().is_some_and(|r| r.status.as_deref() == Some("cancelled"));
    let sequence = event.sequence_number;
    let typed = match event.kind.as_str() {
        // However OpenAI announces a cancel, the answer ends as stopped.
        "response.cancelled" | "response.failed" | "response.incomplete" | "response.completed" if cancelled => {
            Some(UpstreamEvent::Cancelled { usage: event.response.and_then(|r| r.usage) })
        }
        "response.output_text.delta" | "response.refusal.delta" => {
            Some(UpstreamEvent::TextDelta(event.delta.ok_or(ApiError::MalformedUpstream)?))
        }
        // A summary, or an open-weight model's raw reasoning: both are the model's reasoning.
        "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
            Some(UpstreamEvent::ReasoningDelta(event.delta.ok_or(ApiError::MalformedUpstream)?))
        }
        // Parts are paragraphs of their own, as OpenAI's own apps show them.
        "response.reasoning_summary_part.added" => return Ok((sequence, Some(Item::ReasoningPart))),
        "response.output_item.added" | "response.content_part.added" if event.starts_reasoning() => {
            return Ok((sequence, Some(Item::ReasoningPart)));
        }
        // A call of the caller's function, whole: its arguments exactly as the model wrote them.
        "response.output_item.done" if event.item.as_ref().is_some_and(|item| item.kind == "function_call") => {
            let item = event.item.unwrap_or_default();
            let call_id = item.call_id.filter(|id| !id.is_empty()).ok_or(ApiError::MalformedUpstream)?;
            let (name, arguments) = (item.name.unwrap_or_default(), item.arguments.unwrap_or_default());
            Some(UpstreamEvent::FunctionCall(FunctionCall { call_id, name, arguments }))
        }
        "response.output_item.done" if event.item.as_ref().is_some_and(|item| item.kind == "mcp_approval_request") => {
            let item = event.item.unwrap_or_default();
            let approval_request_id = item.id.filter(|id| !id.is_empty()).ok_or(ApiError::MalformedUpstream)?;
            Some(UpstreamEvent::Approval(ApprovalRequest {
                approval_request_id,
                server_label: item.server_label.unwrap_or_default(),
                name: item.name.unwrap_or_default(),
                arguments: item.arguments.unwrap_or_default(),
            }))
        }
        // A tool's call is over: its item says what it searched for.
        "response.output_item.done" => event.item.and_then(|item| {
            let tool = chat_core::tools::ToolKind::of_call(&item.kind)?;
            let query = item.action.and_then(|action| action.query);
            let call = item.id.unwrap_or_default();
            Some(UpstreamEvent::Tool { call, tool: tool.as_str().to_owned(), status: "completed".into(), query })
        }),
        "response.output_text.annotation.added" => {
            event.annotation.as_ref().and_then(|annotation| annotation.source()).map(UpstreamEvent::Source)
        }
        "response.created" => Some(UpstreamEvent::Created { id: event.response.unwrap_or_default().id }),
        "response.completed" => Some(UpstreamEvent::Completed { usage: event.response.and_then(|r| r.usage) }),
        "response.incomplete" => {
            let response = event.response.unwrap_or_default();
            let reason = response.incomplete_reason().unwrap_or("no reason given").to_owned();
            Some(UpstreamEvent::Incomplete { reason, usage: response.usage })
        }
        "response.failed" => {
            let error = event.response.and_then(|r| r.error);
            return Err(failure(error, None, None));
        }
        "error" => return Err(failure(event.error, event.code, event.message)),
        // A hosted tool's progress (`response.web_search_call.searching`), read once; else skipped.
        kind => tool_status(kind).map(|(tool, status)| UpstreamEvent::Tool {
            call: event.item_id.unwrap_or_default(),
            tool: tool.to_owned(),
            status: status.to_owned(),
            query: None,
        }),
    };
    Ok((sequence, typed.map(Item::Event)))
}

/// `(tool, status)` of a hosted tool's progress event (`response.web_search_call.searching`);
/// its `.completed` is read from the call's item instead, which says what it searched for.
fn tool_status(kind: &str) -> Option<(&'static str, &str)> {
    let (call, status) = kind.strip_prefix("response.")?.rsplit_once('.')?;
    let tool = chat_core::tools::ToolKind::of_call(call)?;
    (status != "completed").then_some((tool.as_str(), status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_and_terminal_events_are_typed() {
        let delta = parse(
            r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","logprobs":[]}"#,
            "k",
        );
        assert_eq!(delta, Ok(Some(UpstreamEvent::TextDelta("Hi".into()))));
        let done = parse(
            r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[],"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}}"#,
            "k",
        );
        assert_eq!(
            done,
            Ok(Some(UpstreamEvent::Completed {
                usage: Some(Usage {
                    input_tokens: 1,
                    output_tokens: 2,
                    total_tokens: 3,
                    output_tokens_details: None,
                    input_tokens_details: None,
                    tier: Default::default(),
                    tool_calls: Default::default()
                })
            }))
        );
        let cut = parse(
            r#"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}}"#,
            "k",
        );
        assert_eq!(cut, Ok(Some(UpstreamEvent::Incomplete { reason: "max_output_tokens".into(), usage: None })));
        assert_eq!(parse(r#"{"type":"response.in_progress"}"#, "k"), Ok(None));
        assert_eq!(parse(r#"{"type":"some.future.event","x":1}"#, "k"), Ok(None));
        let stopped = parse(
            r#"{"type":"response.cancelled","response":{"status":"cancelled","usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}}"#,
            "k",
        );
        assert!(matches!(stopped, Ok(Some(UpstreamEvent::Cancelled { usage: Some(_) }))), "{stopped:?}");
        let failed_as_cancelled = parse(r#"{"type":"response.failed","response":{"status":"cancelled"}}"#, "k");
        assert_eq!(failed_as_cancelled, Ok(Some(UpstreamEvent::Cancelled { usage: None })));
        assert_eq!(
            parse_positioned(r#"{"type":"response.in_progress","sequence_number":7}"#, "k"),
            Ok((Some(7), None))
        );
    }

    #[test]
    fn reasoning_summaries_are_typed_with_their_parts_apart() {
        let delta = r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs_1","output_index":0,"summary_index":0,"delta":"**Plan**","sequence_number":3,"obfuscation":"x"}"#;
        assert_eq!(parse(delta, "k"), Ok(Some(UpstreamEvent::ReasoningDelta("**Plan**".into()))));
        let first = r#"{"type":"response.reasoning_summary_part.added","item_id":"rs_1","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""}}"#;
        assert_eq!(parse_positioned(first, "k"), Ok((None, Some(Item::ReasoningPart))));
        assert_eq!(parse(first, "k"), Ok(None));
        let raw = r#"{"type":"response.reasoning_text.delta","item_id":"rs_1","output_index":0,"content_index":0,"delta":"think"}"#;
        assert_eq!(parse(raw, "k"), Ok(Some(UpstreamEvent::ReasoningDelta("think".into()))));
        let raw_part = r#"{"type":"response.content_part.added","output_index":0,"content_index":0,"part":{"type":"reasoning_text","text":""}}"#;
        let item = r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"reasoning","id":"rs_2","summary":[]}}"#;
        let message =
            r#"{"type":"response.output_item.added","output_index":2,"item":{"type":"message","id":"msg_1"}}"#;
        assert_eq!(parse_positioned(raw_part, "k"), Ok((None, Some(Item::ReasoningPart))));
        assert_eq!(parse_positioned(item, "k"), Ok((None, Some(Item::ReasoningPart))));
        assert_eq!(parse_positioned(message, "k"), Ok((None, None)));
        for done in ["response.reasoning_summary_text.done", "response.reasoning_summary_part.done"] {
            assert_eq!(
                parse(&format!(r#"{{"type":"{done}","summary_index":0,"text":"all"}}"#), "k"),
                Ok(None),
                "{done}"
            );
        }
        assert_eq!(parse(r#"{"type":"response.reasoning_summary_text.delta"}"#, "k"), Err(ApiError::MalformedUpstream));
    }

    #[test]
    fn reasoning_parts_are_set_apart_only_between_parts_that_have_text() {
        let delta = |text: &str| Some(Item::Event(UpstreamEvent::ReasoningDelta(text.into())));
        let mut parts = ReasoningParts { started: false, pending: false };
        let read: Vec<Option<UpstreamEvent>> = [
            Some(Item::ReasoningPart),
            delta("a"),
            delta("b"),
            Some(Item::ReasoningPart), // an empty part: nothing
            Some(Item::ReasoningPart),
            delta("c"),
        ]
        .into_iter()
        .map(|item| parts.read(item))
        .collect();
        let text: String = read
            .into_iter()
            .flatten()
            .map(|e| match e {
                UpstreamEvent::ReasoningDelta(t) => t,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(text, "ab\n\nc");
        // Resumed after reasoning reached the reader: the next part is set apart from it.
        let mut resumed = ReasoningParts { started: true, pending: false };
        assert_eq!(resumed.read(Some(Item::ReasoningPart)), None);
        assert_eq!(resumed.read(delta("d")), Some(UpstreamEvent::ReasoningDelta("\n\nd".into())));
    }

    #[test]
    fn failures_carry_a_redacted_message() {
        let failed = parse(
            r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"key sk-secret123 broke"}}}"#,
            "sk-secret123",
        );
        assert_eq!(failed, Err(ApiError::StreamFailed("key [redacted] broke".into())));
        let nested =
            parse(r#"{"type":"error","error":{"type":"invalid_request_error","code":"x","message":"nested"}}"#, "k");
        assert_eq!(nested, Err(ApiError::StreamFailed("nested".into())));
        let flat = parse(r#"{"type":"error","code":"x","message":"flat","param":null}"#, "k");
        assert_eq!(flat, Err(ApiError::StreamFailed("flat".into())));
        assert_eq!(parse("{oops", "k"), Err(ApiError::MalformedUpstream));
        assert_eq!(parse(r#"{"type":"response.output_text.delta"}"#, "k"), Err(ApiError::MalformedUpstream));
    }

    #[test]
    fn a_hosted_tool_s_progress_and_citations_are_typed() {
        let searching =
            parse(r#"{"type":"response.web_search_call.searching","output_index":0,"item_id":"ws_1"}"#, "k");
        let expected = UpstreamEvent::Tool {
            call: "ws_1".into(),
            tool: "web_search".into(),
            status: "searching".into(),
            query: None,
        };
        assert_eq!(searching, Ok(Some(expected)));
        // Its `.completed` is read from the item, which says what it searched for.
        assert_eq!(parse(r#"{"type":"response.web_search_call.completed","item_id":"ws_1"}"#, "k"), Ok(None));
        let done = parse(
            r#"{"type":"response.output_item.done","item":{"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"rust sse"}}}"#,
            "k",
        );
        let expected = UpstreamEvent::Tool {
            call: "ws_1".into(),
            tool: "web_search".into(),
            status: "completed".into(),
            query: Some("rust sse".into()),
        };
        assert_eq!(done, Ok(Some(expected)));
        let cited = parse(
            r#"{"type":"response.output_text.annotation.added","annotation":{"type":"url_citation","url":"https://a.example/x","title":"A <b>","start_index":0,"end_index":3}}"#,
            "k",
        );
        let source = Source { url: "https://a.example/x".into(), title: "A <b>".into() };
        assert_eq!(cited, Ok(Some(UpstreamEvent::Source(source))));
        // Only http and https are links; other annotations and arguments deltas are skipped.
        for skipped in [
            r#"{"type":"response.output_text.annotation.added","annotation":{"type":"url_citation","url":"javascript:alert(1)"}}"#,
            r#"{"type":"response.output_text.annotation.added","annotation":{"type":"file_citation","file_id":"f"}}"#,
            r#"{"type":"response.mcp_call_arguments.delta","delta":"{"}"#,
            r#"{"type":"response.output_item.done","item":{"type":"message","content":[]}}"#,
        ] {
            assert_eq!(parse(skipped, "k"), Ok(None), "{skipped}");
        }
    }

    #[test]
    fn a_function_call_is_read_once_whole() {
        let added = r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"","status":"in_progress"}}"#;
        assert_eq!(parse(added, "k"), Ok(None));
        let delta =
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"ci"}"#;
        assert_eq!(parse(delta, "k"), Ok(None));
        let done = r#"{"type":"response.output_item.done","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\": \"Oslo\"}","status":"completed"}}"#;
        let call = FunctionCall {
            call_id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city": "Oslo"}"#.into(),
        };
        assert_eq!(parse(done, "k"), Ok(Some(UpstreamEvent::FunctionCall(call))));
        let nameless =
            r#"{"type":"response.output_item.done","item":{"type":"function_call","name":"f","arguments":"{}"}}"#;
        assert_eq!(parse(nameless, "k"), Err(ApiError::MalformedUpstream));
    }
}

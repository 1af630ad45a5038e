//! The upstream event stream: SSE parsed by `eventsource-stream`, each event read into a typed
//! [`UpstreamEvent`], with the first-event, idle and overall time limits applied.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt, stream::BoxStream};
use tokio::time::Instant;

use super::types::{ErrorObject, Usage, WireEvent};
use crate::{ApiError, config::Timeouts, redact};

/// What the chat functions act on; everything else upstream sends is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamEvent {
    /// The response exists upstream; its id continues the conversation.
    Created { id: String },
    TextDelta(String),
    Completed { usage: Option<Usage> },
    /// The answer stopped early; the text so far stands.
    Incomplete { reason: String, usage: Option<Usage> },
}

/// A streamed answer. Yields events until the terminal one, or one error and then nothing.
/// Dropping it closes the upstream request, so no more tokens are paid for.
pub struct ResponseStream {
    inner: BoxStream<'static, Result<UpstreamEvent, ApiError>>,
    pub retries: u32,
}

impl ResponseStream {
    pub(super) fn new(
        response: reqwest::Response,
        key: Arc<str>,
        retries: u32,
        timeouts: Timeouts,
        first_token_by: Instant,
        deadline: Instant,
    ) -> Self {
        let inner = async_stream::stream! {
            let mut source = response.bytes_stream().eventsource();
            // Until the first text, only `first_token_by` counts: `response.created`, progress
            // and reasoning events do not move it. After it, each event opens an idle window.
            let mut seen_text = false;
            let mut limit = first_token_by;
            loop {
                let next = tokio::time::timeout_at(limit.min(deadline), source.next()).await;
                let event = match next {
                    Err(_) => {
                        let what = if Instant::now() >= deadline {
                            "the overall deadline"
                        } else if !seen_text {
                            "no first token in time"
                        } else {
                            "silent for too long"
                        };
                        yield Err(ApiError::UpstreamTimeout(what));
                        return;
                    }
                    Ok(None) => {
                        yield Err(ApiError::StreamFailed("the connection to OpenAI closed before the answer was complete".into()));
                        return;
                    }
                    Ok(Some(Err(error))) => {
                        tracing::warn!(error = %redact(&error.to_string(), &key), "the OpenAI stream broke");
                        yield Err(ApiError::StreamFailed("the connection to OpenAI broke before the answer was complete".into()));
                        return;
                    }
                    Ok(Some(Ok(event))) => event,
                };
                if event.data == "[DONE]" {
                    yield Err(ApiError::StreamFailed("OpenAI ended the stream without finishing the answer".into()));
                    return;
                }
                let parsed = parse(&event.data, &key);
                seen_text |= matches!(parsed, Ok(Some(UpstreamEvent::TextDelta(_))));
                if seen_text {
                    limit = Instant::now() + timeouts.idle;
                }
                match parsed {
                    Ok(Some(event)) => {
                        let terminal = matches!(event, UpstreamEvent::Completed { .. } | UpstreamEvent::Incomplete { .. });
                        yield Ok(event);
                        if terminal {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        yield Err(error);
                        return;
                    }
                }
            }
        };
        Self { inner: inner.boxed(), retries }
    }
}

impl Stream for ResponseStream {
    type Item = Result<UpstreamEvent, ApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Reads one upstream event's JSON (`data:` of the SSE event). `Ok(None)` for the many events
/// the chat functions do not need. `key` is redacted from any message passed on.
pub fn parse(data: &str, key: &str) -> Result<Option<UpstreamEvent>, ApiError> {
    let event: WireEvent = serde_json::from_str(data).map_err(|error| {
        tracing::warn!(%error, "OpenAI sent an event that is not valid JSON");
        ApiError::MalformedUpstream
    })?;
    let failure = |error: Option<ErrorObject>, code: Option<String>, message: Option<String>| {
        let error = error.unwrap_or(ErrorObject { message, code, kind: None });
        let text = match (error.message, error.code) {
            (Some(message), _) => message,
            (None, Some(code)) => code,
            (None, None) => "OpenAI reported an error without details".into(),
        };
        ApiError::StreamFailed(redact(&text, key))
    };
    Ok(match event.kind.as_str() {
        "response.output_text.delta" | "response.refusal.delta" => {
            Some(UpstreamEvent::TextDelta(event.delta.ok_or(ApiError::MalformedUpstream)?))
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
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_and_terminal_events_are_typed() {
        let delta = parse(r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","logprobs":[]}"#, "k");
        assert_eq!(delta, Ok(Some(UpstreamEvent::TextDelta("Hi".into()))));
        let done = parse(r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[],"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}}"#, "k");
        assert_eq!(done, Ok(Some(UpstreamEvent::Completed { usage: Some(Usage { input_tokens: 1, output_tokens: 2, total_tokens: 3, output_tokens_details: None }) })));
        let cut = parse(r#"{"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}}"#, "k");
        assert_eq!(cut, Ok(Some(UpstreamEvent::Incomplete { reason: "max_output_tokens".into(), usage: None })));
        assert_eq!(parse(r#"{"type":"response.in_progress"}"#, "k"), Ok(None));
        assert_eq!(parse(r#"{"type":"some.future.event","x":1}"#, "k"), Ok(None));
    }

    #[test]
    fn failures_carry_a_redacted_message() {
        let failed = parse(r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"key sk-secret123 broke"}}}"#, "sk-secret123");
        assert_eq!(failed, Err(ApiError::StreamFailed("key [redacted] broke".into())));
        let nested = parse(r#"{"type":"error","error":{"type":"invalid_request_error","code":"x","message":"nested"}}"#, "k");
        assert_eq!(nested, Err(ApiError::StreamFailed("nested".into())));
        let flat = parse(r#"{"type":"error","code":"x","message":"flat","param":null}"#, "k");
        assert_eq!(flat, Err(ApiError::StreamFailed("flat".into())));
        assert_eq!(parse("{oops", "k"), Err(ApiError::MalformedUpstream));
        assert_eq!(parse(r#"{"type":"response.output_text.delta"}"#, "k"), Err(ApiError::MalformedUpstream));
    }
}

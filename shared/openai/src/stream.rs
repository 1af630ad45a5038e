//! The upstream event stream: SSE parsed by `eventsource-stream`, each event read into a typed
//! [`UpstreamEvent`], with the first-event, idle and overall time limits applied.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt, stream::BoxStream};
use tokio::time::Instant;

use crate::types::{ErrorObject, ResponseObject, SUMMARY_PART_SEPARATOR, Usage, WireEvent};
use chat_core::{ApiError, Cut, Timeouts, Wait, redact};

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
}

/// A streamed answer. Yields events until the terminal one, or one error and then nothing.
/// Dropping it closes the upstream request, so no more tokens are paid for.
pub struct ResponseStream {
    inner: BoxStream<'static, Result<UpstreamEvent, ApiError>>,
    pub retries: u32,
    /// The `sequence_number` of the last event read ([`NO_SEQUENCE`] before any).
    sequence: Arc<AtomicU64>,
    /// Whether reasoning text reached the reader before this stream began (a resume): the next
    /// reasoning part then starts with [`SUMMARY_PART_SEPARATOR`], as the stored answer has it.
    reasoning_before: Arc<AtomicBool>,
    /// The model of the provider that answers (empty until [`ResponseStream::answered_by`]).
    model: String,
    /// Whether the fallback answers.
    fallback: bool,
}

const NO_SEQUENCE: u64 = u64::MAX;

/// How many events that cannot be read one answer may have: each is logged and skipped.
const MAX_UNREADABLE_EVENTS: u32 = 3;

impl ResponseStream {
    pub(super) fn new(
        response: reqwest::Response,
        key: Arc<str>,
        retries: u32,
        timeouts: Timeouts,
        first_token_by: Instant,
        deadline: Instant,
    ) -> Self {
        let sequence = Arc::new(AtomicU64::new(NO_SEQUENCE));
        let last_sequence = sequence.clone();
        let reasoning_before = Arc::new(AtomicBool::new(false));
        let reasoning_flag = reasoning_before.clone();
        let inner = async_stream::stream! {
            let mut parts = ReasoningParts { started: reasoning_flag.load(Ordering::Relaxed), pending: false };
            let mut source = capped_lines(response.bytes_stream()).eventsource();
            // Until the first text (or reasoning summary), only `first_token_by` counts:
            // `response.created` and progress events do not move it. After it, each event
            // opens an idle window.
            let mut seen_text = false;
            let mut limit = first_token_by;
            let mut unreadable = 0;
            loop {
                let next = tokio::time::timeout_at(limit.min(deadline), source.next()).await;
                let event = match next {
                    Err(_) => {
                        let what = if Instant::now() >= deadline {
                            Wait::Overall
                        } else if !seen_text {
                            Wait::FirstText
                        } else {
                            Wait::Silence
                        };
                        yield Err(ApiError::UpstreamTimeout(what));
                        return;
                    }
                    Ok(None) => {
                        yield Err(ApiError::StreamCut(Cut::Closed));
                        return;
                    }
                    Ok(Some(Err(error))) => {
                        tracing::warn!(error = %redact(&error.to_string(), &key), "the OpenAI stream broke");
                        yield Err(ApiError::StreamCut(Cut::Broke));
                        return;
                    }
                    Ok(Some(Ok(event))) => event,
                };
                if event.data == "[DONE]" {
                    yield Err(ApiError::StreamCut(Cut::Ended));
                    return;
                }
                let parsed = match parse_positioned(&event.data, &key) {
                    // One garbled event is skipped, as careful clients do; many mean the stream is not OpenAI's.
                    Err(ApiError::MalformedUpstream) if unreadable < MAX_UNREADABLE_EVENTS => {
                        unreadable += 1;
                        tracing::warn!(event = %redact(&event.event, &key), unreadable, "an event from OpenAI could not be read; skipped");
                        continue;
                    }
                    parsed => parsed,
                };
                let parsed = parsed.map(|(sequence, item)| {
                    if let Some(sequence) = sequence {
                        last_sequence.store(sequence, Ordering::Relaxed);
                    }
                    parts.read(item)
                });
                seen_text |= matches!(parsed, Ok(Some(UpstreamEvent::TextDelta(_) | UpstreamEvent::ReasoningDelta(_))));
                if seen_text {
                    limit = Instant::now() + timeouts.idle;
                }
                match parsed {
                    Ok(Some(event)) => {
                        let terminal = matches!(event, UpstreamEvent::Completed { .. } | UpstreamEvent::Incomplete { .. } | UpstreamEvent::Cancelled { .. });
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
        Self { inner: inner.boxed(), retries, sequence, reasoning_before, model: String::new(), fallback: false }
    }

    /// A stream read again after `offset` bytes reached the reader: reasoning parts after it
    /// are set apart from what the reader already has.
    /// Marks the stream as `provider`'s: who answers, and the answer's id as callers see it.
    pub(crate) fn answered_by(mut self, provider: &crate::ResponsesClient) -> Self {
        self.model = provider.config().model.clone();
        self.fallback = provider.is_fallback();
        if self.fallback {
            let provider = provider.clone();
            self.inner = self
                .inner
                .map(move |event| match event {
                    Ok(UpstreamEvent::Created { id }) => Ok(UpstreamEvent::Created { id: provider.presented_id(&id) }),
                    other => other,
                })
                .boxed();
        }
        self
    }

    /// The model that answers.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether the fallback answers (the primary failed or its circuit is open).
    pub fn from_fallback(&self) -> bool {
        self.fallback
    }

    pub(crate) fn resuming_at(self, offset: usize) -> Self {
        self.reasoning_before.store(offset > 0, Ordering::Relaxed);
        self
    }

    /// A finished response told as a stream: what a reader has not had of it after `offset`
    /// bytes of the reasoning summary and then the text (as a relay counts them), then how the
    /// answer ended.
    pub fn finished(response: &ResponseObject, offset: usize, key: &str) -> Self {
        let summary = response.reasoning_summary().unwrap_or_default();
        let text = response.output_text();
        let reasoning_rest = summary.get(offset.min(summary.len())..);
        let rest = text.get(offset.saturating_sub(summary.len())..);
        let (Some(reasoning_rest), Some(rest)) = (reasoning_rest, rest) else {
            // Past the end or inside a character: the reader's place is not in this answer, and
            // a rest made up from it would be wrong or silently short.
            tracing::warn!(
                offset,
                reasoning = summary.len(),
                text = text.len(),
                "a resume position does not fall in the stored answer"
            );
            return Self::failing(ApiError::ResumeLost);
        };
        let (reasoning_rest, rest) = (reasoning_rest.to_owned(), rest.to_owned());
        let usage = response.usage;
        let end = match response.status.as_deref() {
            Some("cancelled") => Ok(UpstreamEvent::Cancelled { usage }),
            Some("incomplete") => Ok(UpstreamEvent::Incomplete {
                reason: response.incomplete_reason().unwrap_or("no reason given").to_owned(),
                usage,
            }),
            Some("failed") => {
                let message = response.error.as_ref().and_then(|e| e.message.clone());
                Err(ApiError::StreamFailed(redact(&message.unwrap_or_else(|| "no reason given".into()), key)))
            }
            _ => Ok(UpstreamEvent::Completed { usage }),
        };
        let reasoning = (!reasoning_rest.is_empty()).then_some(Ok(UpstreamEvent::ReasoningDelta(reasoning_rest)));
        let events =
            reasoning.into_iter().chain((!rest.is_empty()).then_some(Ok(UpstreamEvent::TextDelta(rest)))).chain([end]);
        Self::of(events.collect())
    }

    fn failing(error: ApiError) -> Self {
        Self::of(vec![Err(error)])
    }

    fn of(events: Vec<Result<UpstreamEvent, ApiError>>) -> Self {
        Self {
            inner: futures_util::stream::iter(events).boxed(),
            retries: 0,
            sequence: Arc::new(AtomicU64::new(NO_SEQUENCE)),
            reasoning_before: Arc::new(AtomicBool::new(false)),
            model: String::new(),
            fallback: false,
        }
    }

    /// The `sequence_number` of the last event read: where a background stream resumes.
    pub fn last_sequence(&self) -> Option<u64> {
        self.sequence_reader().get()
    }

    /// Reads [`Self::last_sequence`] while the stream itself is lent to an adapter.
    pub fn sequence_reader(&self) -> SequenceReader {
        SequenceReader(self.sequence.clone())
    }
}

/// The `sequence_number` of the last event a [`ResponseStream`] read.
#[derive(Debug, Clone)]
pub struct SequenceReader(Arc<AtomicU64>);

impl SequenceReader {
    pub fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|s| *s != NO_SEQUENCE)
    }
}

impl Stream for ResponseStream {
    type Item = Result<UpstreamEvent, ApiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// The longest line an upstream event may have; past it the stream counts as broken, as a
/// connection that broke does (a server that never ends a line would otherwise fill the memory).
const MAX_LINE_BYTES: usize = 1 << 20;

/// `bytes`, failing once a line grows past [`MAX_LINE_BYTES`].
fn capped_lines(
    bytes: impl Stream<Item = reqwest::Result<bytes::Bytes>>,
) -> impl Stream<Item = Result<bytes::Bytes, String>> {
    let mut since_break = 0usize;
    bytes.map(move |chunk| {
        let chunk = chunk.map_err(|e| e.without_url().to_string())?;
        since_break = match chunk.iter().rposition(|b| matches!(b, b'\n' | b'\r')) {
            Some(at) => chunk.len() - at - 1,
            None => since_break.saturating_add(chunk.len()),
        };
        if since_break > MAX_LINE_BYTES {
            return Err(format!("an event line longer than {MAX_LINE_BYTES} bytes"));
        }
        Ok(chunk)
    })
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
enum Item {
    Event(UpstreamEvent),
    ReasoningPart,
}

/// One definition of the reasoning text for live and stored answers alike: every non-empty
/// part, in order, set apart by [`SUMMARY_PART_SEPARATOR`] ([`ResponseObject::reasoning_summary`]).
/// Live, the separator goes before the first delta of a part after one that reached the reader,
/// so an empty part or item adds nothing, as it adds nothing to the stored text.
struct ReasoningParts {
    started: bool,
    pending: bool,
}

impl ReasoningParts {
    fn read(&mut self, item: Option<Item>) -> Option<UpstreamEvent> {
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
fn parse_positioned(data: &str, key: &str) -> Result<(Option<u64>, Option<Item>), ApiError> {
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
    };
    Ok((sequence, typed.map(Item::Event)))
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
                    tier: Default::default()
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

    #[tokio::test]
    async fn a_line_past_the_cap_breaks_the_stream_and_lines_under_it_pass() {
        let chunks = |parts: Vec<Vec<u8>>| {
            futures_util::stream::iter(parts.into_iter().map(|p| Ok::<_, reqwest::Error>(bytes::Bytes::from(p))))
        };
        let fine: Vec<_> =
            capped_lines(chunks(vec![vec![b'a'; MAX_LINE_BYTES], b"\n".to_vec(), vec![b'b'; 10]])).collect().await;
        assert!(fine.iter().all(Result::is_ok));
        let endless: Vec<_> =
            capped_lines(chunks(vec![vec![b'a'; MAX_LINE_BYTES / 2], vec![b'a'; MAX_LINE_BYTES / 2 + 1]]))
                .collect()
                .await;
        assert!(endless.last().is_some_and(Result::is_err));
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
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod stream_tests;

//! The upstream event stream: SSE parsed by `eventsource-stream`, each event read into a typed
//! [`UpstreamEvent`], with the first-event, idle and overall time limits applied.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt, stream::BoxStream};
use tokio::time::Instant;

use crate::event::{ReasoningParts, UpstreamEvent, parse_positioned};
use crate::types::ResponseObject;
use chat_core::{ApiError, Cut, Timeouts, Wait, redact};

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

    /// The primary's health is told to its circuit by the answer's first event (a word, a
    /// summary, or its end), not by its headers: a primary that names answers and then stalls
    /// is not up.
    pub(crate) fn reporting_to(mut self, circuit: Arc<crate::circuit::Circuit>) -> Self {
        let mut circuit = Some(circuit);
        self.inner = self
            .inner
            .inspect(move |event| {
                let first = matches!(
                    event,
                    Ok(UpstreamEvent::TextDelta(_)
                        | UpstreamEvent::ReasoningDelta(_)
                        | UpstreamEvent::FunctionCall(_)
                        | UpstreamEvent::Approval(_)
                        | UpstreamEvent::Completed { .. }
                        | UpstreamEvent::Incomplete { .. })
                );
                if first && let Some(circuit) = circuit.take() {
                    circuit.succeeded();
                }
            })
            .boxed();
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
    /// (as a relay counts it: the bytes of the reasoning summary, then of the text, then one for
    /// each call of the caller's functions), then how the answer ended.
    pub fn finished(response: &ResponseObject, offset: usize, key: &str) -> Self {
        let summary = response.reasoning_summary().unwrap_or_default();
        let text = response.output_text();
        let calls = response.waiting_on();
        let calls_seen = offset.saturating_sub(summary.len() + text.len());
        let words_seen = offset.saturating_sub(calls_seen);
        let reasoning_rest = summary.get(words_seen.min(summary.len())..);
        let rest = text.get(words_seen.saturating_sub(summary.len())..).filter(|_| calls_seen <= calls.len());
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
        // A reader at the start has seen none of the tools' steps (they come before the text);
        // the sources are sent again whatever the place (a reader keeps each page once).
        let tools = if offset == 0 { response.tool_steps() } else { Vec::new() };
        let sources = response.sources().into_iter().map(UpstreamEvent::Source);
        let events = reasoning
            .into_iter()
            .chain(tools.into_iter().map(Ok))
            .chain((!rest.is_empty()).then_some(Ok(UpstreamEvent::TextDelta(rest))))
            .chain(calls.into_iter().skip(calls_seen).map(Ok))
            .chain(sources.map(Ok))
            .chain([end]);
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

#[cfg(test)]
#[path = "stream_tests.rs"]
mod stream_tests;

//! Relaying one answer to the reader, for a new question and for a resumed one alike: `start`,
//! each delta the moment it arrives (with its resume token as `id:` in background mode), pings
//! while the model is silent, how the answer ended (`usage`, `stopped` or `error`), then `end`.

use std::time::Duration;

use bytes::Bytes;
use chat_core::ApiError;
use futures_util::{StreamExt, stream::BoxStream};
use openai_client::resume::{Position, Signer};
use openai_client::types::Usage;
use openai_client::{OVERALL_DEADLINE, ResponseStream, ResponsesClient, UpstreamEvent};
use shared::{Outcome, RequestSummary};
use spend::Admission;
use tokio::time::Instant;

use crate::dialect::Dialect;
/// How often one relay reads the answer again after its own connection to OpenAI broke.
const MAX_UPSTREAM_RECONNECTS: u32 = 3;
/// How long an abandoned answer is followed to settle its reservation.
const SETTLE_PATIENCE: Duration = Duration::from_secs(15 * 60);
/// Why a silent model is given up on: silent past `OPENAI_MAX_THINK_MS` although working.
pub const THOUGHT_TOO_LONG: &str = "it thought for longer than this service waits";
/// How long a failed answer's cancel may take: within `openai_client::DEADLINE_MARGIN`.
const CANCEL_PATIENCE: Duration = Duration::from_secs(3);

/// Where the relay starts: a new answer, or a resumed one at a known position.
pub struct Start {
    pub upstream: ResponseStream,
    /// Who asked; binds the resume tokens (with access keys).
    pub caller: String,
    /// Known when resuming; set from `response.created` for a new background answer.
    pub signer: Option<Signer>,
    pub sequence: Option<u64>,
    pub offset: usize,
    /// When the model was last heard (epoch seconds), as a hand-over's token carried it: the
    /// silence `OPENAI_MAX_THINK_MS` bounds goes on across invocations.
    pub heard: Option<u64>,
}

/// The reservation of a new answer, settled exactly once: by the relay when it learns the
/// usage, or, when the relay is dropped first (its reader gone), by a task that waits for the
/// background answer to finish.
struct Settlement {
    admission: Option<Admission>,
    client: ResponsesClient,
    response_id: Option<String>,
    /// The request's id, for the line that counts the answer's tokens once it is settled.
    request_id: String,
}

impl Settlement {
    async fn settle(&mut self, usage: Option<Usage>) {
        if let Some(admission) = self.admission.take() {
            admission.settle(usage.as_ref().map(Usage::billed_tokens)).await;
        }
    }

    /// The reservation goes to the invocation that continues the answer.
    async fn hand_over(&mut self) {
        if let (Some(admission), Some(id)) = (self.admission.take(), self.response_id.as_deref()) {
            admission.hand_over(id).await;
        }
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        let (Some(admission), Some(id)) = (self.admission.take(), self.response_id.take()) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let client = self.client.clone();
        let request_id = std::mem::take(&mut self.request_id);
        runtime.spawn(async move {
            let usage = client.usage_when_finished(&id, SETTLE_PATIENCE).await;
            admission.settle(usage.as_ref().map(Usage::billed_tokens)).await;
            // The request's own line was written when its reader left: this one counts the tokens.
            drop(RequestSummary::settled_later("chat-stream", request_id, client.config(), &id, usage));
        });
    }
}

/// A background answer read again after the reader's last event, with no new model call:
/// streamed again while it runs, from the stored answer once it has finished.
async fn read_again(
    client: &ResponsesClient,
    signer: &Option<Signer>,
    sequence: Option<u64>,
    offset: usize,
    deadline: Instant,
) -> Result<ResponseStream, ApiError> {
    let response_id = signer.as_ref().map(|s| s.response_id().to_owned()).unwrap_or_default();
    client
        .continue_after(&Position { response_id, sequence: sequence.unwrap_or(0), offset, heard: None }, deadline)
        .await
}

/// The `Instant` of an epoch second (now, when it is in the future or too far past).
fn instant_of(epoch: u64) -> Instant {
    let ago = std::time::Duration::from_secs(openai_client::resume::epoch_seconds().saturating_sub(epoch));
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// The epoch second of an `Instant` in the past.
fn epoch_of(at: Instant) -> u64 {
    openai_client::resume::epoch_seconds().saturating_sub(at.elapsed().as_secs())
}

/// The `id:` of an event at this position, in background mode.
fn token(signer: &Option<Signer>, sequence: Option<u64>, offset: usize) -> Option<String> {
    signer.as_ref().map(|s| s.token(sequence.unwrap_or(0), offset))
}

pub fn relay(
    client: &ResponsesClient,
    start: Start,
    mut summary: RequestSummary,
    admission: Option<Admission>,
    deadline: Instant,
    mut dialect: Box<dyn Dialect>,
) -> BoxStream<'static, Bytes> {
    let client = client.clone();
    let heartbeat = client.config().heartbeat;
    let stream = async_stream::stream! {
        let Start { upstream, caller, mut signer, mut sequence, mut offset, heard } = start;
        let mut upstream = upstream;
        let response_id = signer.as_ref().map(|s| s.response_id().to_owned());
        let mut settlement = Settlement { admission, client: client.clone(), response_id, request_id: summary.request_id.clone() };
        let mut reconnects = 0;
        // When the model last showed it was working: a silence is judged from here, in this
        // invocation or, after a hand-over, in the one before.
        let mut heard_at = heard.map_or_else(Instant::now, instant_of);
        yield dialect.start();
        loop {
            let event = match tokio::time::timeout(heartbeat, upstream.next()).await {
                Err(_) => {
                    yield dialect.ping();
                    continue;
                }
                Ok(None) => break,
                Ok(Some(event)) => event,
            };
            sequence = upstream.last_sequence().or(sequence);
            if matches!(event, Ok(UpstreamEvent::TextDelta(_) | UpstreamEvent::ReasoningDelta(_))) {
                heard_at = Instant::now();
            }
            let failure = match event {
                Ok(UpstreamEvent::TextDelta(text)) => {
                    offset += text.len();
                    summary.text_sent(&text);
                    yield dialect.text(token(&signer, sequence, offset).as_deref(), &text);
                    continue;
                }
                // The offset counts the summary's bytes, then the text's, so a resume from a
                // stored answer continues inside the reasoning too.
                Ok(UpstreamEvent::ReasoningDelta(text)) => {
                    offset += text.len();
                    summary.reasoning_sent();
                    yield dialect.reasoning(token(&signer, sequence, offset).as_deref(), &text);
                    continue;
                }
                Ok(UpstreamEvent::Created { id }) => {
                    summary.response_id = Some(id.clone());
                    if client.config().resumable {
                        signer = client.signer(&caller, &id).await.ok();
                        settlement.response_id = Some(id.clone());
                    }
                    yield dialect.response(token(&signer, sequence, offset).as_deref(), &id);
                    continue;
                }
                Ok(UpstreamEvent::Completed { usage }) => {
                    summary.usage = usage;
                    // Settled before `end`: a browser closes the stream on `end`, and a body
                    // dropped then would drop the settlement with it.
                    settlement.settle(usage).await;
                    let finish = dialect.completed(token(&signer, sequence, offset).as_deref(), usage);
                    if !finish.is_empty() {
                        yield finish;
                    }
                    summary.outcome = Outcome::Completed;
                    break;
                }
                Ok(UpstreamEvent::Cancelled { usage }) => {
                    summary.usage = usage;
                    settlement.settle(usage).await;
                    yield dialect.stopped(token(&signer, sequence, offset).as_deref(), summary.response_id.as_deref(), usage);
                    summary.outcome = Outcome::Stopped;
                    break;
                }
                Ok(UpstreamEvent::Incomplete { reason, usage }) => {
                    summary.usage = usage;
                    if usage.is_some() {
                        settlement.settle(usage).await;
                    }
                    ApiError::Incomplete(reason)
                }
                // The connection to OpenAI broke, not necessarily the answer: read it again
                // from the last event, or from the stored response once it is finished.
                Err(ApiError::StreamCut(how)) if signer.is_some() && reconnects < MAX_UPSTREAM_RECONNECTS => {
                    reconnects += 1;
                    tracing::info!(how, "the stream from OpenAI was cut; reading the answer again");
                    match read_again(&client, &signer, sequence, offset, deadline).await {
                        Ok(next) => { upstream = next; continue; }
                        Err(error) => error,
                    }
                }
                // Silent past the first-text or idle timeout: a reasoning model may think for
                // minutes. Background mode can ask OpenAI: the answer is read again after the
                // last event (from the stored answer if it finished), so a response still
                // `queued` or `in_progress` is waited on, one gone or failed ends here.
                Err(ApiError::UpstreamTimeout(why)) if signer.is_some() && why != OVERALL_DEADLINE && heard_at.elapsed() < client.config().max_think => {
                    tracing::info!(why, silent_s = heard_at.elapsed().as_secs(), "the model is silent; asking OpenAI whether it is still working");
                    summary.silences_checked += 1;
                    match read_again(&client, &signer, sequence, offset, deadline).await {
                        Ok(next) => { upstream = next; continue; }
                        Err(error) => error,
                    }
                }
                Err(ApiError::UpstreamTimeout(why)) if signer.is_some() && why != OVERALL_DEADLINE => {
                    ApiError::UpstreamTimeout(THOUGHT_TOO_LONG)
                }
                Err(error) => error,
            };
            // Out of time, not out of answer: the next invocation streams the rest, told when
            // the model was last heard.
            let handover_id = match (&signer, &failure) {
                (Some(signer), ApiError::UpstreamTimeout(why)) if *why == OVERALL_DEADLINE => {
                    client.handover_token(signer, &caller, sequence.unwrap_or(0), offset, epoch_of(heard_at)).await.ok()
                }
                _ => None,
            };
            if let Some(last) = handover_id.as_deref().and_then(|id| dialect.hand_over(Some(id))) {
                settlement.hand_over().await;
                summary.outcome = Outcome::HandedOver;
                tracing::info!(response_id = summary.response_id.as_deref().unwrap_or_default(), "the invocation's time is up; handing the answer over to the reader's reconnect");
                yield last;
                drop(summary);
                return;
            }
            summary.failed(&failure, false);
            // Nobody will read the rest: a background answer that may still run is stopped, not
            // paid for, before the reader is told (a reader may close on `error`, and the body then).
            if let (Some(signer), false) = (&signer, matches!(failure, ApiError::Incomplete(_))) {
                let cancel_by = Instant::now() + CANCEL_PATIENCE;
                if let Ok(stopped) = client.cancel(signer.response_id(), cancel_by).await {
                    summary.usage = stopped.usage;
                    settlement.settle(stopped.usage).await;
                }
            }
            yield dialect.failed(token(&signer, sequence, offset).as_deref(), &failure, summary.usage);
            break;
        }
        yield dialect.end();
        drop(summary);
    };
    stream.boxed()
}

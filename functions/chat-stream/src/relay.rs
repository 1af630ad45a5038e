//! Relaying one answer to the reader, for a new question and for a resumed one alike: `start`,
//! each delta the moment it arrives (with its resume token as `id:` in background mode), pings
//! while the model is silent, how the answer ended (`usage`, `stopped` or `error`), then `end`.
//!
//! [`relay`] is a short loop over [`Relay`]: each upstream event is one [`Relay::on_event`]; an
//! interruption is read again ([`Relay::recover`]), handed over at the invocation's deadline
//! ([`Relay::hand_over`]), or ends the answer ([`Relay::fail`]).

use bytes::Bytes;
use chat_core::{ApiError, Wait};
use futures_util::{StreamExt, stream::BoxStream};
use openai_client::resume::Signer;
use openai_client::{ResponseStream, ResponsesClient, UpstreamEvent};
use shared::{Outcome, RequestSummary};
use tokio::time::Instant;

use crate::cursor::{Cursor, epoch_of, instant_of};
use crate::dialect::{Dialect, ToolStep};
use crate::pings::{Tick, with_pings};
use crate::settlement::{CANCEL_PATIENCE, Holding, Settlement};

/// How often one relay reads the answer again after its own connection to OpenAI broke.
const MAX_UPSTREAM_RECONNECTS: u32 = 3;

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
    /// An event already read from `upstream` (the one that named the answer), relayed first.
    pub first: Option<Result<UpstreamEvent, ApiError>>,
    /// A new answer from the primary: the question, asked of the fallback if the stream fails
    /// before anything reached the reader.
    pub question: Option<chat_core::ChatRequest>,
    /// The chat whose running answer this is (`resume: true`): recorded at the first word,
    /// cleared at the end.
    pub chat: Option<crate::chats::ChatRun>,
    /// An AI SDK chat's new answer, remembered once named so the next turn can go on from it.
    pub answer: Option<crate::chats::ChatAnswer>,
}

/// What one upstream event means for the reader.
enum Step {
    /// Bytes for the reader; the answer goes on.
    Send(Bytes),
    /// The connection to OpenAI broke, or the model is silent: read the answer again.
    ReadAgain,
    Stop(Ending),
    /// The answer failed or stalled before anything reached the reader: ask the fallback
    /// instead (the error is the reader's when there is none to ask).
    AskElsewhere(Box<chat_core::ChatRequest>, ApiError),
}

/// How this invocation's stream ends.
enum Ending {
    /// The answer is over (completed, stopped or failed): these bytes, then `end`.
    Finished(Bytes),
    /// The invocation's time is up while the answer goes on: these bytes, and no `end`.
    HandedOver(Bytes),
}

/// One answer on its way to one reader.
struct Relay {
    client: ResponsesClient,
    caller: String,
    cursor: Cursor,
    summary: RequestSummary,
    settlement: Settlement,
    dialect: Box<dyn Dialect>,
    deadline: Instant,
    reconnects: u32,
    /// The model that answers (the fallback's, when it does).
    model: String,
    /// The question, while the fallback may still be asked it instead.
    question: Option<chat_core::ChatRequest>,
    chat: Option<crate::chats::ChatRun>,
    answer: Option<crate::chats::ChatAnswer>,
}

pub fn relay(
    client: &ResponsesClient,
    mut start: Start,
    summary: RequestSummary,
    holding: Holding,
    deadline: Instant,
    dialect: Box<dyn Dialect>,
) -> BoxStream<'static, Bytes> {
    let heartbeat = client.config().heartbeat;
    let mut first = start.first.take();
    let (mut relay, mut upstream) = Relay::new(client, start, summary, holding, deadline, dialect);
    let stream = async_stream::stream! {
        yield relay.dialect.start();
        let ending = loop {
            let sequence = upstream.sequence_reader();
            // The adapter borrows this connection's stream; a recovered one replaces it after.
            let step = {
                let mut ticks = std::pin::pin!(with_pings(&mut upstream, heartbeat));
                loop {
                    let tick = match first.take() {
                        Some(event) => Some(Tick::Item(event)),
                        None => ticks.next().await,
                    };
                    match tick {
                        None => break Step::Stop(Ending::Finished(Bytes::new())),
                        Some(Tick::Ping) => yield relay.dialect.ping(),
                        Some(Tick::Item(event)) => {
                            relay.cursor.sequence = sequence.get().or(relay.cursor.sequence);
                            match relay.on_event(event).await {
                                Step::Send(bytes) if bytes.is_empty() => {}
                                Step::Send(bytes) => yield bytes,
                                other => break other,
                            }
                        }
                    }
                }
            };
            match step {
                Step::Send(bytes) => yield bytes,
                Step::Stop(ending) => break ending,
                Step::ReadAgain => match relay.recover().await {
                    Ok(next) => upstream = next,
                    Err(error) => break relay.stop_with(error).await,
                },
                Step::AskElsewhere(question, error) => match relay.ask_elsewhere(&question, error).await {
                    Ok(next) => upstream = next,
                    Err(error) => break relay.stop_with(error).await,
                },
            }
        };
        match ending {
            Ending::HandedOver(last) => {
                if !last.is_empty() {
                    yield last;
                }
            }
            Ending::Finished(last) => {
                if let Some(chat) = relay.chat.take() {
                    chat.finished();
                }
                if !last.is_empty() {
                    yield last;
                }
                yield relay.dialect.end();
            }
        }
        // After the last bytes (the reader never waits for it), before the invocation ends.
        if let Some(answer) = relay.answer.take() {
            answer.landed().await;
        }
    };
    stream.boxed()
}

impl Relay {
    fn new(
        client: &ResponsesClient,
        start: Start,
        summary: RequestSummary,
        holding: Holding,
        deadline: Instant,
        dialect: Box<dyn Dialect>,
    ) -> (Self, ResponseStream) {
        let Start { upstream, caller, signer, sequence, offset, heard, question, chat, answer, first: _ } = start;
        let response_id = signer.as_ref().map(|s| s.response_id().to_owned());
        let request_id = summary.request_id.clone();
        let from_fallback = upstream.from_fallback();
        let settlement = Settlement { holding, client: client.clone(), response_id, request_id, from_fallback };
        // A silence is judged from when the model was last heard, here or, after a hand-over,
        // in the invocation before.
        let heard_at = heard.map_or_else(Instant::now, instant_of);
        let cursor = Cursor { signer, sequence, offset, heard_at };
        let mut summary = summary;
        summary.answered_by(upstream.model(), upstream.from_fallback());
        let model = upstream.model().to_owned();
        let relay = Self {
            client: client.clone(),
            caller,
            cursor,
            summary,
            settlement,
            dialect,
            deadline,
            reconnects: 0,
            model,
            question: question.filter(|_| client.has_fallback() && !upstream.from_fallback()),
            chat,
            answer,
        };
        (relay, upstream)
    }

    /// What `event` means for the reader.
    async fn on_event(&mut self, event: Result<UpstreamEvent, ApiError>) -> Step {
        let event = match event {
            Ok(event) => event,
            Err(error) => return self.interrupted(error).await,
        };
        match event {
            UpstreamEvent::TextDelta(text) => {
                self.heard();
                self.cursor.offset += text.len();
                self.summary.text_sent(&text);
                Step::Send(self.dialect.text(self.cursor.token().as_deref(), &text))
            }
            // The offset counts the reasoning's bytes, then the text's, so a resume from a stored
            // answer continues inside the reasoning too.
            UpstreamEvent::ReasoningDelta(text) => {
                self.heard();
                self.cursor.offset += text.len();
                self.summary.reasoning_sent();
                Step::Send(self.dialect.reasoning(self.cursor.token().as_deref(), &text))
            }
            UpstreamEvent::Created { id } => {
                if !openai_client::resume::is_answer_id(&id) {
                    tracing::warn!(provider = ?self.summary.provider(), "the provider named its answer with an id a resume, a stop or a follow-up cannot carry: this answer streams, but cannot be resumed, stopped or continued");
                }
                self.summary.response_id = Some(id.clone());
                if let (Some(answer), false) = (&mut self.answer, self.settlement.from_fallback) {
                    answer.named(&id);
                }
                if self.client.config().resumable {
                    self.cursor.signer = self.client.signer(&self.caller, &id).await.ok();
                    self.settlement.response_id = Some(id.clone());
                }
                Step::Send(self.dialect.response(self.cursor.token().as_deref(), &id, &self.model))
            }
            UpstreamEvent::Tool { call, tool, status, query } => {
                self.heard();
                let step = ToolStep { call: &call, tool: &tool, status: &status, query: query.as_deref() };
                Step::Send(self.dialect.tool(self.cursor.token().as_deref(), &step))
            }
            // One offset step per call, so a resume from the stored answer knows which went out.
            UpstreamEvent::FunctionCall(call) => {
                self.heard();
                self.cursor.offset += 1;
                self.summary.function_calls = self.summary.function_calls.saturating_add(1);
                Step::Send(self.dialect.function_call(self.cursor.token().as_deref(), &call))
            }
            UpstreamEvent::Approval(request) => {
                self.heard();
                self.cursor.offset += 1;
                Step::Send(self.dialect.approval(self.cursor.token().as_deref(), &request))
            }
            // Each page once, however often the text cites it.
            UpstreamEvent::Source(source) => match self.summary.cited(&source.url) {
                true => Step::Send(self.dialect.source(self.cursor.token().as_deref(), &source)),
                false => Step::Send(Bytes::new()),
            },
            UpstreamEvent::Completed { usage } => {
                self.summary.usage = usage;
                // Settled before `end`: a browser closes the stream on `end`, and a body dropped
                // then would drop the settlement with it.
                self.summary.settles_answer |= self.settlement.settle(usage).await;
                self.summary.outcome = Outcome::Completed;
                Step::Stop(Ending::Finished(self.dialect.completed(self.cursor.token().as_deref(), usage)))
            }
            UpstreamEvent::Cancelled { usage } => {
                self.summary.usage = usage;
                self.summary.settles_answer |= self.settlement.settle(usage).await;
                self.summary.outcome = Outcome::Stopped;
                let response_id = self.summary.response_id.clone();
                let token = self.cursor.token();
                Step::Stop(Ending::Finished(self.dialect.stopped(token.as_deref(), response_id.as_deref(), usage)))
            }
            UpstreamEvent::Incomplete { reason, usage } => {
                self.summary.usage = usage;
                if usage.is_some() {
                    self.summary.settles_answer |= self.settlement.settle(usage).await;
                }
                Step::Stop(Ending::Finished(self.fail(ApiError::Incomplete(reason)).await))
            }
        }
    }

    /// The model showed it is working: its first word is where a chat's answer is recorded.
    fn heard(&mut self) {
        self.cursor.heard_at = Instant::now();
        if let Some(chat) = &mut self.chat {
            chat.record();
        }
    }

    /// An interruption: in background mode a broken connection or a silence is read again from
    /// OpenAI (a reasoning model may think for minutes, up to `OPENAI_MAX_THINK_MS`); the
    /// invocation's own deadline hands the answer over; anything else ends it.
    async fn interrupted(&mut self, error: ApiError) -> Step {
        let background = self.cursor.signer.is_some();
        let nothing_sent = self.summary.deltas == 0 && self.summary.reasoning_deltas == 0;
        // Named but silent past the first-event timeout, failed, or (in a plain stream, which
        // cannot be read again) cut: another provider may answer, as nothing was told yet.
        let elsewhere = match &error {
            ApiError::StreamFailed(_) | ApiError::MalformedUpstream => true,
            ApiError::UpstreamTimeout(Wait::FirstText) => true,
            ApiError::StreamCut(_) => !background,
            _ => false,
        };
        if nothing_sent
            && elsewhere
            && let Some(question) = self.question.take()
        {
            tracing::warn!(error = %error.log_detail(), "the answer failed or stalled before its first word");
            return Step::AskElsewhere(Box::new(question), error);
        }
        match error {
            ApiError::StreamCut(how) if background && self.reconnects < MAX_UPSTREAM_RECONNECTS => {
                self.reconnects += 1;
                tracing::info!(%how, "the stream from OpenAI was cut; reading the answer again");
                Step::ReadAgain
            }
            ApiError::UpstreamTimeout(Wait::FirstText | Wait::Silence | Wait::Headers) if background => {
                let silent = self.cursor.heard_at.elapsed();
                if silent >= self.client.config().max_think {
                    return Step::Stop(self.stop_with(ApiError::UpstreamTimeout(Wait::ThoughtTooLong)).await);
                }
                tracing::info!(why = %error, silent_s = silent.as_secs(), "the model is silent; asking OpenAI whether it is still working");
                self.summary.silences_checked += 1;
                Step::ReadAgain
            }
            error => Step::Stop(self.stop_with(error).await),
        }
    }

    /// The fallback's answer to `question`, in place of the primary's, which failed or stalled
    /// before anything reached the reader: that one is cancelled (nothing more of it is billed)
    /// and what it cost stays counted, with the fallback's answer reserved again when that cost
    /// is unknown (see `spend`'s `Admission::fail_over`); the reader is told the new answer's id
    /// and model by its own `response`.
    async fn ask_elsewhere(
        &mut self,
        question: &chat_core::ChatRequest,
        failed: ApiError,
    ) -> Result<ResponseStream, ApiError> {
        let (abandoned, usage) = crate::settlement::abandon(&self.client, self.cursor.signer.take()).await;
        if let Some(usage) = usage {
            self.summary.abandoned(usage);
        }
        (self.cursor.sequence, self.cursor.offset) = (None, 0);
        self.settlement.response_id = None;
        self.settlement.fail_over(abandoned).await?;
        let next = self.client.stream_elsewhere(question, self.deadline).await.ok_or(failed)??;
        self.summary.answered_by(next.model(), next.from_fallback());
        self.summary.retries += next.retries;
        self.settlement.from_fallback = next.from_fallback();
        self.model = next.model().to_owned();
        Ok(next)
    }

    /// The answer read again after the reader's last event, with no new model call: streamed
    /// again while it runs, from the stored answer once it has finished.
    async fn recover(&mut self) -> Result<ResponseStream, ApiError> {
        let position = self.cursor.position().ok_or(ApiError::StreamCut(chat_core::Cut::Broke))?;
        self.client.continue_after(&position, self.deadline).await
    }

    /// Out of time, not out of answer: handed over when this dialect's client can follow;
    /// otherwise, and for every other error, the answer fails.
    async fn stop_with(&mut self, error: ApiError) -> Ending {
        if error == ApiError::UpstreamTimeout(Wait::Overall)
            && let Some(last) = self.hand_over().await
        {
            return Ending::HandedOver(last);
        }
        Ending::Finished(self.fail(error).await)
    }

    /// The last bytes of a stream the reader's reconnect continues, told when the model was last
    /// heard; the reservation goes along.
    async fn hand_over(&mut self) -> Option<Bytes> {
        let signer = self.cursor.signer.as_ref()?;
        let (sequence, offset) = (self.cursor.sequence.unwrap_or(0), self.cursor.offset);
        let heard = epoch_of(self.cursor.heard_at);
        let id = self.client.handover_token(signer, &self.caller, sequence, offset, heard).await.ok()?;
        let last = self.dialect.hand_over(Some(&id))?;
        self.settlement.hand_over().await;
        self.summary.outcome = Outcome::HandedOver;
        let response_id = self.summary.response_id.as_deref().unwrap_or_default();
        tracing::info!(response_id, "the invocation's time is up; handing the answer over to the reader's reconnect");
        Some(last)
    }

    /// The answer ends with `error`. Nobody will read the rest: a background answer that may
    /// still run is stopped, not paid for, before the reader is told (a reader may close on
    /// `error`, and the body then).
    async fn fail(&mut self, error: ApiError) -> Bytes {
        self.summary.failed(&error, false);
        if let (Some(signer), false) = (&self.cursor.signer, matches!(error, ApiError::Incomplete(_))) {
            let cancel_by = Instant::now() + CANCEL_PATIENCE;
            if let Ok(stopped) = self.client.cancel(signer.response_id(), cancel_by).await {
                self.summary.usage = stopped.usage;
                self.summary.settles_answer |= self.settlement.settle(stopped.usage).await;
            }
        }
        self.dialect.failed(self.cursor.token().as_deref(), &error, self.summary.usage)
    }
}

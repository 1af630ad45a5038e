//! New answers: `POST /responses`, buffered (the whole answer) or streamed, with the body built
//! from the question (its owner tag and safety identifier included).

use std::future::Future;

use chat_core::{ApiError, ChatRequest, ProviderFailure, redact};
use tokio::time::Instant;

use chat_core::attempt::{Abandoned, FailoverTab, Untracked};

use crate::circuit::Try;
use crate::client::ResponsesClient;
use crate::retry::{Call, SUMMARY_REFUSED, Sent, read_object};
use crate::stream::ResponseStream;
use crate::types::{self, CreateResponse, Usage};

/// A whole answer from a buffered call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub id: String,
    pub text: String,
    /// The reasoning summary, when the model reasoned and one was asked for.
    pub reasoning: Option<String>,
    pub usage: Option<Usage>,
    /// Why the answer stops early (`max_output_tokens`, `content_filter`), when it does.
    pub incomplete_reason: Option<String>,
    pub retries: u32,
    /// The model that answered (the fallback's, when it did).
    pub model: String,
    /// Whether the fallback answered.
    pub from_fallback: bool,
    /// The pages the answer cites (web search), each once.
    pub sources: Vec<crate::types::Source>,
    /// The calls of the caller's functions the answer waits on, in order.
    pub function_calls: Vec<chat_core::functions::FunctionCall>,
    /// The MCP calls waiting on the caller's yes, in order.
    pub approval_requests: Vec<chat_core::approvals::ApprovalRequest>,
}

impl ResponsesClient {
    /// Asks for the whole answer and waits for it, from the fallback when the primary cannot,
    /// with no account of what a failover's abandoned attempt cost (tools and tests; the
    /// functions use [`ResponsesClient::create_within`]).
    pub async fn create(&self, request: &ChatRequest, deadline: Instant) -> Result<Completion, ApiError> {
        self.create_within(request, deadline, &mut Untracked).await
    }

    /// [`ResponsesClient::create`], counting what an abandoned primary attempt cost on `tab`
    /// (the question's reservation) before the fallback is asked.
    pub async fn create_within(
        &self,
        request: &ChatRequest,
        deadline: Instant,
        tab: &mut dyn FailoverTab,
    ) -> Result<Completion, ApiError> {
        let ask = |provider: ResponsesClient, by: Instant| async move { provider.create_here(request, by).await };
        self.with_failover(request, deadline, tab, Answered::Whole, ask).await
    }

    /// Starts a streamed answer, from the fallback when the primary cannot, with no account of
    /// an abandoned attempt (tools and tests; the functions use [`ResponsesClient::stream_within`]).
    pub async fn stream(&self, request: &ChatRequest, deadline: Instant) -> Result<ResponseStream, ApiError> {
        self.stream_within(request, deadline, &mut Untracked).await
    }

    /// Starts a streamed answer, from the fallback when the primary cannot, counting what an
    /// abandoned primary attempt cost on `tab` first. Returns once upstream has accepted the
    /// request (retrying before that when it is safe), so a failure here can still become an
    /// HTTP error status.
    pub async fn stream_within(
        &self,
        request: &ChatRequest,
        deadline: Instant,
        tab: &mut dyn FailoverTab,
    ) -> Result<ResponseStream, ApiError> {
        let ask = |provider: ResponsesClient, by: Instant| async move { provider.stream_here(request, by).await };
        self.with_failover(request, deadline, tab, Answered::AtFirstEvent, ask).await
    }

    /// The same new answer from the fallback, after the primary's stream failed before anything
    /// of it reached the caller (an `error` event or `response.failed` right after
    /// `response.created`, or no first event in time); `None` when there is no fallback to ask
    /// (none set, or a follow-up, which stays with the provider holding its conversation). What
    /// the primary's attempt cost must be on the question's tab before this is called.
    pub async fn stream_elsewhere(
        &self,
        request: &ChatRequest,
        deadline: Instant,
    ) -> Option<Result<ResponseStream, ApiError>> {
        let fallback = self.fallback.as_ref().filter(|_| request.previous_response_id.is_none())?;
        tracing::warn!("the primary's answer failed or stalled before its first word: asking the fallback");
        self.circuit.failed();
        Some(fallback.stream_here(request, deadline).await)
    }

    /// Whether a new answer may go to a fallback (one is set).
    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// The provider that gave an answer: the fallback when `fallback` (and one is set), else this.
    pub fn provider(&self, fallback: bool) -> &Self {
        match (&self.fallback, fallback) {
            (Some(provider), true) => provider,
            _ => self,
        }
    }

    /// Sends a new answer where it belongs: a follow-up to the provider that holds its
    /// conversation (never a silent new one elsewhere); otherwise the primary, and the fallback
    /// when the primary fails in a way another provider could answer, or while its circuit is
    /// open. Before the fallback is asked, what the primary's attempt may have cost goes on
    /// `tab`, which may refuse (a limit reached). Nothing has reached the caller at this point,
    /// so nothing is told twice.
    async fn with_failover<T, F, Fut>(
        &self,
        request: &ChatRequest,
        deadline: Instant,
        tab: &mut dyn FailoverTab,
        answered: Answered,
        ask: F,
    ) -> Result<T, ApiError>
    where
        F: Fn(ResponsesClient, Instant) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let Some(fallback) = &self.fallback else { return ask(self.clone(), deadline).await };
        if let Some(previous) = request.previous_response_id.as_deref() {
            let holder = self.for_id(previous);
            return match ask(holder.clone(), deadline).await {
                // Down for now: said so (a 429 keeps its own words and Retry-After, and a key or
                // model refused is the owner's to fix).
                Err(error) if matches!(error.provider_failure(), ProviderFailure::Down { .. }) => {
                    tracing::warn!(error = %error.log_detail(), fallback = holder.is_fallback(), "the provider that holds this conversation cannot answer its follow-up");
                    Err(ApiError::HolderUnavailable { fallback: holder.is_fallback() })
                }
                other => other,
            };
        }
        if request.counted_by_fallback {
            // Its reservation holds the fallback's count of its pictures, not the primary's.
            return ask((**fallback).clone(), deadline).await;
        }
        let primary = match self.circuit.next(self.probe_lease()) {
            Try::Primary => self.clone(),
            Try::Probe => self.single_attempt(),
            Try::Fallback => return ask((**fallback).clone(), deadline).await,
        };
        match ask(primary, answered.primary_deadline(deadline)).await {
            Err(error) if error.another_provider_could_answer() => {
                tracing::warn!(error = %error.log_detail(), "the primary could not take the answer: asking the fallback");
                self.circuit.failed();
                tab.fail_over(Abandoned::by(&error)).await?;
                ask((**fallback).clone(), deadline).await
            }
            // A whole answer shows the primary is up; a stream shows it at its first event.
            Ok(answer) => {
                if answered == Answered::Whole {
                    self.circuit.succeeded();
                }
                Ok(answer)
            }
            // The primary answered, if only to refuse the question: it is up.
            Err(refused) if refused.provider_failure() == ProviderFailure::RefusedTheQuestion => {
                self.circuit.succeeded();
                Err(refused)
            }
            // Neither way (our own failure, say): a probe's turn passes to the next request.
            failed => {
                self.circuit.undecided();
                failed
            }
        }
    }

    /// How long a probe that went out as a stream may take to show the primary's health (its
    /// first event) before another request may probe: its reader may leave before either.
    fn probe_lease(&self) -> std::time::Duration {
        self.config.timeouts.first_event + crate::circuit::PROBE_EVERY
    }

    /// Asks this provider for the whole answer and waits for it.
    async fn create_here(&self, request: &ChatRequest, deadline: Instant) -> Result<Completion, ApiError> {
        let sent = self.send_create(request, false, deadline, None).await?;
        let Sent { response, key, retries, .. } = sent;
        let response = read_object(response, deadline).await?;
        match response.status.as_deref() {
            Some("failed") => {
                let message = response.error.and_then(|e| e.message).unwrap_or_else(|| "no reason given".into());
                Err(ApiError::StreamFailed(redact(&message, &key)))
            }
            _ => Ok(Completion {
                sources: response.sources(),
                function_calls: response.function_calls(),
                approval_requests: response.approval_requests(),
                text: response.output_text(),
                reasoning: response.reasoning_summary(),
                incomplete_reason: response.incomplete_reason().map(str::to_owned),
                id: self.presented_id(&response.id),
                usage: response.usage,
                retries,
                model: self.config.model.clone(),
                from_fallback: self.is_fallback(),
            }),
        }
    }

    /// Starts a streamed answer at this provider.
    async fn stream_here(&self, request: &ChatRequest, deadline: Instant) -> Result<ResponseStream, ApiError> {
        let first_token = self.config.timeouts.first_event;
        let sent = self.send_create(request, true, deadline, Some(first_token)).await?;
        // The first token is due a window after the attempt that was accepted was sent.
        let first_token_by = (sent.sent_at + first_token).min(deadline);
        let stream =
            ResponseStream::new(sent.response, sent.key, sent.retries, self.config.timeouts, first_token_by, deadline)
                .answered_by(self);
        Ok(match self.is_fallback() {
            true => stream,
            false => stream.reporting_to(self.circuit.clone()),
        })
    }

    /// Sends a create; refused for its `reasoning.summary` (OpenAI gives summaries only to
    /// verified organizations), sends it once more without, and asks for none from then on. A
    /// 400 generated nothing, so sending again cannot pay twice.
    async fn send_create(
        &self,
        request: &ChatRequest,
        stream: bool,
        deadline: Instant,
        first: Option<std::time::Duration>,
    ) -> Result<Sent, ApiError> {
        use std::sync::atomic::Ordering;
        let key = self.signing_key().await?;
        let tools = self.owner_tools().await?;
        let summary = !self.summaries_refused.load(Ordering::Relaxed);
        let body = |summary| self.create_call(self.body(request, stream, &key, summary, &tools));
        match self.send(&body(summary), deadline, first).await {
            Err(ApiError::UpstreamRejected(why)) if summary && why.starts_with(SUMMARY_REFUSED) => {
                self.summaries_refused.store(true, Ordering::Relaxed);
                tracing::warn!(%why, "OpenAI refuses reasoning summaries (the model takes none, or the organization is not verified for them on platform.openai.com; OPENAI_REASONING_SUMMARY=off stops asking); answering without them");
                self.send(&body(false), deadline, first).await
            }
            other => other,
        }
    }

    fn create_call(&self, body: bytes::Bytes) -> Call {
        Call { method: reqwest::Method::POST, url: self.endpoint.clone(), body: Some(body), names_a_response: false }
    }

    fn body(
        &self,
        request: &ChatRequest,
        stream: bool,
        signing_key: &str,
        summary: bool,
        owner_tools: &[serde_json::Value],
    ) -> bytes::Bytes {
        let safety_identifier =
            request.caller.as_deref().map(|caller| crate::owner::safety_identifier(caller, signing_key));
        let prompt_cache_key =
            request.caller.as_deref().map(|caller| crate::owner::prompt_cache_key(caller, signing_key));
        // Only a streamed answer is worth resuming or stopping; a buffered one ends with its call.
        let background = stream && self.config.resumable;
        let body = CreateResponse {
            // Every answer names its owner, so that only they may continue the conversation, and
            // this deployment, so that nothing here stops another app's answers.
            metadata: Some(types::Metadata {
                owner: safety_identifier.clone(),
                deployment: Some(crate::owner::deployment_tag(signing_key)),
            }),
            background,
            safety_identifier,
            prompt_cache_key,
            model: &self.config.model,
            input: types::Input::of(request, self.config.image_detail),
            instructions: self.config.instructions.as_deref(),
            previous_response_id: request.previous_response_id.as_deref().map(|id| self.own_id(id)),
            max_output_tokens: self.config.max_output_tokens,
            stream,
            reasoning: self
                .reasoning
                .map(|r| types::ReasoningParam {
                    effort: r.effort,
                    summary: r.summary.filter(|_| summary),
                    context: r.context,
                })
                .filter(|r| r.effort.is_some() || r.summary.is_some() || r.context.is_some()),
            store: true,
            service_tier: self.config.service_tier,
            context_management: self
                .config
                .compact_threshold
                .map(|compact_threshold| [types::Compaction { kind: "compaction", compact_threshold }]),
            tools: owner_tools.iter().chain(&request.tools).collect(),
            max_tool_calls: self.config.tools.as_ref().map(|tools| tools.max_calls),
        };
        serde_json::to_vec(&body).unwrap_or_default().into()
    }
}

/// When a new answer shows its provider is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answered {
    /// A buffered answer: when it arrives.
    Whole,
    /// A stream: at its first event, not at its headers.
    AtFirstEvent,
}

impl Answered {
    /// When the primary must have answered for the fallback to have its turn: a stream has its
    /// first-event window; a buffered answer's headers come only with the whole answer, so the
    /// primary has half the time left, and the fallback the other half.
    fn primary_deadline(self, deadline: Instant) -> Instant {
        match self {
            Self::Whole => {
                let now = Instant::now();
                now + deadline.saturating_duration_since(now) / 2
            }
            Self::AtFirstEvent => deadline,
        }
    }
}

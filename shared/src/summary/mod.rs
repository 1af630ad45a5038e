//! The one summary line each request logs, written when the summary is dropped: at the end of
//! a request, and also when Lambda drops a streamed body because its reader went away (Stop, a
//! closed tab, a failed write), so the requests that matter most for abuse and billing still
//! leave their trace, with what was streamed until then.

use std::time::{Duration, Instant};

use chat_core::prices::Prices;
use chat_core::{ApiError, Config};
use openai_client::types::Usage;

mod line;
mod metrics;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The whole answer reached the caller.
    Completed,
    /// The model stopped early (`max_output_tokens`, a content filter); the text so far stands.
    Incomplete,
    /// Refused before anything went upstream: the caller's request was at fault.
    Rejected,
    /// Upstream failed, or the deployment is misconfigured.
    Failed,
    /// Upstream took too long.
    Timeout,
    /// The reader went away before the answer was complete.
    Cancelled,
    /// The caller stopped the answer (`POST /stop`); the text so far stands.
    Stopped,
    /// The invocation's time ran out while the answer went on: the reader reconnects and the
    /// next invocation streams the rest.
    HandedOver,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Incomplete => "incomplete",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Stopped => "stopped",
            Self::HandedOver => "handed_over",
        }
    }
}

/// What the summary line says; fill it in as the request goes, drop it to write the line.
pub struct RequestSummary {
    pub request_id: String,
    pub function: &'static str,
    model: String,
    prices: Option<Prices>,
    /// The price of the fallback's answers, which replaces `prices` when it answers.
    fallback_prices: Option<Prices>,
    started: Instant,
    pub status: u16,
    pub upstream_status: Option<u16>,
    pub retries: u32,
    pub deltas: u64,
    pub streamed_bytes: u64,
    pub first_text: Option<Duration>,
    /// When the first piece of the reasoning summary went out, and how many.
    pub first_reasoning: Option<Duration>,
    pub reasoning_deltas: u64,
    /// How often a silent model was asked about (background mode), and found still working.
    pub silences_checked: u32,
    pub usage: Option<Usage>,
    /// Until the request says otherwise it was cancelled: a body dropped mid-answer never does.
    pub outcome: Outcome,
    pub error: Option<ApiError>,
    /// The upstream response this request created, resumed or stopped.
    pub response_id: Option<String>,
    /// The request continued an answer after a dropped connection (no new model call).
    pub resumed: bool,
    /// A resume that took over the answer's reservation (a hand-over): it settles the answer,
    /// so its tokens count here.
    pub settles_answer: bool,
    /// The protocol answered in, when not the contract's EventSource events (`ai_sdk_ui`).
    pub protocol: Option<&'static str>,
    /// The fallback's model, when the fallback answered (`FALLBACK_BASE_URL`).
    failed_over_to: Option<String>,
    /// What the primary's attempt cost when the fallback answered in its place (its cancel's
    /// usage, at the primary's price): counted in the token metrics and the cost beside the answer.
    abandoned: Option<(Usage, Option<Prices>)>,
    /// A fallback is set: the line names the `provider` that answered, a dimension of its own.
    failover: bool,
    /// False for the line of an answer settled after its request ended: its tokens count, it
    /// is no request of its own.
    counts_request: bool,
    /// The pages the answer cited, each once.
    sources: Vec<String>,
    /// The calls of the caller's functions the answer made (it waits on their results).
    pub function_calls: u32,
    /// When the question was admitted (the caller known, its request and worst case counted).
    admitted: Option<Duration>,
}

impl RequestSummary {
    pub fn start(function: &'static str, request_id: String, config: &Config) -> Self {
        crate::lifecycle::request_started();
        Self {
            request_id,
            function,
            model: config.model.clone(),
            prices: config.price(),
            fallback_prices: config.fallback_price(),
            started: Instant::now(),
            status: 200,
            upstream_status: None,
            retries: 0,
            deltas: 0,
            streamed_bytes: 0,
            first_text: None,
            first_reasoning: None,
            reasoning_deltas: 0,
            silences_checked: 0,
            usage: None,
            outcome: Outcome::Cancelled,
            response_id: None,
            resumed: false,
            settles_answer: false,
            protocol: None,
            failed_over_to: None,
            abandoned: None,
            failover: config.fallback.is_some(),
            error: None,
            counts_request: true,
            sources: Vec::new(),
            function_calls: 0,
            admitted: None,
        }
    }

    /// The question is admitted: the line says how long that took (the limits' round trips).
    pub fn admitted(&mut self) {
        self.admitted = Some(self.started.elapsed());
    }

    /// Notes a page the answer cites: whether it is the first time.
    pub fn cited(&mut self, url: &str) -> bool {
        let first = !self.sources.iter().any(|known| known == url);
        if first {
            self.sources.push(url.to_owned());
        }
        first
    }

    /// The line of an answer whose reader left, written once it finished and was settled: its
    /// tokens and cost, which the request's own line (written when the reader left) could not
    /// know, so the token and spend metrics and alarms see every answer.
    pub fn settled_later(
        function: &'static str,
        request_id: String,
        config: &Config,
        response_id: &str,
        usage: Option<Usage>,
        from_fallback: bool,
    ) -> Self {
        let mut summary = Self::start(function, request_id, config);
        // Written after its request ended: it is not one that runs now.
        crate::lifecycle::request_finished();
        summary.counts_request = false;
        summary.response_id = Some(response_id.to_owned());
        // The fallback's answer is priced and counted as the fallback's (the relay says who answered).
        if let Some(fallback) = config.fallback.as_ref().filter(|_| from_fallback) {
            summary.answered_by(&fallback.model, true);
        }
        summary.usage = usage;
        summary.outcome = Outcome::Completed;
        summary
    }

    /// Who answered: when it was the fallback, its model prices the answer and the line and
    /// the `FailedOver` metric say so (the `model` dimension stays the deployment's, which the
    /// alarms read).
    pub fn answered_by(&mut self, model: &str, fallback: bool) {
        if fallback {
            self.failed_over_to = Some(model.to_owned());
            self.prices = self.fallback_prices;
        }
    }

    /// The primary's attempt was abandoned for the fallback's, having cost `usage` (before
    /// [`RequestSummary::answered_by`] names the fallback: the price is still the primary's).
    pub fn abandoned(&mut self, usage: Usage) {
        self.abandoned = Some((usage, self.prices));
    }

    /// The tokens this request's line counts: the answer's, and an abandoned attempt's.
    pub(crate) fn counted_usage(&self) -> Option<Usage> {
        match (self.usage, self.abandoned) {
            (usage, None) => usage,
            (usage, Some((abandoned, _))) => {
                let usage = usage.unwrap_or_default();
                Some(Usage {
                    input_tokens: usage.input_tokens.saturating_add(abandoned.input_tokens),
                    output_tokens: usage.output_tokens.saturating_add(abandoned.output_tokens),
                    total_tokens: usage.total_tokens.saturating_add(abandoned.total_tokens),
                    ..usage
                })
            }
        }
    }

    /// `primary` or `fallback`, when the deployment has a fallback; `None` without one (no
    /// `provider` dimension, so its metrics are today's).
    pub fn provider(&self) -> Option<&'static str> {
        self.failover.then_some(if self.failed_over_to.is_some() { "fallback" } else { "primary" })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Notes a piece of text sent to the caller.
    pub fn text_sent(&mut self, text: &str) {
        self.first_text.get_or_insert_with(|| self.started.elapsed());
        self.deltas += 1;
        self.streamed_bytes += text.len() as u64;
    }

    /// Notes a piece of the reasoning summary sent to the caller.
    pub fn reasoning_sent(&mut self) {
        self.first_reasoning.get_or_insert_with(|| self.started.elapsed());
        self.reasoning_deltas += 1;
    }

    /// Notes the error the request ended with, and the outcome and statuses it implies.
    pub fn failed(&mut self, error: &ApiError, answered_with_status: bool) {
        if answered_with_status {
            self.status = error.status().as_u16();
        }
        self.upstream_status = error.upstream_status().or(self.upstream_status);
        self.outcome = match error {
            ApiError::UpstreamTimeout(_) => Outcome::Timeout,
            ApiError::Incomplete(_) => Outcome::Incomplete,
            error if error.is_callers_fault() => Outcome::Rejected,
            _ => Outcome::Failed,
        };
        self.error = Some(error.clone());
    }
}

//! The one summary line each request logs, written when the summary is dropped: at the end of
//! a request, and also when Lambda drops a streamed body because its reader went away (Stop, a
//! closed tab, a failed write), so the requests that matter most for abuse and billing still
//! leave their trace, with what was streamed until then.

use std::time::{Duration, Instant};

use crate::ApiError;
use crate::openai::types::Usage;

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
        }
    }
}

/// What the summary line says; fill it in as the request goes, drop it to write the line.
pub struct RequestSummary {
    pub request_id: String,
    pub function: &'static str,
    started: Instant,
    pub status: u16,
    pub upstream_status: Option<u16>,
    pub retries: u32,
    pub deltas: u64,
    pub streamed_bytes: u64,
    pub first_text: Option<Duration>,
    pub usage: Option<Usage>,
    /// Until the request says otherwise it was cancelled: a body dropped mid-answer never does.
    pub outcome: Outcome,
    pub error: Option<ApiError>,
}

impl RequestSummary {
    pub fn start(function: &'static str, request_id: String) -> Self {
        Self {
            request_id,
            function,
            started: Instant::now(),
            status: 200,
            upstream_status: None,
            retries: 0,
            deltas: 0,
            streamed_bytes: 0,
            first_text: None,
            usage: None,
            outcome: Outcome::Cancelled,
            error: None,
        }
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

impl Drop for RequestSummary {
    fn drop(&mut self) {
        let usage = self.usage.unwrap_or_default();
        let error = self.error.as_ref().map(ApiError::log_detail);
        let code = self.error.as_ref().map(ApiError::code);
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    request_id = %self.request_id,
                    function = self.function,
                    outcome = self.outcome.as_str(),
                    status = self.status,
                    upstream_status = self.upstream_status,
                    retries = self.retries,
                    deltas = self.deltas,
                    streamed_bytes = self.streamed_bytes,
                    first_text_ms = self.first_text.map(|d| d.as_millis() as u64),
                    total_ms = self.started.elapsed().as_millis() as u64,
                    input_tokens = usage.input_tokens,
                    output_tokens = usage.output_tokens,
                    total_tokens = usage.total_tokens,
                    code,
                    error,
                    "request finished"
                )
            };
        }
        // Callers decide how often their own mistakes happen: those stay below warn.
        match self.outcome {
            Outcome::Failed | Outcome::Timeout => line!(warn),
            _ => line!(info),
        }
    }
}

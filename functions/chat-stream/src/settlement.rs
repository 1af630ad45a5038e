//! The reservation of one answer, settled exactly once: by the relay when it learns the usage,
//! handed to the invocation that continues the answer, or, when the relay is dropped first (its
//! reader gone), by a task that waits for the background answer to finish. A resume that began
//! before the reservation was parked (its reader came back before the hand-over) looks for it
//! again when the answer ends.

use std::time::Duration;

use chat_core::attempt::Abandoned;
use openai_client::ResponsesClient;
use openai_client::resume::Signer;
use openai_client::types::Usage;
use shared::RequestSummary;
use spend::{Admission, Parked};

/// How long a failed answer's cancel may take: within `openai_client::DEADLINE_MARGIN`.
pub(crate) const CANCEL_PATIENCE: Duration = Duration::from_secs(3);

/// How long an abandoned answer is followed to settle its reservation.
const SETTLE_PATIENCE: Duration = Duration::from_secs(15 * 60);

/// What an invocation settles.
pub enum Holding {
    /// The reservation itself: the question's, or one taken over at a resume's start.
    Reservation(Admission),
    /// None yet: an earlier invocation may park it while this one runs.
    Parked(Parked),
    Nothing,
}

impl Holding {
    /// What a resume holds: after a hand-over, this invocation settles the answer (it takes the
    /// reservation over); else it looks again when the answer ends.
    pub async fn taken_over(gate: &spend::Gate, response_id: &str) -> Self {
        match gate.parked(response_id) {
            None => Self::Nothing,
            Some(parked) => match parked.take().await {
                Some(admission) => Self::Reservation(admission),
                None => Self::Parked(parked),
            },
        }
    }

    /// The reservation, when it is held or has been parked by now.
    async fn take(self) -> Option<Admission> {
        match self {
            Self::Reservation(admission) => Some(admission),
            Self::Parked(parked) => parked.take().await,
            Self::Nothing => None,
        }
    }
}

pub struct Settlement {
    pub holding: Holding,
    pub client: ResponsesClient,
    pub response_id: Option<String>,
    /// Who answers (the relay knows; an id recorded only in background mode would not say):
    /// its price settles the answer.
    pub from_fallback: bool,
    /// The request's id, for the line that counts the answer's tokens once it is settled.
    pub request_id: String,
}

impl Settlement {
    /// Settles the reservation to `usage`; whether this invocation held it.
    pub async fn settle(&mut self, usage: Option<Usage>) -> bool {
        let Some(admission) = std::mem::replace(&mut self.holding, Holding::Nothing).take().await else {
            return false;
        };
        let price = self.client.provider(self.from_fallback).config().price();
        admission.settle(usage.as_ref().map(Usage::billed), price).await;
        true
    }

    /// What the primary's abandoned attempt cost goes on the question's reservation before the
    /// fallback is asked; an error (a limit reached) means it is not asked.
    pub async fn fail_over(&mut self, abandoned: chat_core::attempt::Abandoned) -> Result<(), chat_core::ApiError> {
        match &mut self.holding {
            Holding::Reservation(admission) => admission.fail_over(abandoned).await,
            Holding::Parked(_) | Holding::Nothing => Ok(()),
        }
    }

    /// The reservation goes to the invocation that continues the answer (one only looked for
    /// stays where it is).
    pub async fn hand_over(&mut self) {
        let holding = std::mem::replace(&mut self.holding, Holding::Nothing);
        if let (Holding::Reservation(admission), Some(id)) = (holding, self.response_id.as_deref()) {
            admission.hand_over(id).await;
        }
    }
}

/// Cancels the primary's answer (`signer`'s) for the fallback's, and says what it cost: the
/// cancel's usage (what OpenAI generated, read or not; nothing for an answer over without any),
/// or unknown when it cannot be cancelled (a plain stream, which OpenAI stops when its
/// connection closes) or the cancel says nothing. The usage, when known, for the summary line.
pub async fn abandon(client: &ResponsesClient, signer: Option<Signer>) -> (Abandoned, Option<Usage>) {
    let Some(signer) = signer else { return (Abandoned::Unknown, None) };
    let cancel_by = tokio::time::Instant::now() + CANCEL_PATIENCE;
    let stopped = match client.cancel(signer.response_id(), cancel_by).await {
        Ok(stopped) => stopped,
        Err(error) => {
            tracing::warn!(error = %error.log_detail(), "the primary's answer could not be cancelled; its reservation stands");
            return (Abandoned::Unknown, None);
        }
    };
    match stopped.usage {
        Some(usage) => (Abandoned::Billed { billed: usage.billed(), price: client.config().price() }, Some(usage)),
        // Over with no usage (a failed answer): OpenAI bills it nothing.
        None if stopped.is_finished() => (Abandoned::Nothing, None),
        None => (Abandoned::Unknown, None),
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        // Only a reservation held is followed: one merely looked for is taken by the next resume,
        // without a poll of OpenAI for every reader who left.
        let Holding::Reservation(admission) = std::mem::replace(&mut self.holding, Holding::Nothing) else { return };
        let Some(id) = self.response_id.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let client = self.client.clone();
        let request_id = std::mem::take(&mut self.request_id);
        let from_fallback = self.from_fallback;
        runtime.spawn(async move {
            let usage = client.usage_when_finished(&id, SETTLE_PATIENCE).await;
            admission.settle(usage.as_ref().map(Usage::billed), client.provider(from_fallback).config().price()).await;
            // The request's own line was written when its reader left: this one counts the tokens.
            drop(RequestSummary::settled_later("chat-stream", request_id, client.config(), &id, usage, from_fallback));
        });
    }
}

//! The reservation of one answer, settled exactly once: by the relay when it learns the usage,
//! handed to the invocation that continues the answer, or, when the relay is dropped first (its
//! reader gone), by a task that waits for the background answer to finish.

use std::time::Duration;

use openai_client::ResponsesClient;
use openai_client::types::Usage;
use shared::RequestSummary;
use spend::Admission;

/// How long an abandoned answer is followed to settle its reservation.
const SETTLE_PATIENCE: Duration = Duration::from_secs(15 * 60);

pub struct Settlement {
    pub admission: Option<Admission>,
    pub client: ResponsesClient,
    pub response_id: Option<String>,
    /// The request's id, for the line that counts the answer's tokens once it is settled.
    pub request_id: String,
}

impl Settlement {
    pub async fn settle(&mut self, usage: Option<Usage>) {
        if let Some(admission) = self.admission.take() {
            admission.settle(usage.as_ref().map(Usage::billed)).await;
        }
    }

    /// The reservation goes to the invocation that continues the answer.
    pub async fn hand_over(&mut self) {
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
            admission.settle(usage.as_ref().map(Usage::billed)).await;
            // The request's own line was written when its reader left: this one counts the tokens.
            drop(RequestSummary::settled_later("chat-stream", request_id, client.config(), &id, usage));
        });
    }
}

//! Admitting a question, in the order that keeps every promise: who is asking and one of their
//! requests this minute (nothing upstream before that), the size of the conversation it
//! continues (one read of the previous answer, which must be theirs), then the reservation of
//! everything it can cost. The slot is not written together with the reservation: a burst the
//! rate refuses would hold tokens meanwhile, and requests the rate lets through would be refused
//! for the day's tokens (of fifty at once with a limit of ten, three got through).

use tokio::time::Instant;

use chat_core::{ApiError, ChatRequest};
use openai_client::ResponsesClient;
use spend::{Admission, Gate};

/// Admits `chat`, marking it with its caller (for the safety identifier and the owner tag).
pub async fn admit(gate: &Gate, client: &ResponsesClient, request: &lambda_http::Request, chat: &mut ChatRequest, deadline: Instant) -> Result<Admission, ApiError> {
    let pass = gate.enter(request).await?;
    let earlier_tokens = client.earlier_tokens(chat, &pass.caller, deadline).await?;
    chat.caller = Some(pass.caller.clone());
    gate.reserve(pass, chat, client.config(), earlier_tokens).await
}

//! Admitting a question, in the order that keeps every promise: who is asking and one of their
//! requests this minute (nothing upstream before that), the size of the conversation it
//! continues (one read of the previous answer, which must be theirs), then the reservation of
//! everything it can cost. A new conversation has nothing to read, so its slot and reservation
//! are one round trip (the caller's request and tokens in one conditional write, beside the
//! budget's).

use tokio::time::Instant;

use chat_core::{ApiError, ChatRequest};
use openai_client::ResponsesClient;
use spend::{Admission, Gate};

/// Admits `chat`, marking it with its caller (for the safety identifier and the owner tag).
pub async fn admit(
    gate: &Gate,
    client: &ResponsesClient,
    request: &lambda_http::Request,
    chat: &mut ChatRequest,
    deadline: Instant,
) -> Result<Admission, ApiError> {
    allowed(chat, client.config())?;
    let caller = gate.identify(request).await?;
    chat.caller = Some(caller.id.clone());
    count_attachments(client, chat, deadline).await?;
    if chat.previous_response_id.is_none() {
        // Nothing to read first: the slot and the reservation in one round trip.
        return gate.admit(caller, chat, client.config()).await;
    }
    let pass = gate.take_slot(caller).await?;
    let earlier_tokens = client.earlier_tokens(chat, &pass.caller, deadline).await?;
    gate.reserve(pass, chat, client.config(), earlier_tokens).await
}

/// Refuses the caller's own tools, or results of them, when the owner turned them off
/// (`CALLER_TOOLS=false`): before anything is read or spent.
/// Also refuses attachments past `MAX_ATTACHMENT_BYTES`, or of a kind the model does not take.
pub fn allowed(chat: &ChatRequest, config: &chat_core::Config) -> Result<(), ApiError> {
    let brings_tools = !chat.tools.is_empty() || !chat.tool_outputs.is_empty();
    if brings_tools && !config.caller_tools {
        return Err(ApiError::CallerToolsOff);
    }
    let attachments: Vec<_> = chat.earlier.iter().flat_map(|turn| &turn.attachments).chain(&chat.attachments).collect();
    if attachments.is_empty() {
        return Ok(());
    }
    chat_core::attachments::within(&attachments, config.max_attachment_bytes)?;
    chat_core::attachments::taken_by(&config.model, &attachments)
}

/// A question with attachments is counted by OpenAI before it is reserved: an image's or a
/// PDF's tokens are not known from its size (see `spend::reservation`).
pub async fn count_attachments(
    client: &ResponsesClient,
    chat: &mut ChatRequest,
    deadline: Instant,
) -> Result<(), ApiError> {
    let carries = !chat.attachments.is_empty() || chat.earlier.iter().any(|turn| !turn.attachments.is_empty());
    if carries {
        chat.counted_input = Some(client.count_input(chat, deadline).await?);
    }
    Ok(())
}

//! Admitting a question, in the order that keeps every promise: what the owner allows (nothing
//! read or spent before), who is asking and one of their requests this minute (nothing upstream
//! before that), the size of the conversation it continues (one read of the previous answer,
//! which must be theirs, or of an AI SDK chat's last answer, see [`crate::chain`]), OpenAI's
//! count of a question with attachments, then the reservation of everything it can cost. A new
//! plain question has nothing to read or count, so its slot and reservation are one round trip
//! (the caller's request and tokens in one conditional write, beside the budget's).

use tokio::time::Instant;

use chat_core::{ApiError, ChatRequest};
use openai_client::ResponsesClient;
use spend::{Admission, Gate};

use crate::chain::{self, Conversation};

/// Admits `chat`, marking it with its caller (for the safety identifier and the owner tag). An
/// AI SDK request with a `conversation` may leave as a follow-up of its chat's last answer.
pub async fn admit(
    gate: &Gate,
    client: &ResponsesClient,
    request: &lambda_http::Request,
    chat: &mut ChatRequest,
    conversation: Option<&Conversation>,
    deadline: Instant,
) -> Result<Admission, ApiError> {
    allowed(chat, client.config())?;
    let caller = gate.identify(request).await?;
    chat.caller = Some(caller.id.clone());
    let answer = match (conversation, gate.chat_runs()) {
        (Some(conversation), Some(runs)) => chain::recorded(&runs, &caller, conversation).await,
        _ => None,
    };
    if chat.previous_response_id.is_none() && answer.is_none() && !carries_attachments(chat) {
        // Nothing to read or count first: the slot and the reservation in one round trip.
        return gate.admit(caller, chat, client.config()).await;
    }
    let pass = gate.take_slot(caller).await?;
    let earlier_tokens = match answer {
        Some((id, text)) => chain::follow(client, chat, id, &text, &pass.caller, deadline).await,
        None if chat.previous_response_id.is_some() => client.earlier_tokens(chat, &pass.caller, deadline).await?,
        None => 0,
    };
    if carries_attachments(chat) {
        // Counted as sent: after the chain has dropped what the previous answer carries.
        client.count_input(chat, deadline).await?;
    }
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

/// Whether a question's input holds a picture or a document: its tokens are not known from its
/// size, so OpenAI counts them before it is reserved (see `spend::reservation`).
fn carries_attachments(chat: &ChatRequest) -> bool {
    !chat.attachments.is_empty() || chat.earlier.iter().any(|turn| !turn.attachments.is_empty())
}

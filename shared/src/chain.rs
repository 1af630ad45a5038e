//! An AI SDK chat goes on from its last answer on OpenAI's side. `useChat` sends the whole
//! history every turn; sent as text, the model's reasoning of earlier turns is dropped and the
//! prompt cache misses whatever changed. So each answer is remembered under the caller and chat,
//! by a fingerprint of the conversation it answered; when a new request's history is such a
//! conversation plus that answer's exact text, it is asked with `previous_response_id` and the
//! new message alone. Anything else (an edited or regenerated turn, another device's history, an
//! expired record, another caller with the same chat id) is sent whole, as before.

use std::time::Duration;

use chat_core::{ChatRequest, Role, Turn};
use openai_client::ResponsesClient;
use spend::{Caller, ChatRuns};
use tokio::time::Instant;

/// How long an answer can be gone on from (OpenAI keeps a stored response 30 days; after a week
/// the prompt cache is long cold, and a history sent whole costs the same).
pub const ANSWER_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// What one AI SDK request says of its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub chat_id: String,
    /// The fingerprint of the history and the new message: what this request's answer answers.
    pub asked: String,
    /// When the history ends with an answer: the fingerprint of what that answer answered, and
    /// its text as the client holds it.
    follows: Option<(String, String)>,
}

impl Conversation {
    /// For a chat request with a chat id that carries its history itself (not a
    /// `previous_response_id` of its own).
    pub fn of(chat_id: Option<String>, chat: &ChatRequest) -> Option<Self> {
        let chat_id = chat_id.filter(|_| chat.previous_response_id.is_none())?;
        let question = Turn { role: Role::User, text: chat.message.clone(), attachments: chat.attachments.clone() };
        let asked = fingerprint(chat.earlier.iter().chain([&question]));
        let follows = match chat.earlier.split_last() {
            Some((answer, before)) if answer.role == Role::Assistant => {
                Some((fingerprint(before), answer.text.clone()))
            }
            _ => None,
        };
        Some(Self { chat_id, asked, follows })
    }
}

/// SHA-256 over each turn's role and length-prefixed text, in hex: equal only for the same turns.
fn fingerprint<'a>(turns: impl IntoIterator<Item = &'a Turn>) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for turn in turns {
        let role: &[u8] = match turn.role {
            Role::User => b"u",
            Role::Assistant => b"a",
        };
        context.update(role);
        context.update(&(turn.text.len() as u64).to_be_bytes());
        context.update(turn.text.as_bytes());
        // A turn with another picture is another turn.
        for attachment in &turn.attachments {
            context.update(&(attachment.base64.len() as u64).to_be_bytes());
            context.update(attachment.base64.as_bytes());
        }
    }
    context.finish().as_ref().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Sends `chat` as a follow-up of its chat's last answer `id` when OpenAI still holds it, with
/// this `text`, completed, for this caller: the new message alone, its conversation reserved as
/// any follow-up's (the tokens OpenAI reported for it). Otherwise the history goes whole (0).
pub async fn follow(
    client: &ResponsesClient,
    chat: &mut ChatRequest,
    id: String,
    text: &str,
    caller: &str,
    deadline: Instant,
) -> u64 {
    match client.chainable(&id, caller, text, deadline).await {
        Some(carried) => {
            chat.previous_response_id = Some(id);
            chat.earlier.clear();
            carried
        }
        None => 0,
    }
}

/// The answer the history ends with, when this caller's chat recorded it: its id and text.
pub async fn recorded(runs: &ChatRuns, caller: &Caller, conversation: &Conversation) -> Option<(String, String)> {
    let (before, text) = conversation.follows.as_ref()?;
    match runs.answer_to(&caller.id, &conversation.chat_id, before).await {
        Ok(id) => Some((id?, text.clone())),
        Err(error) => {
            tracing::warn!(error = %error.log_detail(), "a chat's last answer could not be looked up; its history is sent whole");
            None
        }
    }
}

/// Remembers that `response_id` answers `conversation` for `caller`, beside the relay.
pub fn remember(
    runs: ChatRuns,
    caller: String,
    conversation: Conversation,
    response_id: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Conversation { chat_id, asked, .. } = conversation;
        if let Err(error) = runs.remember_answer(&caller, &chat_id, &asked, &response_id, ANSWER_LIFETIME).await {
            tracing::warn!(error = %error.log_detail(), "a chat's answer could not be recorded; its next turn is sent whole");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, text: &str) -> Turn {
        Turn::text(role, text)
    }

    fn chat(earlier: Vec<Turn>, message: &str) -> ChatRequest {
        ChatRequest { message: message.into(), earlier, ..ChatRequest::default() }
    }

    #[test]
    fn a_history_that_ends_with_an_answer_follows_what_that_answer_answered() {
        let first = Conversation::of(Some("c1".into()), &chat(vec![], "hi")).unwrap();
        assert_eq!(first.follows, None);
        let second = chat(vec![turn(Role::User, "hi"), turn(Role::Assistant, "hello")], "more");
        let second = Conversation::of(Some("c1".into()), &second).unwrap();
        assert_eq!(second.follows, Some((first.asked.clone(), "hello".into())));
        // The same texts with other roles, or split elsewhere, are another conversation.
        let swapped = Conversation::of(Some("c1".into()), &chat(vec![turn(Role::Assistant, "hi")], "x")).unwrap();
        assert_ne!(swapped.follows.map(|f| f.0), Some(first.asked.clone()));
        assert_ne!(
            fingerprint(&[turn(Role::User, "ab")]),
            fingerprint(&[turn(Role::User, "a"), turn(Role::User, "b")])
        );
        // A request that names its own previous answer, or no chat, is not chained here.
        let named = ChatRequest { previous_response_id: Some("resp_1".into()), ..chat(vec![], "x") };
        assert!(Conversation::of(Some("c1".into()), &named).is_none());
        assert!(Conversation::of(None, &chat(vec![], "x")).is_none());
    }
}

//! The AI SDK's `resume: true`: a new answer asked with a chat `id` is recorded as that chat's
//! running answer (its run id, under the caller, in the limits table) once its first word went
//! out, and cleared when it ends; `GET {chat id}/stream` finds it again for the same caller.

use chat_core::ApiError;
use openai_client::ResponsesClient;
use openai_client::resume::TOKEN_LIFETIME;
use shared::chain::Conversation;
use spend::{ChatRuns, Gate};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Whether `id` in `GET {id}/stream` is a run id (`x-workflow-run-id`, a signed token with dots
/// between its parts) rather than a chat id (letters, digits, `_` and `-`: never a dot).
pub fn is_run_id(id: &str) -> bool {
    id.contains('.')
}

/// One chat's running answer, as the limits table holds it.
pub struct ChatRun {
    runs: ChatRuns,
    caller: String,
    chat_id: String,
    run_id: String,
    /// The write that records it, while it may still be under way.
    written: Option<JoinHandle<()>>,
    recorded: bool,
}

impl ChatRun {
    /// For a new answer that names its run and carries a chat id, with a limits table.
    pub fn new(gate: &Gate, caller: &str, chat_id: Option<String>, run_id: Option<&str>) -> Option<Self> {
        let (runs, chat_id, run_id) = (gate.chat_runs()?, chat_id?, run_id?.to_owned());
        Some(Self { runs, caller: caller.to_owned(), chat_id, run_id, written: None, recorded: false })
    }

    /// Records the answer, once, beside the relay: the reader's stream never waits for it.
    pub fn record(&mut self) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let (runs, caller, chat_id, run_id) =
            (self.runs.clone(), self.caller.clone(), self.chat_id.clone(), self.run_id.clone());
        self.written = Some(tokio::spawn(async move {
            if let Err(error) = runs.record(&caller, &chat_id, &run_id, TOKEN_LIFETIME).await {
                tracing::warn!(error = %error.log_detail(), "a chat's running answer could not be recorded; it cannot be resumed by chat id");
            }
        }));
    }

    /// The answer ended: its record is cleared once it landed, beside the relay (a record left
    /// behind is found finished at OpenAI by the next `GET {chat id}/stream`, and expires).
    pub fn finished(self) {
        if !self.recorded {
            return;
        }
        let Self { runs, caller, chat_id, run_id, written, .. } = self;
        tokio::spawn(async move {
            if let Some(written) = written {
                drop(written.await);
            }
            runs.finished(&caller, &chat_id, &run_id).await;
        });
    }
}

/// How long the end of an answer's invocation waits for its chat's record to land.
const LANDING_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// A chat's new answer, remembered once OpenAI names it so the chat's next turn can go on from it
/// (`shared::chain`); only the primary's (a fallback's answer is not OpenAI's to go on from).
pub struct ChatAnswer {
    runs: ChatRuns,
    caller: String,
    conversation: Option<Conversation>,
    written: Option<JoinHandle<()>>,
}

impl ChatAnswer {
    /// For an AI SDK request with a chat id, with a limits table.
    pub fn new(gate: &Gate, caller: &str, conversation: Option<Conversation>) -> Option<Self> {
        let conversation = Some(conversation?);
        Some(Self { runs: gate.chat_runs()?, caller: caller.to_owned(), conversation, written: None })
    }

    /// OpenAI named the answer: it is recorded beside the relay, once.
    pub fn named(&mut self, response_id: &str) {
        if let Some(conversation) = self.conversation.take() {
            let (runs, caller) = (self.runs.clone(), self.caller.clone());
            self.written = Some(shared::chain::remember(runs, caller, conversation, response_id.to_owned()));
        }
    }

    /// Waits a moment for the record (written since the answer was named) to land before the
    /// invocation ends, after which it is frozen; one that does not only costs the next turn
    /// its history sent whole.
    pub async fn landed(self) {
        if let Some(written) = self.written {
            drop(tokio::time::timeout(LANDING_PATIENCE, written).await);
        }
    }
}

/// The answer `chat_id` of `caller` is running: its response id, and its record (cleared when
/// the answer ends). `None` when nothing runs for that caller's chat: no limits table, none
/// recorded (or an id none could be recorded under), a run id no longer valid, or an answer
/// OpenAI says has finished (its record cleared).
pub async fn running(
    gate: &Gate,
    client: &ResponsesClient,
    caller: &str,
    chat_id: &str,
    deadline: Instant,
) -> Result<Option<(String, ChatRun)>, ApiError> {
    // An id no POST could have recorded is not looked for (nor one too long for a key).
    let Some(runs) = gate.chat_runs().filter(|_| shared::ui_chat::is_chat_id(chat_id)) else { return Ok(None) };
    let Some(run_id) = runs.running(caller, chat_id).await? else { return Ok(None) };
    let run = ChatRun {
        runs,
        caller: caller.to_owned(),
        chat_id: chat_id.to_owned(),
        run_id: run_id.clone(),
        written: None,
        recorded: true,
    };
    let Ok(position) = client.verify_token(caller, &run_id).await else {
        run.finished();
        return Ok(None);
    };
    match client.retrieve(&position.response_id, deadline).await {
        Ok(answer) if !answer.is_finished() => Ok(Some((position.response_id, run))),
        Ok(_) | Err(ApiError::ResponseNotFound) => {
            run.finished();
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

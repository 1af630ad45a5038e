//! Wire types of the OpenAI Responses API: only the fields this project reads. Unknown fields
//! and unknown event types are ignored, so new upstream additions never break a request. What
//! a create sends is here; what comes back (responses, usage, errors, events) in `answer`.

use serde::{Deserialize, Serialize};

mod answer;
mod tools;

pub use answer::*;
pub use tools::{Annotation, Source, ToolAction};

/// The body of `POST {base}/responses`.
#[derive(Debug, Serialize)]
pub struct CreateResponse<'a> {
    pub model: &'a str,
    pub input: Input<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// A keyed hash of the caller, so OpenAI can tell one abuser from the organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// Another keyed hash of the caller: OpenAI routes the requests that share it to the same
    /// prompt cache (and, from GPT-5.6 on, matches its prefixes better), so a caller's turns
    /// hit the cache and two callers' never share an entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    pub stream: bool,
    /// Background mode: the answer is generated whether or not a connection reads it, can be
    /// streamed again from any event, and cancelled.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub background: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Sent by [`chat_core::ReasoningConfig::request`]'s rule only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningParam>,
    /// Always true: OpenAI keeps a background answer past its ~10-minute polling window only
    /// when asked explicitly, and follow-ups and resumes need the stored answer.
    pub store: bool,
    /// `OPENAI_SERVICE_TIER`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<&'static str>,
    /// `OPENAI_COMPACT_THRESHOLD`: server-side compaction of a long conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_management: Option<[Compaction; 1]>,
    /// `OPENAI_TOOLS`, exactly as the owner wrote them (a follow-up too: an MCP approval's
    /// continuation needs its server), then the caller's own function tools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<&'a serde_json::Value>,
    /// `OPENAI_MAX_TOOL_CALLS`, with the tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<u32>,
}

/// `{"type": "compaction", "compact_threshold": N}`.
#[derive(Debug, Serialize)]
pub struct Compaction {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub compact_threshold: u64,
}

/// `{"effort", "summary", "context"}`, each only when set.
#[derive(Debug, Serialize)]
pub struct ReasoningParam {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'static str>,
}

/// What the model is asked: one message, or items (a conversation sent whole, oldest first,
/// and the results of the caller's functions).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Input<'a> {
    Text(&'a str),
    Items(Vec<InputItem<'a>>),
}

/// One item of the input.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum InputItem<'a> {
    Message(InputMessage<'a>),
    Output(FunctionCallOutput<'a>),
    Approval(ApprovalResponse<'a>),
}

/// `{"type": "mcp_approval_response", "approval_request_id", "approve"}`: the caller's answer.
#[derive(Debug, Serialize)]
pub struct ApprovalResponse<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub approval_request_id: &'a str,
    pub approve: bool,
}

/// One message of a conversation sent whole, as the API's short message form.
#[derive(Debug, Serialize)]
pub struct InputMessage<'a> {
    pub role: chat_core::Role,
    pub content: MessageContent<'a>,
}

/// A message's text alone, or its text and attachments as parts.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum MessageContent<'a> {
    Text(&'a str),
    Parts(Vec<InputPart<'a>>),
}

/// One part of a message with attachments: an image or a PDF inline, as a data URL.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputPart<'a> {
    InputText {
        text: &'a str,
    },
    InputImage {
        image_url: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<&'static str>,
    },
    InputFile {
        filename: &'a str,
        file_data: String,
    },
}

impl<'a> MessageContent<'a> {
    /// `text` alone, or with `attachments` after it; an empty text is left out.
    fn of(text: &'a str, attachments: &'a [chat_core::attachments::Attachment], detail: Option<&'static str>) -> Self {
        if attachments.is_empty() {
            return Self::Text(text);
        }
        let text = (!text.is_empty()).then_some(InputPart::InputText { text });
        let files = attachments.iter().map(|attachment| match attachment.kind.is_image() {
            true => InputPart::InputImage { image_url: attachment.data_url(), detail },
            false => InputPart::InputFile { filename: &attachment.name, file_data: attachment.data_url() },
        });
        Self::Parts(text.into_iter().chain(files).collect())
    }
}

/// `{"type": "function_call_output", "call_id", "output"}`: a function's result.
#[derive(Debug, Serialize)]
pub struct FunctionCallOutput<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub call_id: &'a str,
    pub output: &'a str,
}

impl<'a> Input<'a> {
    /// A bare string when there is no history and no result, so a plain request's wire form
    /// is unchanged; the results come before the message that goes with them, if any.
    pub fn of(request: &'a chat_core::ChatRequest, detail: Option<&'static str>) -> Self {
        let plain = request.earlier.is_empty() && request.attachments.is_empty();
        if plain && request.tool_outputs.is_empty() && request.approvals.is_empty() {
            return Self::Text(&request.message);
        }
        let content = |text, attachments| MessageContent::of(text, attachments, detail);
        let message = |role, content| InputItem::Message(InputMessage { role, content });
        let earlier = request.earlier.iter().map(|turn| message(turn.role, content(&turn.text, &turn.attachments)));
        let outputs = request.tool_outputs.iter().map(|output| {
            InputItem::Output(FunctionCallOutput {
                kind: "function_call_output",
                call_id: &output.call_id,
                output: &output.output,
            })
        });
        let approvals = request.approvals.iter().map(|approval| {
            InputItem::Approval(ApprovalResponse {
                kind: "mcp_approval_response",
                approval_request_id: &approval.approval_request_id,
                approve: approval.approve,
            })
        });
        let asks = !request.message.is_empty() || !request.attachments.is_empty();
        let last = asks.then(|| message(chat_core::Role::User, content(&request.message, &request.attachments)));
        Self::Items(earlier.chain(outputs).chain(approvals).chain(last).collect())
    }
}

/// The response's `metadata`: who owns it (the caller's safety identifier), so that a stop can
/// be checked against the caller who asked, in whichever execution environment it lands.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// [`crate::owner::deployment_tag`]: made by this deployment, whoever asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

//! What OpenAI answers: response objects and their output, usage, errors, and streamed events.

use serde::{Deserialize, Serialize};

use super::Metadata;

/// A response object, as returned by a buffered call or carried by the terminal stream events.
#[derive(Debug, Default, Deserialize)]
#[serde(from = "WireResponseObject")]
pub struct ResponseObject {
    pub id: String,
    pub status: Option<String>,
    pub output: Vec<OutputItem>,
    /// With the tier the response was served in (`service_tier`), which its price depends on.
    pub usage: Option<Usage>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub error: Option<ErrorObject>,
    pub metadata: Option<Metadata>,
}

/// [`ResponseObject`] as OpenAI writes it: the tier beside the usage, not in it.
#[derive(Deserialize)]
struct WireResponseObject {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    output: Vec<OutputItem>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    error: Option<ErrorObject>,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    service_tier: Option<String>,
}

impl From<WireResponseObject> for ResponseObject {
    fn from(wire: WireResponseObject) -> Self {
        let tier = chat_core::prices::Tier::named(wire.service_tier.as_deref());
        let mut tool_calls = chat_core::tools::ToolCalls::default();
        wire.output.iter().filter_map(OutputItem::tool_call).for_each(|call| tool_calls.count(call));
        Self {
            id: wire.id,
            status: wire.status,
            output: wire.output,
            usage: wire.usage.map(|usage| Usage { tier, tool_calls, ..usage }),
            incomplete_details: wire.incomplete_details,
            error: wire.error,
            metadata: wire.metadata,
        }
    }
}

impl ResponseObject {
    /// Whether this answer compacted its conversation (a `compaction` item leads its output).
    pub fn compacted(&self) -> bool {
        self.output.iter().any(|item| matches!(item, OutputItem::Compaction {}))
    }

    /// Whether the answer is over (`completed`, `incomplete`, `failed`, `cancelled`); `queued`
    /// and `in_progress` are not.
    pub fn is_finished(&self) -> bool {
        !matches!(self.status.as_deref(), Some("queued" | "in_progress") | None)
    }

    pub fn owner(&self) -> Option<&str> {
        self.metadata.as_ref().and_then(|m| m.owner.as_deref())
    }

    pub fn deployment(&self) -> Option<&str> {
        self.metadata.as_ref().and_then(|m| m.deployment.as_deref())
    }

    /// The answer's text: every `output_text` part of every `message` item, in order. A refusal
    /// stands in for the text when the model gave nothing else.
    pub fn output_text(&self) -> String {
        let parts = self.output.iter().filter_map(|item| match item {
            OutputItem::Message { content } => Some(content),
            _ => None,
        });
        let mut text = String::new();
        let mut refusal = String::new();
        for part in parts.flatten() {
            match part {
                ContentPart::OutputText { text: t, .. } => text.push_str(t),
                ContentPart::Refusal { refusal: r } => refusal.push_str(r),
                ContentPart::Other => {}
            }
        }
        if text.is_empty() { refusal } else { text }
    }

    /// The reasoning text: every non-empty part of every `reasoning` item (its summary parts,
    /// then an open-weight model's raw `reasoning_text`), set apart by a blank line exactly as
    /// the stream sets them apart; `None` when there is none.
    pub fn reasoning_summary(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .output
            .iter()
            .flat_map(|item| match item {
                OutputItem::Reasoning { summary, content } => summary
                    .iter()
                    .map(|part| part.text.as_str())
                    .chain(content.iter().map(|part| part.text.as_str()))
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .filter(|part| !part.is_empty())
            .collect();
        let summary = parts.join(SUMMARY_PART_SEPARATOR);
        (!summary.is_empty()).then_some(summary)
    }

    pub fn incomplete_reason(&self) -> Option<&str> {
        self.incomplete_details.as_ref().and_then(|d| d.reason.as_deref())
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Message {
        #[serde(default)]
        content: Vec<ContentPart>,
    },
    Reasoning {
        #[serde(default)]
        summary: Vec<SummaryPart>,
        /// Raw reasoning (`reasoning_text` parts), from open-weight models.
        #[serde(default)]
        content: Vec<SummaryPart>,
    },
    /// What a compaction leaves: the conversation after it is under the threshold.
    Compaction {},
    /// A hosted tool's call (each one billed per call, outside `usage`).
    WebSearchCall {
        #[serde(default)]
        id: Option<String>,
        /// What it searched for (`{"type":"search","query"}`), when OpenAI says.
        #[serde(default)]
        action: Option<super::tools::ToolAction>,
    },
    FileSearchCall {
        #[serde(default)]
        id: Option<String>,
    },
    CodeInterpreterCall {
        #[serde(default)]
        id: Option<String>,
    },
    McpCall {
        #[serde(default)]
        id: Option<String>,
    },
    /// An MCP call waiting on the caller's yes: the answer ends with it.
    McpApprovalRequest {
        #[serde(default)]
        id: String,
        #[serde(default)]
        server_label: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        arguments: String,
    },
    /// A call of one of the caller's functions: the answer waits for its result.
    FunctionCall {
        #[serde(default)]
        call_id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        arguments: String,
    },
    #[serde(other)]
    Other,
}

/// What goes between two parts of a reasoning summary, streamed or stored: OpenAI sends them
/// as separate paragraphs (`summary_index` 0, 1, …).
pub const SUMMARY_PART_SEPARATOR: &str = "\n\n";

/// One `summary_text` (or raw `reasoning_text`) part of a reasoning item.
#[derive(Debug, Deserialize)]
pub struct SummaryPart {
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    OutputText {
        text: String,
        /// Its citations (`url_citation` from web search, among others).
        #[serde(default)]
        annotations: Vec<super::tools::Annotation>,
    },
    Refusal {
        refusal: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    /// Reasoning tokens are billed as output and counted in `output_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
    /// Cached input is billed at the cached price, and counted in `input_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens_details: Option<InputTokensDetails>,
    /// The response's `service_tier` (set from beside the usage, never sent on).
    #[serde(skip)]
    pub tier: chat_core::prices::Tier,
    /// The hosted tool calls among the response's output items (billed per call, outside the
    /// token counts; set from beside the usage, never sent on).
    #[serde(skip)]
    pub tool_calls: chat_core::tools::ToolCalls,
}

impl Usage {
    /// What OpenAI bills, in tokens: input and output (reasoning included), or the total it
    /// reports when that is more.
    pub fn billed_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens).max(self.total_tokens)
    }

    pub fn reasoning_tokens(&self) -> u64 {
        self.output_tokens_details.map_or(0, |d| d.reasoning_tokens)
    }

    /// The input tokens read from OpenAI's prompt cache (part of `input_tokens`).
    pub fn cached_tokens(&self) -> u64 {
        self.input_tokens_details.map_or(0, |d| d.cached_tokens).min(self.input_tokens)
    }

    /// The input tokens written to the prompt cache (part of `input_tokens`, GPT-5.6 and later).
    pub fn cache_write_tokens(&self) -> u64 {
        self.input_tokens_details.map_or(0, |d| d.cache_write_tokens).min(self.input_tokens - self.cached_tokens())
    }

    /// The tokens by the class each is billed at, for the cost estimate.
    pub fn billed(&self) -> chat_core::prices::Billed {
        chat_core::prices::Billed {
            input: self.input_tokens,
            cached: self.cached_tokens(),
            cache_write: self.cache_write_tokens(),
            output: self.output_tokens,
            tier: self.tier,
            total: self.billed_tokens(),
            tool_calls: self.tool_calls,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    /// Written to the prompt cache by this request: billed at 1.25x input (GPT-5.6 and later).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    #[serde(default)]
    pub reasoning_tokens: u64,
}

#[derive(Debug, Default, Deserialize)]
pub struct IncompleteDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

/// `{"message", "type", "code"}`: the error object of an HTTP error body, of a failed response,
/// and of the stream's `error` event.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ErrorObject {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: Option<String>,
    /// The request parameter OpenAI refused, e.g. `reasoning.summary`.
    #[serde(default)]
    pub param: Option<String>,
}

/// `{"error": {...}}`: the body of an HTTP error answer.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

/// One streamed event, read without buffering it into a generic tree first.
#[derive(Debug, Deserialize)]
pub struct WireEvent {
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's place in the response: a background stream resumes after it.
    #[serde(default)]
    pub sequence_number: Option<u64>,
    #[serde(default)]
    pub delta: Option<String>,
    /// Which part of a reasoning summary a `response.reasoning_summary_*` event is about.
    #[serde(default)]
    pub summary_index: Option<u64>,
    #[serde(default)]
    pub response: Option<ResponseObject>,
    /// The `error` event, flat as documented: `{"type":"error","code","message"}`.
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// The `error` event, nested as the live API sends it: `{"type":"error","error":{...}}`.
    #[serde(default)]
    pub error: Option<ErrorObject>,
    /// The item of `response.output_item.added`, the part of `response.content_part.added`.
    #[serde(default)]
    pub item: Option<Typed>,
    #[serde(default)]
    pub part: Option<Typed>,
    /// The citation of `response.output_text.annotation.added`.
    #[serde(default)]
    pub annotation: Option<super::tools::Annotation>,
    /// The item a tool's progress event is about (`ws_...`).
    #[serde(default)]
    pub item_id: Option<String>,
}

/// Only the `type` of an item or part.
#[derive(Debug, Default, Deserialize)]
pub struct Typed {
    #[serde(rename = "type", default)]
    pub kind: String,
    /// What a `web_search_call` did (`{"type":"search","query"}`), when OpenAI says.
    #[serde(default)]
    pub action: Option<super::tools::ToolAction>,
    /// The item's id (a tool call's, which its progress events name as `item_id`).
    #[serde(default)]
    pub id: Option<String>,
    /// A `function_call`'s call id, function and arguments, whole once the item is done.
    #[serde(default)]
    pub call_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
    /// An `mcp_approval_request`'s server.
    #[serde(default)]
    pub server_label: Option<String>,
}

impl WireEvent {
    /// Whether this event opens a reasoning item or a raw reasoning part.
    pub fn starts_reasoning(&self) -> bool {
        self.item.as_ref().is_some_and(|item| item.kind == "reasoning")
            || self.part.as_ref().is_some_and(|part| part.kind == "reasoning_text")
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_text_skips_reasoning_and_joins_parts() {
        let json = r#"{"id":"resp_1","status":"completed","output":[
            {"type":"reasoning","id":"rs_1","summary":[]},
            {"type":"message","role":"assistant","content":[
                {"type":"output_text","text":"Hello, ","annotations":[]},
                {"type":"output_text","text":"world","annotations":[]}]},
            {"type":"message","content":[{"type":"output_text","text":"!"}]}],
            "usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}"#;
        let response: ResponseObject = serde_json::from_str(json).unwrap();
        assert_eq!(response.output_text(), "Hello, world!");
        assert_eq!(response.usage.unwrap().total_tokens, 7);
        assert_eq!(response.reasoning_summary(), None);
    }

    #[test]
    fn the_reasoning_summary_joins_its_parts_as_paragraphs() {
        let json = r#"{"output":[{"type":"reasoning","id":"rs_1","summary":[
            {"type":"summary_text","text":"**Plan**\nFirst"},{"type":"summary_text","text":"Then"}]},
            {"type":"message","content":[{"type":"output_text","text":"Done"}]}],
            "usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":5,"total_tokens":15}}"#;
        let response: ResponseObject = serde_json::from_str(json).unwrap();
        assert_eq!(response.reasoning_summary().as_deref(), Some("**Plan**\nFirst\n\nThen"));
        assert_eq!(response.output_text(), "Done");
        assert_eq!(response.usage.unwrap().cached_tokens(), 4);
    }

    #[test]
    fn refusal_is_the_answer_when_there_is_no_text() {
        let json =
            r#"{"output":[{"type":"message","content":[{"type":"refusal","refusal":"I can't help with that."}]}]}"#;
        let response: ResponseObject = serde_json::from_str(json).unwrap();
        assert_eq!(response.output_text(), "I can't help with that.");
    }

    #[test]
    fn error_event_reads_both_shapes() {
        let flat: WireEvent = serde_json::from_str(
            r#"{"type":"error","code":"server_error","message":"boom","param":null,"sequence_number":3}"#,
        )
        .unwrap();
        assert_eq!(flat.message.as_deref(), Some("boom"));
        let nested: WireEvent = serde_json::from_str(
            r#"{"type":"error","error":{"type":"server_error","code":500,"message":"boom"},"sequence_number":3}"#,
        )
        .unwrap();
        let error = nested.error.unwrap();
        assert_eq!((error.code.as_deref(), error.message.as_deref()), (Some("500"), Some("boom")));
    }
}

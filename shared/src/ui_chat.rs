//! The Vercel AI SDK's chat protocol (`useChat`, `DefaultChatTransport`): a `POST` whose JSON
//! body carries `messages`, answered in the UI message stream protocol (v1). chat-stream tells
//! it from the EventSource contract by the request's shape alone.
//!
//! The stream: `start`, `message-metadata` with the OpenAI response id (what a stop names),
//! `text-start`, one `text-delta` per delta, `text-end`, then `finish` (its reason, and the
//! usage in the message metadata) or `error`, then `data: [DONE]`.
//!
//! A chunk carries only keys the SDK's chunk schemas name: ai 6.0.99 (strict objects) refuses any other.

use bytes::Bytes;
use serde_json::{Value, json};

use openai_client::types::Usage;

pub use crate::ui_request::{
    HISTORY_MESSAGES, asks, chat_id, chat_request, follows_hand_overs, is_chat_id, takes_approvals,
};

/// The header the AI SDK's docs say a UI message stream carries.
pub const STREAM_HEADER: (&str, &str) = ("x-vercel-ai-ui-message-stream", "v1");
/// The header that names an answer's run, read by `WorkflowChatTransport` after its `POST`.
pub const RUN_ID_HEADER: &str = "x-workflow-run-id";
/// Where a reconnect with a negative `startIndex` starts counting: `-1`, since the whole answer
/// follows from its first chunk (the transport then counts from 0).
pub const TAIL_INDEX_HEADER: &str = "x-workflow-stream-tail-index";

/// Writes one answer as a UI message stream. It remembers whether a text or reasoning part is
/// open, so that every `*-start` gets its `*-end` however the answer ends.
#[derive(Debug, Default)]
pub struct UiStreamEncoder {
    text_open: bool,
    reasoning_open: bool,
    response_id: Option<String>,
    sources: u32,
    /// The hosted tool calls whose `tool-input-start` went out.
    tools_started: Vec<String>,
    /// Whether the answer called the caller's functions: it finishes with `tool-calls`.
    called_functions: bool,
    /// Whether `start-step` went out: `finish` is preceded by `finish-step`.
    step_open: bool,
}

/// The one text part of an answer.
const TEXT_ID: &str = "text-0";
/// The one reasoning part: the summary, before the text (`useChat` shows a `reasoning` part).
const REASONING_ID: &str = "reasoning-0";

impl UiStreamEncoder {
    pub const DONE: &'static [u8] = b"data: [DONE]\n\n";

    pub fn start(&self) -> Bytes {
        chunk(&json!({ "type": "start" }))
    }

    /// The OpenAI response id, as message metadata: what `POST /stop` names, and what a client
    /// may send back as `previous_response_id`; then `start-step`. Each answer is a step of its
    /// own, so the answer that reads the client's results starts a step after its tool parts
    /// (`lastAssistantMessageIsCompleteWithToolCalls` looks at the last step only, and would
    /// send the results again, for ever).
    pub fn response(&mut self, response_id: &str, model: &str) -> Bytes {
        self.response_id = Some(response_id.to_owned());
        self.step_open = true;
        let metadata = json!({ "responseId": response_id, "model": model });
        [
            chunk(&json!({ "type": "message-metadata", "messageMetadata": metadata })),
            chunk(&json!({ "type": "start-step" })),
        ]
        .concat()
        .into()
    }

    pub fn text(&mut self, delta: &str) -> Bytes {
        let delta = chunk(&json!({ "type": "text-delta", "id": TEXT_ID, "delta": delta }));
        if self.text_open {
            return delta;
        }
        self.text_open = true;
        [self.close_reasoning(), chunk(&json!({ "type": "text-start", "id": TEXT_ID })), delta].concat().into()
    }

    /// A hosted tool's call began: `tool-input-start`, run by the provider.
    pub fn tool_started(&mut self, call: &str, tool: &str) -> Bytes {
        self.tools_started.push(call.to_owned());
        chunk(&json!({ "type": "tool-input-start", "toolCallId": call, "toolName": tool, "providerExecuted": true }))
    }

    /// A hosted tool's call is done: its input (what it searched for) and its output, both
    /// run by the provider; started first if its start was not seen.
    pub fn tool_done(&mut self, call: &str, tool: &str, query: Option<&str>) -> Bytes {
        let start = match self.tools_started.iter().any(|started| started == call) {
            true => Bytes::new(),
            false => self.tool_started(call, tool),
        };
        let input = query.map_or_else(|| json!({}), |query| json!({ "query": query }));
        let available = json!({ "type": "tool-input-available", "toolCallId": call, "toolName": tool, "input": input, "providerExecuted": true });
        let output = json!({ "type": "tool-output-available", "toolCallId": call, "output": { "status": "completed" }, "providerExecuted": true });
        [start, chunk(&available), chunk(&output)].concat().into()
    }

    /// A call of the caller's function: `tool-input-start`, its arguments as one
    /// `tool-input-delta`, then `tool-input-available` with them parsed (the client's
    /// `onToolCall` runs it). Arguments that are not JSON are `tool-input-error`, which the
    /// client shows instead of running the function with them.
    pub fn function_call(&mut self, call: &chat_core::functions::FunctionCall) -> Bytes {
        self.called_functions = true;
        let (id, name) = (&call.call_id, &call.name);
        let start = json!({ "type": "tool-input-start", "toolCallId": id, "toolName": name });
        let delta = json!({ "type": "tool-input-delta", "toolCallId": id, "inputTextDelta": call.arguments });
        let whole = match serde_json::from_str::<Value>(&call.arguments) {
            Ok(input) => json!({ "type": "tool-input-available", "toolCallId": id, "toolName": name, "input": input }),
            Err(error) => json!({
                "type": "tool-input-error", "toolCallId": id, "toolName": name,
                "input": call.arguments, "errorText": format!("the model's arguments are not JSON: {error}"),
            }),
        };
        [self.close_reasoning(), self.close_text(), chunk(&start), chunk(&delta), chunk(&whole)].concat().into()
    }

    /// An MCP call waiting on the user's yes: to a client that reads approvals (ai 6 on), a
    /// dynamic tool call and its `tool-approval-request` (answered with
    /// `addToolApprovalResponse`); to any other, a sentence in the text, since it would refuse
    /// the chunk. Not marked provider-run, though OpenAI runs it: ai 6.0.99's
    /// `lastAssistantMessageIsCompleteWithApprovalResponses` skips provider-run parts, and would
    /// never send the answer (`onToolCall` sees it, as `dynamic`).
    pub fn approval(&mut self, request: &chat_core::approvals::ApprovalRequest, as_chunks: bool) -> Bytes {
        self.called_functions |= as_chunks;
        let (id, name) = (&request.approval_request_id, &request.name);
        if !as_chunks {
            let said = format!(
                "\n\n[{name} on {} needs your approval, which this app cannot ask for (its request did not say `ai_sdk_version` 6 or later): it was not called.]",
                request.server_label
            );
            return self.text(&said);
        }
        let input =
            serde_json::from_str::<Value>(&request.arguments).unwrap_or(Value::String(request.arguments.clone()));
        let start = json!({ "type": "tool-input-start", "toolCallId": id, "toolName": name, "dynamic": true });
        let whole = json!({ "type": "tool-input-available", "toolCallId": id, "toolName": name, "input": input, "dynamic": true });
        let ask = json!({ "type": "tool-approval-request", "approvalId": id, "toolCallId": id });
        [self.close_reasoning(), self.close_text(), chunk(&start), chunk(&whole), chunk(&ask)].concat().into()
    }

    /// A page the answer cites: a `source-url` part, numbered in the answer.
    pub fn source(&mut self, url: &str, title: &str) -> Bytes {
        self.sources += 1;
        chunk(
            &json!({ "type": "source-url", "sourceId": format!("source-{}", self.sources), "url": url, "title": title }),
        )
    }

    /// A piece of the reasoning summary; the part ends when the text begins, or with the answer.
    pub fn reasoning(&mut self, delta: &str) -> Bytes {
        let delta = chunk(&json!({ "type": "reasoning-delta", "id": REASONING_ID, "delta": delta }));
        if self.reasoning_open {
            return delta;
        }
        self.reasoning_open = true;
        [chunk(&json!({ "type": "reasoning-start", "id": REASONING_ID })), delta].concat().into()
    }

    /// `finish` with the AI SDK's reason (`stop`, `length`, `content-filter`, `other`) and the
    /// usage as message metadata; `stopped` is set when the answer was cancelled.
    pub fn finish(&mut self, reason: &str, usage: Option<Usage>, stopped: bool) -> Bytes {
        // An answer that waits on the caller's functions says so: the client runs them.
        let reason = if reason == "stop" && self.called_functions { "tool-calls" } else { reason };
        let mut metadata = serde_json::Map::new();
        metadata.insert("responseId".into(), json!(self.response_id));
        if let Some(usage) = usage {
            let usage = json!({
                "inputTokens": usage.input_tokens,
                "outputTokens": usage.output_tokens,
                "totalTokens": usage.total_tokens,
                "reasoningTokens": usage.reasoning_tokens(),
            });
            metadata.insert("usage".into(), usage);
        }
        if stopped {
            metadata.insert("stopped".into(), Value::Bool(true));
        }
        let finish = chunk(&json!({ "type": "finish", "finishReason": reason, "messageMetadata": metadata }));
        let step = match std::mem::take(&mut self.step_open) {
            true => chunk(&json!({ "type": "finish-step" })),
            false => Bytes::new(),
        };
        [self.close_reasoning(), self.close_text(), step, finish].concat().into()
    }

    /// An error part: the SDK's `useChat` shows `errorText` as its `error.message`.
    pub fn error(&mut self, detail: &str) -> Bytes {
        [self.close_reasoning(), self.close_text(), chunk(&json!({ "type": "error", "errorText": detail }))]
            .concat()
            .into()
    }

    pub fn done(&self) -> Bytes {
        Bytes::from_static(Self::DONE)
    }

    fn close_reasoning(&mut self) -> Bytes {
        if !std::mem::take(&mut self.reasoning_open) {
            return Bytes::new();
        }
        chunk(&json!({ "type": "reasoning-end", "id": REASONING_ID }))
    }

    fn close_text(&mut self) -> Bytes {
        if !std::mem::take(&mut self.text_open) {
            return Bytes::new();
        }
        chunk(&json!({ "type": "text-end", "id": TEXT_ID }))
    }
}

/// The AI SDK's finish reason for an answer OpenAI marked incomplete.
pub fn finish_reason(incomplete_reason: &str) -> &'static str {
    match incomplete_reason {
        "max_output_tokens" => "length",
        "content_filter" => "content-filter",
        _ => "other",
    }
}

/// One SSE event of JSON: serde escapes every line break, so a chunk is always one `data:` line.
fn chunk(value: &Value) -> Bytes {
    format!("data: {value}\n\n").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_pairs_text_start_and_end_and_ends_with_done() {
        let mut ui = UiStreamEncoder::default();
        let mut out = vec![ui.start(), ui.response("resp_1", "gpt-6-luna"), ui.text("a\n"), ui.text("b")];
        out.push(ui.finish(
            "stop",
            Some(Usage { input_tokens: 1, output_tokens: 2, total_tokens: 3, ..Default::default() }),
            false,
        ));
        out.push(ui.done());
        let text = String::from_utf8(out.concat()).unwrap();
        let chunks: Vec<&str> = text.split("\n\n").filter(|c| !c.is_empty()).collect();
        assert!(chunks.iter().all(|c| c.starts_with("data: ") && !c.contains('\n')), "{text}");
        let types: Vec<String> = chunks[..chunks.len() - 1]
            .iter()
            .map(|c| serde_json::from_str::<Value>(&c[6..]).unwrap()["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            [
                "start",
                "message-metadata",
                "start-step",
                "text-start",
                "text-delta",
                "text-delta",
                "text-end",
                "finish-step",
                "finish"
            ]
        );
        assert!(
            text.contains(r#""usage":{"inputTokens":1,"outputTokens":2,"reasoningTokens":0,"totalTokens":3}"#),
            "{text}"
        );
        assert!(text.contains(r#""responseId":"resp_1""#) && text.ends_with("data: [DONE]\n\n"));
        let mut ui = UiStreamEncoder::default();
        assert!(
            !String::from_utf8(ui.error("x").to_vec()).unwrap().contains("text-end"),
            "no text-end without text-start"
        );
    }
}

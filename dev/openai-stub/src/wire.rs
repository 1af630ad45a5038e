//! The Responses API's wire shapes, as OpenAI sends them.

use serde_json::{Value, json};

use crate::scenario::Scenario;

pub const MODEL_SNAPSHOT_SUFFIX: &str = "-2024-07-18";

/// Writes one SSE event the way OpenAI frames it: `event:` name, then the JSON on one line.
pub fn sse(event: &Value) -> String {
    let name = event["type"].as_str().unwrap_or("message");
    format!("event: {name}\ndata: {event}\n\n")
}

/// Numbers events in order, as `sequence_number` does upstream.
#[derive(Default)]
pub struct Sequence(u64);

impl Sequence {
    pub fn event(&mut self, kind: &str, mut fields: Value) -> Value {
        fields["type"] = json!(kind);
        fields["sequence_number"] = json!(self.0);
        self.0 += 1;
        fields
    }
}

/// The `input` of a create request: a string, or messages (`{role, content}`, content a string
/// or `input_text`/`output_text` parts) as `(role, text)`. The question is the last user text.
pub fn input_messages(request: &Value) -> Option<Vec<(String, String)>> {
    if let Some(text) = request["input"].as_str() {
        return Some(vec![("user".to_owned(), text.to_owned())]);
    }
    let mut messages = Vec::new();
    for item in request["input"].as_array()? {
        // A function's result is no message (see `functions::outputs`).
        if item["type"] == "function_call_output" || item["type"] == "mcp_approval_response" {
            continue;
        }
        let role = item["role"].as_str().filter(|r| matches!(*r, "user" | "assistant" | "system" | "developer"))?;
        let text = match &item["content"] {
            Value::String(text) => text.clone(),
            // Text parts make the text; images and files are read apart (`attachments`).
            Value::Array(parts) => parts
                .iter()
                .filter(|p| !matches!(p["type"].as_str(), Some("input_image" | "input_file")))
                .map(|p| p["text"].as_str())
                .collect::<Option<String>>()?,
            _ => return None,
        };
        messages.push((role.to_owned(), text));
    }
    Some(messages)
}

/// The question a create request asks: its last user message.
pub fn question(request: &Value) -> Option<String> {
    last_user_text(&input_messages(request)?).map(str::to_owned)
}

/// The last user message of `messages`.
pub fn last_user_text(messages: &[(String, String)]) -> Option<&str> {
    messages.iter().rev().find(|(role, _)| role == "user").map(|(_, text)| text.as_str())
}

pub struct Ids {
    pub response: String,
    pub message: String,
    pub reasoning: String,
}

impl Ids {
    pub fn new(n: u64) -> Self {
        Self { response: format!("resp_{n:048x}"), message: format!("msg_{n:048x}"), reasoning: format!("rs_{n:048x}") }
    }
}

/// Usage as OpenAI bills it: a word a token for every input message plus 8, and, for a
/// follow-up, the whole conversation it continues (`earlier`: the previous response's input and
/// output tokens) billed again as input.
/// `cache` is `(cached, written)`: tokens of the prompt read from and written to the prompt cache
/// (scenario `cached=` / `cache_write=`), part of the input as OpenAI counts them.
pub fn usage(
    input: &[(String, String)],
    earlier: u64,
    output_deltas: usize,
    reasoning: bool,
    cache: (u64, u64),
) -> Value {
    let words: u64 = input.iter().map(|(_, text)| words(text)).sum();
    let (cached, written) = cache;
    let input_tokens = words + 8 + earlier + cached + written;
    let output_tokens = output_deltas as u64;
    let reasoning_tokens = if reasoning { 64 } else { 0 };
    json!({
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": output_tokens + reasoning_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens + reasoning_tokens,
    })
}

pub fn message_item(ids: &Ids, text: Option<&str>) -> Value {
    let (status, content) = match text {
        Some(text) => ("completed", json!([{"type": "output_text", "annotations": [], "logprobs": [], "text": text}])),
        None => ("in_progress", json!([])),
    };
    json!({"id": ids.message, "type": "message", "status": status, "content": content, "role": "assistant"})
}

/// A reasoning item with the summary parts given (none unless a summary was asked for) and the
/// raw `reasoning_text` parts of an open-weight model.
pub fn reasoning_item(id: &str, summary: &[String], raw: &[String]) -> Value {
    let summary: Vec<Value> = summary.iter().map(|text| json!({"type": "summary_text", "text": text})).collect();
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
    if !raw.is_empty() {
        item["content"] = raw.iter().map(|text| json!({"type": "reasoning_text", "text": text})).collect();
    }
    item
}

/// The tokens the stand-in counts for a text: a word a token.
pub fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// OpenAI's 400 for a conversation longer than the model's window.
pub fn context_length_exceeded(window: u64) -> Value {
    let message = format!(
        "Your input exceeds the context window of this model ({window} tokens). Please adjust your input and try again."
    );
    json!({"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}})
}

/// The opaque item a compaction leaves in the output.
pub fn compaction_item(ids: &Ids) -> Value {
    json!({"id": ids.response.replacen("resp_", "cmp_", 1), "type": "compaction", "encrypted_content": "stub-compacted"})
}

/// OpenAI's 400 for a reasoning summary asked by an organization not verified for them.
pub fn summary_needs_verification() -> Value {
    let message = "Your organization must be verified to generate reasoning summaries. Please go to: https://platform.openai.com/settings/organization/general and click on Verify Organization.";
    json!({"error": {"message": message, "type": "invalid_request_error", "param": "reasoning.summary", "code": "unsupported_value"}})
}

/// OpenAI's 400 for a `reasoning` parameter the model does not take.
pub fn unsupported_reasoning(param: &str) -> Value {
    let message = format!("Unsupported parameter: '{param}' is not supported with this model.");
    json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": "unsupported_parameter"}})
}

/// A response object; `output` and `usage` are filled in once the answer is known.
pub fn response(ids: &Ids, request: &Value, status: &str, output: Vec<Value>, usage: Option<Value>) -> Value {
    let model = request["model"].as_str().unwrap_or_default();
    // The tier it was served in: the one asked for, `default` for `auto` or none.
    let tier = request["service_tier"].as_str().filter(|tier| ["flex", "priority", "ultrafast"].contains(tier));
    let tier = tier.unwrap_or("default");
    json!({
        "id": ids.response,
        "object": "response",
        "created_at": 1_763_000_000u64,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": null,
        "service_tier": tier,
        "instructions": request.get("instructions").cloned().unwrap_or(Value::Null),
        "max_output_tokens": request.get("max_output_tokens").cloned().unwrap_or(Value::Null),
        "model": format!("{model}{MODEL_SNAPSHOT_SUFFIX}"),
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": request.get("previous_response_id").cloned().unwrap_or(Value::Null),
        "reasoning": {"effort": null, "summary": null},
        "store": true,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        // Echoed as OpenAI does: callers keep their own bookkeeping there (an owner, say).
        "metadata": request.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or_else(|| json!({})),
        "safety_identifier": request.get("safety_identifier").cloned().unwrap_or(Value::Null),
    })
}

/// The `error` of a response the model failed to finish.
pub fn model_failure() -> Value {
    json!({"code": "server_error", "message": "The model failed to generate a response."})
}

/// OpenAI's body for a request about a response id it does not know.
pub fn response_not_found(id: &str) -> Value {
    json!({"error": {"message": format!("Response with id '{id}' not found."), "type": "invalid_request_error", "param": null, "code": null}})
}

/// OpenAI's 400 for a `previous_response_id` it does not have.
pub fn previous_response_not_found(id: &str) -> Value {
    json!({"error": {"message": format!("Previous response with id '{id}' not found."), "type": "invalid_request_error", "param": "previous_response_id", "code": "previous_response_not_found"}})
}

/// What a conversation continued from `previous` (a response object) adds to the input: its
/// own input and output, which OpenAI sends to the model again. `None` while it has no usage.
pub fn conversation_tokens(previous: &Value) -> Option<u64> {
    let usage = previous.get("usage").filter(|u| u.is_object())?;
    Some(usage["input_tokens"].as_u64()? + usage["output_tokens"].as_u64()?)
}

/// What a follow-up of `previous` carries again: its whole conversation, or, when `previous`
/// compacted it, what is left under the `threshold`.
pub fn carried_tokens(previous: &Value, threshold: Option<u64>) -> Option<u64> {
    let tokens = conversation_tokens(previous)?;
    let output = previous["output"].as_array();
    let compacted = output.is_some_and(|items| items.iter().any(|item| item["type"] == "compaction"));
    Some(threshold.filter(|_| compacted).map_or(tokens, |t| tokens.min(t)))
}

/// OpenAI's body for a request it refuses as invalid, with its `code` when it has one.
pub fn invalid_request(message: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})
}

/// The `{"error": {...}}` body and its headers for an HTTP error status.
pub fn error_body(status: u16, scenario: &Scenario, presented_key: Option<&str>) -> Value {
    let (kind, code, message) = match status {
        400 => ("invalid_request_error", "invalid_value", "Invalid value for 'input'.".to_owned()),
        401 => {
            let masked = presented_key.map(mask_key).unwrap_or_default();
            ("invalid_request_error", "invalid_api_key", format!(
                "Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys."
            ))
        }
        404 => ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it.".to_owned()),
        429 if scenario.code.as_deref() == Some("insufficient_quota") => (
            "insufficient_quota",
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.".to_owned(),
        ),
        429 => ("requests", "rate_limit_exceeded", "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.".to_owned()),
        _ => ("server_error", "server_error", "The server had an error while processing your request. Sorry about that!".to_owned()),
    };
    let code = scenario.code.clone().unwrap_or_else(|| code.to_owned());
    let message = leak(message, scenario, presented_key);
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// Appends the presented key to `message` when the scenario asks for a careless upstream.
pub fn leak(message: String, scenario: &Scenario, presented_key: Option<&str>) -> String {
    match presented_key {
        Some(key) if scenario.leak => format!("{message} (request made with key {key})"),
        _ => message,
    }
}

/// How OpenAI shows a rejected key: its first and last few characters only.
fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The input tokens one web search's results add in the stand-in (well under the functions'
/// bound, as real results are under theirs).
pub const SEARCH_RESULT_TOKENS: u64 = 500;

/// How many of `asked` searches a request can make: none without a `web_search` tool, at most
/// its `max_tool_calls`.
pub fn searches(request: &Value, asked: usize) -> usize {
    let tools = request["tools"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !tools.iter().any(|tool| tool["type"] == "web_search") {
        return 0;
    }
    let cap = request["max_tool_calls"].as_u64().map_or(usize::MAX, |n| n as usize);
    asked.min(cap)
}

/// The usage of an answer that searched `n` times, as OpenAI bills it: each of the `n + 1`
/// steps reads the input again, with every result so far.
pub fn searched(usage: &mut Value, n: usize) {
    let (n, input) = (n as u64, usage["input_tokens"].as_u64().unwrap_or(0));
    let searched = input * (n + 1) + SEARCH_RESULT_TOKENS * n * (n + 1) / 2;
    let total = usage["total_tokens"].as_u64().unwrap_or(0) + searched - input;
    usage["input_tokens"] = json!(searched);
    usage["total_tokens"] = json!(total);
}

/// A `web_search_call` item: searching, or done with what it searched for.
pub fn web_search_item(ids: &Ids, n: usize, query: Option<&str>) -> Value {
    let id = format!("ws_{}_{n}", ids.response.trim_start_matches("resp_"));
    match query {
        None => json!({"type": "web_search_call", "id": id, "status": "in_progress"}),
        Some(query) => {
            json!({"type": "web_search_call", "id": id, "status": "completed", "action": {"type": "search", "query": query}})
        }
    }
}

/// The `url_citation` of search `n`'s page, over the answer's text.
pub fn citation(n: usize, text_len: usize) -> Value {
    json!({"type": "url_citation", "url": format!("https://example.com/result-{n}"), "title": format!("Result <{n}> & \"more\""), "start_index": 0, "end_index": text_len})
}

/// Each tool of a request as its `type`, a function as `function:{name}`.
pub fn tool_names(request: &Value) -> Vec<String> {
    let tools = request["tools"].as_array().into_iter().flatten();
    tools
        .map(|tool| match (tool["type"].as_str(), tool["name"].as_str()) {
            (Some("function"), Some(name)) => format!("function:{name}"),
            (kind, _) => kind.unwrap_or("?").to_owned(),
        })
        .collect()
}

/// Each MCP tool's `(server_label, authorization)`, when it carries one.
pub fn mcp_authorizations(request: &Value) -> Vec<(String, String)> {
    let tools = request["tools"].as_array().into_iter().flatten();
    tools
        .filter(|tool| tool["type"] == "mcp")
        .filter_map(|tool| {
            Some((tool["server_label"].as_str()?.to_owned(), tool["authorization"].as_str()?.to_owned()))
        })
        .collect()
}

//! The events of one streamed answer, made once for both ways of delivering them: straight onto
//! the request's connection (a plain stream) or into the registry of background responses, where
//! any number of connections follow them.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use serde_json::{Value, json};

use crate::scenario::{Failure, Scenario};
use crate::wire::{self, Ids, Sequence};

/// The bytes of the `malformed` scenario: an event whose JSON stops short.
pub const MALFORMED: &str =
    "event: response.output_text.delta\ndata: {\"type\": \"response.output_text.delta\", \"delta\": \n\n";

/// What one request asked for and how the stand-in answers it.
pub struct Answer {
    pub ids: Ids,
    pub request: Value,
    pub scenario: Scenario,
    pub deltas: Vec<String>,
    /// The message of `error` events, with the key in it when the scenario leaks.
    pub failure_message: String,
    /// The pause between deltas.
    pub pause: Duration,
    pub background: bool,
    /// The conversation a follow-up continues, in tokens, billed again as input.
    pub earlier_tokens: u64,
    /// The reasoning summary's parts, as deltas: empty unless the request asked for a summary.
    pub summary: Vec<Vec<String>>,
    /// Raw reasoning parts (`reasoning_text`), as deltas.
    pub raw: Vec<Vec<String>>,
    /// The conversation was compacted: a `compaction` item leads the output.
    pub compacted: bool,
    /// Web searches made before the message (`search=N`, with a `web_search` tool).
    pub searches: usize,
    /// The calls of the request's functions after the message (`call=N`), as `function_call` items.
    pub calls: Vec<Value>,
    /// MCP items before the message: a tool list and approval requests (`approval=N`), or the
    /// calls a follow-up approved.
    pub mcp_items: Vec<Value>,
    /// What the input's images and files are billed, as input tokens of every step.
    pub attachment_tokens: u64,
}

/// One reasoning item of an answer: its id, summary parts and raw parts, each as deltas.
pub struct ReasoningItem {
    pub id: String,
    pub summary: Vec<Vec<String>>,
    pub raw: Vec<Vec<String>>,
}

impl ReasoningItem {
    /// The item whole, as `output_item.done` and the stored response carry it.
    pub fn whole(&self) -> Value {
        let texts = |parts: &[Vec<String>]| parts.iter().map(|part| part.concat()).collect::<Vec<_>>();
        wire::reasoning_item(&self.id, &texts(&self.summary), &texts(&self.raw))
    }
}

impl Answer {
    /// A response object of this answer, marked background when it is.
    pub fn response(&self, status: &str, output: Vec<Value>, usage: Option<Value>) -> Value {
        let mut response = wire::response(&self.ids, &self.request, status, output, usage);
        response["background"] = json!(self.background);
        response
    }

    /// Usage after `deltas` deltas, as the terminal events report it.
    pub fn usage(&self, deltas: usize) -> Value {
        let messages = wire::input_messages(&self.request).unwrap_or_default();
        let cache = (self.scenario.cached, self.scenario.cache_write);
        let mut usage = wire::usage(&messages, self.earlier_tokens, deltas, self.reasons(), cache);
        if self.searches > 0 {
            wire::searched(&mut usage, self.searches);
        }
        let arguments = crate::functions::argument_tokens(&self.calls);
        for field in ["output_tokens", "total_tokens"] {
            usage[field] = json!(usage[field].as_u64().unwrap_or(0) + arguments);
        }
        let steps = self.searches as u64 + 1;
        for field in ["input_tokens", "total_tokens"] {
            usage[field] = json!(usage[field].as_u64().unwrap_or(0) + self.attachment_tokens * steps);
        }
        usage
    }

    /// Whether the answer has a message: not when it only waits on the caller.
    pub fn has_message(&self) -> bool {
        let asks = self.mcp_items.iter().any(|item| item["type"] == "mcp_approval_request");
        !self.deltas.is_empty() || (self.calls.is_empty() && !asks)
    }

    /// The answer's citations: each search's page, and the first one cited twice (a reader
    /// shows each page once).
    pub fn citations(&self, text_len: usize) -> Vec<Value> {
        let pages = (0..self.searches).map(|n| wire::citation(n, text_len));
        pages.chain((self.searches > 0).then(|| wire::citation(0, text_len))).collect()
    }

    /// Whether the answer has a reasoning item.
    pub fn reasons(&self) -> bool {
        self.scenario.reasoning || !self.summary.is_empty() || !self.raw.is_empty()
    }

    /// The reasoning items (`items=N` of them), the parts split among them in order.
    pub fn reasoning_items(&self) -> Vec<ReasoningItem> {
        if !self.reasons() {
            return Vec::new();
        }
        let count = self.scenario.items.max(1);
        let share = |parts: &[Vec<String>], n: usize| {
            let per = parts.len().div_ceil(count);
            parts.iter().skip(n * per).take(per).cloned().collect::<Vec<_>>()
        };
        (0..count)
            .map(|n| ReasoningItem {
                id: if n == 0 { self.ids.reasoning.clone() } else { format!("{}_{n}", self.ids.reasoning) },
                summary: share(&self.summary, n),
                raw: share(&self.raw, n),
            })
            .collect()
    }

    /// The output items before the message: the compaction, when there was one, reasoning,
    /// then the web searches.
    pub fn output_before_message(&self) -> Vec<Value> {
        let compaction = self.compacted.then(|| wire::compaction_item(&self.ids));
        let reasoning = self.reasoning_items();
        let searches = (0..self.searches).map(|n| wire::web_search_item(&self.ids, n, Some(&self.search_query(n))));
        let before = compaction.into_iter().chain(reasoning.iter().map(ReasoningItem::whole)).chain(searches);
        before.chain(self.mcp_items.iter().cloned()).collect()
    }

    /// What search `n` looked for: the question and its number.
    pub fn search_query(&self, n: usize) -> String {
        let messages = wire::input_messages(&self.request).unwrap_or_default();
        format!("{} {n}", wire::last_user_text(&messages).unwrap_or_default())
    }

    /// The message item of the whole `text`, with its citations.
    pub fn message(&self, text: &str) -> Value {
        let mut message = wire::message_item(&self.ids, Some(text));
        message["content"][0]["annotations"] = json!(self.citations(text.len()));
        message
    }
}

/// One thing on the stream: an event, or one of the scenario's ways to break it.
#[derive(Debug, Clone)]
pub enum Frame {
    Event(Value),
    /// [`MALFORMED`]: not JSON.
    Malformed,
    /// `data: [DONE]`, for the scenario `done`.
    Done,
    /// The connection breaks here (scenario `drop`); the answer itself goes on.
    Drop,
}

impl Frame {
    /// The SSE text of the frame; `Drop` has none.
    pub fn sse(&self) -> String {
        match self {
            Frame::Event(event) => wire::sse(event),
            Frame::Malformed => MALFORMED.to_owned(),
            Frame::Done => "data: [DONE]\n\n".to_owned(),
            Frame::Drop => String::new(),
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Frame::Event(event) => event["type"].as_str().unwrap_or_default(),
            _ => "",
        }
    }

    pub fn sequence_number(&self) -> Option<u64> {
        match self {
            Frame::Event(event) => event["sequence_number"].as_u64(),
            _ => None,
        }
    }
}

/// The answer's frames in batches, each batch written at once, with the scenario's pauses
/// between them. A plain stream stops reading at `Drop`; a background one reads on.
pub fn generate(answer: Arc<Answer>) -> impl Stream<Item = Vec<Frame>> + Send {
    async_stream::stream! {
        let a = &*answer;
        let scenario = &a.scenario;
        let mut seq = Sequence::default();
        let mut event = |kind: &str, fields: Value| Frame::Event(seq.event(kind, fields));
        if a.background {
            let queued = a.response("queued", vec![], None);
            yield vec![event("response.created", json!({"response": queued})), event("response.queued", json!({"response": queued}))];
            if let Some(queue) = scenario.queue {
                tokio::time::sleep(queue).await;
            }
            yield vec![event("response.in_progress", json!({"response": a.response("in_progress", vec![], None)}))];
        } else {
            let in_progress = a.response("in_progress", vec![], None);
            yield vec![event("response.created", json!({"response": in_progress})), event("response.in_progress", json!({"response": in_progress}))];
        }
        if scenario.hang {
            std::future::pending::<()>().await;
        }
        if let Some(think) = scenario.think {
            tokio::time::sleep(think).await;
        }
        let mut output = Vec::new();
        if a.compacted {
            let item = wire::compaction_item(&a.ids);
            yield vec![
                event("response.output_item.added", json!({"output_index": 0, "item": item})),
                event("response.output_item.done", json!({"output_index": 0, "item": item})),
            ];
            output.push(item);
        }
        for reasoning in a.reasoning_items() {
            let (rs, output_index) = (reasoning.id.clone(), output.len());
            let empty = wire::reasoning_item(&rs, &[], &[]);
            yield vec![event("response.output_item.added", json!({"output_index": output_index, "item": empty}))];
            let parts = reasoning.summary.iter().map(|part| (true, part)).chain(reasoning.raw.iter().map(|part| (false, part)));
            let (mut summary_index, mut content_index) = (0, 0);
            for (is_summary, part) in parts {
                let (index_name, index, part_type, added, delta_kind, done_kind, part_done) = if is_summary {
                    summary_index += 1;
                    ("summary_index", summary_index - 1, "summary_text", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done", "response.reasoning_summary_part.done")
                } else {
                    content_index += 1;
                    ("content_index", content_index - 1, "reasoning_text", "response.content_part.added", "response.reasoning_text.delta", "response.reasoning_text.done", "response.content_part.done")
                };
                let with = |extra: Value| {
                    let mut fields = json!({"item_id": rs, "output_index": output_index});
                    fields[index_name] = json!(index);
                    for (k, v) in extra.as_object().into_iter().flatten() {
                        fields[k] = v.clone();
                    }
                    fields
                };
                yield vec![event(added, with(json!({"part": {"type": part_type, "text": ""}})))];
                for delta in part {
                    if !a.pause.is_zero() {
                        tokio::time::sleep(a.pause).await;
                    }
                    yield vec![event(delta_kind, with(json!({"delta": delta, "obfuscation": "stub"})))];
                }
                let text = part.concat();
                yield vec![
                    event(done_kind, with(json!({"text": text}))),
                    event(part_done, with(json!({"part": {"type": part_type, "text": text}}))),
                ];
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let item = reasoning.whole();
            yield vec![event("response.output_item.done", json!({"output_index": output_index, "item": item}))];
            output.push(item);
        }
        for n in 0..a.searches {
            let output_index = output.len();
            let done = wire::web_search_item(&a.ids, n, Some(&a.search_query(n)));
            let with = |kind: &str| json!({"output_index": output_index, "item_id": done["id"], "type": kind});
            yield vec![
                event("response.output_item.added", json!({"output_index": output_index, "item": wire::web_search_item(&a.ids, n, None)})),
                event("response.web_search_call.in_progress", with("response.web_search_call.in_progress")),
            ];
            if !a.pause.is_zero() {
                tokio::time::sleep(a.pause).await;
            }
            yield vec![event("response.web_search_call.searching", with("response.web_search_call.searching"))];
            yield vec![
                event("response.web_search_call.completed", with("response.web_search_call.completed")),
                event("response.output_item.done", json!({"output_index": output_index, "item": done})),
            ];
            output.push(done);
        }
        for item in &a.mcp_items {
            let output_index = output.len();
            let mut events = vec![event("response.output_item.added", json!({"output_index": output_index, "item": item}))];
            if item["type"] == "mcp_call" {
                let with = |kind: &str| json!({"output_index": output_index, "item_id": item["id"], "type": kind});
                events.push(event("response.mcp_call.in_progress", with("response.mcp_call.in_progress")));
                events.push(event("response.mcp_call.completed", with("response.mcp_call.completed")));
            }
            events.push(event("response.output_item.done", json!({"output_index": output_index, "item": item})));
            yield events;
            output.push(item.clone());
        }
        // The message's last events go out with `response.completed`, unless calls follow.
        let mut tail = Vec::new();
        if a.has_message() {
            let output_index = output.len();
            let item_id = a.ids.message.clone();
            yield vec![
                event("response.output_item.added", json!({"output_index": output_index, "item": wire::message_item(&a.ids, None)})),
                event("response.content_part.added", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}})),
            ];
            if let Some(first) = scenario.first_delay {
                tokio::time::sleep(first).await;
            }
            for (i, delta) in a.deltas.iter().enumerate() {
                match scenario.failure.filter(|_| i == scenario.after) {
                    Some(Failure::Drop) => yield vec![Frame::Drop],
                    // One garbled event in an answer that goes on, as a careful client must skip it.
                    Some(Failure::Malformed) => yield vec![Frame::Malformed],
                    // Silent from here on, the connection kept open.
                    Some(Failure::Stall) => std::future::pending::<()>().await,
                    Some(failure) => {
                        yield vec![failure_frame(a, failure, i, &mut event)];
                        if scenario.done {
                            yield vec![Frame::Done];
                        }
                        return;
                    }
                    None => {}
                }
                if i > 0 && !a.pause.is_zero() {
                    tokio::time::sleep(a.pause).await;
                }
                yield vec![event("response.output_text.delta", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "delta": delta, "logprobs": [], "obfuscation": "stub"}))];
            }
            let text = a.deltas.concat();
            let message = a.message(&text);
            for (annotation_index, annotation) in a.citations(text.len()).iter().enumerate() {
                yield vec![event("response.output_text.annotation.added", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "annotation_index": annotation_index, "annotation": annotation}))];
            }
            tail.extend([
                event("response.output_text.done", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "text": text, "logprobs": []})),
                event("response.content_part.done", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "part": message["content"][0]})),
                event("response.output_item.done", json!({"output_index": output_index, "item": message})),
            ]);
            output.push(message);
        }
        if !a.calls.is_empty() && !tail.is_empty() {
            yield std::mem::take(&mut tail);
        }
        for call in &a.calls {
            let output_index = output.len();
            let arguments = call["arguments"].as_str().unwrap_or_default();
            let mut added = call.clone();
            (added["arguments"], added["status"]) = (json!(""), json!("in_progress"));
            let with = |fields: Value| {
                let mut all = json!({"item_id": call["id"], "output_index": output_index});
                for (k, v) in fields.as_object().into_iter().flatten() {
                    all[k] = v.clone();
                }
                all
            };
            yield vec![event("response.output_item.added", json!({"output_index": output_index, "item": added}))];
            // The arguments in two pieces, split on a character boundary.
            let half = arguments.char_indices().nth(arguments.chars().count() / 2).map_or(0, |(at, _)| at);
            for piece in [&arguments[..half], &arguments[half..]] {
                yield vec![event("response.function_call_arguments.delta", with(json!({"delta": piece, "obfuscation": "stub"})))];
            }
            yield vec![
                event("response.function_call_arguments.done", with(json!({"name": call["name"], "arguments": arguments}))),
                event("response.output_item.done", json!({"output_index": output_index, "item": call})),
            ];
            output.push(call.clone());
        }
        tail.push(event("response.completed", json!({"response": a.response("completed", output, Some(a.usage(a.deltas.len())))})));
        if scenario.done {
            tail.push(Frame::Done);
        }
        if scenario.close_badly {
            tail.push(Frame::Drop);
        }
        yield tail;
    }
}

/// The frame that ends the answer early after `sent` deltas, for every failure but `Drop`.
fn failure_frame(a: &Answer, failure: Failure, sent: usize, event: &mut impl FnMut(&str, Value) -> Frame) -> Frame {
    let message = &a.failure_message;
    let code = a.scenario.code.as_deref().unwrap_or("server_error");
    match failure {
        Failure::Drop | Failure::Stall => Frame::Drop,
        Failure::Malformed => Frame::Malformed,
        Failure::ErrorFlat => event("error", json!({"code": code, "message": message, "param": null})),
        Failure::ErrorNested => {
            event("error", json!({"error": {"type": "server_error", "code": code, "message": message, "param": null}}))
        }
        Failure::Failed => {
            let mut failed = a.response("failed", vec![], None);
            failed["error"] = wire::model_failure();
            event("response.failed", json!({"response": failed}))
        }
        Failure::Incomplete => {
            let text = a.deltas[..sent].concat();
            let mut cut = a.response("incomplete", vec![wire::message_item(&a.ids, Some(&text))], Some(a.usage(sent)));
            cut["incomplete_details"] = json!({"reason": "max_output_tokens"});
            event("response.incomplete", json!({"response": cut}))
        }
    }
}

//! How a request asks the stand-in to behave: a prompt that starts with `/stub` followed by
//! space-separated settings, e.g. `/stub status=429 times=1 retry_after=1 then hello`.
//!
//! | setting | effect |
//! | --- | --- |
//! | `status=N` | answer HTTP N with OpenAI's error body (`code=` picks the error code) |
//! | `times=N` | fail only the first N requests with this same prompt, then answer normally |
//! | `retry_after=S` / `retry_after_ms=MS` | send that header with the error |
//! | `error=flat\|nested` | an `error` event after `after=N` deltas (default 2), its code `code=` (`server_error` unless set) |
//! | `failed` / `incomplete` | `response.failed` / `response.incomplete` after `after=N` deltas |
//! | `drop` | close the connection after `after=N` deltas, mid-answer |
//! | `malformed` | send one event that is not JSON after `after=N` deltas, then the rest of the answer |
//! | `stall` | after `after=N` deltas, send nothing more, the connection kept open |
//! | `close_badly` | break the connection right after `response.completed` |
//! | `hang` | send the headers, then nothing, forever |
//! | `hang_headers` | never answer at all |
//! | `first_delay_ms=N` / `delay_ms=N` | pause before the first delta / between deltas |
//! | `queue_ms=N` | with `"background": true`, stay `queued` N ms before `in_progress` |
//! | `deltas=N` | answer with N numbered words |
//! | `text=tricky` | line breaks of every kind and text that looks like SSE |
//! | `echo` | answer with the rest of the prompt, one character per delta |
//! | `reasoning` | put a `reasoning` output item before the message |
//! | `summary=N` / `summary=tricky` | when the request asks for `reasoning.summary`: a summary of N parts (or of tricky text) streamed before the text |
//! | `raw=N` | stream N parts of raw reasoning (`reasoning_text`, as open-weight models do) before the text |
//! | `items=N` | split the reasoning (summary parts, raw parts) across N reasoning items |
//! | `cached=N` / `cache_write=N` | usage reports N prompt tokens read from / written to the prompt cache |
//! | `think_ms=N` | think silently for N ms (nothing streamed, `in_progress` when asked) before any output |
//! | `done` | end the stream with `data: [DONE]` |
//! | `leak` | a careless upstream: put the presented API key in error messages |

use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub times: Option<usize>,
    pub retry_after: Option<String>,
    pub retry_after_ms: Option<String>,
    pub failure: Option<Failure>,
    pub after: usize,
    pub hang: bool,
    pub hang_headers: bool,
    pub first_delay: Option<Duration>,
    pub delay: Option<Duration>,
    /// How long a background response stays `queued`.
    pub queue: Option<Duration>,
    pub deltas: Option<usize>,
    pub tricky: bool,
    pub echo: Option<String>,
    pub reasoning: bool,
    /// `summary=N` parts, or `summary=tricky`.
    pub summary: Option<Summary>,
    /// Raw reasoning parts.
    pub raw: usize,
    /// Reasoning items the parts are split across (at least one).
    pub items: usize,
    pub cached: u64,
    pub cache_write: u64,
    /// Silent thinking before any output.
    pub think: Option<Duration>,
    pub done: bool,
    pub leak: bool,
    /// The connection breaks right after `response.completed`.
    pub close_badly: bool,
    /// Web searches before the answer (`search=N`), when the request carries a `web_search`
    /// tool, at most its `max_tool_calls`.
    pub search: usize,
    /// Calls of the request's function tools (`call=N`), after the text: with no `echo`, the
    /// answer is the calls alone.
    pub call: usize,
    /// MCP calls that ask the caller first (`approval=N`), with an MCP server that asks: the
    /// answer is the requests alone.
    pub approval: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    Parts(usize),
    Tricky,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    ErrorFlat,
    ErrorNested,
    Failed,
    Incomplete,
    Drop,
    Malformed,
    Stall,
}

impl Scenario {
    /// Reads the settings at the start of `prompt`; a prompt without `/stub` is a plain question.
    pub fn parse(prompt: &str) -> Self {
        let mut scenario = Self { after: 2, items: 1, ..Self::default() };
        let Some(rest) = prompt.trim_start().strip_prefix("/stub") else { return scenario };
        let mut words = rest.split(' ');
        while let Some(word) = words.next() {
            let (name, value) = word.split_once('=').unwrap_or((word, ""));
            let millis = || value.parse().ok().map(Duration::from_millis);
            match name {
                "status" => scenario.status = value.parse().ok(),
                "code" => scenario.code = Some(value.to_owned()),
                "times" => scenario.times = value.parse().ok(),
                "retry_after" => scenario.retry_after = Some(value.to_owned()),
                "retry_after_ms" => scenario.retry_after_ms = Some(value.to_owned()),
                "error" if value == "flat" => scenario.failure = Some(Failure::ErrorFlat),
                "error" => scenario.failure = Some(Failure::ErrorNested),
                "failed" => scenario.failure = Some(Failure::Failed),
                "incomplete" => scenario.failure = Some(Failure::Incomplete),
                "drop" => scenario.failure = Some(Failure::Drop),
                "malformed" => scenario.failure = Some(Failure::Malformed),
                "stall" => scenario.failure = Some(Failure::Stall),
                "close_badly" => scenario.close_badly = true,
                "after" => scenario.after = value.parse().unwrap_or(2),
                "hang" => scenario.hang = true,
                "hang_headers" => scenario.hang_headers = true,
                "first_delay_ms" => scenario.first_delay = millis(),
                "delay_ms" => scenario.delay = millis(),
                "queue_ms" => scenario.queue = millis(),
                "deltas" => scenario.deltas = value.parse().ok(),
                "text" => scenario.tricky = value == "tricky",
                "reasoning" => scenario.reasoning = true,
                "summary" if value == "tricky" => scenario.summary = Some(Summary::Tricky),
                "summary" => scenario.summary = value.parse().ok().map(Summary::Parts),
                "think_ms" => scenario.think = millis(),
                "raw" => scenario.raw = value.parse().unwrap_or(0),
                "items" => scenario.items = value.parse().unwrap_or(1),
                "cached" => scenario.cached = value.parse().unwrap_or(0),
                "cache_write" => scenario.cache_write = value.parse().unwrap_or(0),
                "search" => scenario.search = value.parse().unwrap_or(1),
                "call" => scenario.call = value.parse().unwrap_or(1),
                "approval" => scenario.approval = value.parse().unwrap_or(1),
                "done" => scenario.done = true,
                "leak" => scenario.leak = true,
                "echo" => {
                    scenario.echo = Some(words.collect::<Vec<_>>().join(" "));
                    break;
                }
                _ => {}
            }
        }
        scenario
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_from_the_prompt() {
        let s = Scenario::parse("/stub status=429 times=1 retry_after=2 delay_ms=0 done");
        assert_eq!(s.status, Some(429));
        assert_eq!(s.times, Some(1));
        assert_eq!(s.retry_after.as_deref(), Some("2"));
        assert_eq!(s.delay, Some(Duration::ZERO));
        assert!(s.done);
        assert_eq!(Scenario::parse("/stub queue_ms=250").queue, Some(Duration::from_millis(250)));
        let thinking = Scenario::parse("/stub think_ms=1500 summary=3");
        assert_eq!((thinking.think, thinking.summary), (Some(Duration::from_millis(1500)), Some(Summary::Parts(3))));
        assert_eq!(Scenario::parse("/stub summary=tricky").summary, Some(Summary::Tricky));
        assert_eq!(Scenario::parse("/stub error=flat after=3").failure, Some(Failure::ErrorFlat));
        assert_eq!(Scenario::parse("/stub echo a  b").echo.as_deref(), Some("a  b"));
        assert_eq!(Scenario::parse("hello"), Scenario { after: 2, items: 1, ..Scenario::default() });
        let raw = Scenario::parse("/stub raw=2 items=2 cached=600 cache_write=300");
        assert_eq!((raw.raw, raw.items, raw.cached, raw.cache_write), (2, 2, 600, 300));
    }
}

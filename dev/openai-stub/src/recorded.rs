//! What the stand-in saw of each request (and of each retrieve), for tests to hold the functions
//! to: what was asked, how the answer ended, and what OpenAI would bill for it.

use serde::Serialize;

use crate::billing;

/// What the stand-in saw of one request, and how that request ended.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// The question: the input string, or the last user message of an input list.
    pub input: String,
    /// Every input message as `(role, text)`, oldest first (one user message for a string).
    pub messages: Vec<(String, String)>,
    pub stream: bool,
    pub previous_response_id: Option<String>,
    /// OpenAI's per-end-user id, when the request carried one.
    pub safety_identifier: Option<String>,
    /// `prompt_cache_key`, when the request carried one.
    pub prompt_cache_key: Option<String>,
    /// `reasoning.effort`, `reasoning.summary` and `reasoning.context`, when the request carried them.
    pub reasoning_effort: Option<String>,
    pub reasoning_summary: Option<String>,
    pub reasoning_context: Option<String>,
    /// `store` as sent (OpenAI's default is true, but a background answer outlives its polling
    /// window only when it is sent explicitly).
    pub store: Option<bool>,
    /// `context_management[0].compact_threshold`, when compaction was asked for.
    pub compact_threshold: Option<u64>,
    pub model: String,
    /// Whether it asked for a background response.
    pub background: bool,
    /// Milliseconds since the server started.
    pub started_ms: u64,
    /// When the answer's connection closed, if it has.
    pub closed_ms: Option<u64>,
    /// Deltas sent; for a background response, deltas generated, whoever reads them.
    pub deltas_sent: usize,
    /// Whether the whole answer was sent before the connection closed; for a background
    /// response, whether it was generated to its end.
    pub finished: bool,
    /// `service_tier` as asked for.
    pub service_tier: Option<String>,
    /// The usage the answer's final response reported, once it ended.
    pub usage: Option<serde_json::Value>,
    /// The web searches it made (`web_search_call` items), each billed per call.
    pub web_searches: usize,
    /// The `tools` sent, each as its `type` and, for a function, `function:{name}`.
    pub tools: Vec<String>,
    /// The results of the caller's functions sent as input: `(call_id, output)`.
    pub function_outputs: Vec<(String, String)>,
    /// Each MCP tool's `(server_label, authorization)`, when it carried one.
    pub mcp_authorizations: Vec<(String, String)>,
    /// The images and PDF files of its input.
    pub images: usize,
    pub files: usize,
}

impl RecordedRequest {
    /// What OpenAI would bill for this answer in tokens (input and output, reasoning included).
    pub fn billed_tokens(&self) -> u64 {
        let number = |name: &str| self.usage.as_ref().and_then(|u| u[name].as_u64()).unwrap_or(0);
        number("total_tokens").max(number("input_tokens") + number("output_tokens"))
    }

    /// What OpenAI would bill for this answer, in dollars (see [`billing`]).
    pub fn bill_usd(&self) -> f64 {
        let tokens =
            self.usage.as_ref().map_or(0.0, |usage| billing::dollars(&self.model, self.service_tier.as_deref(), usage));
        // A search is billed when made, whether or not the answer is read or finished.
        tokens + billing::search_fees(self.web_searches)
    }
}

/// One `GET /v1/responses/{id}` the stand-in saw.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRetrieve {
    pub id: String,
    pub stream: bool,
    pub starting_after: Option<u64>,
}

//! One streamed answer from one of the servers, timed where its reader sees each text delta:
//! an HTTP client for the stand-in, the tutorial's app and `cargo lambda watch`; the Runtime
//! API stand-in itself for the release binary, as AWS's front end would receive it.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use test_harness::runtime_api::{Chunk, Invocation, RuntimeApi, get_event};

/// The things measured side by side, all against the same stand-in upstream.
#[derive(Clone)]
pub enum Server {
    /// (a) The OpenAI stand-in read directly: the limit.
    Direct { base_url: String },
    /// (b) This project's release chat-stream, one warm process behind the Runtime API stand-in.
    Function { api: Arc<RuntimeApi> },
    /// (c) The tutorial's FastAPI app under uvicorn.
    Peer { url: String },
    /// (w) This project's chat-stream under `cargo lambda watch --release`.
    Watch { url: String },
    /// (l) A gateway a user would pick instead (the LiteLLM proxy): OpenAI's API in front of the
    /// same stand-in, read as the stand-in is.
    Gateway { base_url: String },
}

#[derive(Debug, Clone)]
pub struct Timing {
    /// From sending the request (queueing the event) to the first text delta.
    pub first_text: Duration,
    /// To the first `event: reasoning` (a reasoning model's summary), when there is one ((b) only).
    pub first_reasoning: Option<Duration>,
    /// When each text delta arrived, from the same start.
    pub deltas: Vec<Duration>,
    /// The end of the answer.
    pub end: Duration,
    pub text: String,
}

impl Server {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Direct { .. } => "(a) upstream direct",
            Self::Function { .. } => "(b) release binary behind the Runtime API",
            Self::Peer { .. } => "(c) tutorial's app",
            Self::Watch { .. } => "(w) cargo lambda watch --release",
            Self::Gateway { .. } => "(l) LiteLLM proxy",
        }
    }

    /// Streams the answer to `message`; panics (ending the benchmark) on a failed answer.
    pub async fn stream(&self, http: &reqwest::Client, message: &str) -> Timing {
        match self {
            Self::Function { api } => function_stream(api, message).await,
            _ => self.http_stream(http, message).await,
        }
    }

    async fn http_stream(&self, http: &reqwest::Client, message: &str) -> Timing {
        let started = Instant::now();
        let (request, text_event) = match self {
            Self::Direct { base_url } | Self::Gateway { base_url } => (
                http.post(format!("{base_url}/responses"))
                    .bearer_auth("sk-bench")
                    .json(&serde_json::json!({ "model": "gpt-6-luna", "input": message, "stream": true })),
                "response.output_text.delta",
            ),
            Self::Peer { url } | Self::Watch { url } => {
                (http.get(format!("{url}?message={}", test_harness::encode(message))), "message")
            }
            Self::Function { .. } => unreachable!("not over HTTP"),
        };
        let response = request.send().await.unwrap_or_else(|e| panic!("{}: {e}", self.label()));
        assert!(response.status().is_success(), "{}: HTTP {}", self.label(), response.status());
        // Only the bytes' arrival is on the clock, as for (b) at the Runtime API stand-in: the
        // SSE (and, for (a), JSON) parsing comes after the answer ends.
        let mut body = response.bytes_stream();
        let mut chunks = Vec::new();
        while let Some(bytes) = body.next().await {
            let bytes = bytes.unwrap_or_else(|e| panic!("{}: {e}", self.label()));
            chunks.push(Chunk { at: Instant::now(), bytes });
        }
        let end = started.elapsed();
        let (mut deltas, mut text) = (Vec::new(), String::new());
        for (at, event) in timed_events(&chunks).await {
            if let Self::Direct { .. } | Self::Gateway { .. } = self {
                // OpenAI's events name their type in the JSON; a gateway may drop the `event:` line.
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&event.data) else { continue };
                if json["type"] == text_event {
                    deltas.push(at.saturating_duration_since(started));
                    text.push_str(json["delta"].as_str().unwrap_or_default());
                }
            } else if event.event == text_event {
                deltas.push(at.saturating_duration_since(started));
                text.push_str(&event.data);
            }
        }
        let first_text = *deltas.first().unwrap_or_else(|| panic!("{}: no text", self.label()));
        Timing { first_text, first_reasoning: None, deltas, end, text }
    }
}

async fn function_stream(api: &RuntimeApi, message: &str) -> Timing {
    function_query(api, &format!("message={}", test_harness::encode(message))).await
}

/// One invocation of the function behind the Runtime API stand-in with this query string.
pub async fn function_query(api: &RuntimeApi, query: &str) -> Timing {
    let answer = api.invoke(get_event(query)).await;
    timing_of(api, &answer).await
}

/// The timing of one streamed invocation, from queueing its event.
pub async fn timing_of(api: &RuntimeApi, answer: &Invocation) -> Timing {
    if answer.error.is_some() || answer.status != Some(200) {
        panic!("(b): status {:?}, {:?}; body {:?}; log:\n{}", answer.status, answer.error, answer.text(), api.log());
    }
    let started = answer.invoked_at;
    let (mut deltas, mut text, mut first_reasoning) = (Vec::new(), String::new(), None);
    for (at, event) in timed_events(&answer.chunks).await {
        if event.event == "message" {
            deltas.push(at.saturating_duration_since(started));
            text.push_str(&event.data);
        }
        if event.event == "reasoning" {
            first_reasoning.get_or_insert(at.saturating_duration_since(started));
        }
    }
    let first_text = *deltas.first().unwrap_or_else(|| panic!("(b): no text in {:?}", answer.text()));
    Timing { first_text, first_reasoning, deltas, end: answer.finished_at.saturating_duration_since(started), text }
}

/// The SSE events of a streamed answer, each with the arrival time of the chunk that completed
/// it. The parser pulls a chunk only when it needs more bytes, so the chunk last pulled when an
/// event comes out is the one that finished it.
async fn timed_events(chunks: &[Chunk]) -> Vec<(Instant, eventsource_stream::Event)> {
    let last = Cell::new(None);
    let stream = futures_util::stream::iter(chunks).map(|chunk| {
        last.set(Some(chunk.at));
        Ok::<_, std::convert::Infallible>(chunk.bytes.clone())
    });
    let mut events = stream.eventsource();
    let mut out = Vec::new();
    while let Some(event) = events.next().await {
        let event = event.expect("valid SSE");
        out.push((last.get().expect("a chunk was read"), event));
    }
    out
}

/// How late each delta after the first came: its gap after the previous delta, less the pace
/// the upstream keeps between deltas. A stall shows up once, at the delta it held back.
pub fn lateness_ms(deltas: &[Duration], pace: Duration) -> impl Iterator<Item = f64> + '_ {
    deltas.windows(2).map(move |w| millis(w[1].saturating_sub(w[0])) - millis(pace))
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The value below which `q` of the samples fall (nearest rank).
/// Several quantiles of `samples` at once, e.g. `[0.5, 0.99]` (NaN for none).
pub fn quantiles<const N: usize>(samples: &[f64], qs: [f64; N]) -> [f64; N] {
    qs.map(|q| quantile(samples, q))
}

pub fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

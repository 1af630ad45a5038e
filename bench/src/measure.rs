//! One streamed answer from one of the three servers, timed as a client sees it.

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;

/// The three things measured side by side, all against the same stand-in upstream.
#[derive(Debug, Clone)]
pub enum Server {
    /// (a) The stand-in called directly: the limit.
    Direct { base_url: String },
    /// (b) This project's chat-stream under `cargo lambda watch`.
    Ours { url: String },
    /// (c) The tutorial's FastAPI app under uvicorn.
    Peer { url: String },
}

#[derive(Debug, Clone)]
pub struct Timing {
    pub first_text: Duration,
    pub end: Duration,
    pub text: String,
}

impl Server {
    pub async fn stream(&self, http: &reqwest::Client, message: &str) -> Timing {
        let started = Instant::now();
        let (request, text_event) = match self {
            Self::Direct { base_url } => (
                http.post(format!("{base_url}/responses"))
                    .bearer_auth("sk-bench")
                    .json(&serde_json::json!({ "model": "gpt-4o-mini", "input": message, "stream": true })),
                "response.output_text.delta",
            ),
            Self::Ours { url } | Self::Peer { url } => (http.get(format!("{url}?message={}", e2e::encode(message))), "message"),
        };
        let response = request.send().await.expect("request");
        assert!(response.status().is_success(), "{self:?}: HTTP {}", response.status());
        let mut events = response.bytes_stream().eventsource();
        let mut first_text = None;
        let mut text = String::new();
        while let Some(event) = events.next().await {
            let event = event.expect("valid SSE");
            if event.event == text_event {
                first_text.get_or_insert_with(|| started.elapsed());
                if let Self::Direct { .. } = self {
                    let json: serde_json::Value = serde_json::from_str(&event.data).expect("JSON event");
                    text.push_str(json["delta"].as_str().unwrap_or_default());
                } else {
                    text.push_str(&event.data);
                }
            }
        }
        Timing { first_text: first_text.expect("some text"), end: started.elapsed(), text }
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The value below which `q` of the samples fall (nearest rank).
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

//! What background mode (`RESUMABLE_STREAMS`, the default) costs and what a resume costs, both
//! measured on the release binary behind the Runtime API stand-in against the same stand-in.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openai_client::resume::Signer;
use test_harness::runtime_api::RuntimeApi;

use crate::measure::{Server, function_query, millis, quantiles};

const ROUNDS: usize = 30;
/// The stand-in's background stream: created, queued, in_progress, output item, content part;
/// the first delta comes after this sequence number.
const BEFORE_FIRST_DELTA: u64 = 4;

/// Medians and p95s, in milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct BackgroundFigures {
    pub ttft_plain: [f64; 2],
    pub ttft_background: [f64; 2],
    /// A reconnect to an answer that has finished: read from the stored response.
    pub resume_finished: [f64; 2],
    /// A reconnect to an answer still being generated: streamed again after the last event.
    pub resume_live: [f64; 2],
    /// A reasoning model (the default, `gpt-6-luna`, a summary of two parts before the text): to its
    /// summary's first delta, and to its first text.
    pub reasoning_first_summary: [f64; 2],
    pub reasoning_first_text: [f64; 2],
}

fn median_p95(samples: &[f64]) -> [f64; 2] {
    quantiles(samples, [0.5, 0.95])
}

pub async fn measure(
    binary: &Path,
    background: &Arc<RuntimeApi>,
    env: &[(&str, &str)],
    base_url: &str,
    http: &reqwest::Client,
) -> BackgroundFigures {
    let mut plain_env = env.to_vec();
    plain_env.push(("RESUMABLE_STREAMS", "false"));
    let plain = Server::Function { api: Arc::new(RuntimeApi::launch(binary, &plain_env).await) };
    let mut reasoning_env = env.to_vec();
    // The default model (gpt-6-luna) reasons: a summary is asked for by default.
    reasoning_env.push(("OPENAI_MODEL", chat_core::Config::DEFAULT_MODEL));
    let reasoning = Server::Function { api: Arc::new(RuntimeApi::launch(binary, &reasoning_env).await) };
    reasoning.stream(http, "warm up").await;
    let background_server = Server::Function { api: background.clone() };
    plain.stream(http, "warm up").await;

    let (mut ttft_plain, mut ttft_background, mut summary_first, mut summary_text) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ttft_background.push(millis(background_server.stream(http, "hello there").await.first_text));
        ttft_plain.push(millis(plain.stream(http, "hello there").await.first_text));
        let thought = reasoning.stream(http, "/stub summary=2 hello there").await;
        summary_first.push(millis(thought.first_reasoning.expect("a reasoning summary")));
        summary_text.push(millis(thought.first_text));
    }

    let signer = |id: &str| Signer::new("sk-bench", "", id, openai_client::resume::expiry_from_now());
    let (mut finished, mut live) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let done = create_background(http, base_url, "hello there").await;
        wait_finished(http, base_url, &done).await;
        let token = signer(&done).token(BEFORE_FIRST_DELTA, 0);
        finished.push(millis(function_query(background, &format!("last_event_id={token}")).await.first_text));

        let running = create_background(http, base_url, "/stub deltas=40 delay_ms=5").await;
        let token = signer(&running).token(BEFORE_FIRST_DELTA, 0);
        let timing = function_query(background, &format!("last_event_id={token}")).await;
        assert_eq!(timing.deltas.len(), 40, "a live resume lost deltas");
        live.push(millis(timing.first_text));
    }
    BackgroundFigures {
        ttft_plain: median_p95(&ttft_plain),
        ttft_background: median_p95(&ttft_background),
        resume_finished: median_p95(&finished),
        resume_live: median_p95(&live),
        reasoning_first_summary: median_p95(&summary_first),
        reasoning_first_text: median_p95(&summary_text),
    }
}

/// Asks the stand-in directly for a background answer and returns its id at once.
async fn create_background(http: &reqwest::Client, base_url: &str, input: &str) -> String {
    let body = serde_json::json!({ "model": "gpt-6-luna", "input": input, "background": true, "stream": false });
    let response: serde_json::Value = http
        .post(format!("{base_url}/responses"))
        .bearer_auth("sk-bench")
        .json(&body)
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    response["id"].as_str().expect("an id").to_owned()
}

async fn wait_finished(http: &reqwest::Client, base_url: &str, id: &str) {
    for _ in 0..500 {
        let response: serde_json::Value = http
            .get(format!("{base_url}/responses/{id}"))
            .bearer_auth("sk-bench")
            .send()
            .await
            .expect("retrieve")
            .json()
            .await
            .expect("json");
        if response["status"] == "completed" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the stand-in's background answer {id} did not finish");
}

//! A non-streamed answer, measured as the fastest gateways are: one request at a time against
//! the same stand-in, the release chat-complete behind the Runtime API stand-in beside a direct
//! buffered call, and the p99 it adds over direct.

use std::path::Path;
use std::time::Instant;

use test_harness::runtime_api::{RuntimeApi, get_event};

use crate::measure::{millis, quantiles};

const ROUNDS: usize = 200;

/// p50, p99 in milliseconds: direct, through chat-complete.
#[derive(Debug, Default, Clone, Copy)]
pub struct BufferedFigures {
    pub direct: [f64; 2],
    pub function: [f64; 2],
}

pub async fn measure(binary: &Path, env: &[(&str, &str)], base_url: &str, http: &reqwest::Client) -> BufferedFigures {
    let function = RuntimeApi::launch(binary, env).await;
    let query = format!("message={}", test_harness::encode("hello there"));
    let direct_call = || async {
        let started = Instant::now();
        let body = serde_json::json!({ "model": "gpt-6-luna", "input": "hello there", "stream": false });
        let response = http
            .post(format!("{base_url}/responses"))
            .bearer_auth("sk-bench")
            .json(&body)
            .send()
            .await
            .expect("direct");
        let json: serde_json::Value = response.json().await.expect("direct JSON");
        assert_eq!(json["status"], "completed");
        millis(started.elapsed())
    };
    let function_call = || async {
        let answer = function.invoke(get_event(&query)).await;
        assert_eq!(answer.status, Some(200), "chat-complete: {:?} {}", answer.error, answer.text());
        millis(answer.finished_at.saturating_duration_since(answer.invoked_at))
    };
    direct_call().await;
    function_call().await;
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        direct.push(direct_call().await);
        through.push(function_call().await);
    }
    let figures = |samples: &[f64]| quantiles(samples, [0.5, 0.99]);
    BufferedFigures { direct: figures(&direct), function: figures(&through) }
}

//! What a failover costs the reader: time to first text when the primary refuses at once
//! (`429 insufficient_quota`, asked once, no retries) and the fallback answers, against the same
//! answer from a healthy primary; and once the circuit is open (straight to the fallback). Each
//! round is a fresh execution environment (the circuit is per environment), warmed by one answer
//! from the primary, so the fallback's connection is opened by the measured request, as it is
//! in a deployment the first time the primary fails.

use std::path::Path;
use std::time::Duration;

use openai_stub::{StubServer, StubState};
use test_harness::runtime_api::RuntimeApi;

use crate::measure::{function_query, millis, quantiles};

const ROUNDS: usize = 20;
const FALLBACK_KEY: &str = "sk-bench-fallback";

/// Medians and p95s, in milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct FailoverFigures {
    /// First text from a healthy primary.
    pub primary: [f64; 2],
    /// First text when the primary refuses at once and the fallback answers.
    pub failed_over: [f64; 2],
    /// First text while the circuit is open: the fallback asked first.
    pub circuit_open: [f64; 2],
}

impl FailoverFigures {
    /// The rows of the report's table (figure, median / p95).
    pub fn rows(&self) -> String {
        let row = |name: &str, v: [f64; 2]| format!("| {name} | {:.2} / {:.2} ms |\n", v[0], v[1]);
        let cost = [self.failed_over[0] - self.primary[0], self.failed_over[1] - self.primary[1]];
        [
            row("time to first text, the primary healthy (fresh environment, warmed)", self.primary),
            row("time to first text when the primary refuses at once (the fallback answers)", self.failed_over),
            row("failover cost: the two above, subtracted", cost),
            row("time to first text with the circuit open (the fallback asked first)", self.circuit_open),
        ]
        .concat()
    }
}

async fn stand_in() -> StubServer {
    StubServer::start_with(StubState::new(Duration::ZERO, None), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("stand-in")
}

/// `binary` (chat-stream) in fresh environments between two stand-ins; `env` names no upstream.
pub async fn measure(binary: &Path, env: &[(&str, &str)]) -> FailoverFigures {
    let (primary, fallback) = (stand_in().await, stand_in().await);
    let (primary_url, fallback_url) = (primary.base_url(), fallback.base_url());
    let mut env = env.to_vec();
    env.extend_from_slice(&[
        ("OPENAI_BASE_URL", primary_url.as_str()),
        ("OPENAI_API_KEY", "sk-bench"),
        ("FALLBACK_BASE_URL", fallback_url.as_str()),
        ("FALLBACK_API_KEY", FALLBACK_KEY),
    ]);
    let query = format!("message={}", test_harness::encode("hello there"));
    let (mut healthy, mut failed_over, mut open) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for refuses in [false, true] {
            primary.fail_every_create(None);
            let function = RuntimeApi::launch(binary, &env).await;
            function_query(&function, &query).await;
            if refuses {
                primary.fail_every_create(Some((429, Some("insufficient_quota"))));
                failed_over.push(millis(function_query(&function, &query).await.first_text));
                open.push(millis(function_query(&function, &query).await.first_text));
            } else {
                healthy.push(millis(function_query(&function, &query).await.first_text));
            }
        }
    }
    assert_eq!(fallback.requests().len(), 2 * ROUNDS, "the fallback gave every answer measured as its own");
    let figures = |samples: &[f64]| quantiles(samples, [0.5, 0.95]);
    FailoverFigures { primary: figures(&healthy), failed_over: figures(&failed_over), circuit_open: figures(&open) }
}

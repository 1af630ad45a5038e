//! The first request of a new execution environment, as the user behind a cold start feels it:
//! from exec to the first text of the first answer (chat-complete: to its whole answer), with
//! OpenAI behind TLS and limits on in dynalite, beside init alone (exec to the first Runtime API
//! poll) and the same request once warm. The event is queued before the process starts, so the
//! first poll takes it at once, as on AWS.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::runtime_api::{Invocation, RuntimeApi, get_event};

use crate::measure::{millis, quantile, timing_of};

const RUNS: usize = 12;

/// p50, p99 in milliseconds, for one function.
#[derive(Debug, Default, Clone, Copy)]
pub struct ColdFigures {
    pub init: [f64; 2],
    pub first_answer: [f64; 2],
    pub warm: [f64; 2],
    /// Per run, the first answer less init less the warm answer: what a cold start leaves to
    /// the first request beyond init.
    pub extra: [f64; 2],
}

/// `streamed`: chat-stream (to the first text) or chat-complete (to the whole answer).
pub async fn measure(binary: &Path, env: &[(&str, &str)], streamed: bool) -> ColdFigures {
    let query = format!("message={}", e2e::encode("hello there"));
    let (mut init, mut first, mut warm, mut extra) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let api = RuntimeApi::start().await.expect("start the Runtime API stand-in");
        let spawned = Instant::now();
        api.spawn(binary, env).unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let cold = api.invoke(get_event(&query)).await;
        let ready = api.wait_ready(Duration::from_secs(10)).await.unwrap_or_else(|| panic!("no first poll; log:\n{}", api.log()));
        let cold_ms = millis(cold.invoked_at.saturating_duration_since(spawned) + to_text(&api, &cold, streamed).await);
        assert_eq!(cold.status, Some(200), "cold: {:?} {}; log:\n{}", cold.error, cold.text(), api.log());
        let again = api.invoke(get_event(&query)).await;
        let warm_ms = millis(to_text(&api, &again, streamed).await);
        init.push(millis(ready));
        first.push(cold_ms);
        warm.push(warm_ms);
        extra.push(cold_ms - millis(ready) - warm_ms);
    }
    let q = |s: &[f64]| [quantile(s, 0.5), quantile(s, 0.99)];
    ColdFigures { init: q(&init), first_answer: q(&first), warm: q(&warm), extra: q(&extra) }
}

async fn to_text(api: &RuntimeApi, answer: &Invocation, streamed: bool) -> Duration {
    if streamed { timing_of(api, answer).await.first_text } else { answer.finished_at.saturating_duration_since(answer.invoked_at) }
}

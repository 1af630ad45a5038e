//! The first request of a new execution environment, as the user behind a cold start feels it:
//! from exec to the first text of the first answer (chat-complete: to its whole answer), with
//! OpenAI behind TLS and limits on in dynalite, beside init alone (exec to the first Runtime API
//! poll) and the same request once warm. The event is queued before the process starts, so the
//! first poll takes it at once, as on AWS.
//!
//! With limits on, a first request is also its caller's first in this environment, which sends
//! the request's count both ways (spend::window); so the warm request of a caller the
//! environment has not counted is measured too, and three writes at once to the emulator
//! against two.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use test_harness::runtime_api::{Invocation, RuntimeApi, get_event};

use crate::limits::writes_at_once;
use crate::measure::{millis, quantiles, timing_of};

const RUNS: usize = 12;
/// The limits table the cold starts use.
pub const TABLE: &str = "cold";

/// p50, p99 in milliseconds, for one function.
#[derive(Debug, Default, Clone, Copy)]
pub struct ColdFigures {
    pub init: [f64; 2],
    pub first_answer: [f64; 2],
    pub warm: [f64; 2],
    /// Per run, the first answer less init less the warm answer: what a cold start leaves to
    /// the first request beyond init.
    pub extra: [f64; 2],
    /// With limits on, per run: the first answer less init less a warm answer to a caller this
    /// environment has not counted, i.e. the cold start's own part.
    pub extra_over_new_caller: [f64; 2],
    /// Medians, cold then warm: from the poll that took the event to the response's prelude
    /// (admission and OpenAI's answer headers), and from the prelude to the first text.
    pub to_prelude: [f64; 2],
    pub prelude_to_text: [f64; 2],
    /// With limits on, median: three conditional writes at once to the emulator (one whose
    /// condition fails, as a pair's other half) less two, from this process; dynalite, one Node
    /// thread, takes them in turn, DynamoDB side by side.
    pub third_write: f64,
}

/// `streamed`: chat-stream (to the first text) or chat-complete (to the whole answer); with
/// `dynamo` (limits on), the new caller's request and the emulator's writes are measured too.
pub async fn measure(binary: &Path, env: &[(&str, &str)], streamed: bool, dynamo: Option<&Client>) -> ColdFigures {
    let query = format!("message={}", test_harness::encode("hello there"));
    let (mut init, mut first, mut warm, mut extra) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut over_new_caller, mut third) = (Vec::new(), Vec::new());
    let mut phases: [Vec<f64>; 4] = Default::default();
    for run in 0..RUNS {
        let api = RuntimeApi::start().await.expect("start the Runtime API stand-in");
        let spawned = Instant::now();
        api.spawn(binary, env).unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let cold = api.invoke(get_event(&query)).await;
        let ready = api
            .wait_ready(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no first poll; log:\n{}", api.log()));
        let cold_text = to_text(&api, &cold, streamed).await;
        let cold_ms = millis(cold.invoked_at.saturating_duration_since(spawned) + cold_text);
        assert_eq!(cold.status, Some(200), "cold: {:?} {}; log:\n{}", cold.error, cold.text(), api.log());
        let again = api.invoke(get_event(&query)).await;
        let warm_text = to_text(&api, &again, streamed).await;
        let warm_ms = millis(warm_text);
        init.push(millis(ready));
        first.push(cold_ms);
        warm.push(warm_ms);
        extra.push(cold_ms - millis(ready) - warm_ms);
        if let Some(client) = dynamo {
            let newcomer = api.invoke(from_new_caller(&query)).await;
            over_new_caller.push(cold_ms - millis(ready) - millis(to_text(&api, &newcomer, streamed).await));
            let prefix = format!("cold#{run}");
            third.push(
                writes_at_once(client, TABLE, &prefix, 3).await - writes_at_once(client, TABLE, &prefix, 2).await,
            );
        }
        if streamed {
            for (i, (answer, to_first_text)) in [(&cold, cold_text), (&again, warm_text)].into_iter().enumerate() {
                let (polled, prelude) =
                    (answer.handed_out_at.unwrap_or(answer.invoked_at), answer.prelude_at.unwrap_or(answer.invoked_at));
                let text = answer.invoked_at + to_first_text;
                phases[i].push(millis(prelude.saturating_duration_since(polled)));
                phases[2 + i].push(millis(text.saturating_duration_since(prelude)));
            }
        }
    }
    let q = |s: &[f64]| quantiles(s, [0.5, 0.99]);
    ColdFigures {
        init: q(&init),
        first_answer: q(&first),
        warm: q(&warm),
        extra: q(&extra),
        extra_over_new_caller: q(&over_new_caller),
        to_prelude: [q(&phases[0])[0], q(&phases[1])[0]],
        prelude_to_text: [q(&phases[2])[0], q(&phases[3])[0]],
        third_write: q(&third)[0],
    }
}

async fn to_text(api: &RuntimeApi, answer: &Invocation, streamed: bool) -> Duration {
    if streamed {
        timing_of(api, answer).await.first_text
    } else {
        answer.finished_at.saturating_duration_since(answer.invoked_at)
    }
}

/// The same request from a caller no environment has counted (an address of its own, each time).
fn from_new_caller(query: &str) -> serde_json::Value {
    static CALLERS: AtomicUsize = AtomicUsize::new(1);
    let mut event = get_event(query);
    event["requestContext"]["http"]["sourceIp"] =
        format!("2001:db8:{:x}::1", CALLERS.fetch_add(1, Ordering::Relaxed)).into();
    event
}

//! What the limits cost on the path to the first text: the release chat-stream with
//! `LIMITS_TABLE` on dynalite (a real DynamoDB emulator on loopback) beside the same binary with
//! limits off, interleaved, and the emulator's own round trips: one conditional write, and two
//! at once as admission sends them.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use test_harness::Dynalite;
use test_harness::runtime_api::RuntimeApi;

use crate::measure::{Server, millis, quantiles};

const ROUNDS: usize = 60;

/// Every limit on, tokens and dollars, set out of reach of the rounds: what is measured is their
/// round trips (a dollar budget rides in the same writes as the tokens).
pub const OUT_OF_REACH: [(&str, &str); 5] = [
    ("RATE_LIMIT_PER_MINUTE", "1000000"),
    ("CALLER_TOKENS_PER_DAY", "1000000000"),
    ("DAILY_TOKEN_BUDGET", "1000000000"),
    ("CALLER_USD_PER_DAY", "1000000"),
    ("DAILY_BUDGET_USD", "1000000"),
];

/// p50, p95, p99 in milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct LimitsFigures {
    pub ttft_off: [f64; 3],
    pub ttft_on: [f64; 3],
    /// One `UpdateItem` to the emulator, from this process: what one round trip costs here.
    pub write: [f64; 3],
    /// Two at once, as a question's admission sends them (the caller's and the budget's): one
    /// round trip in DynamoDB, two writes in turn in the emulator's one thread.
    pub two_writes: [f64; 3],
    /// The function's own admission (`spend::Store::take_slot_and_reserve`: the caller's
    /// request, tokens and dollars in one conditional write with its window, beside the
    /// budget's) sent from this process: what admission costs against this emulator, without
    /// the function around it.
    pub admission: [f64; 3],
}

pub async fn measure(
    binary: &Path,
    off: &Arc<RuntimeApi>,
    env: &[(&str, &str)],
    http: &reqwest::Client,
) -> LimitsFigures {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("limits").await;
    let mut on_env = env.to_vec();
    on_env.extend(dynamo.limits_env("limits"));
    // Limits on, but out of reach of the rounds: what is measured is their round trips.
    on_env.extend(OUT_OF_REACH);
    let on = Server::Function { api: Arc::new(RuntimeApi::launch(binary, &on_env).await) };
    let off = Server::Function { api: off.clone() };
    on.stream(http, "warm up").await;

    let client = dynamo.client();
    let store = spend::Store::with_client("limits".into(), client.clone());
    let (mut ttft_off, mut ttft_on, mut writes, mut pairs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut admissions = Vec::new();
    for round in 0..ROUNDS {
        ttft_off.push(millis(off.stream(http, "hello there").await.first_text));
        ttft_on.push(millis(on.stream(http, "hello there").await.first_text));
        let started = Instant::now();
        client
            .update_item()
            .table_name("limits")
            .key("pk", AttributeValue::S(format!("bench#{round}")))
            .update_expression("ADD used :n")
            .expression_attribute_values(":n", AttributeValue::N("1".into()))
            .send()
            .await
            .expect("a write to dynalite");
        writes.push(millis(started.elapsed()));
        pairs.push(writes_at_once(&client, "limits", &format!("pair#{round}"), 2).await);
        admissions.push(admission(&store).await);
    }
    let q = |samples: &[f64]| quantiles(samples, [0.5, 0.95, 0.99]);
    LimitsFigures {
        ttft_off: q(&ttft_off),
        ttft_on: q(&ttft_on),
        write: q(&writes),
        two_writes: q(&pairs),
        admission: q(&admissions),
    }
}

/// Milliseconds for one admission as the function makes it, by one caller asking again and
/// again (a window of its own, as the function's reader is): limits out of reach, a question's
/// worth of tokens and dollars.
async fn admission(store: &spend::Store) -> f64 {
    let amount = spend::Amount { tokens: 4_200, nanos: 2_100_000 };
    let day = spend::DayLimit { tokens: 1_000_000_000, nanos: Some(1_000_000_000_000_000) };
    let started = Instant::now();
    store.take_slot_and_reserve("ip:bench", 1_000_000, amount, day, day).await.expect("an admission");
    millis(started.elapsed())
}

/// Milliseconds for `n` conditional updates at once, each to an item of its own, as the
/// function's admission sends them: two that apply, and from the third on one whose condition
/// fails (the half of the pair that does not apply).
pub async fn writes_at_once(client: &Client, table: &str, prefix: &str, n: usize) -> f64 {
    let write = |i: usize| {
        let condition = if i < 2 { "attribute_not_exists(used) OR used < :cap" } else { "used > :cap" };
        client
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S(format!("{prefix}#{n}#{i}")))
            .update_expression("ADD used :n")
            .condition_expression(condition)
            .expression_attribute_values(":n", AttributeValue::N("1".into()))
            .expression_attribute_values(":cap", AttributeValue::N("1000000".into()))
            .send()
    };
    let started = Instant::now();
    for (i, written) in futures_util::future::join_all((0..n).map(write)).await.into_iter().enumerate() {
        match written {
            Ok(_) => assert!(i < 2, "a write whose condition cannot hold was applied"),
            Err(error) => assert!(
                i >= 2 && error.into_service_error().is_conditional_check_failed_exception(),
                "a write to dynalite failed"
            ),
        }
    }
    millis(started.elapsed())
}

//! What the limits cost on the path to the first text: the release chat-stream with
//! `LIMITS_TABLE` on dynalite (a real DynamoDB emulator on loopback) beside the same binary with
//! limits off, interleaved, and one conditional write's own round trip to the emulator.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::Dynalite;
use e2e::runtime_api::RuntimeApi;

use crate::measure::{Server, millis, quantiles};

const ROUNDS: usize = 60;
const P50_95_99: [f64; 3] = [0.5, 0.95, 0.99];

/// p50, p95, p99 in milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct LimitsFigures {
    pub ttft_off: [f64; 3],
    pub ttft_on: [f64; 3],
    /// One `UpdateItem` to the emulator, from this process: what one round trip costs here.
    pub write: [f64; 3],
}

pub async fn measure(binary: &Path, off: &Arc<RuntimeApi>, env: &[(&str, &str)], http: &reqwest::Client) -> LimitsFigures {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("limits").await;
    let mut on_env = env.to_vec();
    on_env.extend(dynamo.limits_env("limits"));
    // Limits on, but out of reach of the rounds: what is measured is their round trips.
    on_env.extend([
        ("RATE_LIMIT_PER_MINUTE", "1000000"),
        ("CALLER_TOKENS_PER_DAY", "1000000000"),
        ("DAILY_TOKEN_BUDGET", "1000000000"),
    ]);
    let on = Server::Function { api: Arc::new(RuntimeApi::launch(binary, &on_env).await) };
    let off = Server::Function { api: off.clone() };
    on.stream(http, "warm up").await;

    let client = dynamo.client();
    let (mut ttft_off, mut ttft_on, mut writes) = (Vec::new(), Vec::new(), Vec::new());
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
    }
    LimitsFigures { ttft_off: quantiles(&ttft_off, P50_95_99), ttft_on: quantiles(&ttft_on, P50_95_99), write: quantiles(&writes, P50_95_99) }
}

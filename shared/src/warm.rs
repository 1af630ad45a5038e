//! What the first request of an execution environment would wait for, done during init (which
//! AWS runs on boosted CPU, before the first request or, with provisioned concurrency, ahead of
//! any): the TCP and TLS handshakes with OpenAI and, with limits on, DynamoDB, and with
//! `ACCESS=jwt` the identity provider's keys, all at once. Bounded, and never fatal: a request
//! after it does whatever was not done. The API key's read from Secrets Manager, started at
//! init too, is not waited for: Secrets Manager out of reach must not hold init.

use std::time::{Duration, Instant};

use openai_client::ResponsesClient;
use spend::Gate;

/// The longest init waits for them; Lambda allows init 10 s.
pub const OPEN_AHEAD_LIMIT: Duration = Duration::from_millis(1500);

pub async fn open_connections(client: &ResponsesClient, gate: &Gate) {
    let started = Instant::now();
    let all = async {
        tokio::join!(client.open_connection(), gate.open_connections());
    };
    let in_time = tokio::time::timeout(OPEN_AHEAD_LIMIT, all).await.is_ok();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(ms, in_time, "connections opened during init");
}

//! What the first request of an execution environment would wait for, done during init (which
//! AWS runs on boosted CPU, before the first request or, with provisioned concurrency, ahead of
//! any): the API key read, the TCP and TLS handshakes with OpenAI and, with limits on, DynamoDB,
//! and with `ACCESS=jwt` the identity provider's keys, all at once. Bounded, and never fatal: a
//! request after it does whatever was not done.

use std::time::{Duration, Instant};

use openai_client::ResponsesClient;
use spend::Gate;

/// The longest init waits for them; Lambda allows init 10 s.
pub const OPEN_AHEAD_LIMIT: Duration = Duration::from_millis(1500);

pub async fn open_connections(client: &ResponsesClient, gate: &Gate) {
    let started = Instant::now();
    let all = async {
        // A failed key read is read again by the request that needs it.
        let (_, key, _) = tokio::join!(client.open_connection(), client.key_ready(), gate.open_connections());
        key.is_ok()
    };
    let outcome = tokio::time::timeout(OPEN_AHEAD_LIMIT, all).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(ms, in_time = outcome.is_ok(), key_read = outcome.unwrap_or(false), "connections opened during init");
}

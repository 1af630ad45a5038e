//! The per-delta hot path, upstream SSE in to browser SSE out: `eventsource-stream` parsing,
//! the typed event, and `SseEncoder`. Run with `cargo bench -p shared`.

// Test code: a failed unwrap is a failed test, which is the point of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use openai_client::{UpstreamEvent, parse_event};
use shared::SseEncoder;

const DELTAS: usize = 1000;

fn upstream_body() -> bytes::Bytes {
    let mut body = String::new();
    for i in 0..DELTAS {
        let event = serde_json::json!({
            "type": "response.output_text.delta", "sequence_number": i + 4, "item_id": "msg_0123456789abcdef",
            "output_index": 0, "content_index": 0, "delta": format!(" word{i}"), "logprobs": [], "obfuscation": "x1y2z3"
        });
        body.push_str(&format!("event: response.output_text.delta\ndata: {event}\n\n"));
    }
    body.into()
}

fn relay(runtime: &tokio::runtime::Runtime, body: &bytes::Bytes, chunk: usize) -> usize {
    let chunks: Vec<Result<bytes::Bytes, std::convert::Infallible>> =
        (0..body.len()).step_by(chunk).map(|at| Ok(body.slice(at..(at + chunk).min(body.len())))).collect();
    runtime.block_on(async {
        let mut events = futures_util::stream::iter(chunks).eventsource();
        let sse = SseEncoder;
        let mut written = 0;
        while let Some(Ok(event)) = events.next().await {
            if let Ok(Some(UpstreamEvent::TextDelta(text))) = parse_event(&event.data, "sk-bench") {
                written += sse.text(&text).len();
            }
        }
        written
    })
}

fn sse_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let body = upstream_body();
    let mut group = c.benchmark_group("sse_path");
    group.throughput(Throughput::Elements(DELTAS as u64));
    // Network reads rarely line up with events: 1,460 bytes is one TCP segment.
    group.bench_function("parse_and_encode_1000_deltas", |b| b.iter(|| relay(&runtime, &body, 1460)));
    group.bench_function("encode_only_1000_deltas", |b| {
        let sse = SseEncoder;
        b.iter(|| (0..DELTAS).map(|i| sse.text(if i % 2 == 0 { " word" } else { "line\nbreak" }).len()).sum::<usize>())
    });
    group.finish();
}

criterion_group!(benches, sse_path);
criterion_main!(benches);

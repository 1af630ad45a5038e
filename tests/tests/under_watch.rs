//! The functions as users run them: under `cargo lambda watch`, spoken to over HTTP, read the
//! way `curl -N` and a browser read them.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use openai_stub::StubServer;
use test_harness::{LambdaWatch, TEST_KEY, as_browser_sees, browser_events, encode, message_data};

/// Reads a streamed body chunk by chunk, noting when each `data:` line arrived.
async fn timed_stream(url: &str) -> (Vec<(Duration, String)>, Vec<u8>) {
    let started = Instant::now();
    let response = reqwest::get(url).await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let mut body = Vec::new();
    let mut arrivals = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.expect("chunk");
        for line in
            String::from_utf8_lossy(&chunk).lines().filter(|l| l.starts_with("data: w") || l.starts_with("data:  w"))
        {
            arrivals.push((started.elapsed(), line.to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    (arrivals, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_work_under_cargo_lambda_watch() {
    let stub = StubServer::start().await.expect("stand-in");
    let watch = LambdaWatch::start(&[("OPENAI_BASE_URL", &stub.base_url()), ("OPENAI_API_KEY", TEST_KEY)]).await;
    let stream_url = |message: &str| format!("{}?message={}", watch.url("chat-stream"), encode(message));

    // The emulator buffers a function's very first answer, before it learns the function
    // streams; a blank message teaches it without calling upstream (the run command does this too).
    watch.warm_up().await;
    assert!(stub.requests().is_empty(), "invalid input must never reach upstream");

    // Deltas arrive one by one, spread out as the model sends them, not all at the end. When
    // the emulator starts a fresh instance anyway (a first delta seconds late, on a loaded
    // machine), it buffers that instance's first answer: that answer says nothing about ours,
    // so it is measured once more on the now warm instance.
    let (mut arrivals, mut body) = timed_stream(&stream_url("/stub deltas=12 delay_ms=60")).await;
    if arrivals.first().is_some_and(|(at, _)| *at > Duration::from_millis(1500)) {
        (arrivals, body) = timed_stream(&stream_url("/stub deltas=12 delay_ms=60")).await;
    }
    assert_eq!(arrivals.len(), 12, "{}", String::from_utf8_lossy(&body));
    let spread = arrivals[11].0 - arrivals[0].0;
    assert!(spread >= Duration::from_millis(11 * 60 * 8 / 10), "deltas bunched together: {arrivals:?}");
    let events = browser_events(&body).await;
    assert_eq!(events.first().map(|e| e.event.as_str()), Some("start"));
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("end"));

    // Tricky text arrives exactly, through the emulator too.
    let (_, body) = timed_stream(&stream_url("/stub text=tricky")).await;
    let expected: Vec<String> = openai_stub::reply::TRICKY_DELTAS.iter().map(|d| as_browser_sees(d)).collect();
    assert_eq!(message_data(&browser_events(&body).await), expected);

    // Two streams at once: one open stream does not block another. The second may need a new
    // instance started, so what is checked is the order: it ends while the first still streams.
    let slow_url = stream_url("/stub deltas=30 delay_ms=100");
    let slow = tokio::spawn(async move {
        let result = timed_stream(&slow_url).await;
        (result, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (quick, _) = timed_stream(&stream_url("/stub deltas=3")).await;
    let quick_ended = Instant::now();
    assert_eq!(quick.len(), 3);
    let ((slow_arrivals, _), slow_ended) = slow.await.expect("slow stream");
    assert_eq!(slow_arrivals.len(), 30);
    assert!(quick_ended + Duration::from_millis(500) < slow_ended, "the second stream waited for the first");

    // chat-complete answers with the whole text; bad input is a 400 with a detail.
    let complete: serde_json::Value =
        reqwest::get(format!("{}?message={}", watch.url("chat-complete"), encode("/stub echo whole answer")))
            .await
            .expect("complete")
            .json()
            .await
            .expect("json");
    assert_eq!(complete["data"], "whole answer");
    for function in ["chat-complete", "chat-stream"] {
        let response = reqwest::get(format!("{}?message=%20", watch.url(function))).await.expect("blank");
        assert_eq!(response.status(), 400, "{function}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["detail"], "`message` must not be blank", "{function}");
    }

    // The page is served, wired to the local URLs.
    let page = reqwest::get(watch.url("index")).await.expect("index").text().await.expect("html");
    assert!(page.contains("\"chatStreamUrl\":\"/lambda-url/chat-stream\""));

    // A reader that goes away closes the upstream request at once. (In background mode, the
    // default, the answer itself goes on so it can be resumed; Stop is what cancels it.)
    let response = reqwest::get(stream_url("/stub deltas=100 delay_ms=50")).await.expect("stream");
    let mut chunks = response.bytes_stream();
    let mut seen = 0;
    while seen < 3 {
        let chunk = chunks.next().await.expect("chunk").expect("bytes");
        seen += String::from_utf8_lossy(&chunk).matches("data: w").count()
            + String::from_utf8_lossy(&chunk).matches("data:  w").count();
    }
    drop(chunks);
    let dropped_at = Instant::now();
    let closed = loop {
        let request =
            stub.requests().into_iter().find(|r| r.input == "/stub deltas=100 delay_ms=50").expect("recorded");
        if request.closed_ms.is_some() || dropped_at.elapsed() > Duration::from_secs(3) {
            break request;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        closed.closed_ms.is_some() && !closed.finished,
        "upstream kept streaming after the reader left: {closed:?}"
    );
    assert!(closed.deltas_sent < 40, "upstream closed late: {closed:?}");

    let log = watch.log();
    assert!(!log.contains(TEST_KEY), "the key leaked into the log");
    assert!(log.contains("total_tokens"), "usage is logged when an answer completes:\n{log}");
}

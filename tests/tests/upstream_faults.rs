//! Every upstream fault, driven through the production `ResponsesClient` against the stand-in:
//! retries and their limits, timeouts, and what reaches the user.

use std::time::{Duration, Instant};

use chat_core::ApiError;
use futures_util::StreamExt;
use openai_client::UpstreamEvent;
use test_harness::{TestUpstream, chat as request};

fn soon() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(20)
}

#[tokio::test]
async fn transient_errors_are_retried_until_they_pass() {
    let upstream = TestUpstream::start().await;
    for (message, attempts) in [
        ("/stub status=429 times=1 retry_after_ms=50 echo ok", 2),
        ("/stub status=500 times=2 echo ok", 3),
        ("/stub status=503 times=1 echo ok", 2),
        ("/stub status=409 times=1 echo ok", 2),
    ] {
        let answer = upstream.client.create(&request(message), soon()).await.expect(message);
        assert_eq!((answer.text.as_str(), answer.retries), ("ok", attempts - 1), "{message}");
        let seen = upstream.stub.requests().iter().filter(|r| r.input == message).count();
        assert_eq!(seen, attempts as usize, "{message}");
    }
}

#[tokio::test]
async fn retries_stop_at_the_limit_with_the_right_status() {
    let upstream = TestUpstream::start_with(&[("OPENAI_MAX_RETRIES", "2")]).await;
    let error = upstream.client.create(&request("/stub status=429 retry_after_ms=10"), soon()).await.unwrap_err();
    assert_eq!(error, ApiError::RateLimited { retry_after: Some(Duration::from_millis(10)) });
    assert_eq!(error.status(), 429);
    let error = upstream.client.create(&request("/stub status=500"), soon()).await.unwrap_err();
    assert_eq!(error.status(), 502);
    assert_eq!(upstream.stub.requests().len(), 6, "3 attempts each");
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let upstream = TestUpstream::start().await;
    for (message, status) in [
        ("/stub status=429 code=insufficient_quota", 503),
        ("/stub status=400", 502),
        // A create answered 404 names a model OpenAI does not serve (model_not_found).
        ("/stub status=404", 503),
        ("/stub status=401", 500),
        // A gateway or server that stopped waiting for the model: it may still be generating
        // (and billing) the answer, which a second create would not settle.
        ("/stub status=408", 502),
        ("/stub status=502", 502),
        ("/stub status=504", 502),
    ] {
        let error = upstream.client.create(&request(message), soon()).await.unwrap_err();
        assert_eq!(error.status(), status, "{message}: {error:?}");
    }
    assert_eq!(upstream.stub.requests().len(), 7, "one attempt each");
}

#[tokio::test]
async fn retry_after_is_honoured_but_never_past_the_deadline() {
    let upstream = TestUpstream::start().await;
    let started = Instant::now();
    upstream.client.create(&request("/stub status=429 times=1 retry_after=1 echo ok"), soon()).await.expect("retried");
    assert!(started.elapsed() >= Duration::from_millis(950), "retry-after ignored: {:?}", started.elapsed());

    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    let error = upstream.client.create(&request("/stub status=429 retry_after=5"), deadline).await.unwrap_err();
    assert_eq!(error.status(), 429);
    assert!(started.elapsed() < Duration::from_millis(700), "waited past the deadline: {:?}", started.elapsed());
}

#[tokio::test]
async fn connection_refused_is_retried_then_a_502() {
    let port = test_harness::free_port();
    let stub = openai_stub::StubServer::start().await.expect("stub");
    let base = format!("http://127.0.0.1:{port}/v1");
    let client = test_harness::client_for(&stub, &[("OPENAI_BASE_URL", &base), ("OPENAI_MAX_RETRIES", "1")]);
    let error = client.create(&request("hi"), soon()).await.unwrap_err();
    assert_eq!(error, ApiError::UpstreamUnreachable);
    assert_eq!(error.status(), 502);
}

#[tokio::test]
async fn a_hanging_upstream_times_out_well_before_lambda_would() {
    let upstream = TestUpstream::start_with(&[
        ("OPENAI_FIRST_EVENT_TIMEOUT_MS", "300"),
        ("OPENAI_IDLE_TIMEOUT_MS", "300"),
        ("OPENAI_TOTAL_TIMEOUT_MS", "1500"),
    ])
    .await;
    let client = &upstream.client;

    // Buffered: no answer at all, then the overall deadline.
    let started = Instant::now();
    let deadline = client.deadline(None);
    let error = client.create(&request("/stub hang_headers"), deadline).await.unwrap_err();
    assert_eq!(error.status(), 504);
    assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());

    // Streamed: headers, then silence: the first-token limit (the idle limit is longer here, so
    // only the first-token limit can end it).
    let patient_idle =
        TestUpstream::start_with(&[("OPENAI_FIRST_EVENT_TIMEOUT_MS", "300"), ("OPENAI_IDLE_TIMEOUT_MS", "5000")]).await;
    let started = Instant::now();
    let mut stream =
        patient_idle.client.stream(&request("/stub hang"), client.deadline(None)).await.expect("headers arrive");
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    assert_eq!(last, Some(Err(ApiError::UpstreamTimeout(chat_core::Wait::FirstText))));
    assert!(started.elapsed() < Duration::from_millis(1000), "{:?}", started.elapsed());

    // Events that are not text (created, in progress, a reasoning item) do not hold the
    // first-token limit open.
    let started = Instant::now();
    let mut stream = patient_idle
        .client
        .stream(&request("/stub reasoning first_delay_ms=1500 echo late"), client.deadline(None))
        .await
        .expect("stream");
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    assert_eq!(last, Some(Err(ApiError::UpstreamTimeout(chat_core::Wait::FirstText))));
    assert!(started.elapsed() < Duration::from_millis(1200), "{:?}", started.elapsed());

    // Streamed: text, then a gap longer than the idle limit.
    let mut stream =
        client.stream(&request("/stub deltas=3 delay_ms=600"), client.deadline(None)).await.expect("stream");
    let mut texts = 0;
    let mut last = None;
    while let Some(event) = stream.next().await {
        if let Ok(UpstreamEvent::TextDelta(_)) = event {
            texts += 1;
        }
        last = Some(event);
    }
    assert_eq!(texts, 1);
    assert_eq!(last, Some(Err(ApiError::UpstreamTimeout(chat_core::Wait::Silence))));

    // The Lambda deadline caps everything: 2 s are kept to answer in.
    let lambda = tokio::time::Instant::now() + Duration::from_millis(2300);
    let deadline = client.deadline(Some(lambda));
    assert!(deadline <= lambda - Duration::from_secs(2));
}

#[tokio::test]
async fn each_attempt_has_its_own_window_for_headers() {
    // The retry starts after the first attempt's window has closed: it gets a window of its own
    // and succeeds, instead of being reported as a timeout.
    let upstream = TestUpstream::start_with(&[("OPENAI_FIRST_EVENT_TIMEOUT_MS", "400")]).await;
    let stream = upstream.client.stream(&request("/stub status=429 times=1 retry_after_ms=600 echo ok"), soon()).await;
    let mut stream = stream.expect("the retry was answered");
    let mut text = String::new();
    while let Some(Ok(event)) = stream.next().await {
        if let UpstreamEvent::TextDelta(delta) = event {
            text.push_str(&delta);
        }
    }
    assert_eq!((text.as_str(), stream.retries), ("ok", 1));
}

#[tokio::test]
async fn a_slow_first_token_is_waited_for() {
    let upstream = TestUpstream::start_with(&[("OPENAI_FIRST_EVENT_TIMEOUT_MS", "2000")]).await;
    let mut stream =
        upstream.client.stream(&request("/stub first_delay_ms=700 echo late"), soon()).await.expect("stream");
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        if let Ok(UpstreamEvent::TextDelta(delta)) = event {
            text.push_str(&delta);
        }
    }
    assert_eq!(text, "late");
}

#[tokio::test]
async fn upstream_text_is_logged_without_the_key_and_never_passed_on() {
    let upstream = TestUpstream::start().await;
    let error = upstream.client.create(&request("/stub status=400 leak"), soon()).await.unwrap_err();
    assert!(
        !error.detail().contains(test_harness::TEST_KEY) && !error.detail().contains("Invalid value"),
        "{}",
        error.detail()
    );
    assert!(!error.log_detail().contains(test_harness::TEST_KEY), "{}", error.log_detail());
    assert!(
        error.log_detail().contains("[redacted]") && error.log_detail().contains("Invalid value"),
        "{}",
        error.log_detail()
    );
    let mut stream =
        upstream.client.stream(&request("/stub error=nested leak echo abc"), soon()).await.expect("stream");
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    let Some(Err(error)) = last else { panic!("no error: {last:?}") };
    assert!(
        !error.detail().contains(test_harness::TEST_KEY) && !error.detail().contains("[redacted]"),
        "{}",
        error.detail()
    );
    assert!(
        !error.log_detail().contains(test_harness::TEST_KEY) && error.log_detail().contains("[redacted]"),
        "{}",
        error.log_detail()
    );
}

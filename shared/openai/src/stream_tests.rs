//! The stream as the relay reads it from raw bytes: an event that cannot be read is skipped (a
//! few at most), and an answer is complete at `response.completed` however the connection ends.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use super::*;
use crate::event::parse;

const CREATED: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n";
const COMPLETED: &str = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[]}}\n\n";
const GARBLED: &str =
    "event: response.output_text.delta\ndata: {\"type\": \"response.output_text.delta\", \"delta\": \n\n";
const NO_DELTA: &str = "data: {\"type\":\"response.output_text.delta\"}\n\n";

fn delta(text: &str) -> String {
    format!(
        "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"delta\":\"{text}\"}}\n\n"
    )
}

/// The events read from `chunks`, then whatever ends the stream.
async fn read(chunks: Vec<Result<String, std::io::Error>>) -> Vec<Result<UpstreamEvent, ApiError>> {
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks.into_iter().map(|c| c.map(bytes::Bytes::from))));
    let response = reqwest::Response::from(http::Response::new(body));
    let later = Instant::now() + Duration::from_secs(5);
    ResponseStream::new(response, Arc::from("sk-test"), 0, Timeouts::default(), later, later).collect().await
}

fn text(events: &[Result<UpstreamEvent, ApiError>]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(UpstreamEvent::TextDelta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn one_event_that_cannot_be_read_is_skipped_and_the_answer_completes() {
    for bad in [GARBLED, NO_DELTA] {
        let chunks = [CREATED.into(), delta("a"), bad.into(), delta("b"), COMPLETED.into()];
        let events = read(chunks.into_iter().map(Ok).collect()).await;
        assert_eq!(text(&events), "ab", "{bad}");
        assert!(matches!(events.last(), Some(Ok(UpstreamEvent::Completed { .. }))), "{events:?}");
        assert!(events.iter().all(Result::is_ok), "{events:?}");
    }
}

#[tokio::test]
async fn a_stream_of_garbage_fails_after_a_few_unreadable_events() {
    let mut chunks = vec![Ok(CREATED.to_owned()), Ok(delta("a"))];
    chunks.extend((0..=MAX_UNREADABLE_EVENTS).map(|_| Ok(GARBLED.to_owned())));
    chunks.push(Ok(COMPLETED.to_owned()));
    let events = read(chunks).await;
    assert_eq!(events.last(), Some(&Err(ApiError::MalformedUpstream)), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Ok(UpstreamEvent::Completed { .. }))));
}

#[tokio::test]
async fn an_answer_is_complete_at_response_completed_however_the_connection_then_ends() {
    let endings: [Vec<Result<String, std::io::Error>>; 3] = [
        vec![Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"))],
        vec![Ok(GARBLED.to_owned()), Err(std::io::Error::other("broken"))],
        vec![Ok("data: [DONE]\n\n".to_owned())],
    ];
    for ending in endings {
        let mut chunks = vec![Ok(CREATED.to_owned()), Ok(delta("all")), Ok(COMPLETED.to_owned())];
        chunks.extend(ending);
        let events = read(chunks).await;
        assert_eq!(text(&events), "all");
        assert!(matches!(events.last(), Some(Ok(UpstreamEvent::Completed { .. }))), "{events:?}");
        assert!(events.iter().all(Result::is_ok), "nothing after the answer is read: {events:?}");
    }
}

#[test]
fn the_questions_own_failures_in_the_stream_are_never_for_another_provider() {
    let too_long = r#"{"type":"error","code":"context_length_exceeded","message":"Your input exceeds the context window of this model.","param":"input"}"#;
    assert_eq!(parse(too_long, "k"), Err(ApiError::ContextTooLong));
    let nested = r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"context_length_exceeded","message":"too long"}}}"#;
    assert_eq!(parse(nested, "k"), Err(ApiError::ContextTooLong));
    let refused = r#"{"type":"error","error":{"type":"invalid_request_error","code":"invalid_prompt","message":"Invalid prompt: flagged"}}"#;
    assert_eq!(parse(refused, "k"), Err(ApiError::UpstreamRejected("Invalid prompt: flagged".into())));
    let filtered = r#"{"type":"error","code":"content_filter","message":null}"#;
    assert_eq!(parse(filtered, "k"), Err(ApiError::UpstreamRejected("content_filter".into())));
}

#[tokio::test]
async fn a_line_past_the_cap_breaks_the_stream_and_lines_under_it_pass() {
    let chunks = |parts: Vec<Vec<u8>>| {
        futures_util::stream::iter(parts.into_iter().map(|p| Ok::<_, reqwest::Error>(bytes::Bytes::from(p))))
    };
    let fine: Vec<_> =
        capped_lines(chunks(vec![vec![b'a'; MAX_LINE_BYTES], b"\n".to_vec(), vec![b'b'; 10]])).collect().await;
    assert!(fine.iter().all(Result::is_ok));
    let endless: Vec<_> =
        capped_lines(chunks(vec![vec![b'a'; MAX_LINE_BYTES / 2], vec![b'a'; MAX_LINE_BYTES / 2 + 1]])).collect().await;
    assert!(endless.last().is_some_and(Result::is_err));
}

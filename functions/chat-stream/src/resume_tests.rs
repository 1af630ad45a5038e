//! Resuming and stopping background answers, through `handle` against the stand-in speaking
//! OpenAI's background mode.

use bytes::Bytes;
use http_body_util::BodyExt;
use lambda_http::{Body, Request, http};
use test_harness::{BrowserEvent, TestUpstream, browser_events, message_data};

use crate::handler::handle;
use crate::response::SseBody;

fn ask(message: &str) -> Request {
    test_harness::request_from("203.0.113.9", &format!("message={}", test_harness::encode(message)), &[])
}

fn resume(token: &str, inline: bool) -> Request {
    let query = if inline { "message=ignored&errors=inline" } else { "message=ignored" };
    test_harness::request_from("198.51.100.4", query, &[("last-event-id", token)])
}

fn stop(body: &str) -> Request {
    http::Request::post("https://lambda-url.local/stop")
        .header("content-type", "application/json")
        .body(Body::Text(body.to_owned()))
        .unwrap()
}

async fn whole(upstream: &TestUpstream, request: Request) -> (u16, Vec<BrowserEvent>, Bytes) {
    let response = handle(&upstream.client, &upstream.gate, request).await.unwrap();
    let status = response.status().as_u16();
    let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, browser_events(&body).await, body)
}

/// Reads a streamed body until `enough` says so; returns what was read and the rest of the body.
async fn read_until(mut body: SseBody, enough: impl Fn(&[BrowserEvent]) -> bool) -> (Vec<u8>, SseBody) {
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        read.extend_from_slice(frame.unwrap().data_ref().unwrap());
        if enough(&browser_events(&read).await) {
            break;
        }
    }
    (read, body)
}

fn names(events: &[BrowserEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

#[tokio::test]
async fn every_event_after_response_has_an_id_and_a_resume_sends_exactly_the_rest_with_no_new_call() {
    let upstream = TestUpstream::start().await;
    let (status, events, body) = whole(&upstream, ask("/stub text=tricky done")).await;
    assert_eq!(status, 200);
    let response_at = names(&events).iter().position(|n| *n == "response").unwrap();
    assert!(events[..response_at].iter().all(|e| e.id.is_empty()), "{events:?}");
    assert!(events[response_at..].iter().all(|e| !e.id.is_empty()), "{events:?}");
    assert!(String::from_utf8_lossy(&body).contains("retry: 1000\n\n"));
    let answer: String = message_data(&events).concat();
    let messages: Vec<&BrowserEvent> = events.iter().filter(|e| e.event == "message").collect();
    for cut in [0, 3, messages.len() - 1] {
        let (had, token) = (message_data(&events)[..=cut].concat(), &messages[cut].id);
        let (status, resumed, _) = whole(&upstream, resume(token, false)).await;
        assert_eq!(status, 200);
        assert_eq!((names(&resumed).first(), names(&resumed).last()), (Some(&"start"), Some(&"end")), "{resumed:?}");
        assert_eq!(had + &message_data(&resumed).concat(), answer, "cut after message {cut}");
        assert!(resumed.iter().any(|e| e.event == "usage"));
    }
    // Resuming from the `response` event itself replays the whole answer.
    let (_, resumed, _) = whole(&upstream, resume(&events[response_at].id, false)).await;
    assert_eq!(message_data(&resumed).concat(), answer);
    assert_eq!(upstream.stub.requests().len(), 1, "one model call, however many resumes");
    assert!(upstream.stub.requests()[0].background);
}

#[tokio::test]
async fn a_reader_cut_off_mid_answer_resumes_from_the_live_answer() {
    let upstream = TestUpstream::start().await;
    let response = handle(&upstream.client, &upstream.gate, ask("/stub deltas=60 delay_ms=5")).await.unwrap();
    let (read, rest) = read_until(response.into_body(), |events| message_data(events).len() >= 5).await;
    drop(rest);
    let events = browser_events(&read).await;
    let last = events.iter().rfind(|e| e.event == "message").unwrap();
    let (status, resumed, _) = whole(&upstream, resume(&last.id, false)).await;
    assert_eq!(status, 200);
    let expected: String = (0..60).map(|i| if i == 0 { "w0".to_owned() } else { format!(" w{i}") }).collect();
    assert_eq!(message_data(&events).concat() + &message_data(&resumed).concat(), expected);
    let streamed_again = upstream.stub.state.retrieves().into_iter().find(|r| r.stream).expect("a streaming retrieve");
    assert_eq!(streamed_again.starting_after.map(|n| n.to_string()), last.id.split('.').nth(1).map(str::to_owned));
    assert_eq!(upstream.stub.requests().len(), 1);
}

#[tokio::test]
async fn past_the_resume_window_the_rest_comes_from_the_stored_answer() {
    let upstream = TestUpstream::start().await;
    let (_, events, _) = whole(&upstream, ask("/stub echo héllo wörld")).await;
    let token = &events.iter().filter(|e| e.event == "message").nth(4).unwrap().id;
    upstream.stub.state.set_resume_window(std::time::Duration::ZERO);
    let (status, resumed, _) = whole(&upstream, resume(token, false)).await;
    assert_eq!(status, 200, "{resumed:?}");
    assert_eq!(message_data(&resumed).concat(), " wörld");
    assert_eq!(names(&resumed).last(), Some(&"end"));
    assert_eq!(upstream.stub.requests().len(), 1);
}

#[tokio::test]
async fn a_cut_connection_to_openai_is_read_again_not_reported() {
    let upstream = TestUpstream::start().await;
    let (status, events, _) = whole(&upstream, ask("/stub drop after=3 echo abcdefgh")).await;
    assert_eq!(status, 200);
    assert_eq!(message_data(&events).concat(), "abcdefgh", "{events:?}");
    assert!(!names(&events).contains(&"error"), "{events:?}");
    assert_eq!(upstream.stub.requests().len(), 1);
}

#[tokio::test]
async fn stop_cancels_upstream_and_the_stream_ends_with_stopped_then_end() {
    let upstream = TestUpstream::start().await;
    let response = handle(&upstream.client, &upstream.gate, ask("/stub deltas=400 delay_ms=10")).await.unwrap();
    let (read, rest) = read_until(response.into_body(), |events| message_data(events).len() >= 3).await;
    let events = browser_events(&read).await;
    let id = serde_json::from_str::<serde_json::Value>(&events.iter().find(|e| e.event == "response").unwrap().data)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, body) = whole(&upstream, stop(&format!(r#"{{"response_id":"{id}"}}"#))).await;
    let stopped: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, stopped["stopped"].as_str()), (200, Some(id.as_str())), "{stopped}");
    assert!(stopped["usage"]["output_tokens"].as_u64().is_some(), "{stopped}");
    let generated = upstream.stub.state.deltas_generated(&id).unwrap();
    let tail = BodyExt::collect(rest).await.unwrap().to_bytes();
    let all = browser_events(&[read, tail.to_vec()].concat()).await;
    assert_eq!(names(&all)[names(&all).len() - 2..], ["stopped", "end"], "{all:?}");
    assert!(
        message_data(&all).len() <= generated && generated < 400,
        "{} read, {generated} generated",
        message_data(&all).len()
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(upstream.stub.state.deltas_generated(&id), Some(generated), "nothing is generated after the stop");
    assert_eq!(upstream.stub.state.cancels(), vec![id.clone()]);
    // Stopping again is harmless; an unknown id is a 404; a body without an id a 400.
    assert_eq!(whole(&upstream, stop(&format!(r#"{{"response_id":"{id}"}}"#))).await.0, 200);
    assert_eq!(whole(&upstream, stop(r#"{"response_id":"resp_nope"}"#)).await.0, 404);
    assert_eq!(whole(&upstream, stop("{}")).await.0, 400);
    let get_stop = http::Request::get("https://lambda-url.local/stop?message=hi").body(Body::Empty).unwrap();
    assert_eq!(whole(&upstream, get_stop).await.0, 405, "a GET on /stop is no question to the model");
}

#[tokio::test]
async fn forged_stale_and_foreign_tokens_get_a_clear_4xx_and_nothing_streamed() {
    let upstream = TestUpstream::start().await;
    let (_, events, _) = whole(&upstream, ask("/stub echo abc")).await;
    let token = events.iter().rfind(|e| e.event == "message").unwrap().id.clone();
    let forged = format!("{}x", &token[..token.len() - 1]);
    let stale = upstream.client.signer("ip:203.0.113.9", "resp_gone").await.unwrap().token(3, 1);
    let foreign = {
        let other = test_harness::client_for(&upstream.stub, &[("OPENAI_API_KEY", "sk-another-deployment-key")]);
        other.signer("ip:203.0.113.9", "resp_x").await.unwrap().token(3, 1)
    };
    for (token, status, code) in [
        (forged.as_str(), 403, "resume_token_invalid"),
        (&stale, 404, "response_not_found"),
        (&foreign, 403, "resume_token_invalid"),
        ("garbage", 403, "resume_token_invalid"),
    ] {
        let (got, _, body) = whole(&upstream, resume(token, false)).await;
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{token}: {body}");
        assert!(!body["detail"].as_str().unwrap().is_empty());
        // As an EventSource page asks for it: the same problem inside the stream, then `end`.
        let (got, events, _) = whole(&upstream, resume(token, true)).await;
        assert_eq!((got, names(&events)), (200, vec!["start", "problem", "error", "end"]), "{token}");
        assert!(message_data(&events).is_empty());
    }
    assert_eq!(upstream.stub.requests().len(), 1, "no refused resume asked the model");
}

#[tokio::test]
async fn without_background_mode_streams_are_as_before_and_stop_says_why_not() {
    let upstream = TestUpstream::start_with(&[("RESUMABLE_STREAMS", "false")]).await;
    let (_, events, body) = whole(&upstream, ask("/stub echo abc")).await;
    assert_eq!(message_data(&events).concat(), "abc");
    assert!(events.iter().all(|e| e.id.is_empty()) && !String::from_utf8_lossy(&body).contains("retry:"));
    assert!(!upstream.stub.requests()[0].background);
    let (status, _, body) = whole(&upstream, stop(r#"{"response_id":"resp_1"}"#)).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("stop_unavailable"));
    // A plain stream cut upstream is reported as before.
    let (_, events, _) = whole(&upstream, ask("/stub drop after=2 echo abcd")).await;
    assert_eq!(
        (message_data(&events), names(&events).contains(&"error")),
        (vec!["a".to_owned(), "b".to_owned()], true)
    );
}

#[tokio::test]
async fn stopping_a_finished_answer_is_harmless_and_wrong_methods_are_405_saying_what_is_right() {
    let upstream = TestUpstream::start().await;
    // chat-complete's answers are not background ones: finished, there is nothing to cancel.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let done = upstream.client.create(&test_harness::chat("/stub echo hi"), deadline).await.unwrap();
    let (status, _, body) = whole(&upstream, stop(&format!(r#"{{"response_id":"{}"}}"#, done.id))).await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body["stopped"].as_str(), body["status"].as_str()),
        (200, Some(done.id.as_str()), Some("completed")),
        "{body}"
    );
    assert!(upstream.stub.state.cancels().is_empty());
    let response =
        handle(&upstream.client, &upstream.gate, http::Request::get("https://x/stop").body(Body::Empty).unwrap())
            .await
            .unwrap();
    assert_eq!(
        (response.status().as_u16(), response.headers()["allow"].to_str().unwrap()),
        (405, "POST"),
        "only a POST stops"
    );
    // `errors=inline` is for stream requests; a wrong method is none, so it stays a 405.
    let put = http::Request::put("https://x/?message=hi&errors=inline").body(Body::Empty).unwrap();
    let response = handle(&upstream.client, &upstream.gate, put).await.unwrap();
    assert_eq!((response.status().as_u16(), response.headers()["allow"].to_str().unwrap()), (405, "GET, POST"));
    assert_eq!(upstream.stub.requests().len(), 1);
}

//! Background responses, as OpenAI runs them: generated apart from any connection, retrieved,
//! streamed again from a sequence number, cancelled.

mod support;

use std::time::{Duration, Instant};

use openai_stub::StubServer;
use serde_json::{Value, json};
use support::{create, get, post};

/// Waits until the kept response `id` has `status`, for at most five seconds.
async fn wait_for_status(stub: &StubServer, id: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while stub.status(id).as_deref() != Some(status) {
        assert!(Instant::now() < deadline, "{id} still {:?}, not {status}", stub.status(id));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn text_of(response: &Value) -> &str {
    response["output"]
        .as_array()
        .and_then(|o| o.last())
        .and_then(|m| m["content"][0]["text"].as_str())
        .unwrap_or_default()
}

fn id_of(reply: &support::Reply) -> String {
    let events = reply.events();
    let response = events.first().map(|e| e["response"].clone()).unwrap_or_else(|| reply.json());
    response["id"].as_str().expect("an id").to_owned()
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

#[tokio::test]
async fn a_background_response_goes_from_queued_through_in_progress_to_completed() {
    let stub = StubServer::start().await.expect("stub");
    let created = Instant::now();
    let reply = create(stub.addr, "/stub queue_ms=300 deltas=6 delay_ms=80", true, false).await;
    assert_eq!(reply.status, 200);
    let queued = reply.json();
    assert_eq!((queued["status"].as_str(), queued["background"].as_bool()), (Some("queued"), Some(true)));
    let id = id_of(&reply);
    assert_eq!(get(stub.addr, &format!("/v1/responses/{id}")).await.json()["status"], "queued");

    wait_for_status(&stub, &id, "in_progress").await;
    assert!(created.elapsed() >= Duration::from_millis(300), "left the queue after {:?}", created.elapsed());
    let now = get(stub.addr, &format!("/responses/{id}")).await.json();
    assert_eq!((now["status"].as_str(), now["usage"].is_null()), (Some("in_progress"), true));

    wait_for_status(&stub, &id, "completed").await;
    let done = get(stub.addr, &format!("/v1/responses/{id}")).await.json();
    assert_eq!((done["status"].as_str(), done["background"].as_bool()), (Some("completed"), Some(true)));
    assert_eq!(text_of(&done), "w0 w1 w2 w3 w4 w5");
    assert_eq!(done["usage"]["output_tokens"], 6);
    let request = &stub.requests()[0];
    assert!(request.background && request.finished && request.closed_ms.is_some());
    assert_eq!((request.deltas_sent, stub.deltas_generated(&id)), (6, Some(6)));
}

#[tokio::test]
async fn a_background_stream_is_the_plain_stream_after_created_queued_and_in_progress() {
    let stub = StubServer::start().await.expect("stub");
    let plain = create(stub.addr, "/stub reasoning deltas=4 done", false, true).await;
    let background = create(stub.addr, "/stub reasoning deltas=4 done", true, true).await;
    assert!(!background.broken && background.body.ends_with("data: [DONE]\n\n"), "{}", background.body);
    let (plain_kinds, kinds) = (plain.kinds(), background.kinds());
    assert_eq!(kinds[..3], ["response.created", "response.queued", "response.in_progress"]);
    assert_eq!(kinds[3..], plain_kinds[2..]);
    let events = background.events();
    assert_eq!(events[0]["response"]["status"], "queued");
    let numbers: Vec<u64> = events.iter().filter_map(|e| e["sequence_number"].as_u64()).collect();
    assert_eq!(numbers, (0..events.len() as u64).collect::<Vec<_>>());
    let last = &events[events.len() - 1]["response"];
    assert_eq!((last["background"].as_bool(), text_of(last)), (Some(true), "w0 w1 w2 w3"));
}

#[tokio::test]
async fn a_dropped_create_stream_leaves_the_generation_running() {
    let stub = StubServer::start().await.expect("stub");
    let reply = create(stub.addr, "/stub drop after=3 deltas=8 delay_ms=20", true, true).await;
    let kinds = reply.kinds();
    assert!(reply.broken, "the connection should break: {}", reply.body);
    assert_eq!((count(&kinds, "response.output_text.delta"), count(&kinds, "response.completed")), (3, 0));

    let id = id_of(&reply);
    wait_for_status(&stub, &id, "completed").await;
    let done = get(stub.addr, &format!("/v1/responses/{id}")).await.json();
    assert_eq!(text_of(&done), "w0 w1 w2 w3 w4 w5 w6 w7");
    let request = &stub.requests()[0];
    assert!(request.finished && request.closed_ms.is_some());
    assert_eq!(request.deltas_sent, 8);
}

#[tokio::test]
async fn a_stream_resumed_after_n_gives_exactly_the_events_after_n() {
    let stub = StubServer::start().await.expect("stub");
    let id = id_of(&create(stub.addr, "/stub deltas=6 delay_ms=30", true, false).await);
    // Resumed while it is still generating: it follows live to the end.
    let resumed = get(stub.addr, &format!("/v1/responses/{id}?stream=true&starting_after=4")).await;
    assert_eq!(resumed.status, 200);
    let whole = get(stub.addr, &format!("/v1/responses/{id}?stream=true")).await;
    let after_four: Vec<Value> =
        whole.events().into_iter().filter(|e| e["sequence_number"].as_u64() > Some(4)).collect();
    assert_eq!(resumed.events(), after_four);
    assert_eq!(resumed.events()[0]["sequence_number"], 5);
    assert_eq!(whole.kinds().last().map(String::as_str), Some("response.completed"));
    assert_eq!(whole.events()[0]["sequence_number"], 0);

    let retrieves = serde_json::to_value(stub.retrieves()).expect("json");
    assert_eq!(
        retrieves,
        json!([{"id": id, "stream": true, "starting_after": 4}, {"id": id, "stream": true, "starting_after": null}])
    );
    assert_eq!(get(stub.addr, "/__stub/retrieves").await.json(), retrieves);
}

#[tokio::test]
async fn a_cancel_stops_the_generation_at_once_and_can_be_repeated() {
    let stub = StubServer::start().await.expect("stub");
    let addr = stub.addr;
    let follower = tokio::spawn(async move { create(addr, "/stub deltas=300 delay_ms=20", true, true).await });
    let id = "resp_000000000000000000000000000000000000000000000001";
    let deadline = Instant::now() + Duration::from_secs(5);
    while stub.deltas_generated(id).unwrap_or(0) < 3 {
        assert!(Instant::now() < deadline, "no deltas generated");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cancelled = post(addr, &format!("/v1/responses/{id}/cancel"), &json!({})).await;
    assert_eq!(cancelled.status, 200);
    let cancelled = cancelled.json();
    let generated = stub.deltas_generated(id).expect("kept");
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["usage"]["output_tokens"].as_u64()),
        (Some("cancelled"), Some(generated as u64))
    );

    let followed =
        tokio::time::timeout(Duration::from_secs(2), follower).await.expect("the stream ends").expect("task");
    let kinds = followed.kinds();
    assert!(!followed.broken);
    assert_eq!(count(&kinds, "response.output_text.delta"), generated);
    assert!(!kinds.iter().any(|k| k == "response.completed" || k == "response.cancelled"), "{kinds:?}");

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((stub.deltas_generated(id), stub.status(id).as_deref()), (Some(generated), Some("cancelled")));
    let again = post(addr, &format!("/responses/{id}/cancel"), &json!({})).await;
    assert_eq!((again.status, again.json()), (200, cancelled.clone()));
    assert_eq!(get(addr, &format!("/v1/responses/{id}")).await.json(), cancelled);
    assert_eq!(stub.cancels(), [id, id]);
    assert_eq!(get(addr, "/__stub/cancels").await.json(), json!([id, id]));
    let request = &stub.requests()[0];
    assert_eq!((request.finished, request.deltas_sent), (false, generated));
}

#[tokio::test]
async fn a_cancel_of_a_finished_response_returns_it_as_it_ended() {
    let stub = StubServer::start().await.expect("stub");
    let id = id_of(&create(stub.addr, "/stub deltas=2", true, false).await);
    wait_for_status(&stub, &id, "completed").await;
    let reply = post(stub.addr, &format!("/v1/responses/{id}/cancel"), &json!({})).await;
    assert_eq!((reply.status, reply.json()["status"].as_str()), (200, Some("completed")));
}

#[tokio::test]
async fn unknown_ids_are_404_with_openais_body() {
    let stub = StubServer::start().await.expect("stub");
    let expected = json!({"error": {"message": "Response with id 'resp_nope' not found.", "type": "invalid_request_error", "param": null, "code": null}});
    for reply in [
        get(stub.addr, "/v1/responses/resp_nope").await,
        get(stub.addr, "/v1/responses/resp_nope?stream=true&starting_after=3").await,
        post(stub.addr, "/v1/responses/resp_nope/cancel", &json!({})).await,
    ] {
        assert_eq!((reply.status, reply.json()), (404, expected.clone()));
    }
}

#[tokio::test]
async fn a_plain_response_is_kept_but_cannot_be_cancelled_or_streamed_again() {
    let stub = StubServer::start().await.expect("stub");
    let buffered = id_of(&create(stub.addr, "/stub deltas=3", false, false).await);
    let streamed = id_of(&create(stub.addr, "/stub deltas=3", false, true).await);
    for id in [&buffered, &streamed] {
        let kept = get(stub.addr, &format!("/v1/responses/{id}")).await.json();
        assert_eq!(
            (kept["status"].as_str(), kept["background"].as_bool(), text_of(&kept)),
            (Some("completed"), Some(false), "w0 w1 w2")
        );
    }
    let cancel = post(stub.addr, &format!("/v1/responses/{buffered}/cancel"), &json!({})).await;
    assert_eq!((cancel.status, cancel.json()["error"]["type"].as_str()), (400, Some("invalid_request_error")));
    let stream = get(stub.addr, &format!("/v1/responses/{streamed}?stream=true")).await;
    assert_eq!((stream.status, stream.json()["error"]["type"].as_str()), (400, Some("invalid_request_error")));
}

#[tokio::test]
async fn past_the_resume_window_streaming_is_refused_but_retrieval_works() {
    let stub = StubServer::start().await.expect("stub");
    stub.set_resume_window(Duration::from_millis(100));
    let id = id_of(&create(stub.addr, "/stub deltas=2", true, false).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let expired = get(stub.addr, &format!("/v1/responses/{id}?stream=true&starting_after=1")).await;
    assert_eq!((expired.status, expired.json()["error"]["code"].as_str()), (400, Some("stream_expired")));
    assert!(expired.json()["error"]["message"].as_str().unwrap_or_default().contains("no longer available"));
    let kept = get(stub.addr, &format!("/v1/responses/{id}")).await;
    assert_eq!((kept.status, kept.json()["status"].as_str()), (200, Some("completed")));
}

#[tokio::test]
async fn the_new_routes_ask_for_the_key() {
    let stub = StubServer::start().await.expect("stub");
    let id = id_of(&create(stub.addr, "/stub deltas=2", true, false).await);
    for (method, path) in [
        ("GET", format!("/v1/responses/{id}")),
        ("GET", format!("/v1/responses/{id}?stream=true")),
        ("POST", format!("/v1/responses/{id}/cancel")),
    ] {
        let reply = support::send(stub.addr, method, &path, None, None).await;
        assert_eq!(
            (reply.status, reply.json()["error"]["code"].as_str()),
            (401, Some("invalid_api_key")),
            "{method} {path}"
        );
    }
    assert!(stub.cancels().is_empty() && stub.retrieves().is_empty());
}

#[tokio::test]
async fn failures_end_a_background_response_as_upstream_and_http_errors_keep_nothing() {
    let stub = StubServer::start().await.expect("stub");
    for (input, status) in [
        ("/stub failed deltas=4", "failed"),
        ("/stub incomplete deltas=4", "incomplete"),
        ("/stub error=flat deltas=4", "failed"),
        ("/stub malformed deltas=4", "completed"),
    ] {
        let reply = create(stub.addr, input, true, true).await;
        let id = id_of(&reply);
        wait_for_status(&stub, &id, status).await;
        let kept = get(stub.addr, &format!("/v1/responses/{id}")).await.json();
        // One garbled event on the wire leaves the answer whole.
        let generated = if input.contains("malformed") { 4 } else { 2 };
        assert_eq!((kept["status"].as_str(), stub.deltas_generated(&id)), (Some(status), Some(generated)), "{input}");
        assert_eq!(reply.body.contains("\"delta\": \n\n"), input.contains("malformed"), "{input}");
    }
    let refused = create(stub.addr, "/stub status=429", true, true).await;
    assert_eq!(refused.status, 429);
    assert_eq!(stub.status("resp_000000000000000000000000000000000000000000000005"), None);
}

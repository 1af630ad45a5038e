//! The AI SDK's `resume: true`: `GET {chat id}/stream` replays the chat's running answer from its
//! start to the caller who asked, and is 204 otherwise. (The SDK's own client resumes through it
//! in tests/tests/ai_sdk_resume.rs.)

use http_body_util::BodyExt;
use lambda_http::Request;
use openai_stub::scenario::Scenario;
use serde_json::{Value, json};
use spend::{Gate, LimitsConfig};
use test_harness::{Dynalite, TestUpstream};

use crate::handler::handle;
use crate::response::SseBody;

const LONG: &str = "/stub deltas=60 delay_ms=20";

fn event(method: &str, path: &str, query: &str, ip: &str, body: Option<&str>) -> Request {
    let headers = [("content-type", "application/json")];
    let mut event = test_harness::runtime_api::function_url_event(method, path, query, &headers, body);
    event["requestContext"]["http"]["sourceIp"] = json!(ip);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// `DefaultChatTransport`'s POST of `question` in chat `chat_id`, from `ip`.
fn ask(chat_id: &str, question: &str, ip: &str) -> Request {
    let message = json!({ "id": "u1", "role": "user", "parts": [{ "type": "text", "text": question }] });
    let body = json!({ "id": chat_id, "trigger": "submit-message", "messages": [message] }).to_string();
    event("POST", "/", "", ip, Some(&body))
}

/// What `resume: true` sends on mount (after a URL ending in `/`, as ai 6.0.99 builds it).
fn resume(chat_id: &str, ip: &str) -> Request {
    event("GET", &format!("//{chat_id}/stream"), "", ip, None)
}

async fn status(upstream: &TestUpstream, gate: &Gate, request: Request) -> (u16, Vec<u8>) {
    let response = handle(&upstream.client, gate, request).await.unwrap();
    let status = response.status().as_u16();
    (status, BodyExt::collect(response.into_body()).await.unwrap().to_bytes().to_vec())
}

/// The JSON chunks of a UI message stream.
async fn chunks(body: &[u8]) -> Vec<Value> {
    let events = test_harness::browser_events(body).await;
    events.iter().filter(|e| e.data != "[DONE]").map(|e| serde_json::from_str(&e.data).unwrap()).collect()
}

fn text(chunks: &[Value]) -> String {
    chunks.iter().filter(|c| c["type"] == "text-delta").map(|c| c["delta"].as_str().unwrap()).collect()
}

/// Reads `body` until `deltas` text deltas arrived; the rest of the body.
async fn read_deltas(mut body: SseBody, deltas: usize) -> SseBody {
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        read.extend_from_slice(frame.unwrap().data_ref().unwrap());
        if chunks(&read).await.iter().filter(|c| c["type"] == "text-delta").count() >= deltas {
            break;
        }
    }
    body
}

#[tokio::test]
async fn without_a_limits_table_nothing_is_running_for_any_chat() {
    let upstream = TestUpstream::start().await;
    let body = handle(&upstream.client, &upstream.gate, ask("chat-1", LONG, "203.0.113.30")).await.unwrap();
    let body = read_deltas(body.into_body(), 2).await;
    for request in
        [resume("chat-1", "203.0.113.30"), event("GET", "/chat-1/stream", "startIndex=0", "203.0.113.30", None)]
    {
        let (status, answer) = status(&upstream, &upstream.gate, request).await;
        assert_eq!((status, answer.as_slice()), (204, &b""[..]));
    }
    let (status, refused) =
        status(&upstream, &upstream.gate, event("POST", "/chat-1/stream", "", "203.0.113.30", None)).await;
    assert_eq!(status, 405, "{}", String::from_utf8_lossy(&refused));
    drop(body);
    assert_eq!(upstream.stub.requests().len(), 1, "no resume asked the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_chat_s_running_answer_is_replayed_whole_to_its_caller_only_and_then_204() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("chats").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "chats")]).await;
    let limits = LimitsConfig { table: Some("chats".into()), rate_per_minute: 100, ..LimitsConfig::default() };
    let gate = Gate::with_client(limits, dynamo.client()).unwrap();
    let runs = gate.chat_runs().unwrap();
    let (asker, other) = ("203.0.113.31", "198.51.100.31");

    let first = handle(&upstream.client, &gate, ask("chat-a", LONG, asker)).await.unwrap();
    let first = read_deltas(first.into_body(), 3).await;
    // Recorded beside the relay, under the caller: one round trip after the first word.
    let mut recorded = None;
    for _ in 0..50 {
        recorded = runs.running("ip:203.0.113.31", "chat-a").await.unwrap();
        if recorded.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(recorded.is_some_and(|run| crate::chats::is_run_id(&run)), "the chat's run is recorded");
    assert_eq!(runs.running("ip:198.51.100.31", "chat-a").await.unwrap(), None);

    // Another caller, even with the chat's id: nothing, and nothing asked of OpenAI.
    let retrieves = upstream.stub.retrieves().len();
    assert_eq!(status(&upstream, &gate, resume("chat-a", other)).await, (204, Vec::new()));
    assert_eq!(upstream.stub.retrieves().len(), retrieves);
    assert_eq!(status(&upstream, &gate, resume("chat-never-asked", asker)).await, (204, Vec::new()));
    let too_long = "x".repeat(3000);
    for id in ["chat%20a", "chat a", too_long.as_str()] {
        assert_eq!(status(&upstream, &gate, resume(id, asker)).await.0, 204, "{id}: never 503");
    }

    // The caller back (the first reader gone): the whole answer, from its start, as the SDK reads it.
    drop(first);
    let (code, replay) = status(&upstream, &gate, resume("chat-a", asker)).await;
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&replay));
    let replay = chunks(&replay).await;
    let kinds: Vec<&str> = replay.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[..4], ["start", "message-metadata", "start-step", "text-start"], "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "finish").count(), 1);
    assert_eq!(kinds.last(), Some(&"finish"));
    assert_eq!(text(&replay), openai_stub::reply::deltas(LONG, &Scenario::parse(LONG)).concat());
    assert_eq!(upstream.stub.requests().len(), 1, "one model call");

    // Finished: the record is cleared, and a resume shows the chat as it is.
    for _ in 0..50 {
        if runs.running("ip:203.0.113.31", "chat-a").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(runs.running("ip:203.0.113.31", "chat-a").await.unwrap(), None, "cleared at the end");
    assert_eq!(status(&upstream, &gate, resume("chat-a", asker)).await, (204, Vec::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_record_left_behind_by_a_finished_answer_is_found_finished_at_openai() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("left").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "left")]).await;
    let limits = LimitsConfig { table: Some("left".into()), rate_per_minute: 100, ..LimitsConfig::default() };
    let gate = Gate::with_client(limits, dynamo.client()).unwrap();
    let (code, answer) = status(&upstream, &gate, ask("chat-b", "/stub deltas=3", "203.0.113.32")).await;
    assert_eq!(code, 200);
    // As if the relay had been stopped before it cleared it (a reader gone, an environment frozen).
    let answer = chunks(&answer).await;
    assert_eq!(answer.last().unwrap()["type"], "finish", "{answer:?}");
    let response_id = answer[1]["messageMetadata"]["responseId"].as_str().unwrap();
    let caller = "ip:203.0.113.32";
    let signed = upstream.client.signer(caller, response_id).await.unwrap().token(0, 0);
    let runs = gate.chat_runs().unwrap();
    runs.record(caller, "chat-b", &signed, std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(status(&upstream, &gate, resume("chat-b", "203.0.113.32")).await, (204, Vec::new()));
    for _ in 0..50 {
        if runs.running(caller, "chat-b").await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the record of a finished answer was not cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn the_chat_s_record_is_written_beside_the_stream_never_before_its_words() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("slow").await;
    // Only the record's write (a PutItem) is slow; the admission's (UpdateItem) is not.
    let delay = std::time::Duration::from_millis(1500);
    let proxy = test_harness::SlowProxy::start(dynamo.endpoint(), "PutItem", delay).await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "slow")]).await;
    let limits = LimitsConfig { table: Some("slow".into()), rate_per_minute: 100, ..LimitsConfig::default() };
    let gate = Gate::with_client(limits, Dynalite::client_at(&proxy.endpoint())).unwrap();
    let started = std::time::Instant::now();
    let (code, answer) = status(&upstream, &gate, ask("chat-c", "/stub deltas=5", "203.0.113.33")).await;
    let took = started.elapsed();
    assert_eq!(code, 200);
    let question = "/stub deltas=5";
    assert_eq!(text(&chunks(&answer).await), openai_stub::reply::deltas(question, &Scenario::parse(question)).concat());
    assert!(took < delay, "the whole answer took {took:?}: it waited for the record's write");
    // The record landed after the answer, and only then was it cleared.
    for _ in 0..100 {
        if proxy.arrived().iter().any(|op| op == "DeleteItem") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let arrived = proxy.arrived();
    let (put, delete) =
        (arrived.iter().position(|op| op == "PutItem"), arrived.iter().position(|op| op == "DeleteItem"));
    assert!(put.is_some() && put < delete, "{arrived:?}");
    let runs = gate.chat_runs().unwrap();
    assert_eq!(runs.running("ip:203.0.113.33", "chat-c").await.unwrap(), None, "{arrived:?}");
}

#[tokio::test]
async fn a_run_reconnect_past_openai_s_stream_again_window_reads_the_stored_answer_whole() {
    let upstream = TestUpstream::start().await;
    let ip = "203.0.113.39";
    let response = handle(&upstream.client, &upstream.gate, ask("chat-w", "/stub deltas=30 delay_ms=10", ip)).await;
    let response = response.unwrap();
    let run_id = response.headers()[shared::ui_chat::RUN_ID_HEADER].to_str().unwrap().to_owned();
    drop(read_deltas(response.into_body(), 2).await);
    // OpenAI no longer streams the answer again: the reconnect reads the stored one.
    upstream.stub.state.set_resume_window(std::time::Duration::ZERO);
    let reconnect = event("GET", &format!("/{run_id}/stream"), "startIndex=0", ip, None);
    let (status, answer) = status(&upstream, &upstream.gate, reconnect).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let whole: String = (0..30).map(|i| if i == 0 { "w0".to_owned() } else { format!(" w{i}") }).collect();
    assert_eq!(text(&chunks(&answer).await), whole);
    assert_eq!(upstream.stub.requests().len(), 1, "no new model call");
}

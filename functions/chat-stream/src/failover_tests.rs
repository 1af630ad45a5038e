//! Failover on a stream: the primary down before anything reached the reader, the fallback
//! answers and says so in `event: response`; a resume and a stop of that answer reach the
//! fallback, and only it; Bedrock as the fallback, its key minted from the role.

use bytes::Bytes;
use http_body_util::BodyExt;
use lambda_http::{Body, Request, http};
use openai_client::ResponsesClient;
use openai_stub::StubServer;
use spend::Gate;
use test_harness::{BrowserEvent, TEST_KEY, browser_events, client_for, message_data};

use crate::handler::handle;

async fn whole(client: &ResponsesClient, request: Request) -> (u16, Vec<BrowserEvent>, Bytes) {
    let response = handle(client, &Gate::open(), request).await.unwrap();
    let status = response.status().as_u16();
    let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, browser_events(&body).await, body)
}

#[tokio::test]
async fn a_stream_the_primary_cannot_take_is_answered_resumed_and_stopped_at_the_fallback() {
    let (primary, fallback) = (StubServer::start().await.unwrap(), StubServer::start().await.unwrap());
    primary.state.expected_key.write().unwrap().replace(TEST_KEY.to_owned());
    let url = fallback.base_url();
    let vars =
        [("FALLBACK_BASE_URL", url.as_str()), ("FALLBACK_API_KEY", "sk-fb-7e1d"), ("FALLBACK_MODEL", "gpt-6-sol")];
    let client = client_for(&primary, &vars);
    primary.fail_every_create(Some((503, None)));

    let ask = test_harness::request_from(
        "192.0.2.61",
        &format!("message={}", test_harness::encode("/stub text=tricky done")),
        &[],
    );
    let (status, events, _) = whole(&client, ask).await;
    assert_eq!(status, 200);
    let response = events.iter().find(|e| e.event == "response").expect("a response event");
    let data: serde_json::Value = serde_json::from_str(&response.data).unwrap();
    assert_eq!(data["model"], "gpt-6-sol", "{data}");
    let id = data["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("fb-resp_"), "{id}");
    assert!(events.iter().any(|e| e.event == "end"));
    let answer = message_data(&events).concat();

    // A reconnect from the third delta gets the rest from the fallback; the primary is not asked.
    let primary_calls = primary.requests().len();
    let messages: Vec<&BrowserEvent> = events.iter().filter(|e| e.event == "message").collect();
    let resume = test_harness::request_from("192.0.2.61", "", &[("last-event-id", messages[2].id.as_str())]);
    let (status, resumed, _) = whole(&client, resume).await;
    assert_eq!(status, 200);
    let before: String = messages[..=2].iter().map(|e| e.data.as_str()).collect();
    assert_eq!(format!("{before}{}", message_data(&resumed).concat()), answer);
    assert!(fallback.retrieves().iter().all(|r| !r.id.starts_with("fb-")), "the fallback hears its own ids");
    assert!(!fallback.retrieves().is_empty() && primary.retrieves().is_empty());

    // A stop by that id asks the fallback only (the answer has finished: nothing to cancel).
    let fallback_reads = fallback.retrieves().len();
    let stop = http::Request::post("https://lambda-url.local/stop")
        .header("content-type", "application/json")
        .body(Body::Text(format!(r#"{{"response_id":"{id}"}}"#)))
        .unwrap();
    let (status, _, body) = whole(&client, stop).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let read = fallback.retrieves();
    assert_eq!(read.len(), fallback_reads + 1);
    assert_eq!(Some(read[fallback_reads].id.as_str()), id.strip_prefix("fb-"));
    assert!(
        primary.retrieves().is_empty() && primary.cancels().is_empty() && primary.requests().len() == primary_calls
    );
}

async fn pair() -> (StubServer, StubServer, ResponsesClient) {
    pair_with(&[]).await
}

async fn pair_with(more: &[(&str, &str)]) -> (StubServer, StubServer, ResponsesClient) {
    let (primary, fallback) = (StubServer::start().await.unwrap(), StubServer::start().await.unwrap());
    let url = fallback.base_url();
    let mut vars =
        vec![("FALLBACK_BASE_URL", url.as_str()), ("FALLBACK_API_KEY", "sk-fb-7e1d"), ("FALLBACK_MODEL", "gpt-6-sol")];
    vars.extend_from_slice(more);
    let client = client_for(&primary, &vars);
    (primary, fallback, client)
}

fn responses(events: &[BrowserEvent]) -> Vec<serde_json::Value> {
    events.iter().filter(|e| e.event == "response").map(|e| serde_json::from_str(&e.data).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_answer_silent_past_the_first_event_timeout_is_cancelled_and_answered_elsewhere() {
    for resumable in ["true", "false"] {
        let timeouts = [("OPENAI_FIRST_EVENT_TIMEOUT_MS", "300"), ("RESUMABLE_STREAMS", resumable)];
        let (primary, fallback, client) = pair_with(&timeouts).await;
        // Headers and `response.created` at once, then no word for far longer than the window.
        primary.every_answer(Some("first_delay_ms=5000"));
        let started = std::time::Instant::now();
        let (status, events, _) = whole(&client, ask("/stub echo in time")).await;
        assert_eq!(status, 200);
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(message_data(&events).concat(), "in time", "{resumable}: {events:?}");
        assert!(!events.iter().any(|e| e.event == "error"), "{events:?}");
        let named = responses(&events);
        assert_eq!(named.last().map(|r| r["model"].clone()), Some("gpt-6-sol".into()), "{named:?}");
        assert_eq!((primary.requests().len(), fallback.requests().len()), (1, 1));
        if resumable == "true" {
            // The primary's named answer is not left running (and billed) in the background.
            assert_eq!(primary.cancels(), [named[0]["id"].as_str().unwrap().to_owned()]);
        } else {
            // A plain stream ends with its connection.
            let closed = primary.requests()[0].closed_ms;
            assert!(closed.is_some() && !primary.requests()[0].finished, "{:?}", primary.requests()[0]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_after_text_reached_the_reader_ends_with_error_never_a_second_answer() {
    let timeouts =
        [("OPENAI_IDLE_TIMEOUT_MS", "200"), ("OPENAI_MAX_THINK_MS", "700"), ("OPENAI_FIRST_EVENT_TIMEOUT_MS", "300")];
    let (primary, fallback, client) = pair_with(&timeouts).await;
    primary.every_answer(Some("stall after=2"));
    let (status, events, _) = whole(&client, ask("/stub echo abcdef")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["start", "response", "message", "message", "error", "end"], "{events:?}");
    assert!(fallback.requests().is_empty(), "never told twice");
    assert!(!primary.retrieves().is_empty(), "the silent answer was read again before it was given up");
    assert_eq!(primary.cancels().len(), 1, "and then stopped");
}

#[tokio::test]
async fn the_questions_own_failures_in_the_stream_never_go_to_the_fallback() {
    let (primary, fallback, client) = pair().await;
    for (code, expected) in [("context_length_exceeded", "too long"), ("invalid_prompt", "rejected")] {
        primary.every_answer(Some(&format!("error=nested code={code} after=0")));
        let (status, events, _) = whole(&client, ask("/stub echo never")).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["start", "response", "error", "end"], "{code}: {events:?}");
        assert!(fallback.requests().is_empty(), "{code}");
        let error = events.iter().find(|e| e.event == "error").unwrap();
        assert!(error.data.contains(expected), "{code}: {}", error.data);
    }
}

fn ask(question: &str) -> Request {
    test_harness::request_from("192.0.2.62", &format!("message={}", test_harness::encode(question)), &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_right_after_response_created_is_answered_by_the_fallback_never_after_text() {
    use openai_stub::scenario::Failure;
    for failure in [Failure::ErrorNested, Failure::ErrorFlat, Failure::Failed] {
        let (primary, fallback, client) = pair().await;
        // OpenAI names the answer, then fails it: the gateways that call the stream committed at
        // its first event never fall back.
        primary.fail_every_stream(Some(failure));
        let (status, events, _) = whole(&client, ask("/stub echo answered anyway")).await;
        assert_eq!(status, 200);
        let responses: Vec<serde_json::Value> =
            events.iter().filter(|e| e.event == "response").map(|e| serde_json::from_str(&e.data).unwrap()).collect();
        assert_eq!(responses.len(), 2, "{failure:?}: the primary's answer, then the fallback's");
        assert_eq!(responses[1]["model"], "gpt-6-sol");
        assert!(responses[1]["id"].as_str().is_some_and(|id| id.starts_with("fb-resp_")));
        assert_eq!(message_data(&events).concat(), "answered anyway", "{failure:?}");
        assert!(events.iter().any(|e| e.event == "usage") && !events.iter().any(|e| e.event == "error"));
        assert_eq!((primary.requests().len(), fallback.requests().len()), (1, 1));
        let first = responses[0]["id"].as_str().unwrap();
        assert_eq!(primary.cancels(), [first.to_owned()], "the failed answer is cancelled, not left running");
    }
    // After text has reached the reader, a failure is the reader's to see, never a second answer.
    // Named, not `_`: a stand-in dropped at once would refuse the connection.
    let (_primary, _fallback, client) = pair().await;
    let (status, events, _) = whole(&client, ask("/stub error=nested after=2 delay_ms=50 first_delay_ms=50")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["start", "response", "message", "message", "error", "end"], "one answer, cut: {events:?}");
}

#[tokio::test]
async fn bedrock_streams_and_resumes_its_answer_with_the_key_minted_from_the_role() {
    let primary = StubServer::start().await.unwrap();
    let fallback = StubServer::start_as_bedrock("us-east-1").await.unwrap();
    let url = fallback.base_url();
    let vars = [
        ("FALLBACK_BASE_URL", url.as_str()),
        ("FALLBACK_AUTH", "bedrock"),
        ("FALLBACK_MODEL", "us.openai.gpt-5.6-sol"),
        ("AWS_REGION", "us-east-1"),
    ];
    let key = test_harness::bedrock_key("us-east-1", openai_stub::bedrock::TEST_SECRET_ACCESS_KEY);
    let client = client_for(&primary, &vars).with_fallback_key(key);
    primary.fail_every_create(Some((503, None)));
    let (status, events, _) = whole(&client, ask("/stub text=tricky done")).await;
    assert_eq!(status, 200);
    let response = events.iter().find(|e| e.event == "response").expect("a response event");
    assert!(response.data.contains(r#""model":"us.openai.gpt-5.6-sol""#), "{}", response.data);
    let answer = message_data(&events).concat();
    // The resume reads the answer again from Bedrock, whose every route checks the key.
    let messages: Vec<&BrowserEvent> = events.iter().filter(|e| e.event == "message").collect();
    let resume = test_harness::request_from("192.0.2.63", "", &[("last-event-id", messages[1].id.as_str())]);
    let (status, resumed, _) = whole(&client, resume).await;
    assert_eq!(status, 200);
    let before: String = messages[..=1].iter().map(|e| e.data.as_str()).collect();
    assert_eq!(format!("{before}{}", message_data(&resumed).concat()), answer);
    assert_eq!((fallback.requests().len(), fallback.retrieves().is_empty()), (1, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_failed_over_answer_settles_to_the_fallback_s_bill_and_holds_nothing_for_the_failed_attempt() {
    use openai_stub::scenario::Failure;
    let dynamo = test_harness::Dynalite::start().await;
    dynamo.create_limits_table("failover").await;
    let (primary, fallback, client) = pair_with(&[("LIMITS_TABLE", "failover")]).await;
    let limits = spend::LimitsConfig { table: Some("failover".into()), rate_per_minute: 10, ..Default::default() };
    let store =
        spend::Store::with_client("failover".into(), dynamo.client()).with_clock(test_harness::mid_minute_clock());
    let gate = Gate::with_store(limits, store).unwrap();
    // Named, then failed before a word: the reservation made for it must end as the fallback's bill.
    primary.fail_every_stream(Some(Failure::Failed));
    let ask = test_harness::request_from(
        "203.0.113.71",
        &format!("message={}", test_harness::encode("/stub echo settled")),
        &[],
    );
    let response = handle(&client, &gate, ask).await.unwrap();
    let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    assert_eq!(message_data(&browser_events(&body).await).concat(), "settled");
    let billed = fallback.requests()[0].usage.clone().unwrap()["total_tokens"].as_u64().unwrap();
    let store = spend::Store::with_client("failover".into(), dynamo.client());
    let used = store.used(&format!("tokens#ip:203.0.113.71#{}", spend::day_now())).await.unwrap();
    assert_eq!(used, billed, "the fallback's bill, nothing of the failed attempt or of the worst case");
    assert_eq!(primary.requests()[0].deltas_sent, 0);
}

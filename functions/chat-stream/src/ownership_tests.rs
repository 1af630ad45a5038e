//! Whose answer it is, and what it cost: resume and stop bound to the access key that asked,
//! and the limits table settled to the real usage after a stop and after the reader left.

use std::time::Duration;

use http_body_util::BodyExt;
use lambda_http::{Body, Request, http};
use spend::{Gate, LimitsConfig, Store};
use test_harness::{BrowserEvent, Dynalite, TestUpstream, browser_events, message_data};

use crate::handler::handle;

fn from(ip: &str, query: &str, key: Option<&str>, last_event_id: Option<&str>) -> Request {
    let bearer = key.map(|k| format!("Bearer {k}"));
    let mut headers = Vec::new();
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    if let Some(id) = last_event_id {
        headers.push(("last-event-id", id));
    }
    test_harness::request_from(ip, query, &headers)
}

fn stop(id: &str, key: Option<&str>) -> Request {
    let mut builder = http::Request::post("https://lambda-url.local/stop").header("content-type", "application/json");
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Body::Text(format!(r#"{{"response_id":"{id}"}}"#))).unwrap()
}

async fn status_and_body(upstream: &TestUpstream, gate: &Gate, request: Request) -> (u16, serde_json::Value) {
    let response = handle(&upstream.client, gate, request).await.unwrap();
    let status = response.status().as_u16();
    let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// Starts an answer and reads until a few deltas arrived: the events so far, and the body.
async fn started(
    upstream: &TestUpstream,
    gate: &Gate,
    request: Request,
) -> (Vec<BrowserEvent>, crate::response::SseBody) {
    read_deltas(handle(&upstream.client, gate, request).await.unwrap().into_body(), 3).await
}

/// Reads `body` until `deltas` deltas arrived: the events so far, and the rest of the body.
async fn read_deltas(
    mut body: crate::response::SseBody,
    deltas: usize,
) -> (Vec<BrowserEvent>, crate::response::SseBody) {
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        read.extend_from_slice(frame.unwrap().data_ref().unwrap());
        if message_data(&browser_events(&read).await).len() >= deltas {
            break;
        }
    }
    (browser_events(&read).await, body)
}

fn response_id(events: &[BrowserEvent]) -> String {
    let data = &events.iter().find(|e| e.event == "response").unwrap().data;
    serde_json::from_str::<serde_json::Value>(data).unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn with_access_keys_only_the_key_that_asked_may_resume_or_stop_and_a_stop_settles() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("owners").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "owners"), ("ACCESS", "keys")]).await;
    let limits =
        LimitsConfig { table: Some("owners".into()), keys: true, rate_per_minute: 100, ..LimitsConfig::default() };
    let gate = Gate::with_client(limits, dynamo.client()).unwrap();
    let store = Store::with_client("owners".into(), dynamo.client());
    let (alice, bob) = (spend::generate_key().unwrap(), spend::generate_key().unwrap());
    let alice_id = store.put_key(&alice, "alice").await.unwrap().id;
    store.put_key(&bob, "bob").await.unwrap();

    let ask = format!("message={}", test_harness::encode("/stub deltas=400 delay_ms=10"));
    let (events, body) = started(&upstream, &gate, from("203.0.113.1", &ask, Some(&alice), None)).await;
    let (id, token) = (response_id(&events), events.last().unwrap().id.clone());

    // Bob, even from Alice's address and with her token, gets nothing of hers.
    let (status, refused) = status_and_body(&upstream, &gate, from("203.0.113.1", "", Some(&bob), Some(&token))).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("resume_token_invalid")), "{refused}");
    let (status, _) = status_and_body(&upstream, &gate, from("203.0.113.1", "", None, Some(&token))).await;
    assert_eq!(status, 401);
    let (status, refused) = status_and_body(&upstream, &gate, stop(&id, Some(&bob))).await;
    assert_eq!((status, refused["code"].as_str()), (404, Some("response_not_found")), "{refused}");
    assert!(upstream.stub.state.cancels().is_empty());
    // Alice resumes from another address: the key is who she is, and she gets the rest of her answer.
    let resumed = handle(&upstream.client, &gate, from("198.51.100.7", "", Some(&alice), Some(&token))).await.unwrap();
    assert_eq!(resumed.status(), 200);
    let had = message_data(&events).len();
    let (resumed_events, resumed) = read_deltas(resumed.into_body(), 2).await;
    assert_eq!(
        message_data(&resumed_events)[..2],
        [format!(" w{had}"), format!(" w{}", had + 1)],
        "{resumed_events:?}"
    );
    drop(resumed);

    let (status, stopped) = status_and_body(&upstream, &gate, stop(&id, Some(&alice))).await;
    assert_eq!((status, stopped["stopped"].as_str()), (200, Some(id.as_str())), "{stopped}");
    let tail = BodyExt::collect(body).await.unwrap().to_bytes();
    let tail = browser_events(&tail).await;
    assert_eq!(tail.iter().rev().take(2).map(|e| e.event.as_str()).collect::<Vec<_>>(), ["end", "stopped"], "{tail:?}");
    let stopped_usage: serde_json::Value = serde_json::from_str(&tail[tail.len() - 2].data).unwrap();
    let total = stopped_usage["usage"]["total_tokens"].as_u64().unwrap();
    let used = store.used(&format!("tokens#key:{alice_id}#{}", spend::day_now())).await.unwrap();
    assert_eq!(used, total, "the reservation settled to what the stopped answer used");
    assert_eq!(upstream.stub.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn an_answer_whose_reader_left_is_settled_once_it_finishes() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("left").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "left")]).await;
    let gate =
        Gate::with_client(LimitsConfig { table: Some("left".into()), ..LimitsConfig::default() }, dynamo.client())
            .unwrap();
    let store = Store::with_client("left".into(), dynamo.client());
    let (events, body) = started(
        &upstream,
        &gate,
        from("203.0.113.2", &format!("message={}", test_harness::encode("/stub deltas=30 delay_ms=5")), None, None),
    )
    .await;
    assert!(message_data(&events).len() >= 3);
    drop(body);
    // Three words of input + 8, one token a delta: what the stand-in reports once it finished.
    let counter = format!("tokens#ip:203.0.113.2#{}", spend::day_now());
    let mut used = 0;
    for _ in 0..50 {
        used = store.used(&counter).await.unwrap();
        if used == 3 + 8 + 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(used, 41, "settled to the finished answer's usage, not left at the reservation");
}

/// The same with what bills outside the words: a picture (counted first) and two web searches
/// (a fee each), under a dollar budget. The reader leaves at once; the answer goes on upstream,
/// as on AWS, and the day's dollars end at exactly what the stand-in billed, fees included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn an_answer_with_a_picture_and_searches_whose_reader_left_settles_to_the_bill_with_its_fees() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("left-priced").await;
    let vars = [
        ("LIMITS_TABLE", "left-priced"),
        ("OPENAI_TOOLS", r#"[{"type":"web_search"}]"#),
        ("OPENAI_SERVICE_TIER", "default"),
    ];
    let upstream = TestUpstream::start_with(&vars).await;
    let limits = LimitsConfig {
        table: Some("left-priced".into()),
        daily_budget_usd: Some(1_000_000_000),
        ..LimitsConfig::default()
    };
    let gate = Gate::with_client(limits, dynamo.client()).unwrap();
    let store = Store::with_client("left-priced".into(), dynamo.client());
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
    let body = serde_json::json!({"message": "/stub search=2 deltas=30 delay_ms=10", "attachments": [{"data": png}]});
    let request = test_harness::request_with_body("203.0.113.3", &body.to_string());
    let (events, body) = started(&upstream, &gate, request).await;
    assert!(message_data(&events).len() >= 3, "{events:?}");
    drop(body);
    let budget = format!("budget#{}", spend::day_now());
    let (mut used, mut billed) = (0, 0.0);
    for _ in 0..50 {
        let asked = upstream.stub.requests();
        billed = asked.iter().map(openai_stub::RecordedRequest::bill_usd).sum::<f64>();
        used = store.used_nanos(&budget).await.unwrap();
        if asked.iter().all(|r| r.finished) && (billed - used as f64 / 1e9).abs() < 1e-12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let asked = upstream.stub.requests();
    assert_eq!((asked.len(), asked[0].images, asked[0].web_searches), (1, 1, 2), "{asked:?}");
    assert!(billed > 0.02, "two searches' fees at least: {billed}");
    assert!((billed - used as f64 / 1e9).abs() < 1e-12, "{billed} billed, {used} nano-dollars counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn resumes_and_stops_take_a_request_slot_like_any_other() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("slots").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "slots")]).await;
    let gate = Gate::with_client(
        LimitsConfig { table: Some("slots".into()), rate_per_minute: 2, ..LimitsConfig::default() },
        dynamo.client(),
    )
    .unwrap();
    let ask = format!("message={}", test_harness::encode("/stub deltas=400 delay_ms=10"));
    let (events, body) = started(&upstream, &gate, from("203.0.113.3", &ask, None, None)).await;
    let (id, token) = (response_id(&events), events.last().unwrap().id.clone());
    let resumed = handle(&upstream.client, &gate, from("203.0.113.3", "", None, Some(&token))).await.unwrap();
    assert_eq!(resumed.status(), 200, "the second request of the minute");
    drop(resumed);
    let calls_before = upstream.stub.retrieves().len();
    // The same caller stopping it: the third request of the minute.
    let body_json = format!(r#"{{"response_id":"{id}"}}"#);
    let mut event = test_harness::runtime_api::function_url_event(
        "POST",
        "/stop",
        "",
        &[("content-type", "application/json")],
        Some(&body_json),
    );
    event["requestContext"]["http"]["sourceIp"] = serde_json::json!("203.0.113.3");
    let stop_request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let (status, refused) = status_and_body(&upstream, &gate, stop_request).await;
    assert_eq!((status, refused["code"].as_str()), (429, Some("caller_limit_reached")), "{refused}");
    let (status, refused) = status_and_body(&upstream, &gate, from("203.0.113.3", "", None, Some(&token))).await;
    assert_eq!((status, refused["code"].as_str()), (429, Some("caller_limit_reached")), "{refused}");
    assert!(
        upstream.stub.cancels().is_empty() && upstream.stub.retrieves().len() == calls_before,
        "refused before any call upstream"
    );
    drop(body);
}

#[tokio::test]
async fn with_a_signing_secret_tokens_and_conversations_outlive_a_rotated_openai_key() {
    let upstream = TestUpstream::start_with(&[("TOKEN_SIGNING_SECRET", "signing-one")]).await;
    let ask = format!("message={}", test_harness::encode("/stub deltas=3"));
    let response = handle(&upstream.client, &upstream.gate, from("203.0.113.4", &ask, None, None)).await.unwrap();
    let events = browser_events(&BodyExt::collect(response.into_body()).await.unwrap().to_bytes()).await;
    let (id, token) = (response_id(&events), events.last().unwrap().id.clone());
    // The same deployment after the OpenAI key was rotated, in a new execution environment.
    let rotated = test_harness::client_for(
        &upstream.stub,
        &[("OPENAI_API_KEY", "sk-rotated-key-0001"), ("TOKEN_SIGNING_SECRET", "signing-one")],
    );
    let caller = "ip:203.0.113.4";
    assert!(rotated.verify_token(caller, &token).await.is_ok(), "the token still resumes");
    let follow_up = test_harness::request_from("203.0.113.4", &format!("message=more&previous_response_id={id}"), &[]);
    assert_eq!(
        handle(&rotated, &upstream.gate, follow_up).await.unwrap().status(),
        200,
        "the conversation is still theirs"
    );
    // Another signing secret (or none: the API key) makes none of them valid.
    let other = test_harness::client_for(&upstream.stub, &[("TOKEN_SIGNING_SECRET", "signing-two")]);
    assert_eq!(other.verify_token(caller, &token).await.unwrap_err().code(), "resume_token_invalid");
    let keyed = test_harness::client_for(&upstream.stub, &[]);
    assert!(keyed.verify_token(caller, &token).await.is_err());
}

#[tokio::test]
async fn a_failed_answer_is_cancelled_before_its_reader_is_told() {
    let upstream = TestUpstream::start().await;
    let ask = format!("message={}", test_harness::encode("/stub error=nested after=2 echo abcd"));
    let mut body =
        handle(&upstream.client, &upstream.gate, from("203.0.113.5", &ask, None, None)).await.unwrap().into_body();
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        read.extend_from_slice(frame.unwrap().data_ref().unwrap());
        if browser_events(&read).await.iter().any(|e| e.event == "error") {
            break;
        }
    }
    // A reader that closes on `error` (as a page may) leaves nothing running upstream.
    drop(body);
    let id = response_id(&browser_events(&read).await);
    assert_eq!(upstream.stub.cancels(), [id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_public_mode_a_stop_reaches_only_this_deployment_s_answers() {
    let upstream = TestUpstream::start_with(&[("OPENAI_MODEL", "gpt-6-luna")]).await;
    // Another deployment in the same OpenAI project (its own signing secret) starts an answer.
    use futures_util::StreamExt;
    let other = test_harness::client_for(&upstream.stub, &[("TOKEN_SIGNING_SECRET", "another-app-s-secret")]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut theirs = other.stream(&test_harness::chat("/stub deltas=50 delay_ms=20 theirs"), deadline).await.unwrap();
    let foreign_id = loop {
        if let Some(Ok(openai_client::UpstreamEvent::Created { id })) = theirs.next().await {
            break id;
        }
    };
    let (status, refused) = status_and_body(&upstream, &upstream.gate, stop(&foreign_id, None)).await;
    assert_eq!((status, refused["code"].as_str()), (404, Some("response_not_found")), "{refused}");
    assert!(upstream.stub.cancels().is_empty(), "another app's answer was not cancelled");
    // Ours, asked from this deployment, stops for whoever holds its id.
    let (events, _body) = started(
        &upstream,
        &upstream.gate,
        from("203.0.113.9", "message=%2Fstub%20deltas%3D50%20delay_ms%3D20%20ours", None, None),
    )
    .await;
    let ours = response_id(&events);
    let (status, stopped) = status_and_body(&upstream, &upstream.gate, stop(&ours, None)).await;
    assert_eq!((status, stopped["stopped"].as_str()), (200, Some(ours.as_str())), "{stopped}");
    assert_eq!(upstream.stub.cancels(), [ours]);
}

/// `request` with a Lambda deadline `after` from now, as the runtime gives each invocation.
fn with_deadline(request: Request, after: Duration) -> Request {
    use lambda_http::RequestExt;
    let mut context = lambda_http::Context::default();
    let deadline = std::time::SystemTime::now() + after;
    context.deadline = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    request.with_lambda_context(context)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_reader_back_before_the_hand_over_from_another_address_settles_the_answer_it_finishes() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("parked").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "parked")]).await;
    let gate =
        Gate::with_client(LimitsConfig { table: Some("parked".into()), ..LimitsConfig::default() }, dynamo.client())
            .unwrap();
    let store = Store::with_client("parked".into(), dynamo.client());
    // The first invocation hands over a second or so in (its deadline less the margin it keeps).
    let question =
        from("203.0.113.5", &format!("message={}", test_harness::encode("/stub deltas=60 delay_ms=50")), None, None);
    let (events, first) = started(&upstream, &gate, with_deadline(question, Duration::from_millis(7_500))).await;
    let token = events.iter().rfind(|e| e.event == "message").unwrap().id.clone();
    // The reader is back already, from another network (public mode: the token is bound to no
    // address), while the first invocation still runs: nothing is parked yet.
    let resumed = handle(&upstream.client, &gate, from("198.51.100.9", "", None, Some(&token))).await.unwrap();
    assert_eq!(resumed.status(), 200);
    let first = BodyExt::collect(first).await.unwrap().to_bytes();
    assert!(!String::from_utf8_lossy(&first).contains("event: end"), "the first invocation handed over");
    let rest = BodyExt::collect(resumed.into_body()).await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&rest).contains("event: end"), "the resume finished the answer");
    // Three words + 8, one token a delta: the asker's counter holds the bill, not the reservation.
    let counter = format!("tokens#ip:203.0.113.5#{}", spend::day_now());
    assert_eq!(store.used(&counter).await.unwrap(), 3 + 8 + 60);
    assert_eq!(store.used(&format!("tokens#ip:198.51.100.9#{}", spend::day_now())).await.unwrap(), 0);
}

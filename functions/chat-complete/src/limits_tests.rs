//! The limits through the handler, against a real DynamoDB emulator (dynalite, atomic under
//! concurrent conditional writes) and the stand-in upstream.

use std::sync::Arc;

use futures_util::future::join_all;
use lambda_http::Body;
use spend::{Gate, LimitsConfig, Store};
use test_harness::{Dynalite, TestUpstream, encode, request_from};

use crate::handler::handle;

/// The bursts take turns: each is dozens of conditional writes at once to an emulator on one
/// Node thread, and two at once on two cores can pass the store's one-second deadline (a 503).
static BURSTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn gate_on(dynamo: &Dynalite, table: &str, limits: LimitsConfig) -> Gate {
    dynamo.create_limits_table(table).await;
    Gate::with_client(LimitsConfig { table: Some(table.to_owned()), ..limits }, dynamo.client()).unwrap()
}

async fn ask(
    upstream: &TestUpstream,
    gate: &Gate,
    ip: &str,
    message: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let request = request_from(ip, &format!("message={}", encode(message)), &[]);
    let response = handle(&upstream.client, gate, request).await.expect("handled");
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let Body::Text(text) = response.body() else { panic!("a text body") };
    (response.status().as_u16(), retry_after, serde_json::from_str(text).expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn fifty_at_once_from_one_caller_let_exactly_ten_through() {
    let _turn = BURSTS.lock().await;
    let dynamo = Dynalite::start().await;
    let upstream = Arc::new(TestUpstream::start_with(&[("LIMITS_TABLE", "rate")]).await);
    dynamo.create_limits_table("rate").await;
    // The whole burst in one minute whenever it runs: the store's clock stands at this minute's
    // middle (the same day as the real clock), so no request lands in the next window.
    let clock = test_harness::mid_minute_clock();
    let day = clock() / 86_400;
    let store = Store::with_client("rate".into(), dynamo.client()).with_clock(clock);
    let limits = LimitsConfig { table: Some("rate".into()), rate_per_minute: 10, ..LimitsConfig::default() };
    let gate = Arc::new(Gate::with_store(limits, store).unwrap());
    // One question first, as in a conversation under way: the burst then meets an environment
    // that has counted the caller this minute (one write each, not both ways) and an emulator
    // past its first requests, which on a loaded machine can outlast the store's 1 s deadline.
    assert_eq!(ask(&upstream, &gate, "203.0.113.10", "/stub echo hi first").await.0, 200);
    let calls = (1..50).map(|i| {
        let (upstream, gate) = (upstream.clone(), gate.clone());
        async move { ask(&upstream, &gate, "203.0.113.10", &format!("/stub echo hi {i}")).await }
    });
    let answers = join_all(calls).await;
    let (passed, refused): (Vec<_>, Vec<_>) = answers.iter().partition(|(status, _, _)| *status == 200);
    assert_eq!((passed.len() + 1, refused.len()), (10, 40), "{answers:?}");
    assert_eq!(upstream.stub.requests().len(), 10, "exactly ten reached the upstream");
    for (status, retry_after, body) in refused {
        assert_eq!(*status, 429);
        assert!(
            retry_after.as_deref().is_some_and(|s| (1..=60).contains(&s.parse::<u64>().unwrap())),
            "{retry_after:?}"
        );
        assert_eq!(body["code"], "caller_limit_reached");
        assert!(body["detail"].as_str().unwrap().contains("10 requests per minute"), "{body}");
    }
    // A new conversation's slot and reservation are written at once: the forty refused gave
    // back what they had reserved, so the counters hold exactly what the ten were billed.
    let counters = Store::with_client("rate".into(), dynamo.client());
    let billed: u64 = upstream
        .stub
        .requests()
        .iter()
        .map(|r| r.input.split_whitespace().count() as u64 + 8 + r.deltas_sent as u64)
        .sum();
    assert_eq!(counters.used(&format!("tokens#ip:203.0.113.10#{day}")).await.unwrap(), billed);
    assert_eq!(counters.used(&format!("budget#{day}")).await.unwrap(), billed);
    // Another caller has its own allowance.
    assert_eq!(ask(&upstream, &gate, "203.0.113.11", "/stub echo other").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn many_callers_never_reserve_past_the_daily_budget_and_usage_is_settled() {
    let _turn = BURSTS.lock().await;
    let dynamo = Dynalite::start().await;
    // Each request reserves its message bytes + 8 for its framing + 64 + 100 output tokens: 199.
    let upstream =
        Arc::new(TestUpstream::start_with(&[("LIMITS_TABLE", "budget"), ("OPENAI_MAX_OUTPUT_TOKENS", "100")]).await);
    let limits = LimitsConfig { daily_budget: 1_000, ..LimitsConfig::default() };
    let gate = Arc::new(gate_on(&dynamo, "budget", limits).await);
    let store = spend::Store::with_client("budget".into(), dynamo.client());
    let day = spend::day_now();
    let calls = (0..30).map(|i| {
        let (upstream, gate) = (upstream.clone(), gate.clone());
        // Slow answers keep every reservation held while the others arrive.
        async move { ask(&upstream, &gate, &format!("198.51.100.{i}"), "/stub delay_ms=700 deltas=3").await }
    });
    let answers = join_all(calls).await;
    let admitted = answers.iter().filter(|(status, _, _)| *status == 200).count();
    // Answers take 2 s, so every reservation is still held when the last request asks.
    assert_eq!(admitted, 5, "a 1,000-token budget holds five 199-token reservations, never six");
    for (status, _, body) in answers.iter().filter(|(status, _, _)| *status != 200) {
        assert_eq!((*status, body["code"].as_str()), (429, Some("daily_budget_reached")), "{body}");
    }
    assert_eq!(upstream.stub.requests().len(), admitted);
    // Every answer completed, so what is left counted is exactly what OpenAI reported.
    let reported: u64 =
        upstream.stub.requests().iter().map(|r| r.input.split_whitespace().count() as u64 + 8 + 3).sum();
    assert_eq!(store.used(&format!("budget#{day}")).await.unwrap(), reported);
    let first_caller = answers.iter().position(|(status, _, _)| *status == 200).unwrap();
    let one = "/stub delay_ms=700 deltas=3".split_whitespace().count() as u64 + 8 + 3;
    assert_eq!(store.used(&format!("tokens#ip:198.51.100.{first_caller}#{day}")).await.unwrap(), one);
}

/// gpt-6-luna's worst case for "/stub delay_ms=700 deltas=3" with a 100-token output cap in the
/// default tier: 99 input tokens at the cache-write rate ($0.125/M = 125 nano-dollars each) and
/// 100 output at $0.50/M (500 each). Its bill: 11 fresh input (3 words and 8 of framing, 100
/// each) and 3 output.
const WORST_NANOS: u64 = 99 * 125 + 100 * 500;
const BILL_NANOS: u64 = 11 * 100 + 3 * 500;
const SLOW: &str = "/stub delay_ms=700 deltas=3";

async fn dollar_upstream(table: &str) -> Arc<TestUpstream> {
    let settings = [("LIMITS_TABLE", table), ("OPENAI_MAX_OUTPUT_TOKENS", "100"), ("OPENAI_SERVICE_TIER", "default")];
    Arc::new(TestUpstream::start_with(&settings).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn many_callers_never_spend_past_the_daily_dollars_and_the_bill_is_what_openai_charges() {
    let _turn = BURSTS.lock().await;
    let dynamo = Dynalite::start().await;
    let upstream = dollar_upstream("dollars").await;
    // $0.0003 holds four worst cases (249,500 nano-dollars), never five (311,875).
    let budget_nanos = 300_000;
    let limits =
        LimitsConfig { daily_budget: 1_000_000, daily_budget_usd: Some(budget_nanos), ..LimitsConfig::default() };
    let gate = Arc::new(gate_on(&dynamo, "dollars", limits).await);
    let store = Store::with_client("dollars".into(), dynamo.client());
    let day = spend::day_now();
    let calls = (0..30).map(|i| {
        let (upstream, gate) = (upstream.clone(), gate.clone());
        async move { ask(&upstream, &gate, &format!("198.51.100.{i}"), SLOW).await }
    });
    let answers = join_all(calls).await;
    let admitted = answers.iter().filter(|(status, _, _)| *status == 200).count();
    assert_eq!(admitted, 4, "$0.0003 holds four reservations of {WORST_NANOS} nano-dollars, never five");
    for (status, _, body) in answers.iter().filter(|(status, _, _)| *status != 200) {
        assert_eq!((*status, body["code"].as_str()), (429, Some("daily_budget_reached")), "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("$0.0003")), "the detail in dollars: {body}");
    }
    // Settled to the bill: the counter holds what the stand-in charges, by class, and that is
    // never above the budget.
    let requests = upstream.stub.requests();
    assert_eq!(requests.len(), admitted);
    let bill: f64 = requests.iter().map(|r| r.bill_usd()).sum();
    let counted = store.used_nanos(&format!("budget#{day}")).await.unwrap();
    assert_eq!(counted, admitted as u64 * BILL_NANOS);
    assert!((bill - counted as f64 / 1e9).abs() < 1e-12, "{bill} against {counted} nano-dollars");
    assert!(bill <= budget_nanos as f64 / 1e9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_caller_s_dollars_hold_and_a_question_dearer_than_a_day_is_too_large() {
    let dynamo = Dynalite::start().await;
    let upstream = dollar_upstream("caller-dollars").await;
    // Room for one worst case at a time ($0.0001), not two.
    let limits = LimitsConfig { caller_usd_per_day: Some(100_000), ..LimitsConfig::default() };
    let gate = Arc::new(gate_on(&dynamo, "caller-dollars", limits).await);
    let store = Store::with_client("caller-dollars".into(), dynamo.client());
    let (first, second) =
        tokio::join!(ask(&upstream, &gate, "203.0.113.7", SLOW), ask(&upstream, &gate, "203.0.113.7", SLOW));
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429]);
    let refused = if first.0 == 429 { &first.2 } else { &second.2 };
    assert_eq!(refused["code"], "caller_limit_reached", "{refused}");
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("$0.0001 per day")), "{refused}");
    let caller = format!("tokens#ip:203.0.113.7#{}", spend::day_now());
    assert_eq!(store.used_nanos(&caller).await.unwrap(), BILL_NANOS, "settled to the bill");
    // Settled, the next fits again; another caller with less than one worst case a day is told
    // the question is too large, in dollars.
    assert_eq!(ask(&upstream, &gate, "203.0.113.7", SLOW).await.0, 200);
    let small = LimitsConfig { caller_usd_per_day: Some(50_000), ..LimitsConfig::default() };
    let small_gate = gate_on(&dynamo, "small-dollars", small).await;
    let (status, _, body) = ask(&upstream, &small_gate, "203.0.113.8", SLOW).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("question_too_large")), "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("$0.000062375") && detail.contains("$0.00005"), "{detail}");
}

#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn the_store_down_means_503_and_nothing_upstream() {
    let mut dynamo = Dynalite::start().await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "down")]).await;
    let gate = gate_on(&dynamo, "down", LimitsConfig::default()).await;
    assert_eq!(ask(&upstream, &gate, "192.0.2.1", "/stub echo up").await.0, 200);
    dynamo.stop();
    let started = std::time::Instant::now();
    let (status, _, body) = ask(&upstream, &gate, "192.0.2.1", "/stub echo down").await;
    assert_eq!((status, body["code"].as_str()), (503, Some("limits_unavailable")), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "bounded: {:?}", started.elapsed());
    assert_eq!(upstream.stub.requests().len(), 1, "fail closed: no upstream call");
}

#[tokio::test]
async fn other_websites_are_refused_and_openai_gets_a_keyed_caller_id() {
    let upstream = TestUpstream::start().await;
    let limits = LimitsConfig { allowed_origins: vec!["https://page.example".into()], ..LimitsConfig::default() };
    let gate = Gate::from_config(limits).unwrap();
    let request = request_from("192.0.2.7", "message=hi", &[("origin", "https://evil.example")]);
    let response = handle(&upstream.client, &gate, request).await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(upstream.stub.requests().is_empty());
    let request = request_from(
        "192.0.2.7",
        &format!("message={}", encode("/stub echo ok")),
        &[("origin", "https://page.example")],
    );
    assert_eq!(handle(&upstream.client, &gate, request).await.unwrap().status(), 200);
    let sent = upstream.stub.requests();
    let id = sent[0].safety_identifier.as_deref().expect("a safety_identifier");
    assert_eq!(id, openai_client::safety_identifier("ip:192.0.2.7", test_harness::TEST_KEY));
    assert!(!id.contains("192.0.2.7"));
    // The prompt cache is keyed by caller: the same for their next turn, another for another.
    let ask = |ip: &str| {
        request_from(ip, &format!("message={}", encode("/stub echo again")), &[("origin", "https://page.example")])
    };
    assert_eq!(handle(&upstream.client, &gate, ask("192.0.2.7")).await.unwrap().status(), 200);
    assert_eq!(handle(&upstream.client, &gate, ask("192.0.2.8")).await.unwrap().status(), 200);
    let keys: Vec<String> =
        upstream.stub.requests().iter().map(|r| r.prompt_cache_key.clone().expect("a prompt_cache_key")).collect();
    assert_eq!(keys[0], keys[1], "one caller, one key");
    assert_ne!(keys[1], keys[2], "another caller, another key");
    assert!(!keys[0].contains("192.0.2") && !keys[0].contains(id), "{}", keys[0]);
}

#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn access_keys_missing_wrong_or_revoked_are_401_and_a_key_s_own_limit_applies() {
    let dynamo = Dynalite::start().await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "keys")]).await;
    let gate =
        gate_on(&dynamo, "keys", LimitsConfig { keys: true, rate_per_minute: 100, ..LimitsConfig::default() }).await;
    let store = spend::Store::with_client("keys".into(), dynamo.client());
    let key = spend::generate_key().unwrap();
    let record = store.put_key(&key, "alice").await.unwrap();
    store.update_key(&record.id, Some(2), None, false).await.unwrap();

    // Everything the handler logs, to prove the key never reaches it.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || Captured(writer.clone()))
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A second live dispatcher: with only one, a callsite first reached by another test's
    // thread caches "never" for every thread (tokio-rs/tracing#3611), and the capture misses it.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());

    let call = |headers: Vec<(&'static str, String)>, query: String| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request_from("192.0.2.30", &query, &headers)
    };
    let message = format!("message={}", encode("/stub echo ok"));
    let mut bodies = Vec::new();
    for (request, expected) in [
        (call(vec![], message.clone()), "access_key_missing"),
        (call(vec![("authorization", "Bearer chat_wrong".into())], message.clone()), "access_key_unknown"),
    ] {
        let response = handle(&upstream.client, &gate, request).await.unwrap();
        assert_eq!(response.status(), 401);
        let Body::Text(text) = response.body() else { panic!() };
        assert!(text.contains(expected), "{text}");
        bodies.push(text.clone());
    }
    // The key's own limit (2 a minute) wins over the deployment's 100, by header or by query.
    let by_header =
        handle(&upstream.client, &gate, call(vec![("authorization", format!("Bearer {key}"))], message.clone()))
            .await
            .unwrap();
    let by_query =
        handle(&upstream.client, &gate, call(vec![], format!("{message}&key={}", encode(&key)))).await.unwrap();
    let third = handle(&upstream.client, &gate, call(vec![], format!("{message}&key={}", encode(&key)))).await.unwrap();
    assert_eq!((by_header.status().as_u16(), by_query.status().as_u16(), third.status().as_u16()), (200, 200, 429));
    store.update_key(&record.id, None, None, true).await.unwrap();
    let revoked =
        handle(&upstream.client, &gate, call(vec![("authorization", format!("Bearer {key}"))], message.clone()))
            .await
            .unwrap();
    assert_eq!(revoked.status(), 401);
    for response in [by_header, by_query, third, revoked] {
        let Body::Text(text) = response.body() else { panic!() };
        bodies.push(text.clone());
    }
    assert_eq!(upstream.stub.requests().len(), 2);
    let log = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    assert!(log.contains("request finished"), "the log was captured");
    for text in bodies.iter().chain([&log]) {
        assert!(!text.contains(&key) && !text.contains(&key[5..]), "the key leaked: {text}");
    }
}

struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

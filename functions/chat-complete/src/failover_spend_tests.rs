//! Failover and the owner's money, on dynalite: a question is reserved at the dearer of the
//! models that may answer it, and an answer from the fallback is settled at the fallback's price.

use lambda_http::{Body, Request};
use openai_client::ResponsesClient;
use openai_stub::StubServer;
use serde_json::json;
use spend::{Gate, LimitsConfig, Store};
use test_harness::{Dynalite, TEST_KEY, client_for, encode, request_from};

use crate::handler::handle;

const FALLBACK_KEY: &str = "sk-fallback-7e1f04";
/// A PNG header of 2048 x 2048 pixels.
const LARGE_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAACAAAAAgACAIAAAA9xURnAAAAAElFTkSuQmCC";

/// A primary answering with gpt-6-luna, a fallback with gpt-6-sol (twenty times dearer), one
/// output cap and the default tier, so the worst cases are exact.
async fn pair() -> (StubServer, StubServer, ResponsesClient) {
    pair_of("gpt-6-luna", "gpt-6-sol").await
}

async fn pair_of(primary_model: &str, fallback_model: &str) -> (StubServer, StubServer, ResponsesClient) {
    let (primary, fallback) = (StubServer::start().await.unwrap(), StubServer::start().await.unwrap());
    fallback.state.expected_key.write().unwrap().replace(FALLBACK_KEY.to_owned());
    primary.state.expected_key.write().unwrap().replace(TEST_KEY.to_owned());
    let url = fallback.base_url();
    let vars = [
        ("OPENAI_MODEL", primary_model),
        ("OPENAI_MAX_OUTPUT_TOKENS", "100"),
        ("OPENAI_SERVICE_TIER", "default"),
        ("FALLBACK_BASE_URL", url.as_str()),
        ("FALLBACK_API_KEY", FALLBACK_KEY),
        ("FALLBACK_MODEL", fallback_model),
    ];
    let client = client_for(&primary, &vars);
    (primary, fallback, client)
}

async fn gate_on(dynamo: &Dynalite, table: &str, limits: LimitsConfig) -> Gate {
    dynamo.create_limits_table(table).await;
    Gate::with_client(LimitsConfig { table: Some(table.to_owned()), ..limits }, dynamo.client()).unwrap()
}

async fn ask(client: &ResponsesClient, gate: &Gate, ip: &str, text: &str) -> (u16, serde_json::Value) {
    send(client, gate, request_from(ip, &format!("message={}", encode(text)), &[])).await
}

async fn send(client: &ResponsesClient, gate: &Gate, request: Request) -> (u16, serde_json::Value) {
    let response = handle(client, gate, request).await.unwrap();
    let Body::Text(text) = response.body() else { panic!("a text body") };
    (response.status().as_u16(), serde_json::from_str(text).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_question_is_reserved_at_the_dearer_model_and_the_fallback_s_answer_settled_at_its_price() {
    let dynamo = Dynalite::start().await;
    let (primary, fallback, client) = pair().await;
    // 83 input tokens (the message's bytes and the framing) at gpt-6-sol's cache-write rate
    // ($2.50/M) and 100 output at $10/M: 1,207,500 nano-dollars, against gpt-6-luna's 60,375.
    // $0.0001 a day holds the primary's worst case, not the fallback's: the question is too
    // large before anything is asked.
    let small =
        gate_on(&dynamo, "small", LimitsConfig { caller_usd_per_day: Some(100_000), ..Default::default() }).await;
    let (status, body) = ask(&client, &small, "203.0.113.20", "hello there").await;
    assert_eq!((status, body["code"].as_str()), (413, Some("question_too_large")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("$0.0012075")), "{body}");
    assert!(primary.requests().is_empty() && fallback.requests().is_empty());

    // The primary fails; the fallback answers, and the counters hold its bill at its price.
    primary.fail_every_create(Some((500, None)));
    let budget = LimitsConfig { daily_budget_usd: Some(1_000_000_000), ..Default::default() };
    let gate = gate_on(&dynamo, "priced", budget).await;
    let (status, body) = ask(&client, &gate, "203.0.113.21", "/stub echo hello").await;
    assert_eq!((status, body["model"].as_str()), (200, Some("gpt-6-sol")), "{body}");
    let answered = fallback.requests();
    assert_eq!(answered.len(), 1);
    let store = Store::with_client("priced".into(), dynamo.client());
    let counted = store.used_nanos(&format!("budget#{}", spend::day_now())).await.unwrap();
    let bill = answered[0].bill_usd();
    assert!(bill > 0.0 && (bill - counted as f64 / 1e9).abs() < 1e-12, "{bill} billed, {counted} nano-dollars counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_picture_the_primary_cannot_count_is_counted_by_the_fallback_or_bounded_by_the_context_window() {
    let dynamo = Dynalite::start().await;
    // gpt-4.1 (a 1,047,576-token window) and gpt-4o (128,000, at $2.50/M input): a question
    // reserved at the wider window is about $2.62 at the dearer price.
    let (primary, fallback, client) = pair_of("gpt-4.1", "gpt-4o").await;
    primary.fail_every_create(Some((503, None)));
    let picture = |ip: &str| {
        let body = json!({"message": "/stub echo seen", "attachments": [{"name": "p.png", "data": LARGE_PNG}]});
        test_harness::request_with_body(ip, &body.to_string())
    };
    // Tokens enough for the window: only dollars limit these callers.
    let tokens = 10_000_000;
    let dollar =
        LimitsConfig { caller_usd_per_day: Some(1_000_000_000), caller_tokens_per_day: tokens, ..Default::default() };
    let gate = gate_on(&dynamo, "counted_elsewhere", dollar).await;
    // The primary cannot count: the fallback counts the picture and answers it; the count's
    // failure opened the circuit, so the answer was not asked of the primary first.
    let (status, body) = send(&client, &gate, picture("203.0.113.23")).await;
    assert_eq!((status, body["model"].as_str()), (200, Some("gpt-4o")), "{body}");
    assert_eq!((fallback.state.input_counts(), fallback.requests().len()), (1, 1));
    assert_eq!(fallback.requests()[0].images, 1);
    assert!(primary.requests().is_empty(), "{:?}", primary.requests());
    let store = Store::with_client("counted_elsewhere".into(), dynamo.client());
    let day = format!("tokens#ip:203.0.113.23#{}", spend::day_now());
    let counted = store.used_nanos(&day).await.unwrap();
    let bill = fallback.requests()[0].bill_usd();
    assert!(bill > 0.0 && (bill - counted as f64 / 1e9).abs() < 1e-12, "{bill} billed, {counted} nano-dollars counted");

    // The primary is back, its probe due: a picture the fallback counted is still answered by
    // the fallback (its count is the bound), and a plain question probes the primary.
    primary.fail_every_create(None);
    tokio::time::sleep(openai_client::PROBE_EVERY + std::time::Duration::from_millis(100)).await;
    let (status, body) = send(&client, &gate, picture("203.0.113.23")).await;
    assert_eq!((status, body["model"].as_str()), (200, Some("gpt-4o")), "{body}");
    assert!(primary.requests().is_empty() && fallback.state.input_counts() == 2, "{:?}", primary.requests());
    let (status, body) = ask(&client, &gate, "203.0.113.23", "/stub echo plain").await;
    assert_eq!((status, body["model"].as_str()), (200, Some("gpt-4.1")), "the probe: {body}");
    primary.fail_every_create(Some((503, None)));
    let asked_of_fallback = fallback.requests().len();

    // Neither can count: the question is bounded by the wider window, which $1 a day does not
    // hold (refused as too large, nothing asked) and $10 does (answered, settled to the bill).
    fallback.state.counts_unserved.store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, body) = send(&client, &gate, picture("203.0.113.24")).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("question_too_large")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("$1 ")), "{body}");
    assert_eq!(fallback.requests().len(), asked_of_fallback, "nothing asked");
    let ten =
        LimitsConfig { caller_usd_per_day: Some(10_000_000_000), caller_tokens_per_day: tokens, ..Default::default() };
    let gate = gate_on(&dynamo, "bounded", ten).await;
    let (status, body) = send(&client, &gate, picture("203.0.113.25")).await;
    assert_eq!((status, body["model"].as_str()), (200, Some("gpt-4o")), "{body}");
    let store = Store::with_client("bounded".into(), dynamo.client());
    let counted = store.used_nanos(&format!("tokens#ip:203.0.113.25#{}", spend::day_now())).await.unwrap();
    let bill = fallback.requests()[asked_of_fallback].bill_usd();
    assert!((bill - counted as f64 / 1e9).abs() < 1e-12, "{bill} billed, {counted} nano-dollars counted");
}

//! The owner's web search through the handler: the tool sent as written with `max_tool_calls`,
//! the answer's sources beside its text, the calls billed per call, and a dollar budget that
//! holds when many callers search at once. Against dynalite and the stand-in, which bills every
//! search and every step's input as OpenAI does.

use std::sync::Arc;

use futures_util::future::join_all;
use lambda_http::Body;
use spend::{Gate, LimitsConfig, Store};
use test_harness::{Dynalite, TestUpstream, encode, request_from};

use crate::handler::handle;

const SEARCH: &str = r#"[{"type":"web_search","search_context_size":"low"}]"#;

async fn ask(upstream: &TestUpstream, gate: &Gate, ip: &str, question: &str) -> (u16, serde_json::Value) {
    let request = request_from(ip, &format!("message={}", encode(question)), &[]);
    let response = handle(&upstream.client, gate, request).await.expect("handled");
    let Body::Text(text) = response.body() else { panic!("a text body") };
    (response.status().as_u16(), serde_json::from_str(text).expect("JSON"))
}

async fn searching(table: &str) -> Arc<TestUpstream> {
    let settings = [
        ("LIMITS_TABLE", table),
        ("OPENAI_TOOLS", SEARCH),
        ("OPENAI_MAX_OUTPUT_TOKENS", "100"),
        ("OPENAI_SERVICE_TIER", "default"),
    ];
    Arc::new(TestUpstream::start_with(&settings).await)
}

#[tokio::test]
async fn a_search_s_sources_come_beside_the_answer_and_each_page_once() {
    let upstream = TestUpstream::start_with(&[("OPENAI_TOOLS", SEARCH), ("OPENAI_MAX_TOOL_CALLS", "2")]).await;
    let (status, body) = ask(&upstream, &upstream.gate, "203.0.113.60", "/stub search=5 deltas=3").await;
    assert_eq!(status, 200, "{body}");
    // At most max_tool_calls searches: two pages, the first cited twice but listed once.
    let sources = body["sources"].as_array().expect("sources");
    let urls: Vec<&str> = sources.iter().filter_map(|s| s["url"].as_str()).collect();
    assert_eq!(urls, ["https://example.com/result-0", "https://example.com/result-1"], "{body}");
    assert_eq!(sources[0]["title"], "Result <0> & \"more\"", "titles exactly as cited");
    let asked = &upstream.stub.requests()[0];
    assert_eq!(asked.web_searches, 2);
    // Without the tool nothing is searched, and no `sources` key is sent.
    let plain = TestUpstream::start().await;
    let (_, body) = ask(&plain, &plain.gate, "203.0.113.61", "/stub search=2 deltas=3").await;
    assert!(body.get("sources").is_none() && plain.stub.requests()[0].web_searches == 0, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_dollar_budget_holds_with_searches_under_concurrency_and_settles_to_the_bill() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("searches").await;
    let upstream = searching("searches").await;
    // A worst case: three searches' fees ($0.03) and four steps reading the question and up to
    // 8,000 tokens of results each so far (about 48,600 input tokens at gpt-6-luna's dearest
    // input rate, $0.125/M): about $0.036. $0.08 holds two, never three.
    let budget_nanos = 80_000_000;
    let limits = LimitsConfig {
        table: Some("searches".into()),
        rate_per_minute: 1000,
        daily_budget: 100_000_000,
        caller_tokens_per_day: 100_000_000,
        daily_budget_usd: Some(budget_nanos),
        ..LimitsConfig::default()
    };
    let gate = Arc::new(Gate::with_client(limits, dynamo.client()).unwrap());
    let store = Store::with_client("searches".into(), dynamo.client());
    let calls = (0..12).map(|i| {
        let (upstream, gate) = (upstream.clone(), gate.clone());
        async move { ask(&upstream, &gate, &format!("198.51.100.{i}"), "/stub search=3 delay_ms=300 deltas=3").await }
    });
    let answers = join_all(calls).await;
    let admitted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(admitted, 2, "two worst cases fit the day, never three: {answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!((*status, body["code"].as_str()), (429, Some("daily_budget_reached")), "{body}");
    }
    let requests = upstream.stub.requests();
    assert_eq!(requests.len(), admitted);
    assert!(requests.iter().all(|r| r.web_searches == 3), "each searched three times");
    // Settled to the bill, fees and every step's input included, never past the budget.
    let bill: f64 = requests.iter().map(|r| r.bill_usd()).sum();
    let counted = store.used_nanos(&format!("budget#{}", spend::day_now())).await.unwrap();
    assert!((bill - counted as f64 / 1e9).abs() < 1e-9, "{bill} billed, {counted} nano-dollars counted");
    assert!(bill > 0.06 && bill <= budget_nanos as f64 / 1e9, "{bill}");
    let tokens = store.used(&format!("budget#{}", spend::day_now())).await.unwrap();
    let billed_tokens: u64 = requests.iter().map(openai_stub::RecordedRequest::billed_tokens).sum();
    assert_eq!(tokens, billed_tokens, "the tokens too: four steps reading the question and the results so far");
}

//! Pictures and documents through the handler: sent to the model as it takes them, checked
//! before anything is asked (kind from the bytes, size, the model's catalogue row), counted by
//! OpenAI before the reservation, and a token budget that holds when many callers send large
//! pictures at once. Against the stand-in, which reads, counts and bills them as OpenAI does.

use std::sync::Arc;

use futures_util::future::join_all;
use lambda_http::Body;
use serde_json::{Value, json};
use spend::{Gate, LimitsConfig, Store};
use test_harness::{Dynalite, TestUpstream};

use crate::handler::handle;

/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
/// A PNG header of 2048 x 2048 pixels: 765 tokens at high detail (four tiles).
const LARGE_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAACAAAAAgACAIAAAA9xURnAAAAAElFTkSuQmCC";
const PDF: &str = "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvUGFnZSA+PiBlbmRvYmoKJSVFT0Y=";

async fn post(upstream: &TestUpstream, gate: &Gate, ip: &str, body: Value) -> (u16, Value) {
    let request = test_harness::request_with_body(ip, &body.to_string());
    let response = handle(&upstream.client, gate, request).await.expect("handled");
    let Body::Text(text) = response.body() else { panic!("a text body") };
    (response.status().as_u16(), serde_json::from_str(text).expect("JSON"))
}

/// Eight callers at once, each with four 2048² pictures, against a day that holds three of them:
/// one to three answered, the others refused for the day's budget. How many were answered.
async fn eight_at_once(upstream: &Arc<TestUpstream>, gate: &Arc<Gate>, first_ip: usize) -> usize {
    let pictures: Vec<Value> = (0..4).map(|n| json!({"name": format!("p{n}.png"), "data": LARGE_PNG})).collect();
    let calls = (0..8).map(|i| {
        let (upstream, gate, pictures) = (upstream.clone(), gate.clone(), pictures.clone());
        async move {
            let body = json!({"message": "/stub delay_ms=200 deltas=3", "attachments": pictures});
            post(&upstream, &gate, &format!("198.51.100.{}", first_ip + i), body).await
        }
    });
    let answers = join_all(calls).await;
    let admitted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert!((1..=3).contains(&admitted), "three fit the day at most: {answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!((*status, body["code"].as_str()), (429, Some("daily_budget_reached")), "{body}");
    }
    admitted
}

#[tokio::test]
async fn a_picture_and_a_pdf_reach_the_model_counted_first() {
    let upstream = TestUpstream::start_with(&[("OPENAI_IMAGE_DETAIL", "low")]).await;
    let body = json!({"message": "/stub echo seen", "attachments": [
        {"name": "shot.png", "media_type": "image/png", "data": PNG},
        {"name": "paper.pdf", "media_type": "application/pdf", "data": PDF},
    ]});
    let (status, answer) = post(&upstream, &upstream.gate, "203.0.113.70", body).await;
    assert_eq!((status, answer["data"].as_str()), (200, Some("seen")), "{answer}");
    let asked = &upstream.stub.requests()[0];
    assert_eq!((asked.images, asked.files), (1, 1));
    // Low detail, 85 tokens, and a one-page PDF, 765, beside the words: billed as input.
    let input = asked.usage.as_ref().and_then(|u| u["input_tokens"].as_u64()).unwrap();
    assert_eq!(input, 3 + 8 + 85 + 765, "{:?}", asked.usage);
    assert_eq!(upstream.stub.state.input_counts(), 1, "counted once, before the answer");
    // Without attachments nothing is counted: no round trip added to a plain question.
    let (status, _) = post(&upstream, &upstream.gate, "203.0.113.70", json!({"message": "/stub echo plain"})).await;
    assert_eq!((status, upstream.stub.state.input_counts()), (200, 1));
}

#[tokio::test]
async fn what_cannot_be_sent_is_refused_before_anything_is_asked() {
    let upstream = TestUpstream::start_with(&[("MAX_ATTACHMENT_BYTES", "80")]).await;
    let text = "aGVsbG8sIG5vdCBhIHBpY3R1cmU=";
    let cases = [
        (json!([{"name": "a.png", "media_type": "image/png", "data": text}]), 415, "unsupported_attachment"),
        (json!([{"name": "a.png", "data": "%%%"}]), 400, "invalid_attachment"),
        (
            json!([{"name": "big.png", "data": LARGE_PNG}, {"name": "big2.png", "data": LARGE_PNG}]),
            413,
            "attachment_too_large",
        ),
        (json!(vec![json!({"data": PNG}); 17]), 413, "attachment_too_large"),
    ];
    for (attachments, status, code) in cases {
        let body = json!({"message": "look", "attachments": attachments});
        let (got, refused) = post(&upstream, &upstream.gate, "203.0.113.71", body).await;
        assert_eq!((got, refused["code"].as_str()), (status, Some(code)), "{refused}");
    }
    // A model whose catalogue row takes no images is named, not OpenAI's error.
    let open_weights = TestUpstream::start_with(&[("OPENAI_MODEL", "gpt-oss-120b")]).await;
    let body = json!({"message": "look", "attachments": [{"data": PNG}]});
    let (status, refused) = post(&open_weights, &open_weights.gate, "203.0.113.72", body).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("attachment_not_supported")), "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("gpt-oss-120b"));
    for stub in [&upstream.stub, &open_weights.stub] {
        assert!(stub.requests().is_empty() && stub.state.input_counts() == 0, "nothing asked, nothing counted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_token_budget_holds_when_many_callers_send_large_pictures_at_once() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("pictures").await;
    let upstream =
        Arc::new(TestUpstream::start_with(&[("LIMITS_TABLE", "pictures"), ("OPENAI_MAX_OUTPUT_TOKENS", "100")]).await);
    // Each question: four 765-token pictures (3,060 tokens, which its bytes, about 200, do not
    // show) and its words. 10,000 tokens hold three such questions, never four.
    let budget = 10_000;
    let limits = LimitsConfig {
        table: Some("pictures".into()),
        rate_per_minute: 1000,
        daily_budget: budget,
        caller_tokens_per_day: 100_000_000,
        ..LimitsConfig::default()
    };
    let gate = Arc::new(Gate::with_client(limits, dynamo.client()).unwrap());
    let store = Store::with_client("pictures".into(), dynamo.client());
    let admitted = eight_at_once(&upstream, &gate, 40).await;
    let requests = upstream.stub.requests();
    assert!(requests.iter().all(|r| r.images == 4));
    let used = store.used(&format!("budget#{}", spend::day_now())).await.unwrap();
    let billed: u64 = requests.iter().map(openai_stub::RecordedRequest::billed_tokens).sum();
    assert_eq!(used, billed, "settled to the bill");
    assert!(billed > 3_060 * admitted as u64 && billed <= budget, "{billed} billed against {budget}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_dollar_budget_holds_for_pictures_at_once_and_a_caller_over_their_rate_causes_no_count() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("picture-dollars").await;
    let vars =
        [("LIMITS_TABLE", "picture-dollars"), ("OPENAI_MAX_OUTPUT_TOKENS", "100"), ("OPENAI_SERVICE_TIER", "default")];
    let upstream = Arc::new(TestUpstream::start_with(&vars).await);
    // gpt-6-luna: about 3,070 input tokens a question at $0.125/M at worst and 100 output at
    // $0.50/M, some $0.00043; $0.0014 a day holds three such questions, never four.
    let budget_nanos = 1_400_000;
    let limits = LimitsConfig {
        table: Some("picture-dollars".into()),
        rate_per_minute: 1000,
        daily_budget_usd: Some(budget_nanos),
        caller_tokens_per_day: 100_000_000,
        ..LimitsConfig::default()
    };
    let gate = Arc::new(Gate::with_client(limits, dynamo.client()).unwrap());
    eight_at_once(&upstream, &gate, 60).await;
    let requests = upstream.stub.requests();
    let store = Store::with_client("picture-dollars".into(), dynamo.client());
    let used = store.used_nanos(&format!("budget#{}", spend::day_now())).await.unwrap();
    let bills: Vec<f64> = requests.iter().map(openai_stub::RecordedRequest::bill_usd).collect();
    let billed: f64 = bills.iter().sum();
    assert!((billed - used as f64 / 1e9).abs() < 1e-12, "settled to the bill: {billed} billed, {used} counted");
    assert!(billed <= budget_nanos as f64 / 1e9, "{billed} billed against {budget_nanos} nano-dollars");
    // Their bytes (some 400) would have let all eight in: the pictures' tokens are what held them.
    assert!(bills.iter().all(|bill| bill * 8.0 > budget_nanos as f64 / 1e9), "{bills:?}");

    // A caller past their requests this minute is refused before their pictures are counted.
    let one_a_minute =
        LimitsConfig { table: Some("picture-dollars".into()), rate_per_minute: 1, ..LimitsConfig::default() };
    let gate = Gate::with_client(one_a_minute, dynamo.client()).unwrap();
    let counts = upstream.stub.state.input_counts();
    let body = json!({"message": "/stub echo seen", "attachments": [{"data": PNG}]});
    let (first, _) = post(&upstream, &gate, "198.51.100.90", body.clone()).await;
    let (second, refused) = post(&upstream, &gate, "198.51.100.90", body).await;
    assert_eq!((first, second, refused["code"].as_str()), (200, 429, Some("caller_limit_reached")), "{refused}");
    assert_eq!(upstream.stub.state.input_counts(), counts + 1, "the refused one was not counted");
}

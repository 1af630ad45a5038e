//! The budget under failover, through the shipped binaries behind the Runtime API stand-in with
//! limits on dynalite: for every way the primary can fail after it may have generated something,
//! the deployment's counters equal (when OpenAI reported the attempt's usage) or exceed (when
//! nobody can know it) what the two stand-ins billed, each at its own model's price. The
//! stand-ins bill as OpenAI does: every token generated, read or not, cancelled or not.

use std::time::Duration;

use openai_stub::scenario::Failure;
use spend::Store;
use test_harness::Dynalite;
use test_harness::failover_pair::Pair;
use test_harness::runtime_api::{Invocation, question_event};

const TABLE: &str = "limits";

/// `function` between two providers, with token and dollar limits on dynalite.
async fn launch(function: &str, dynamo: &Dynalite, extra: &[(&str, &str)]) -> Pair {
    dynamo.create_limits_table(TABLE).await;
    let mut env: Vec<(&str, &str)> = dynamo.limits_env(TABLE).to_vec();
    env.extend_from_slice(&[("DAILY_BUDGET_USD", "100"), ("OPENAI_MAX_OUTPUT_TOKENS", "200")]);
    env.extend_from_slice(extra);
    Pair::launch(function, &env).await
}

/// What the deployment counted today, in tokens and dollars.
async fn counted(dynamo: &Dynalite) -> (u64, f64) {
    let store = Store::with_client(TABLE.into(), dynamo.client());
    let budget = format!("budget#{}", spend::day_now());
    let tokens = store.used(&budget).await.expect("tokens counted");
    let nanos = store.used_nanos(&budget).await.expect("dollars counted");
    (tokens, nanos as f64 / 1e9)
}

/// What the two stand-ins billed, in tokens and dollars, each request at its own model's price.
fn billed(pair: &Pair) -> (u64, f64) {
    let requests = pair.primary.requests().into_iter().chain(pair.fallback.requests());
    requests.fold((0, 0.0), |(tokens, usd), r| (tokens + r.billed_tokens(), usd + r.bill_usd()))
}

/// The fallback gave the whole answer.
fn answered_by_fallback(answer: &Invocation, text: &str) {
    let body = answer.text();
    assert_eq!(answer.status, Some(200), "{body}");
    assert!(body.contains("gpt-6-sol"), "the fallback's model is named: {body}");
    let words: String = body.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert!(words.contains(text) || body.contains(text), "{body}");
}

/// The counters hold at least what was billed; exactly, when every attempt's usage was reported.
async fn holds(pair: &Pair, dynamo: &Dynalite, exact: bool) {
    let (tokens, usd) = counted(dynamo).await;
    let (billed_tokens, billed_usd) = billed(pair);
    let primary_billed: u64 = pair.primary.requests().iter().map(|r| r.billed_tokens()).sum();
    assert!(primary_billed > 0, "the primary's attempt generated, and was billed, something");
    assert!(tokens >= billed_tokens, "{tokens} tokens counted, {billed_tokens} billed");
    assert!(usd >= billed_usd - 1e-9, "${usd} counted, ${billed_usd} billed");
    if exact {
        assert_eq!(tokens, billed_tokens, "every attempt's usage was reported: counted exactly");
        assert!((usd - billed_usd).abs() < 1e-8, "${usd} counted, ${billed_usd} billed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_answer_silent_past_the_first_event_window_is_cancelled_and_its_thinking_counted() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-stream", &dynamo, &[]).await;
    // A reasoning model thinking (and billing) longer than OPENAI_FIRST_EVENT_TIMEOUT_MS.
    pair.primary.every_answer(Some("reasoning think_ms=5000"));
    answered_by_fallback(&pair.ask("/stub echo served").await, "served");
    assert_eq!(pair.primary.cancels().len(), 1, "the primary's answer was cancelled");
    holds(&pair, &dynamo, true).await;
    let line = pair.lines().into_iter().find(|l| l["failed_over_to"].is_string()).expect("a summary line");
    assert!(line["abandoned_output_tokens"].as_u64().is_some_and(|t| t >= 64), "the primary's part shown: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_answer_that_fails_before_its_first_word_is_counted_beside_the_fallback_s() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-stream", &dynamo, &[]).await;
    pair.primary.fail_every_stream(Some(Failure::ErrorFlat));
    answered_by_fallback(&pair.ask("/stub reasoning echo served").await, "served");
    holds(&pair, &dynamo, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_stream_that_stalls_keeps_its_reservation_and_the_fallback_is_reserved_again() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-stream", &dynamo, &[("RESUMABLE_STREAMS", "false")]).await;
    pair.primary.every_answer(Some("reasoning think_ms=5000"));
    answered_by_fallback(&pair.ask("/stub echo served").await, "served");
    // A plain stream cannot be cancelled or asked what it cost: its reservation stands.
    holds(&pair, &dynamo, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_background_mode_the_fallback_s_answer_is_settled_at_the_fallback_s_price() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-stream", &dynamo, &[("RESUMABLE_STREAMS", "false")]).await;
    // Refused at once (a 429 generates nothing): the one reservation is the fallback's.
    pair.primary.every_answer(Some("status=429 retry_after_ms=10"));
    answered_by_fallback(&pair.ask("/stub echo served").await, "served");
    let (_, usd) = counted(&dynamo).await;
    let (_, billed_usd) = billed(&pair);
    assert!(billed_usd > 0.0 && (usd - billed_usd).abs() < 1e-8, "${usd} counted, ${billed_usd} billed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_held_back_leave_the_primary_s_whole_answer_counted() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-stream", &dynamo, &[]).await;
    pair.primary.every_answer(Some("hang_headers"));
    answered_by_fallback(&pair.ask("/stub deltas=30 served").await, "w29");
    holds(&pair, &dynamo, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffered_primary_that_never_answers_gives_the_fallback_its_half_and_stays_counted() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-complete", &dynamo, &[]).await;
    // 10 s of invocation, less the 6 s margin: the primary has 2 s, the fallback the rest.
    pair.function.set_deadline(Duration::from_secs(10));
    pair.primary.every_answer(Some("hang_headers"));
    let answer = pair.function.invoke(question_event("/stub echo served")).await;
    let body = answer.json().unwrap_or_default();
    assert_eq!((answer.status, body["data"].as_str()), (Some(200), Some("served")), "{body}");
    assert_eq!(body["model"], "gpt-6-sol");
    holds(&pair, &dynamo, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffered_answer_whose_connection_broke_after_the_create_is_not_asked_again_and_stays_counted() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-complete", &dynamo, &[]).await;
    pair.primary.every_answer(Some("drop after=0"));
    let answer = pair.function.invoke(question_event("/stub echo served")).await;
    let body = answer.json().unwrap_or_default();
    assert_eq!((answer.status, body["model"].as_str()), (Some(200), Some("gpt-6-sol")), "{body}");
    assert_eq!(pair.primary.requests().len(), 1, "a create that may have arrived is not sent again");
    holds(&pair, &dynamo, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_that_names_answers_then_stalls_does_not_close_its_circuit_on_headers() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-stream", &dynamo, &[]).await;
    pair.primary.every_answer(Some("reasoning think_ms=5000"));
    for n in 0..5 {
        answered_by_fallback(&pair.ask(&format!("/stub echo served{n}")).await, &format!("served{n}"));
    }
    // Before: every question tried the primary, waited its first-event window and left a billed
    // attempt. Now the circuit stays open until a probe's first event.
    let attempts = pair.primary.requests().len();
    assert!(attempts <= 2, "{attempts} attempts at the stalled primary for 5 questions");
    holds(&pair, &dynamo, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_compaction_the_turn_that_crosses_the_threshold_is_reserved_whole() {
    let dynamo = Dynalite::start().await;
    let pair = launch("chat-complete", &dynamo, &[("OPENAI_COMPACT_THRESHOLD", "40")]).await;
    let mut previous: Option<String> = None;
    for turn in 0..6 {
        let mut query = format!("message={}", test_harness::encode(&format!("/stub deltas=12 turn {turn}")));
        if let Some(id) = &previous {
            query.push_str(&format!("&previous_response_id={id}"));
        }
        let answer = pair.function.invoke(test_harness::runtime_api::get_event(&query)).await;
        let body = answer.json().unwrap_or_default();
        assert_eq!(answer.status, Some(200), "turn {turn}: {body}");
        previous = body["response_id"].as_str().map(str::to_owned);
        // Every turn, the compacting ones billed for the whole conversation, is counted in full.
        let (tokens, usd) = counted(&dynamo).await;
        let (billed_tokens, billed_usd) = billed(&pair);
        assert_eq!(tokens, billed_tokens, "turn {turn}");
        assert!((usd - billed_usd).abs() < 1e-8, "turn {turn}: ${usd} counted, ${billed_usd} billed");
    }
    let compacted = pair
        .primary
        .requests()
        .iter()
        .filter(|r| r.usage.as_ref().is_some_and(|u| u["input_tokens"].as_u64() > Some(40)))
        .count();
    assert!(compacted > 0, "a turn crossed the threshold");
}

/// `GET ?message=` (and `previous_response_id`) from `ip`.
fn asked_from(ip: &str, message: &str, previous: Option<&str>) -> serde_json::Value {
    let mut query = format!("message={}", test_harness::encode(message));
    if let Some(id) = previous {
        query.push_str(&format!("&previous_response_id={id}"));
    }
    let mut event = test_harness::runtime_api::get_event(&query);
    event["requestContext"]["http"]["sourceIp"] = serde_json::json!(ip);
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_turn_that_compacts_is_reserved_for_the_whole_conversation_so_the_budget_holds() {
    const BUDGET: u64 = 1_000;
    let dynamo = Dynalite::start().await;
    let settings =
        [("OPENAI_COMPACT_THRESHOLD", "100"), ("OPENAI_MAX_OUTPUT_TOKENS", "16"), ("DAILY_TOKEN_BUDGET", "1000")];
    let pair = launch("chat-complete", &dynamo, &settings).await;
    let holds =
        |what: &str, tokens: u64| assert!(tokens <= BUDGET, "{what}: {tokens} tokens counted, the budget is {BUDGET}");
    // A long first turn: the conversation it leaves (about 400 tokens) is past the threshold.
    let long = format!("/stub deltas=4 {}", "w ".repeat(390));
    let first = pair.function.invoke(asked_from("198.51.100.1", &long, None)).await;
    let first = first.json().unwrap_or_default();
    let id = first["response_id"].as_str().expect("an answer").to_owned();
    holds("after the first turn", counted(&dynamo).await.0);
    // Another caller spends part of the day, leaving less than the compacting turn will bill.
    let other = format!("/stub deltas=4 {}", "v ".repeat(238));
    assert_eq!(pair.function.invoke(asked_from("198.51.100.2", &other, None)).await.status, Some(200));
    let (before, _) = counted(&dynamo).await;
    holds("after the other caller", before);
    // The follow-up crosses the threshold: OpenAI bills it the whole conversation (about 420
    // tokens). Reserved at most the threshold again, it would pass the budget; reserved whole,
    // it does not fit, and nothing is asked.
    let asked = pair.primary.requests().len();
    let follow_up = pair.function.invoke(asked_from("198.51.100.1", "/stub deltas=4 go on", Some(&id))).await;
    let body = follow_up.json().unwrap_or_default();
    assert_eq!(follow_up.status, Some(429), "{body}");
    assert_eq!(body["code"], "daily_budget_reached", "{body}");
    assert_eq!(pair.primary.requests().len(), asked, "nothing was asked");
    holds("after the follow-up", counted(&dynamo).await.0);
    assert!(billed(&pair).0 <= BUDGET);
}

//! The failover scenarios through the shipped binaries (release profile) behind the Runtime API
//! stand-in: one test per scenario, each with its own primary and fallback stand-ins and its own
//! execution environment (the circuit is per environment), all sharing one release build. What
//! the caller sees is checked as a browser reads it, and what each provider was asked from the
//! stand-ins' own records. docs/failover.md has the table of scenarios.

use std::time::{Duration, Instant};

use openai_stub::StubServer;
use serde_json::Value;
use test_harness::failover_pair::{Auth, FALLBACK_MODEL, Pair, Resetter};
use test_harness::runtime_api::{Invocation, get_event};
use test_harness::{BrowserEvent, browser_events, message_data};

async fn events(answer: &Invocation) -> Vec<BrowserEvent> {
    assert_eq!(answer.status, Some(200), "{}", answer.text());
    browser_events(&answer.body).await
}

fn names(events: &[BrowserEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

/// The `response` events' data: each answer the reader was told of, with its id and model.
fn responses(events: &[BrowserEvent]) -> Vec<Value> {
    events.iter().filter(|e| e.event == "response").filter_map(|e| serde_json::from_str(&e.data).ok()).collect()
}

/// A whole answer from the fallback: its text, the model it names last, and a clean end.
async fn answered_by_fallback(answer: &Invocation, text: &str) {
    let events = events(answer).await;
    assert_eq!(message_data(&events).concat(), text, "{events:?}");
    let told = responses(&events);
    assert_eq!(told.last().and_then(|r| r["model"].as_str()), Some(FALLBACK_MODEL), "{told:?}");
    assert!(told.last().and_then(|r| r["id"].as_str()).is_some_and(|id| id.starts_with("fb-")), "{told:?}");
    assert_eq!(names(&events)[names(&events).len() - 2..], ["usage", "end"], "{events:?}");
}

/// A whole answer from the primary, never sent elsewhere.
async fn answered_by_primary(pair: &Pair, answer: &Invocation, text: &str) {
    let events = events(answer).await;
    assert_eq!(message_data(&events).concat(), text, "{events:?}");
    assert_eq!(responses(&events).len(), 1, "{events:?}");
    assert!(!names(&events).contains(&"error"), "{events:?}");
    assert!(pair.fallback.requests().is_empty(), "the fallback was not asked");
}

/// Milliseconds between the primary's attempts, as it saw them.
fn gaps(stub: &StubServer) -> Vec<u64> {
    let started: Vec<u64> = stub.requests().iter().map(|r| r.started_ms).collect();
    started.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_with_retry_after() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("status=429 retry_after_ms=300"));
    answered_by_fallback(&pair.ask("/stub echo served").await, "served").await;
    let gaps = gaps(&pair.primary);
    assert!(gaps.len() == 2 && gaps.iter().all(|gap| *gap >= 300), "three attempts, Retry-After apart: {gaps:?}");
    // The outage goes on: the next answer goes straight to the fallback.
    answered_by_fallback(&pair.ask("/stub echo again").await, "again").await;
    assert_eq!((pair.primary.requests().len(), pair.fallback.requests().len()), (3, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_without_retry_after() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("status=429"));
    answered_by_fallback(&pair.ask("/stub echo served").await, "served").await;
    let gaps = gaps(&pair.primary);
    assert!(gaps.len() == 2 && gaps.iter().all(|gap| *gap >= 100), "backed off, never a tight loop: {gaps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_once_is_retried_at_the_primary() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("status=500 times=1"));
    answered_by_primary(&pair, &pair.ask("/stub echo retried").await, "retried").await;
    assert_eq!(pair.primary.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_persistently_opens_the_circuit() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.fail_every_create(Some((503, None)));
    for n in 0..4 {
        answered_by_fallback(&pair.ask(&format!("/stub echo answer {n}")).await, &format!("answer {n}")).await;
    }
    // About one attempt per request during an outage: the first request's three, then none.
    assert_eq!((pair.primary.requests().len(), pair.fallback.requests().len()), (3, 4));
    let line = pair.summary(3).await;
    assert_eq!((line["provider"].as_str(), line["FailedOver"].as_f64()), (Some("fallback"), Some(1.0)), "{line}");
    let sets = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
    assert_eq!(sets, &serde_json::json!([["function", "model"], ["function", "model", "provider"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_before_headers() {
    let resetter = Resetter::start().await;
    let standby = StubServer::start().await.expect("stand-in");
    let pair = Pair::launch_at("chat-stream", standby, &resetter.base_url(), &[]).await;
    answered_by_fallback(&pair.ask("/stub echo served").await, "served").await;
    // A create that may have arrived is never sent again: the fallback answers at once.
    assert_eq!(resetter.creates(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_response_at_all() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("hang_headers"));
    let started = Instant::now();
    answered_by_fallback(&pair.ask("/stub echo served").await, "served").await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(pair.primary.requests().len(), 1, "a create that may have arrived is not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_first_token() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("first_delay_ms=10000"));
    let answer = pair.ask("/stub echo served").await;
    answered_by_fallback(&answer, "served").await;
    // The reader was told of the primary's answer, then of the fallback's; the first cancelled.
    let told = responses(&events(&answer).await);
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(pair.primary.cancels(), [told[0]["id"].as_str().unwrap_or_default().to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_after_40_of_60_deltas() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("drop after=40"));
    // In background mode the cut answer is read again from where the reader was: all 60 words.
    let answer = pair.ask("/stub deltas=60").await;
    let whole: String = (0..60).map(|n| format!("w{n}")).collect::<Vec<_>>().join(" ");
    answered_by_primary(&pair, &answer, &whole).await;
    // Without background mode there is nothing to read again: error then end, never complete.
    let plain = Pair::launch("chat-stream", &[("RESUMABLE_STREAMS", "false")]).await;
    plain.primary.every_answer(Some("drop after=40"));
    let events = events(&plain.ask("/stub deltas=60").await).await;
    assert_eq!(message_data(&events).len(), 40);
    assert_eq!(names(&events)[names(&events).len() - 2..], ["error", "end"], "{events:?}");
    assert!(plain.fallback.requests().is_empty(), "text reached the reader: never a second answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_after_text() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("stall after=3"));
    let events = events(&pair.ask("/stub echo abcdef").await).await;
    assert_eq!(message_data(&events).concat(), "abc");
    assert_eq!(names(&events)[names(&events).len() - 2..], ["error", "end"], "{events:?}");
    assert!(pair.fallback.requests().is_empty(), "text reached the reader: never a second answer");
    assert_eq!(pair.primary.cancels().len(), 1, "the stalled answer is stopped, not left to bill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_event() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("malformed after=2"));
    answered_by_primary(&pair, &pair.ask("/stub echo abcdef").await, "abcdef").await;
    assert!(pair.function.log().contains("could not be read; skipped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_closes_badly_after_response_completed() {
    let pair = Pair::launch("chat-stream", &[("RESUMABLE_STREAMS", "false")]).await;
    pair.primary.every_answer(Some("close_badly"));
    let answer = pair.ask("/stub echo complete").await;
    answered_by_primary(&pair, &answer, "complete").await;
    assert_eq!(pair.summary(0).await["outcome"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_length_exceeded_never_fails_over() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("status=400 code=context_length_exceeded"));
    let answer = pair.ask("/stub echo never").await;
    let body = answer.json().unwrap_or_default();
    assert_eq!((answer.status, body["code"].as_str()), (Some(400), Some("context_length_exceeded")), "{body}");
    pair.primary.every_answer(Some("error=nested code=context_length_exceeded after=0"));
    let events = events(&pair.ask("/stub echo never").await).await;
    assert_eq!(names(&events), ["start", "response", "error", "end"]);
    assert!(events[2].data.contains("new chat"), "{events:?}");
    assert!(pair.fallback.requests().is_empty(), "the fallback would refuse it the same");
    assert_eq!(pair.primary.requests().len(), 2, "and the primary is not asked again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_refusal_never_fails_over() {
    let pair = Pair::launch("chat-stream", &[]).await;
    pair.primary.every_answer(Some("status=400 code=invalid_prompt"));
    let answer = pair.ask("/stub echo never").await;
    assert_eq!(answer.status, Some(400), "the caller's to rephrase: {}", answer.text());
    assert_eq!(answer.json().unwrap_or_default()["code"], "question_refused");
    pair.primary.every_answer(Some("error=nested code=invalid_prompt after=0"));
    let events = events(&pair.ask("/stub echo never").await).await;
    assert_eq!(names(&events), ["start", "response", "error", "end"]);
    assert!(pair.fallback.requests().is_empty() && pair.primary.requests().len() == 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_whose_provider_is_down_gets_a_clear_error() {
    let pair = Pair::launch("chat-complete", &[]).await;
    pair.primary.fail_every_create(Some((503, None)));
    let first = pair.ask("/stub echo one").await.json().unwrap_or_default();
    let id = first["response_id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("fb-") && first["model"] == FALLBACK_MODEL, "{first}");
    // The primary is back, the fallback that holds the conversation is down.
    pair.primary.fail_every_create(None);
    pair.fallback.fail_every_create(Some((503, None)));
    let follow_up = pair.function.invoke(get_event(&format!("message=two&previous_response_id={id}"))).await;
    let body = follow_up.json().unwrap_or_default();
    // Said so, in words and a code: never an answer from elsewhere.
    assert_eq!(
        (follow_up.status, body["code"].as_str()),
        (Some(503), Some("conversation_provider_unavailable")),
        "{body}"
    );
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("the fallback") && d.contains("new chat")), "{body}");
    assert_eq!(pair.fallback.requests().len(), 1 + 3, "the follow-up went to its holder, with its retries");
    assert_eq!(pair.primary.requests().len(), 3, "never a silent new conversation at the primary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_primary() {
    let pair = Pair::launch("chat-complete", &[]).await;
    let model = |answer: &Invocation| answer.json().and_then(|j| j["model"].as_str().map(str::to_owned));
    pair.primary.fail_every_create(Some((500, None)));
    assert_eq!(model(&pair.ask("/stub echo a").await).as_deref(), Some(FALLBACK_MODEL));
    // Back at once, but the circuit is open until the next probe: the fallback still answers.
    pair.primary.fail_every_create(None);
    assert_eq!(model(&pair.ask("/stub echo b").await).as_deref(), Some(FALLBACK_MODEL));
    tokio::time::sleep(openai_client::PROBE_EVERY).await;
    let probe = model(&pair.ask("/stub echo c").await);
    assert!(probe.is_some_and(|m| m != FALLBACK_MODEL), "the probe found it up");
    // Down again: tried (with retries, the circuit closed), then the fallback.
    pair.primary.fail_every_create(Some((500, None)));
    assert_eq!(model(&pair.ask("/stub echo d").await).as_deref(), Some(FALLBACK_MODEL));
    assert_eq!((pair.primary.requests().len(), pair.fallback.requests().len()), (3 + 1 + 3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounting_bills_only_the_answer_given() {
    let pair = Pair::launch("chat-stream", &[]).await;
    // Named, then failed before a word: the primary's answer is cancelled and bills nothing.
    pair.primary.fail_every_stream(Some(openai_stub::scenario::Failure::Failed));
    answered_by_fallback(&pair.ask("/stub echo paid once").await, "paid once").await;
    let line = pair.summary(0).await;
    let given = pair.fallback.requests();
    assert_eq!(given.len(), 1);
    let usage = given[0].usage.clone().unwrap_or_default();
    assert_eq!(line["output_tokens"], usage["output_tokens"], "{line}");
    assert_eq!(line["input_tokens"], usage["input_tokens"], "{line}");
    assert_eq!(line["failed_over_to"], FALLBACK_MODEL);
    let attempted = pair.primary.requests();
    assert!(attempted.iter().all(|r| r.deltas_sent == 0), "{attempted:?}");
    // Nothing of the primary's attempt is in the line: its tokens are the fallback's alone.
    let billed_output =
        |r: &openai_stub::RecordedRequest| r.usage.as_ref().map_or(0, |u| u["output_tokens"].as_u64().unwrap_or(0));
    assert!(attempted.iter().all(|r| billed_output(r) == 0), "{attempted:?}");
}

/// Each way a fallback takes its key, through the shipped binaries: the primary down, the
/// fallback answers a stream and a buffered question by its own key (Azure's `api-key`, or the
/// Bedrock key the binary mints from the role in its environment, its signature checked by the
/// stand-in), and the key is never logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_fallback_key_answers_through_the_shipped_binary() {
    for auth in [Auth::Azure, Auth::Bedrock] {
        let pair = Pair::launch_with_auth("chat-stream", auth).await;
        pair.primary.fail_every_create(Some((503, None)));
        answered_by_fallback(&pair.ask("/stub echo served").await, "served").await;
        assert_eq!(pair.fallback.requests().len(), 1, "{auth:?}");
        // chat-complete's path too: the same key, a buffered answer.
        let complete = Pair::launch_with_auth("chat-complete", auth).await;
        complete.primary.fail_every_create(Some((503, None)));
        let answer = complete.function.invoke(get_event("message=%2Fstub%20echo%20whole")).await;
        let body = answer.json().unwrap_or_default();
        assert_eq!((answer.status, body["data"].as_str()), (Some(200), Some("whole")), "{auth:?}: {body}");
        assert_eq!(body["model"].as_str(), Some(FALLBACK_MODEL), "{auth:?}");
        assert!(!complete.function.log().contains("bedrock-api-key-"), "{auth:?}: the key is never logged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_is_sent_none_of_openai_s_own_settings() {
    let openai_only = [
        ("OPENAI_REASONING_EFFORT", "max"),
        ("OPENAI_REASONING_CONTEXT", "all_turns"),
        ("OPENAI_SERVICE_TIER", "priority"),
        ("OPENAI_COMPACT_THRESHOLD", "200000"),
    ];
    let pair = Pair::launch("chat-stream", &openai_only).await;
    pair.primary.fail_every_create(Some((429, Some("insufficient_quota"))));
    answered_by_fallback(&pair.ask("/stub echo served").await, "served").await;
    let asked = &pair.primary.requests()[0];
    assert_eq!((asked.reasoning_effort.as_deref(), asked.service_tier.as_deref()), (Some("max"), Some("priority")));
    let answered = &pair.fallback.requests()[0];
    assert_eq!(
        (answered.reasoning_effort.as_deref(), answered.reasoning_context.as_deref()),
        (None, None),
        "an effort past high and the reasoning context are OpenAI's own"
    );
    assert_eq!((answered.service_tier.as_deref(), answered.compact_threshold), (None, None));
    let said = pair.lines().into_iter().any(|line| {
        line["not_sent"]
            .as_str()
            .is_some_and(|names| names.contains("OPENAI_SERVICE_TIER") && names.contains("OPENAI_REASONING_EFFORT"))
    });
    assert!(said, "init says what the fallback is not sent");
}

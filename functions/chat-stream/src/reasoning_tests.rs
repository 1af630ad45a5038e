//! A reasoning model's summary, streamed before the text: `event: reasoning` for EventSource
//! (framed as text is, with resume ids), `reasoning-*` parts for the AI SDK, through `handle`
//! against the stand-in.

use bytes::Bytes;
use http_body_util::BodyExt;
use lambda_http::Request;
use openai_stub::reply::{TRICKY_SUMMARY, summary_text};
use openai_stub::scenario::Scenario;
use serde_json::{Value, json};
use test_harness::{BrowserEvent, TestUpstream, as_browser_sees, browser_events, message_data};

use crate::handler::handle;

const REASONING_MODEL: (&str, &str) = ("OPENAI_MODEL", "gpt-5-mini");

fn ask(message: &str) -> Request {
    test_harness::request_from("203.0.113.9", &format!("message={}", test_harness::encode(message)), &[])
}

async fn whole(upstream: &TestUpstream, request: Request) -> (Vec<BrowserEvent>, Bytes) {
    let response = handle(&upstream.client, &upstream.gate, request).await.unwrap();
    let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (browser_events(&body).await, body)
}

fn reasoning_data(events: &[BrowserEvent]) -> Vec<String> {
    events.iter().filter(|e| e.event == "reasoning").map(|e| e.data.clone()).collect()
}

#[tokio::test]
async fn the_summary_streams_before_the_text_exactly_as_written_with_its_parts_apart() {
    let upstream = TestUpstream::start_with(&[REASONING_MODEL]).await;
    let (events, body) = whole(&upstream, ask("/stub summary=tricky echo Answer")).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let (first_reasoning, first_text) =
        (names.iter().position(|n| *n == "reasoning"), names.iter().position(|n| *n == "message"));
    assert!(first_reasoning.is_some() && first_reasoning < first_text, "{names:?}");
    // Each delta as a browser sees it, the second part's first delta opened by its blank line.
    let mut expected: Vec<String> = TRICKY_SUMMARY[0].iter().map(|d| as_browser_sees(d)).collect();
    expected.push(as_browser_sees(&format!("\n\n{}", TRICKY_SUMMARY[1][0])));
    expected.extend(TRICKY_SUMMARY[1][1..].iter().map(|d| as_browser_sees(d)));
    assert_eq!(reasoning_data(&events), expected);
    assert_eq!(
        reasoning_data(&events).concat(),
        as_browser_sees(&summary_text(&Scenario::parse("/stub summary=tricky")))
    );
    assert_eq!(message_data(&events).concat(), "Answer");
    // Nothing the model wrote named an event or ended the stream.
    assert_eq!(names.iter().filter(|n| **n == "end").count(), 1);
    assert!(
        names.iter().all(|n| ["start", "response", "reasoning", "message", "usage", "end"].contains(n)),
        "{names:?}"
    );
    assert!(
        events.iter().filter(|e| e.event == "reasoning").all(|e| !e.id.is_empty()),
        "reasoning events carry resume ids"
    );
    let usage: Value = serde_json::from_str(&events.iter().find(|e| e.event == "usage").unwrap().data).unwrap();
    assert!(usage["output_tokens_details"]["reasoning_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert!(!String::from_utf8_lossy(&body).contains("event: end\ndata: [END]\n\nid"), "no forged end");
    assert_eq!(upstream.stub.requests()[0].reasoning_summary.as_deref(), Some("auto"));
}

#[tokio::test]
async fn a_resume_from_inside_the_reasoning_sends_exactly_the_rest() {
    let upstream = TestUpstream::start_with(&[REASONING_MODEL]).await;
    let (events, _) = whole(&upstream, ask("/stub summary=3 deltas=4")).await;
    let reasoning: Vec<&BrowserEvent> = events.iter().filter(|e| e.event == "reasoning").collect();
    let cut = 4;
    let had: String = reasoning[..=cut].iter().map(|e| e.data.as_str()).collect();
    let request =
        test_harness::request_from("198.51.100.4", "message=ignored", &[("last-event-id", reasoning[cut].id.as_str())]);
    let (rest, _) = whole(&upstream, request).await;
    assert_eq!(format!("{had}{}", reasoning_data(&rest).concat()), reasoning_data(&events).concat());
    assert_eq!(message_data(&rest).concat(), "w0 w1 w2 w3");
    assert_eq!(upstream.stub.requests().len(), 1, "a resume asks the model nothing");
}

#[tokio::test]
async fn a_non_reasoning_model_is_sent_no_reasoning_and_an_explicit_summary_is_the_owner_s_choice() {
    const PLAIN_MODEL: (&str, &str) = ("OPENAI_MODEL", "gpt-4o-mini");
    let plain = TestUpstream::start_with(&[PLAIN_MODEL]).await;
    let (events, _) = whole(&plain, ask("/stub summary=2 echo ok")).await;
    assert_eq!((reasoning_data(&events).len(), message_data(&events).concat()), (0, "ok".to_owned()));
    assert_eq!(
        (plain.stub.requests()[0].reasoning_summary.clone(), plain.stub.requests()[0].reasoning_effort.clone()),
        (None, None)
    );
    // Set explicitly for a model that takes none: OpenAI's 400 for `reasoning.summary`, and
    // the question asked again without it (a 400 generated nothing), not a broken chat.
    let forced = TestUpstream::start_with(&[PLAIN_MODEL, ("OPENAI_REASONING_SUMMARY", "detailed")]).await;
    let (events, _) = whole(&forced, ask("/stub echo fine")).await;
    assert_eq!(message_data(&events).concat(), "fine", "{events:?}");
    let asked: Vec<Option<String>> = forced.stub.requests().iter().map(|r| r.reasoning_summary.clone()).collect();
    assert_eq!(asked, [Some("detailed".to_owned()), None]);
    // An effort a model the catalogue does not know refuses (a fine-tune of a model without
    // reasoning) is the owner's explicit choice: a clear error naming the setting. A model the
    // catalogue knows is refused it at init (chat-core's catalogue tests).
    const FINE_TUNE: (&str, &str) = ("OPENAI_MODEL", "ft:gpt-4o-mini-2024-07-18:acme::x1");
    let refused = TestUpstream::start_with(&[FINE_TUNE, ("OPENAI_REASONING_EFFORT", "high")]).await;
    let response = handle(&refused.client, &refused.gate, ask("hello")).await.unwrap();
    assert_eq!(response.status(), 500);
    let body: Value =
        serde_json::from_slice(&BodyExt::collect(response.into_body()).await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["code"], "setting_refused", "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("OPENAI_REASONING_EFFORT=high") && detail.contains("ft:gpt-4o-mini"), "{detail}");
    let effort = TestUpstream::start_with(&[
        REASONING_MODEL,
        ("OPENAI_REASONING_EFFORT", "high"),
        ("OPENAI_REASONING_SUMMARY", "off"),
    ])
    .await;
    let (events, _) = whole(&effort, ask("/stub summary=2 echo ok")).await;
    assert!(reasoning_data(&events).is_empty(), "summary off: none asked, none streamed");
    let sent = &effort.stub.requests()[0];
    assert_eq!((sent.reasoning_effort.as_deref(), sent.reasoning_summary.as_deref()), (Some("high"), None));
}

#[tokio::test]
async fn the_ai_sdk_gets_one_reasoning_part_closed_before_the_text() {
    let upstream = TestUpstream::start_with(&[REASONING_MODEL]).await;
    let body = json!({ "id": "chat-1", "trigger": "submit-message", "messages": [{ "id": "u1", "role": "user", "parts": [{ "type": "text", "text": "/stub summary=2 echo ok" }] }] });
    let (events, _) = whole(&upstream, test_harness::post_request(&body.to_string())).await;
    let chunks: Vec<Value> =
        events.iter().filter(|e| e.data != "[DONE]").map(|e| serde_json::from_str(&e.data).unwrap()).collect();
    let types: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    let at = |t: &str| types.iter().position(|x| *x == t).unwrap_or_else(|| panic!("no {t} in {types:?}"));
    assert!(at("reasoning-start") < at("reasoning-delta") && at("reasoning-end") < at("text-start"), "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "reasoning-start").count(), 1);
    let summary: String =
        chunks.iter().filter(|c| c["type"] == "reasoning-delta").map(|c| c["delta"].as_str().unwrap()).collect();
    assert_eq!(summary, summary_text(&Scenario::parse("/stub summary=2")));
}

/// Timeouts far shorter than the thinking, so only asking OpenAI can keep the answer alive.
const SHORT_TIMERS: [(&str, &str); 3] =
    [("OPENAI_FIRST_EVENT_TIMEOUT_MS", "300"), ("OPENAI_IDLE_TIMEOUT_MS", "300"), ("HEARTBEAT_INTERVAL_MS", "200")];

#[tokio::test]
async fn a_model_thinking_silently_past_both_timeouts_is_waited_on_and_its_answer_arrives() {
    let upstream = TestUpstream::start_with(&SHORT_TIMERS).await;
    // Silent for four first-text windows before the first text.
    let (events, body) = whole(&upstream, ask("/stub think_ms=1200 deltas=3")).await;
    assert_eq!(message_data(&events).concat(), "w0 w1 w2", "{events:?}");
    assert!(events.iter().all(|e| e.event != "error"), "{events:?}");
    assert!(String::from_utf8_lossy(&body).matches(": ping").count() >= 3, "pings while it thought");
    assert_eq!(upstream.stub.requests().len(), 1, "one model call");
    assert!(
        upstream.stub.retrieves().iter().filter(|r| !r.stream).count() >= 2,
        "OpenAI was asked about the silent answer"
    );
    // Silent past the idle timeout between deltas, once the text has begun.
    let (events, _) = whole(&upstream, ask("/stub delay_ms=700 deltas=3")).await;
    assert_eq!(message_data(&events).concat(), "w0 w1 w2", "{events:?}");
    assert_eq!(upstream.stub.requests().len(), 2);
}

#[tokio::test]
async fn a_response_that_fails_or_disappears_during_the_silence_ends_with_error_then_end() {
    let upstream = TestUpstream::start_with(&SHORT_TIMERS).await;
    let (events, _) = whole(&upstream, ask("/stub think_ms=900 failed after=0 deltas=3")).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(&names[names.len() - 2..], ["error", "end"], "{names:?}");

    let vanishing = TestUpstream::start_with(&SHORT_TIMERS).await;
    let state = vanishing.stub.state.clone();
    let forget = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
        state.forget_responses();
    });
    let (events, _) = whole(&vanishing, ask("/stub think_ms=5000 deltas=3")).await;
    forget.await.unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(&names[names.len() - 2..], ["error", "end"], "{names:?}");
    assert!(message_data(&events).is_empty());
}

#[tokio::test]
async fn a_silence_longer_than_the_think_limit_fails_and_the_answer_is_cancelled() {
    let upstream =
        TestUpstream::start_with(&[SHORT_TIMERS[0], SHORT_TIMERS[1], SHORT_TIMERS[2], ("OPENAI_MAX_THINK_MS", "700")])
            .await;
    let (events, _) = whole(&upstream, ask("/stub think_ms=5000 deltas=3")).await;
    let error = events.iter().find(|e| e.event == "error").unwrap_or_else(|| panic!("{events:?}"));
    assert!(error.data.contains(&chat_core::Wait::ThoughtTooLong.to_string()), "{}", error.data);
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("end"));
    assert_eq!(upstream.stub.cancels().len(), 1, "the stuck answer is cancelled, not paid for");
}

#[tokio::test]
async fn plain_mode_keeps_its_timers() {
    let upstream =
        TestUpstream::start_with(&[SHORT_TIMERS[0], SHORT_TIMERS[1], SHORT_TIMERS[2], ("RESUMABLE_STREAMS", "false")])
            .await;
    let (events, _) = whole(&upstream, ask("/stub think_ms=1200 deltas=3")).await;
    assert!(events.iter().any(|e| e.event == "error"), "{events:?}");
    assert!(upstream.stub.retrieves().is_empty());
}

#[tokio::test]
async fn an_organization_refused_summaries_still_gets_its_answers_and_is_not_asked_again() {
    let upstream = TestUpstream::start_with(&[REASONING_MODEL]).await;
    upstream.stub.state.refuse_summaries.store(true, std::sync::atomic::Ordering::Relaxed);
    for round in 0..2 {
        let (events, _) = whole(&upstream, ask("/stub summary=2 echo ok")).await;
        assert_eq!(message_data(&events).concat(), "ok", "round {round}: {events:?}");
        assert!(reasoning_data(&events).is_empty());
    }
    let asked: Vec<Option<String>> = upstream.stub.requests().iter().map(|r| r.reasoning_summary.clone()).collect();
    assert_eq!(asked, [Some("auto".to_owned()), None, None], "refused once, then never asked for again");
}

//! An answer longer than one invocation, as it ships: the release chat-stream behind the
//! Runtime API stand-in with a short function timeout, limits on dynalite. Each invocation hands
//! the answer over before its deadline (a stream closed without `end` after the position's
//! `id:`); a client that follows the SSE spec reconnects with `Last-Event-ID` until `end`.

use std::time::Duration;

use openai_stub::{StubServer, StubState};
use test_harness::runtime_api::{RuntimeApi, function_url_event};
use test_harness::{Dynalite, TEST_KEY, browser_events, encode, message_data};

/// The function's timeout here: 9 s, so each invocation streams for about 3 s (the upstream
/// deadline keeps `DEADLINE_MARGIN`, 6 s, before Lambda's).
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(9);

/// The browser's last event id after reading `body`: the value of its last `id:` line.
fn last_event_id(body: &[u8]) -> Option<String> {
    String::from_utf8_lossy(body)
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("id:").map(|id| id.trim_start_matches(' ').to_owned()))
}

/// A stand-in sending a delta every 200 ms, limits on dynalite, and the release chat-stream
/// with [`FUNCTION_TIMEOUT`].
async fn launch_with_limits() -> (StubServer, Dynalite, RuntimeApi) {
    let stub = StubServer::start_with(StubState::new(Duration::from_millis(200), None), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in");
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("limits").await;
    let function = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &dynamo.limits_env("limits")).await;
    function.set_deadline(FUNCTION_TIMEOUT);
    (stub, dynamo, function)
}

/// The answer of `/stub deltas=40`.
fn forty_words() -> String {
    (0..40).map(|i| if i == 0 { "w0".to_owned() } else { format!(" w{i}") }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_three_invocations_long_arrives_whole_with_one_model_call_settled_once() {
    let (stub, dynamo, function) = launch_with_limits().await;

    // 40 deltas 200 ms apart: about 8 s of answer.
    let query = format!("message={}", encode("/stub deltas=40"));
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut last_id: Option<String> = None;
    for _ in 0..8 {
        let headers: Vec<(&str, &str)> = last_id.iter().map(|id| ("last-event-id", id.as_str())).collect();
        let answer = function.invoke(function_url_event("GET", "/", &query, &headers, None)).await;
        assert!(
            answer.error.is_none() && answer.status == Some(200),
            "{:?} {:?}\n{}",
            answer.error,
            answer.status,
            function.log()
        );
        let ran = answer.finished_at.duration_since(answer.handed_out_at.expect("handed out"));
        assert!(ran < FUNCTION_TIMEOUT, "an invocation ran {ran:?}, past its {FUNCTION_TIMEOUT:?} deadline");
        println!(
            "invocation {}: {ran:.1?}, {:.1?} before its deadline",
            bodies.len() + 1,
            FUNCTION_TIMEOUT.saturating_sub(ran)
        );
        let ended = browser_events(&answer.body).await.iter().any(|e| e.event == "end");
        last_id = last_event_id(&answer.body).or(last_id);
        bodies.push(answer.body);
        if ended {
            break;
        }
    }
    let all: Vec<u8> = bodies.concat();
    let events: Vec<_> =
        futures_util::future::join_all(bodies.iter().map(|b| browser_events(b))).await.into_iter().flatten().collect();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(bodies.len() >= 3, "the answer took {} invocations", bodies.len());
    let expected = forty_words();
    assert_eq!(message_data(&events).concat(), expected, "nothing repeated or lost");
    assert_eq!(names.iter().filter(|n| **n == "usage").count(), 1, "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "end").count(), 1, "{names:?}");
    assert_eq!(names.last(), Some(&"end"));
    assert!(!names.contains(&"error"), "{names:?}");
    // Each invocation but the last ended with the hand-over event, carrying the position.
    for body in &bodies[..bodies.len() - 1] {
        let events = browser_events(body).await;
        let last = events.last().expect("events");
        assert_eq!(last.event, "handover", "{events:?}");
        assert!(
            !last.id.is_empty() && Some(last.id.clone()) == last_event_id(body),
            "the hand-over's id is the last id"
        );
    }
    assert_eq!(stub.requests().len(), 1, "one model call");
    assert!(stub.cancels().is_empty());
    // The reservation was handed from invocation to invocation and settled once, to what OpenAI billed.
    let usage: serde_json::Value =
        serde_json::from_str(&events.iter().find(|e| e.event == "usage").unwrap().data).unwrap();
    let store = spend::Store::with_client("limits".into(), dynamo.client());
    let used = store.used(&format!("budget#{}", spend::day_now())).await.unwrap();
    assert_eq!(used, usage["total_tokens"].as_u64().unwrap(), "the budget counts exactly what was billed");
    let log = function.log();
    assert!(log.matches("outcome=\"handed_over\"").count() >= 2, "each hand-over is counted:\n{log}");
    assert!(!String::from_utf8_lossy(&all).contains(TEST_KEY));
}

/// A model that thinks in silence past `OPENAI_MAX_THINK_MS`, across invocations: each hand-over
/// carries when the model was last heard, so the limit fires in a later invocation (the answer
/// cancelled at OpenAI, `error` then `end`) instead of handing the silence over forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_silent_past_the_think_limit_is_cancelled_across_hand_overs() {
    let stub = StubServer::start().await.expect("stand-in");
    let env = [("OPENAI_MAX_THINK_MS", "5000"), ("OPENAI_FIRST_EVENT_TIMEOUT_MS", "1000")];
    let function = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &env).await;
    function.set_deadline(FUNCTION_TIMEOUT);
    let query = format!("message={}", encode("/stub think_ms=600000 deltas=3"));
    let mut last_id: Option<String> = None;
    let mut invocations = 0;
    let ending = loop {
        assert!(invocations < 5, "still handing the silence over after {invocations} invocations:\n{}", function.log());
        invocations += 1;
        let headers: Vec<(&str, &str)> = last_id.iter().map(|id| ("last-event-id", id.as_str())).collect();
        let answer = function.invoke(function_url_event("GET", "/", &query, &headers, None)).await;
        assert_eq!(answer.status, Some(200), "{:?}\n{}", answer.error, function.log());
        let events = browser_events(&answer.body).await;
        if events.iter().any(|e| e.event == "end") {
            break events;
        }
        assert_eq!(events.last().map(|e| e.event.as_str()), Some("handover"), "{events:?}");
        last_id = last_event_id(&answer.body).or(last_id);
    };
    // 5 s of silence take two invocations of about 3 s each: the limit fires in the second.
    assert!(invocations >= 2, "the first invocation alone reached the limit");
    let names: Vec<&str> = ending.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names[names.len() - 2..], ["error", "end"], "{names:?}");
    let error = &ending[ending.len() - 2].data;
    assert!(error.contains("thought for longer"), "{error}");
    assert_eq!(stub.cancels().len(), 1, "cancelled at OpenAI");
    assert_eq!(stub.requests().len(), 1, "one model call");
}

/// The same answer through the AI SDK 7's `WorkflowChatTransport`, as shipped: each invocation
/// ends its UI message stream without `finish` at the hand-over, the transport reconnects with
/// `GET {run id}/stream?startIndex=N`, and the message it assembles is the answer exactly; one
/// model call, the reservation settled once, no invocation run into its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_three_invocations_long_arrives_whole_through_the_workflow_transport() {
    let (stub, dynamo, function) = launch_with_limits().await;
    let url = test_harness::FunctionUrl::start(std::sync::Arc::new(function)).await;
    let env =
        vec![("STREAM_URL", url.url()), ("QUESTION", "/stub deltas=40".to_owned()), ("EXPECTED_TEXT", forty_words())];
    let (report, passed) = test_harness::node_test("aisdk", "workflow.test.mjs", env).await;
    let invocations = url.invocations();
    assert!(passed, "{report}");
    assert!(invocations.len() >= 3, "{} invocations", invocations.len());
    for answer in &invocations {
        let ran = answer.finished_at.duration_since(answer.handed_out_at.expect("handed out"));
        assert!(answer.error.is_none() && ran < FUNCTION_TIMEOUT, "{:?} after {ran:?}", answer.error);
    }
    let run_id = invocations[0].header("x-workflow-run-id").expect("the POST names its run");
    assert!(run_id.starts_with("resp_"), "{run_id}");
    assert_eq!(stub.requests().len(), 1, "one model call");
    assert!(stub.cancels().is_empty());
    let finishes: usize = invocations.iter().map(|a| a.text().matches(r#""type":"finish""#).count()).sum();
    assert_eq!(finishes, 1, "finish once, at the real end");
    let last = invocations.last().expect("invocations").text();
    let usage: serde_json::Value = last
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.strip_prefix("data: ")?).ok())
        .find(|chunk| chunk["type"] == "finish")
        .expect("finish")["messageMetadata"]["usage"]
        .clone();
    let store = spend::Store::with_client("limits".into(), dynamo.client());
    let used = store.used(&format!("budget#{}", spend::day_now())).await.unwrap();
    assert_eq!(used, usage["totalTokens"].as_u64().unwrap(), "settled once, to what OpenAI billed");
}

/// The page's own reader of a posted answer (a question with a picture is a POST read with
/// `fetch`, EventSource being GET only), in Chromium against the release binaries: each
/// invocation's part arrives, the reader reads the rest again by the last event's id until
/// `end`, and the page shows the answer whole; one model call with its picture, settled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_answer_three_invocations_long_arrives_whole_on_the_page() {
    let (stub, dynamo, function) = launch_with_limits().await;
    let url = test_harness::FunctionUrl::start(std::sync::Arc::new(function)).await;
    // The page as the index function renders it, pointed at that URL, with its policy.
    let urls = [("CHAT_STREAM_URL", url.url()), ("CHAT_COMPLETE_URL", url.url())];
    let urls: Vec<(&str, &str)> = urls.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let index = RuntimeApi::launch_release("index", &stub.base_url(), &urls).await;
    let page = index.invoke(function_url_event("GET", "/", "", &[], None)).await;
    assert_eq!(page.status, Some(200), "{:?}\n{}", page.error, index.log());
    let page_file = test_harness::runtime_api::target_dir().join("page-handover.html");
    std::fs::write(&page_file, &page.body).expect("write the page");
    let policy = page.header("content-security-policy").expect("the page's policy").to_owned();
    let env = vec![
        ("STREAM_URL", url.url()),
        ("PAGE_HTML", page_file.display().to_string()),
        ("PAGE_CSP", policy),
        ("QUESTION", "/stub deltas=40".to_owned()),
        ("EXPECTED_TEXT", forty_words()),
    ];
    let (report, passed) = test_harness::node_test("browser", "page_handover.test.mjs", env).await;
    assert!(passed, "{report}");
    let invocations = url.invocations();
    assert!(invocations.len() >= 3, "{} invocations", invocations.len());
    for answer in &invocations {
        let ran = answer.finished_at.duration_since(answer.handed_out_at.expect("handed out"));
        assert!(answer.error.is_none() && ran < FUNCTION_TIMEOUT, "{:?} after {ran:?}", answer.error);
    }
    let requests = stub.requests();
    assert_eq!(requests.len(), 1, "one model call");
    assert_eq!(requests[0].images, 1, "with its picture");
    let store = spend::Store::with_client("limits".into(), dynamo.client());
    let used = store.used(&format!("budget#{}", spend::day_now())).await.unwrap();
    assert_eq!(used, requests[0].billed_tokens(), "settled once, to what OpenAI billed");
}

//! The AI SDK's own `resume: true` against chat-stream under `cargo lambda watch`, limits on
//! dynalite and access keys: tests/aisdk/resume.test.mjs leaves an answer mid-way and resumes it
//! by chat id through each version's `DefaultChatTransport`, then runs docs/api.md's Next.js
//! example's `WorkflowChatTransport` with a key; this side checks that no resume or reconnect
//! asked the model again and that leaving a page cancelled nothing.
//!
//! Then the same clients against the release chat-stream behind a function URL: a useChat
//! conversation going on from its last answer on OpenAI's side (`shared::chain`;
//! tests/aisdk/chain.test.mjs drives the pages, this side checks what the model was asked each
//! turn and that the day's counters hold what the stand-in billed), a web search's parts
//! (tests/aisdk/search.test.mjs), and a function of the caller's run by `onToolCall`, its result
//! read by the model once, and MCP approvals (tests/aisdk/functions.test.mjs); and files sent as
//! `file` parts (tests/aisdk/files.test.mjs).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openai_stub::scenario::Scenario;
use openai_stub::{RecordedRequest, StubServer, StubState};
use test_harness::runtime_api::RuntimeApi;
use test_harness::{Dynalite, FunctionUrl, LambdaWatch, TEST_KEY};

const TABLE: &str = "limits";
/// An MCP server of the owner's that asks before each call.
const ASKING_MCP: &str =
    r#"[{"type":"mcp","server_label":"docs","server_url":"https://mcp.example","require_approval":"always"}]"#;
/// About two seconds of answer: long enough to leave in the middle and come back.
const QUESTION: &str = "/stub deltas=40 delay_ms=50";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_sdk_resumes_a_chat_s_running_answer_by_its_id() {
    let stub = StubServer::start_with(StubState::new(Duration::from_millis(5), None), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in");
    let dynamo = Dynalite::start().await;
    let (_, alice, bob) = dynamo.with_two_keys(TABLE).await;
    let env = [
        ("OPENAI_BASE_URL", stub.base_url()),
        ("OPENAI_API_KEY", TEST_KEY.into()),
        ("OPENAI_MAX_RETRIES", "0".into()),
        ("ACCESS", "keys".into()),
        ("RATE_LIMIT_PER_MINUTE", "1000".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let watch = LambdaWatch::start_with_limits(&env, &dynamo, TABLE).await;
    watch.warm_up().await;
    let expected = openai_stub::reply::deltas(QUESTION, &Scenario::parse(QUESTION)).concat();
    let env = vec![
        ("STREAM_URL", format!("{}/", watch.url("chat-stream"))),
        ("QUESTION", QUESTION.to_owned()),
        ("EXPECTED_TEXT", expected),
        ("ALICE_KEY", alice),
        ("BOB_KEY", bob),
    ];
    let (report, passed) = test_harness::node_test("aisdk", "resume.test.mjs", env).await;
    assert!(passed, "AI SDK resume tests failed:\n{report}\n--- watch log ---\n{}", watch.log());
    let resumed: Vec<&str> = report.lines().filter_map(|l| l.trim().strip_prefix("RESUMED_RESPONSE_ID=")).collect();
    assert_eq!(resumed.len(), 4, "each version resumed its answer");
    let questions = stub.state.requests().iter().filter(|r| r.input == QUESTION).count();
    // Each version's answer, and the Next.js example's: a resume or a reconnect asks nothing.
    assert_eq!(questions, resumed.len() + 1, "one model call per answer");
    assert!(stub.state.cancels().is_empty(), "leaving the page cancelled nothing");
}

const VERSIONS: [&str; 4] = ["ai-5", "ai-6.0.99", "ai-6", "ai-7"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_use_chat_conversation_goes_on_from_its_last_answer_and_nothing_else() {
    let stub = StubServer::start_with(StubState::new(Duration::from_millis(5), None), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in");
    let dynamo = Dynalite::start().await;
    let (store, alice, bob) = dynamo.with_two_keys(TABLE).await;
    let env: Vec<(&str, &str)> = dynamo
        .limits_env(TABLE)
        .into_iter()
        .chain([("ACCESS", "keys"), ("RATE_LIMIT_PER_MINUTE", "1000"), ("OPENAI_MAX_RETRIES", "0")])
        .collect();
    let function = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &env).await;
    let url = FunctionUrl::start(Arc::new(function)).await;
    let env = vec![("STREAM_URL", url.url()), ("ALICE_KEY", alice), ("BOB_KEY", bob)];
    let (report, passed) = test_harness::node_test("aisdk", "chain.test.mjs", env).await;
    assert!(passed, "AI SDK chain tests failed:\n{report}");
    let answers: HashMap<(String, String), String> = report
        .lines()
        .filter_map(|line| {
            let mut words = line.trim().strip_prefix("ANSWER ")?.split(' ');
            Some(((words.next()?.to_owned(), words.next()?.to_owned()), words.next()?.to_owned()))
        })
        .collect();
    let requests = stub.state.requests();
    for alias in VERSIONS {
        let id = |label: &str| answers.get(&(alias.to_owned(), label.to_owned())).cloned();
        let asked = |question: &str| -> Vec<&RecordedRequest> {
            let question = format!("/stub deltas=3 {alias} {question}");
            requests.iter().filter(|r| r.input == question).collect()
        };
        let one = |question: &str| -> &RecordedRequest {
            let found = asked(question);
            assert_eq!(found.len(), 1, "{alias} {question}: {found:?}");
            found[0]
        };
        // The first turn has nothing to go on from; the next two go on from the one before,
        // sending only the new message.
        let first = one("turn 1");
        assert_eq!((first.previous_response_id.as_deref(), first.messages.len()), (None, 1), "{alias}");
        for (turn, before) in [("turn 2", "turn1"), ("turn 3", "turn2")] {
            let asked = &asked(turn)[0];
            assert_eq!(asked.previous_response_id, id(before), "{alias} {turn}");
            assert_eq!(asked.messages.len(), 1, "{alias} {turn}: only the new message: {:?}", asked.messages);
        }
        // A regenerate asks the third question again, going on from the second answer.
        let third = asked("turn 3");
        assert_eq!(third.len(), 2, "{alias}: the third question, then its regenerate");
        assert_eq!((third[1].previous_response_id.clone(), third[1].messages.len()), (id("turn2"), 1), "{alias}");
        assert_ne!(id("regenerated"), id("turn3"), "{alias}: a new answer");
        // A changed answer, and another caller with the same chat id: the whole history.
        for question in ["after a changed answer", "bob"] {
            let asked = one(question);
            assert_eq!(asked.previous_response_id, None, "{alias} {question}");
            assert_eq!(asked.messages.len(), 7, "{alias} {question}: {:?}", asked.messages);
        }
    }
    // Every turn settled to what the stand-in billed, the ones on OpenAI's side included (their
    // conversation billed again as input).
    let used = store.used(&format!("budget#{}", spend::day_now())).await.expect("the day's budget");
    let billed: u64 = stub.state.requests().iter().map(RecordedRequest::billed_tokens).sum();
    assert_eq!(used, billed, "settled to the bill");
    assert!(stub.state.requests().iter().all(|r| r.finished), "every answer whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ai_sdk_version_shows_a_search_s_sources() {
    let stub = StubServer::start_with(StubState::new(Duration::from_millis(5), None), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in");
    // With the limits on, as deployed: each question reserves its searches' worst case.
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table(TABLE).await;
    let store = spend::Store::with_client(TABLE.into(), dynamo.client());
    let env: Vec<(&str, &str)> =
        dynamo.limits_env(TABLE).into_iter().chain([("OPENAI_TOOLS", r#"[{"type":"web_search"}]"#)]).collect();
    let function = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &env).await;
    let url = FunctionUrl::start(Arc::new(function)).await;
    let (report, passed) = test_harness::node_test("aisdk", "search.test.mjs", vec![("STREAM_URL", url.url())]).await;
    assert!(passed, "AI SDK search tests failed:\n{report}");
    assert!(stub.state.requests().iter().all(|r| r.web_searches == 2), "each version's question searched twice");
    let used = store.used(&format!("budget#{}", spend::day_now())).await.expect("the day's budget");
    let billed: u64 = stub.state.requests().iter().map(RecordedRequest::billed_tokens).sum();
    assert_eq!(used, billed, "settled to the bill, every search's results included");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ai_sdk_version_runs_functions_answers_approvals_and_sends_files() {
    let stub = StubServer::start_with(StubState::new(Duration::from_millis(5), None), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in");
    let dynamo = Dynalite::start().await;
    let (store, alice, _) = dynamo.with_two_keys(TABLE).await;
    let env: Vec<(&str, &str)> = dynamo
        .limits_env(TABLE)
        .into_iter()
        .chain([("ACCESS", "keys"), ("RATE_LIMIT_PER_MINUTE", "1000"), ("OPENAI_MAX_RETRIES", "0")])
        .chain([("OPENAI_TOOLS", ASKING_MCP)])
        .collect();
    let function = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &env).await;
    let url = FunctionUrl::start(Arc::new(function)).await;
    let env = vec![("STREAM_URL", url.url()), ("ALICE_KEY", alice)];
    let (report, passed) = test_harness::node_test("aisdk", "functions.test.mjs", env.clone()).await;
    assert!(passed, "AI SDK function tests failed:\n{report}");
    let (files_report, passed) = test_harness::node_test("aisdk", "files.test.mjs", env).await;
    assert!(passed, "AI SDK file tests failed:\n{files_report}");
    let all = stub.state.requests();
    for alias in VERSIONS {
        let asked: Vec<&RecordedRequest> =
            all.iter().filter(|r| r.input == format!("/stub echo seen {alias}")).collect();
        assert_eq!(asked.len(), 1, "{alias}: the question with files, once (the refused one asked nothing)");
        assert_eq!((asked[0].images, asked[0].files), (1, 1), "{alias}: the picture and the PDF reached the model");
    }
    let files_asked = all.iter().filter(|r| r.images > 0).count();
    let stub_requests_before_files = all.len() - files_asked;
    let requests = stub.state.requests();
    for alias in VERSIONS {
        // The question with the function, then its result alone, going on from the call.
        let asked: Vec<&RecordedRequest> =
            requests.iter().filter(|r| r.input == format!("/stub call=1 {alias}")).collect();
        assert_eq!(asked.len(), 1, "{alias}: {asked:?}");
        assert_eq!(asked[0].tools, ["mcp", "function:get_weather"], "{alias}");
        let call = report.lines().find_map(|l| l.trim().strip_prefix(&format!("FUNCTION {alias} "))).expect("the call");
        let results: Vec<&RecordedRequest> =
            requests.iter().filter(|r| r.function_outputs.iter().any(|(id, _)| id == call)).collect();
        assert_eq!(results.len(), 1, "{alias}: the result was sent once");
        assert_eq!(results[0].messages.len(), 0, "{alias}: the result alone, not the history");
        assert!(results[0].previous_response_id.is_some(), "{alias}");
    }
    // An approval: asked once per version, and answered once by each client that reads it.
    for alias in VERSIONS {
        let asked = requests.iter().filter(|r| r.input == format!("/stub approval=1 {alias}")).count();
        assert_eq!(asked, 1, "{alias}");
        let approved = report.lines().find_map(|l| l.trim().strip_prefix(&format!("APPROVED {alias} ")));
        assert_eq!(approved.is_some(), alias != "ai-5", "{alias}: only ai 6 on approves");
    }
    let answered = requests.iter().filter(|r| r.input.starts_with("/stub echo The MCP server: ran")).count();
    assert_eq!(answered, VERSIONS.len() - 1, "one follow-up per approving version");
    assert_eq!(stub_requests_before_files, VERSIONS.len() * 4 - 1, "nothing else was asked");
    assert_eq!(stub.state.input_counts(), VERSIONS.len() as u64, "each question with files counted once first");
    let used = store.used(&format!("budget#{}", spend::day_now())).await.expect("the day's budget");
    let billed: u64 = requests.iter().map(RecordedRequest::billed_tokens).sum();
    assert_eq!(used, billed, "settled to the bill");
}

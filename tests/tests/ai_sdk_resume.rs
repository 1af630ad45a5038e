//! The AI SDK's own `resume: true` against chat-stream under `cargo lambda watch`, limits on
//! dynalite and access keys: tests/aisdk/resume.test.mjs leaves an answer mid-way and resumes it
//! by chat id through each version's `DefaultChatTransport`, then runs docs/api.md's Next.js
//! example's `WorkflowChatTransport` with a key; this side checks that no resume or reconnect
//! asked the model again and that leaving a page cancelled nothing.

use std::time::Duration;

use openai_stub::scenario::Scenario;
use openai_stub::{StubServer, StubState};
use test_harness::{Dynalite, LambdaWatch, TEST_KEY};

const TABLE: &str = "limits";
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

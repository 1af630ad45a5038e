//! The Vercel AI SDK's own client (the `ai` package in four versions side by side, npm aliases
//! pinned in tests/aisdk/package-lock.json) against chat-stream under `cargo lambda watch` with
//! the stand-in: tests/aisdk/chat.test.mjs chats, fails and stops through each version's client;
//! this side checks what reached OpenAI. Then the SDK's OpenAI provider reads the stand-in itself
//! (tests/aisdk/stub.test.mjs), holding its events to the SDK's schemas of OpenAI's wire format.

use std::time::Duration;

use openai_stub::{StubServer, StubState};
use test_harness::{LambdaWatch, TEST_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_sdk_chats_fails_and_stops_through_chat_stream() {
    let state = StubState::new(Duration::from_millis(5), None);
    let stub = StubServer::start_with(state, "127.0.0.1:0".parse().unwrap()).await.expect("stand-in");
    // A reasoning model, so a prompt that asks for a summary gets one.
    let env = [
        ("OPENAI_BASE_URL", stub.base_url()),
        ("OPENAI_API_KEY", TEST_KEY.into()),
        ("OPENAI_MAX_RETRIES", "0".into()),
        ("OPENAI_MODEL", "gpt-5-mini".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let watch = LambdaWatch::start(&env).await;
    watch.warm_up().await;
    let stream_url = format!("{}/", watch.url("chat-stream"));
    let tricky = openai_stub::reply::TRICKY_DELTAS.concat();
    let reasoning = openai_stub::reply::summary_text(&openai_stub::scenario::Scenario::parse("/stub summary=tricky"));
    let (report, passed) = test_harness::node_test(
        "aisdk",
        "chat.test.mjs",
        vec![("STREAM_URL", stream_url), ("EXPECTED_TRICKY", tricky), ("EXPECTED_REASONING", reasoning)],
    )
    .await;
    assert!(passed, "AI SDK tests failed:\n{report}\n--- watch log ---\n{}", watch.log());

    let versions = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("AI_SDK_VERSIONS="))
        .expect("the AI SDK test names its versions")
        .split(',')
        .count();

    // Each version's second turn carried the first: the history went to OpenAI as input messages.
    let requests = stub.state.requests();
    let seconds: Vec<_> = requests.iter().filter(|r| r.input == "/stub echo second turn").collect();
    assert_eq!(seconds.len(), versions, "one second turn per AI SDK version");
    for second in seconds {
        let roles: Vec<&str> = second.messages.iter().map(|(role, _)| role.as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"], "{:?}", second.messages);
        assert_eq!(second.messages[1].1, openai_stub::reply::TRICKY_DELTAS.concat());
    }

    // Each version's stop reached OpenAI as a cancel of that answer, and its generation ended there.
    let stopped: Vec<&str> = report.lines().filter_map(|l| l.trim().strip_prefix("STOPPED_RESPONSE_ID=")).collect();
    assert_eq!(stopped.len(), versions, "each version's stop test names its answer");
    let generated: Vec<usize> = stopped
        .iter()
        .map(|&stopped| {
            assert!(stub.state.cancels().iter().any(|id| id == stopped), "cancels: {:?}", stub.state.cancels());
            stub.state.deltas_generated(stopped).expect("the stopped answer is known")
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (stopped, generated) in stopped.iter().zip(generated) {
        assert_eq!(stub.state.deltas_generated(stopped), Some(generated), "nothing is generated after the stop");
        assert!(generated < 400, "{generated} deltas generated of 400");
    }

    let parts = |prompt: &str| -> String {
        let parts: Vec<String> = openai_stub::reply::summary_parts(&openai_stub::scenario::Scenario::parse(prompt))
            .iter()
            .map(|p| p.concat())
            .collect();
        serde_json::to_string(&parts).expect("json")
    };
    let (tricky_parts, two_parts) = (parts("/stub summary=tricky"), parts("/stub summary=2"));
    let env = vec![
        ("STUB_URL", format!("http://{}", stub.addr)),
        ("API_KEY", TEST_KEY.to_owned()),
        ("EXPECTED_SUMMARY_PARTS", tricky_parts),
        ("EXPECTED_TWO_PARTS", two_parts),
    ];
    let (report, passed) = test_harness::node_test("aisdk", "stub.test.mjs", env).await;
    assert!(passed, "the AI SDK's OpenAI provider refused the stand-in:\n{report}");
    let asked: Vec<Option<String>> =
        stub.state.requests().iter().rev().take(3).map(|r| r.reasoning_summary.clone()).collect();
    assert_eq!(
        asked,
        [Some("auto".to_owned()), None, Some("auto".to_owned())],
        "the provider asked for summaries only where the test did"
    );
}

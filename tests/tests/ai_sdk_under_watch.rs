//! The Vercel AI SDK's own client (the `ai` package, pinned in tests/aisdk/package-lock.json)
//! against chat-stream under `cargo lambda watch` with the stand-in: tests/aisdk/chat.test.mjs
//! chats, fails and stops through it; this side checks what reached OpenAI.

use std::process::Command;
use std::time::Duration;

use e2e::{LambdaWatch, TEST_KEY, workspace_root};
use openai_stub::{StubServer, StubState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_sdk_chats_fails_and_stops_through_chat_stream() {
    let state = StubState::new(Duration::from_millis(5), None);
    let stub = StubServer::start_with(state, "127.0.0.1:0".parse().unwrap()).await.expect("stand-in");
    let watch = LambdaWatch::start(&[("OPENAI_BASE_URL", &stub.base_url()), ("OPENAI_API_KEY", TEST_KEY), ("OPENAI_MAX_RETRIES", "0")]).await;
    watch.warm_up().await;
    let dir = workspace_root().join("tests").join("aisdk");
    let stream_url = format!("{}/", watch.url("chat-stream"));
    let tricky = openai_stub::reply::TRICKY_DELTAS.concat();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "--test-reporter=spec", "--test-timeout=60000", "chat.test.mjs"])
            .current_dir(&dir)
            .env("STREAM_URL", stream_url)
            .env("EXPECTED_TRICKY", tricky)
            .output()
    })
    .await
    .expect("join")
    .expect("run node (tests/aisdk is installed by scripts/test)");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}");
    assert!(output.status.success(), "AI SDK tests failed:\n{report}\n--- watch log ---\n{}", watch.log());

    // The second turn carried the first: the history went to OpenAI as input messages.
    let requests = stub.state.requests();
    let second = requests.iter().find(|r| r.input == "/stub echo second turn").expect("the second turn reached the stand-in");
    let roles: Vec<&str> = second.messages.iter().map(|(role, _)| role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{:?}", second.messages);
    assert_eq!(second.messages[1].1, openai_stub::reply::TRICKY_DELTAS.concat());

    // The stop reached OpenAI as a cancel of that answer, and its generation ended there.
    let stopped = report.lines().find_map(|l| l.trim().strip_prefix("STOPPED_RESPONSE_ID=")).expect("the stop test names its answer");
    assert!(stub.state.cancels().iter().any(|id| id == stopped), "cancels: {:?}", stub.state.cancels());
    let generated = stub.state.deltas_generated(stopped).expect("the stopped answer is known");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stub.state.deltas_generated(stopped), Some(generated), "nothing is generated after the stop");
    assert!(generated < 400, "{generated} deltas generated of 400");
}

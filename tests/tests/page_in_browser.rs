//! The page in a real browser: starts the stand-in and the functions under `cargo lambda
//! watch`, then runs tests/browser/page.test.mjs (Chromium through playwright-core) against them.
//! A proxy in front of the watch resets the first answer streamed through it mid-answer, as a
//! lost network does: the page loaded through it must resume and end with the whole answer.

use std::process::Command;
use std::time::Duration;

use e2e::{CuttingProxy, LambdaWatch, TEST_KEY, workspace_root};
use openai_stub::{StubServer, StubState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_in_chromium() {
    let state = StubState::new(Duration::from_millis(30), None);
    let stub = StubServer::start_with(state, "127.0.0.1:0".parse().unwrap()).await.expect("stand-in");
    // With limits on, as deployed: the page must show a refusal in words (see page.test.mjs).
    let dynamo = e2e::Dynalite::start().await;
    dynamo.create_limits_table("limits").await;
    let base_url = stub.base_url();
    let env = [("OPENAI_BASE_URL", base_url.as_str()), ("OPENAI_API_KEY", TEST_KEY), ("RATE_LIMIT_PER_MINUTE", "30")];
    let watch = LambdaWatch::start_with_limits(&env, &dynamo, "limits").await;
    watch.warm_up().await;
    // Armed for the first stream through it, after 10 deltas; everything after passes.
    let watch_addr = watch.base_url.trim_start_matches("http://").parse().expect("the watch's address");
    let proxy = CuttingProxy::start(watch_addr, 10).await;
    let proxy_page = proxy.url("/lambda-url/index/");
    let drop_prompt = "/stub deltas=100 delay_ms=20 cut-by-proxy";
    let drop_expected = openai_stub::reply::deltas(drop_prompt, &openai_stub::scenario::Scenario::parse(drop_prompt)).concat();

    let root = workspace_root();
    let browser_dir = root.join("tests").join("browser");
    let expected: Vec<&str> = openai_stub::reply::TRICKY_DELTAS.to_vec();
    let expected: Vec<String> = expected.iter().map(|d| e2e::as_browser_sees(d)).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "--test-reporter=spec", "page.test.mjs"])
            .current_dir(&browser_dir)
            .env("PAGE_URL", format!("{}/", watch.url("index")))
            .env("STREAM_URL", watch.url("chat-stream"))
            .env("STUB_URL", format!("http://{}", stub.addr))
            .env("EXPECTED_TRICKY", serde_json::to_string(&expected).expect("json"))
            .env("PROXY_PAGE_URL", proxy_page)
            .env("DROP_PROMPT", drop_prompt)
            .env("EXPECTED_DROP", drop_expected)
            .env("ARTIFACTS", root.join("artifacts"))
            .output()
            .map(|output| (output, watch, stub))
    })
    .await
    .expect("join")
    .expect("run node (installed by scripts/test)");
    let (output, _watch, _stub) = output;
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{report}");
    assert!(output.status.success(), "browser tests failed:\n{report}");
    assert_eq!(proxy.cuts(), 1, "the proxy cut exactly one stream, so the page's resume was tested");
}

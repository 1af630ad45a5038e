//! The page in a real browser: starts the stand-in and the functions under `cargo lambda
//! watch`, then runs tests/browser/page.test.mjs (Chromium through playwright-core) against them.
//! A proxy in front of the watch resets the first answer streamed through it mid-answer, as a
//! lost network does: the page loaded through it must resume and end with the whole answer.
//! With `ACCESS=jwt`, tests/browser/page_jwt.test.mjs hands the page a signed-in user's token
//! from a local OpenID provider, by link fragment and by an embedding app's postMessage; there
//! streams are plain (`RESUMABLE_STREAMS=false`), and one cut by a proxy must not be asked again. With the
//! owner's tools on, tests/browser/page_tools.test.mjs: a search's progress and sources, and an
//! MCP approval the user answers; tests/browser/page_posted.test.mjs: a question with
//! attachments (a POST read with fetch) cut by a second proxy and read again, and stopped;
//! and tests/browser/page_chats.test.mjs: the chats the page
//! keeps in the browser, and a reload that picks up a running answer. With `ACCESS=keys`,
//! tests/browser/page_keys.test.mjs: the key asked for once and kept, sent in a header by a
//! posted question and its Stop, each key's chats apart, and a key the service does not know.

use std::time::Duration;

use openai_stub::{StubServer, StubState};
use test_harness::{CuttingProxy, LambdaWatch, TEST_KEY, workspace_root};

/// One browser and one watch at a time on two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_takes_a_signed_in_user_s_token_in_chromium() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let state = StubState::new(Duration::from_millis(10), None);
    let stub = StubServer::start_with(state, "127.0.0.1:0".parse().unwrap()).await.expect("stand-in");
    let provider = test_harness::OidcProvider::start();
    let embed_port = test_harness::free_port();
    let embedder = format!("http://127.0.0.1:{embed_port}");
    // The embedding app and, as the template sets it, the page's own origin (its POSTs carry it).
    let allowed_origins = format!("{embedder},{}", LambdaWatch::OWN_ORIGIN);
    let base_url = stub.base_url();
    let env = [
        ("OPENAI_BASE_URL", base_url.as_str()),
        ("OPENAI_API_KEY", TEST_KEY),
        ("ACCESS", "jwt"),
        ("JWT_ISSUER", provider.issuer()),
        ("JWT_AUDIENCE", test_harness::oidc::AUDIENCE),
        ("ALLOWED_ORIGINS", allowed_origins.as_str()),
        // Plain streams (no resume tokens): a cut answer must not be asked again by a reconnect.
        ("RESUMABLE_STREAMS", "false"),
    ];
    let watch = LambdaWatch::start(&env).await;
    watch.warm_up().await;
    let watch_addr = watch.base_url.trim_start_matches("http://").parse().expect("the watch's address");
    let proxy = CuttingProxy::start(watch_addr, 10).await;
    let env = vec![
        ("PAGE_URL", format!("{}/", watch.url("index"))),
        ("PROXY_PAGE_URL", proxy.url("/lambda-url/index/")),
        ("STUB_URL", format!("http://{}", stub.addr)),
        ("OIDC_URL", provider.issuer().to_owned()),
        ("EMBED_PORT", embed_port.to_string()),
        ("ARTIFACTS", workspace_root().join("artifacts").display().to_string()),
    ];
    let (report, passed) = test_harness::node_test("browser", "page_jwt.test.mjs", env).await;
    assert!(passed, "browser tests of the page in jwt mode failed:\n{report}");
    assert_eq!(proxy.cuts(), 1, "the proxy cut one plain stream, so the page's answer to it was tested");
    assert!(
        !watch.log().contains(&provider.mint(serde_json::json!({})).await[..20]),
        "a token's header reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_in_chromium() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let state = StubState::new(Duration::from_millis(30), None);
    let stub = StubServer::start_with(state, "127.0.0.1:0".parse().unwrap()).await.expect("stand-in");
    // With limits on, as deployed: the page must show a refusal in words (see page.test.mjs).
    let dynamo = test_harness::Dynalite::start().await;
    dynamo.create_limits_table("limits").await;
    let base_url = stub.base_url();
    // A reasoning model, so the stand-in streams a summary when a prompt asks for one.
    let env = [
        ("OPENAI_BASE_URL", base_url.as_str()),
        ("OPENAI_API_KEY", TEST_KEY),
        ("RATE_LIMIT_PER_MINUTE", "60"),
        ("OPENAI_MODEL", "gpt-5-mini"),
    ];
    let watch = LambdaWatch::start_with_limits(&env, &dynamo, "limits").await;
    watch.warm_up().await;
    // Armed for the first stream through it, after 10 deltas; everything after passes.
    let watch_addr = watch.base_url.trim_start_matches("http://").parse().expect("the watch's address");
    let proxy = CuttingProxy::start(watch_addr, 10).await;
    let proxy_page = proxy.url("/lambda-url/index/");
    // Another, for a question with attachments (a POST read with fetch).
    let post_proxy = CuttingProxy::start(watch_addr, 10).await;
    let drop_prompt = "/stub deltas=100 delay_ms=20 cut-by-proxy";
    let drop_expected =
        openai_stub::reply::deltas(drop_prompt, &openai_stub::scenario::Scenario::parse(drop_prompt)).concat();

    let expected: Vec<&str> = openai_stub::reply::TRICKY_DELTAS.to_vec();
    let expected: Vec<String> = expected.iter().map(|d| test_harness::as_browser_sees(d)).collect();
    let env = vec![
        ("PAGE_URL", format!("{}/", watch.url("index"))),
        ("STREAM_URL", watch.url("chat-stream")),
        ("STUB_URL", format!("http://{}", stub.addr)),
        ("EXPECTED_TRICKY", serde_json::to_string(&expected).expect("json")),
        (
            "EXPECTED_REASONING",
            serde_json::to_string(&test_harness::as_browser_sees(&openai_stub::reply::summary_text(
                &openai_stub::scenario::Scenario::parse("/stub summary=tricky"),
            )))
            .expect("json"),
        ),
        ("PROXY_PAGE_URL", proxy_page),
        ("DROP_PROMPT", drop_prompt.to_owned()),
        ("EXPECTED_DROP", drop_expected),
        ("ARTIFACTS", workspace_root().join("artifacts").display().to_string()),
    ];
    // The posted questions (one cut and read again, one stopped) settle to what the stand-in
    // billed for them (the faults page.test.mjs provoked may keep their reservations, by design).
    let store = spend::Store::with_client("limits".into(), dynamo.client());
    let budget = format!("budget#{}", spend::day_now());
    let settled = || async { store.used(&budget).await.unwrap_or(0) };
    let (used_before, asked_before) = (settled().await, stub.requests().len());
    // First: page.test.mjs ends by using up the minute's requests.
    let mut posted_env = env.clone();
    posted_env.push(("POST_PROXY_PAGE_URL", post_proxy.url("/lambda-url/index/")));
    let (report, passed) = test_harness::node_test("browser", "page_posted.test.mjs", posted_env).await;
    assert!(passed, "browser tests of posted questions failed:\n{report}");
    assert_eq!(post_proxy.cuts(), 1, "the proxy cut exactly one posted stream, so its resume was tested");
    let posted = stub.requests()[asked_before..].to_vec();
    assert_eq!(posted.iter().map(|r| r.images).collect::<Vec<_>>(), [1, 1], "two questions, each with its picture");
    let billed: u64 = posted.iter().map(openai_stub::RecordedRequest::billed_tokens).sum();
    let mut used = 0;
    for _ in 0..50 {
        used = settled().await - used_before;
        if used == billed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(used, billed, "a cut and a stopped answer with pictures settle to the bill");
    let (report, passed) = test_harness::node_test("browser", "page.test.mjs", env).await;
    assert!(passed, "browser tests failed:\n{report}");
    assert_eq!(proxy.cuts(), 1, "the proxy cut exactly one stream, so the page's resume was tested");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_tools_and_keeps_chats_in_chromium() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let state = StubState::new(Duration::from_millis(10), None);
    let stub = StubServer::start_with(state, "127.0.0.1:0".parse().unwrap()).await.expect("stand-in");
    let base_url = stub.base_url();
    let tools = r#"[{"type":"web_search"},{"type":"mcp","server_label":"docs","server_url":"https://mcp.example","require_approval":"always"}]"#;
    let env = [("OPENAI_BASE_URL", base_url.as_str()), ("OPENAI_API_KEY", TEST_KEY), ("OPENAI_TOOLS", tools)];
    let watch = LambdaWatch::start(&env).await;
    watch.warm_up().await;
    let env = vec![
        ("PAGE_URL", format!("{}/", watch.url("index"))),
        ("STUB_URL", format!("http://{}", stub.addr)),
        ("ARTIFACTS", workspace_root().join("artifacts").display().to_string()),
    ];
    let (report, passed) = test_harness::node_test("browser", "page_tools.test.mjs", env.clone()).await;
    assert!(passed, "browser tests of the page with tools failed:\n{report}");
    let (report, passed) = test_harness::node_test("browser", "page_chats.test.mjs", env).await;
    assert!(passed, "browser tests of the page's kept chats failed:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_asks_for_an_access_key_and_keeps_each_key_s_chats_apart_in_chromium() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let state = StubState::new(Duration::from_millis(10), None);
    let stub = StubServer::start_with(state, "127.0.0.1:0".parse().unwrap()).await.expect("stand-in");
    let dynamo = test_harness::Dynalite::start().await;
    let (_, key_a, key_b) = dynamo.with_two_keys("keys").await;
    let base_url = stub.base_url();
    let env = [("OPENAI_BASE_URL", base_url.as_str()), ("OPENAI_API_KEY", TEST_KEY), ("ACCESS", "keys")];
    let watch = LambdaWatch::start_with_limits(&env, &dynamo, "keys").await;
    watch.warm_up().await;
    let env = vec![
        ("PAGE_URL", format!("{}/", watch.url("index"))),
        ("STUB_URL", format!("http://{}", stub.addr)),
        ("KEY_A", key_a.clone()),
        ("KEY_B", key_b),
    ];
    let (report, passed) = test_harness::node_test("browser", "page_keys.test.mjs", env).await;
    assert!(passed, "browser tests of the page in keys mode failed:\n{report}");
    assert!(!watch.log().contains(&key_a), "a key reached the log");
}

//! The first request of an execution environment, on the shipped binaries behind the Runtime
//! API stand-in: OpenAI behind TLS with a private certificate authority trusted through
//! `SSL_CERT_FILE` (the platform's usual setting, which the production client honours), limits
//! on in dynalite, and the connections to OpenAI and DynamoDB opened during init, so the first
//! answer opens none of its own.

use std::time::Duration;

use openai_stub::tls::TestCa;
use openai_stub::{StubServer, StubState};
use test_harness::runtime_api::{RuntimeApi, question_event};
use test_harness::{CuttingProxy, Dynalite, TEST_KEY, browser_events, message_data};

/// One function process at a time: each test starts several.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn tls_stub(ca: &TestCa) -> StubServer {
    let state = StubState::new(Duration::ZERO, None);
    StubServer::start_tls(state, "127.0.0.1:0".parse().unwrap(), ca).await.expect("start the stand-in behind TLS")
}

/// `ca`'s certificate in a file of its own, as a deployment's bundle would be.
fn ca_file(ca: &TestCa, name: &str) -> std::path::PathBuf {
    let dir = test_harness::runtime_api::target_dir().join("first-request");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.pem", std::process::id()));
    std::fs::write(&path, &ca.ca_pem).unwrap();
    path
}

async fn launch(function: &str, stub: &StubServer, extra: &[(&str, &str)]) -> RuntimeApi {
    let env = [&[("OPENAI_MAX_RETRIES", "0")][..], extra].concat();
    RuntimeApi::launch_release(function, &stub.base_url(), &env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_functions_open_their_tls_connection_during_init_and_the_first_answer_reuses_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let ca = TestCa::new().unwrap();
    let ca_path = ca_file(&ca, "both");
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("first").await;
    // DynamoDB reached through a proxy that counts the connections made to it.
    let counting = CuttingProxy::start(dynamo.addr(), 0).await;
    let dynamo_url = counting.url("");
    let mut env = vec![("SSL_CERT_FILE", ca_path.to_str().unwrap())];
    env.extend(dynamo.limits_env("first").into_iter().filter(|(k, _)| *k != "AWS_ENDPOINT_URL_DYNAMODB"));
    env.push(("AWS_ENDPOINT_URL_DYNAMODB", dynamo_url.as_str()));

    let stub = tls_stub(&ca).await;
    assert!(stub.base_url().starts_with("https://127.0.0.1:"), "{}", stub.base_url());
    let stream = launch("chat-stream", &stub, &env).await;
    assert_eq!(
        stub.state.connections(),
        1,
        "chat-stream opened its connection before its first poll; log:\n{}",
        stream.log()
    );
    assert_eq!(
        counting.connections(),
        3,
        "and three to DynamoDB, for the three writes its first question sends at once"
    );
    assert!(stub.requests().is_empty(), "nothing was asked of the model during init");
    let answer = stream.invoke(question_event("/stub echo first answer")).await;
    assert_eq!(answer.status, Some(200), "{:?}; log:\n{}", answer.error, stream.log());
    let events = browser_events(&answer.body).await;
    assert_eq!(message_data(&events).concat(), "first answer");
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("end"));
    assert_eq!(stub.state.connections(), 1, "the first answer went over the connection opened during init");
    assert_eq!(counting.connections(), 3, "its admission and settlement went over those opened during init");
    assert_eq!(stub.requests().len(), 1);

    let stub = tls_stub(&ca).await;
    let complete = launch("chat-complete", &stub, &env).await;
    assert_eq!(
        stub.state.connections(),
        1,
        "chat-complete opened its connection before its first poll; log:\n{}",
        complete.log()
    );
    let answer = complete.invoke(question_event("/stub echo buffered first")).await;
    assert_eq!(answer.status, Some(200), "{:?}; log:\n{}", answer.error, complete.log());
    assert_eq!(answer.json().map(|j| j["data"].clone()), Some("buffered first".into()));
    assert_eq!(stub.state.connections(), 1, "the first answer went over the connection opened during init");
    assert!(stream.is_alive() && complete.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_nobody_trusts_is_refused_and_nothing_is_asked() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let trusted = TestCa::new().unwrap();
    let other = TestCa::new().unwrap();
    // The bundle names another authority than the one that signed the stand-in's certificate.
    let path = ca_file(&other, "other");
    let stub = tls_stub(&trusted).await;
    let complete = launch("chat-complete", &stub, &[("SSL_CERT_FILE", path.to_str().unwrap())]).await;
    let answer = complete.invoke(question_event("/stub echo never")).await;
    let status = answer.status.unwrap_or_default();
    assert!((500..=504).contains(&status), "status {status}: {}", answer.text());
    assert!(stub.requests().is_empty(), "no request reached a server whose certificate failed");
    assert!(!answer.text().contains(TEST_KEY));
    assert!(complete.is_alive());
}

//! The key read from a real Secrets Manager emulator (moto's server on loopback), through the
//! same `ApiKey` and `ResponsesClient` the functions build at init.

use std::sync::Arc;

use chat_core::{ApiError, Config};
use openai_client::{ApiKey, ResponsesClient};
use openai_stub::{StubServer, StubState};
use test_harness::{MotoServer, TEST_KEY, chat as request, free_port};

fn client(stub: &StubServer, secret_id: &str) -> ResponsesClient {
    client_with(stub, secret_id, &[])
}

fn client_with(stub: &StubServer, secret_id: &str, more: &[(&str, &str)]) -> ResponsesClient {
    let base = stub.base_url();
    let config = Config::from_lookup(|name| match name {
        "OPENAI_BASE_URL" => Some(base.clone()),
        "OPENAI_API_KEY_SECRET_ID" => Some(secret_id.to_owned()),
        "OPENAI_API_KEY" => Some("sk-ignored-when-a-secret-is-set".into()),
        _ => more.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()),
    })
    .expect("config");
    ResponsesClient::new(Arc::new(config.clone()), ApiKey::from_config(&config.key)).expect("client")
}

/// An admin client for the emulator, on the same SDK configuration the functions use.
async fn secrets(_moto: &MotoServer) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&chat_core::tls::aws_sdk_config().await)
}

async fn put(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) {
    if client.put_secret_value().secret_id(id).secret_string(value).send().await.is_err() {
        client.create_secret().name(id).secret_string(value).send().await.expect("create secret");
    }
}

fn assert_no_key(error: &ApiError) {
    for text in [error.detail(), error.log_detail(), format!("{error:?}")] {
        assert!(!text.contains(TEST_KEY) && !text.contains("sk-old"), "a key leaked: {text}");
    }
}

// One test, so the process environment the AWS SDK reads is set once, before any other thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_comes_from_secrets_manager() {
    let port = free_port();
    // SAFETY: set before this test starts any thread that reads the environment.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::remove_var("AWS_PROFILE");
    }
    let stub = StubServer::start_with(
        StubState::new(Default::default(), Some(TEST_KEY.into())),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("stand-in");
    let deadline = || tokio::time::Instant::now() + std::time::Duration::from_secs(30);

    // Emulator down: a 500 whose log detail names the secret and whose public detail does not;
    // the failure is not cached.
    let down = client(&stub, "openai/later");
    // Built while the emulator is down: its read at init fails before any request comes.
    let started_early = client(&stub, "openai/early");
    let error = down.create(&request("/stub echo hi"), deadline()).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(
        error.log_detail().contains("openai/later") && error.log_detail().contains("could not be reached"),
        "{}",
        error.log_detail()
    );
    assert!(!error.detail().contains("openai/later") && !error.detail().contains("reached"), "{}", error.detail());

    let moto = MotoServer::start(port).await;
    let sm = secrets(&moto).await;
    put(&sm, "openai/later", TEST_KEY).await;
    let answer =
        down.create(&request("/stub echo recovered"), deadline()).await.expect("read again once the emulator is up");
    assert_eq!(answer.text, "recovered");
    // The read that failed at init is not handed to the first request: it reads again.
    put(&sm, "openai/early", TEST_KEY).await;
    let answer = started_early.create(&request("/stub echo first try"), deadline()).await;
    assert_eq!(answer.map(|a| a.text), Ok("first try".to_owned()), "the failed init read was retried");

    // The plain key, and JSON {"OPENAI_API_KEY": "..."}.
    put(&sm, "openai/plain", TEST_KEY).await;
    put(&sm, "openai/json", &format!(r#"{{"OPENAI_API_KEY": "{TEST_KEY}"}}"#)).await;
    for id in ["openai/plain", "openai/json"] {
        let answer = client(&stub, id).create(&request("/stub echo ok"), deadline()).await;
        assert_eq!(answer.map(|a| a.text), Ok("ok".to_owned()), "{id}");
    }

    // A missing secret and an empty one (as the template creates it): clear 500s.
    let error = client(&stub, "openai/missing").create(&request("hi"), deadline()).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(
        error.log_detail().contains("openai/missing") && error.log_detail().contains("ResourceNotFound"),
        "{}",
        error.log_detail()
    );
    put(&sm, "openai/empty", r#"{"OPENAI_API_KEY": ""}"#).await;
    let error = client(&stub, "openai/empty").create(&request("hi"), deadline()).await.unwrap_err();
    assert!(error.log_detail().contains("empty"), "{}", error.log_detail());

    // Rotation: after a 401 the secret is read again once, and the new key is used.
    put(&sm, "openai/rotated", "sk-old-0000000000").await;
    let rotating = client(&stub, "openai/rotated");
    let error = rotating.create(&request("/stub echo first"), deadline()).await.unwrap_err();
    assert_eq!(error, ApiError::UpstreamUnauthorized);
    assert_no_key(&error);
    put(&sm, "openai/rotated", TEST_KEY).await;
    let answer = rotating.stream(&request("/stub echo after rotation"), deadline()).await;
    assert!(answer.is_ok(), "the rotated key was not picked up");

    // The MCP servers' authorization: read from its own secret, sent with the server's tool
    // object only, and never in an error, whatever the secret holds.
    let tools = r#"[{"type":"mcp","server_label":"docs","server_url":"https://docs.example","require_approval":"never"},{"type":"web_search"}]"#;
    put(&sm, "openai/plain-again", TEST_KEY).await;
    put(&sm, "mcp/tokens", r#"{"docs": "Bearer mcp-s3cret-token"}"#).await;
    let mcp = [("OPENAI_TOOLS", tools), ("MCP_AUTHORIZATION_SECRET_ID", "mcp/tokens")];
    let answer =
        client_with(&stub, "openai/plain-again", &mcp).create(&request("/stub echo with mcp"), deadline()).await;
    assert_eq!(answer.map(|a| a.text), Ok("with mcp".to_owned()));
    let sent = stub.state.requests().pop().expect("the request");
    assert_eq!(sent.mcp_authorizations, [("docs".to_owned(), "Bearer mcp-s3cret-token".to_owned())]);
    put(&sm, "mcp/broken", "Bearer mcp-s3cret-token").await;
    let broken = [("OPENAI_TOOLS", tools), ("MCP_AUTHORIZATION_SECRET_ID", "mcp/broken")];
    let before = stub.state.requests().len();
    let error = client_with(&stub, "openai/plain-again", &broken).create(&request("hi"), deadline()).await.unwrap_err();
    assert_eq!((error.status().as_u16(), error.code()), (500, "misconfigured"), "{}", error.log_detail());
    for text in [error.detail(), error.log_detail(), format!("{error:?}")] {
        assert!(!text.contains("mcp-s3cret"), "the MCP token leaked: {text}");
    }
    assert_eq!(stub.state.requests().len(), before, "nothing was sent without its authorization");

    // A 401, then Secrets Manager itself fails on the re-read: reported as the secret's
    // failure, not as "OpenAI rejected the key".
    put(&sm, "openai/stale", "sk-old-1111111111").await;
    let stale = client(&stub, "openai/stale");
    stale.key_ready().await.expect("the stale key was read");
    drop(sm);
    drop(moto);
    let error = stale.create(&request("/stub echo x"), deadline()).await.unwrap_err();
    assert_eq!((error.status().as_u16(), error.code()), (500, "key_unavailable"), "{}", error.log_detail());
    assert_no_key(&error);
}

//! The helpers every test shares: the stand-in upstream with a client pointed at it, requests
//! built as Lambda would hand them over, an SSE decoder that reads as a browser does, the
//! functions running under `cargo lambda watch`, and a proxy that cuts a stream mid-answer.

mod dynalite;
pub mod emf;
pub mod failover_pair;
pub mod function_url;
mod losing_proxy;
mod moto;
mod node;
pub mod oidc;
mod proxy;
mod returning_proxy;
pub mod runtime_api;
mod slow_proxy;
mod watch;

use std::sync::Arc;

use chat_core::Config;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use lambda_http::{Body, Request};
use openai_client::{ApiKey, ResponsesClient};
use openai_stub::StubServer;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

pub use dynalite::Dynalite;
pub use function_url::FunctionUrl;
pub use losing_proxy::LosingProxy;
pub use moto::MotoServer;
pub use node::node_test;
pub use oidc::OidcProvider;
pub use proxy::CuttingProxy;
pub use returning_proxy::ReturningProxy;
pub use slow_proxy::SlowProxy;
pub use watch::{LambdaWatch, free_port, workspace_root};

/// The key tests use; searched for in every output to prove it never leaks.
pub const TEST_KEY: &str = "sk-test-4f9d1c2b7a6e5d3c";

/// The stand-in upstream on a loopback port and a production client pointed at it.
pub struct TestUpstream {
    pub stub: StubServer,
    pub client: ResponsesClient,
    /// No origin check, no limits: the limits tests build their own gate.
    pub gate: spend::Gate,
}

impl TestUpstream {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts with extra configuration variables, as the functions would read them.
    pub async fn start_with(vars: &[(&str, &str)]) -> Self {
        let stub = StubServer::start().await.expect("start the stand-in");
        let client = client_for(&stub, vars);
        Self { stub, client, gate: spend::Gate::open() }
    }
}

/// A client configured as a function would be, through the same environment variables.
pub fn client_for(stub: &StubServer, vars: &[(&str, &str)]) -> ResponsesClient {
    let base = stub.base_url();
    let config = Config::from_lookup(|name| {
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()).or_else(|| match name {
            "OPENAI_BASE_URL" => Some(base.clone()),
            "OPENAI_API_KEY" => Some(TEST_KEY.to_owned()),
            "OPENAI_MAX_RETRIES" => Some("2".to_owned()),
            _ => None,
        })
    })
    .expect("valid test configuration");
    let key = ApiKey::from_config(&config.key);
    ResponsesClient::new(Arc::new(config), key).expect("build the client")
}

/// A Bedrock fallback's key, minted from the stand-in's test role ([`openai_stub::bedrock`])
/// with `secret` (its own, or a wrong one), for the stand-in playing Bedrock in `region`.
pub fn bedrock_key(region: &str, secret: &str) -> ApiKey {
    use aws_credential_types::{Credentials, provider::SharedCredentialsProvider};
    let access = openai_stub::bedrock::TEST_ACCESS_KEY_ID;
    let role = Credentials::new(access, secret, Some("stand-in-session-token".into()), None, "test");
    let source = openai_client::bedrock::CredentialSource::Given(SharedCredentialsProvider::new(role));
    ApiKey::bedrock(region.to_owned(), source)
}

pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// A validated chat request, as the functions hand it to the client.
pub fn chat(message: &str) -> chat_core::ChatRequest {
    chat_core::ChatRequest { message: message.into(), ..Default::default() }
}

/// `GET ?message=<message>`, encoded as a browser's `encodeURIComponent` would.
pub fn get_request(message: &str) -> Request {
    get_raw_request(&format!("message={}", encode(message)))
}

/// `GET ?<query>` exactly as given.
pub fn get_raw_request(query: &str) -> Request {
    http::Request::get(format!("https://lambda-url.local/?{query}")).body(Body::Empty).expect("request")
}

/// `POST` with a JSON body.
pub fn post_request(json: &str) -> Request {
    http::Request::post("https://lambda-url.local/")
        .header("content-type", "application/json")
        .body(Body::Text(json.to_owned()))
        .expect("request")
}

/// `GET ?<query>` from `source_ip`, with `headers`, exactly as a Function URL hands it over
/// (the event lambda_http turns into a request, request context included).
pub fn request_from(source_ip: &str, query: &str, headers: &[(&str, &str)]) -> Request {
    let mut event = runtime_api::function_url_event("GET", "/", query, headers, None);
    event["requestContext"]["http"]["sourceIp"] = serde_json::json!(source_ip);
    lambda_http::request::from_str(&event.to_string()).expect("a Function URL event")
}

/// `POST /` with a JSON body from `source_ip`, as a function URL delivers it.
pub fn request_with_body(source_ip: &str, json: &str) -> Request {
    let headers = [("content-type", "application/json")];
    let mut event = runtime_api::function_url_event("POST", "/", "", &headers, Some(json));
    event["requestContext"]["http"]["sourceIp"] = serde_json::json!(source_ip);
    lambda_http::request::from_str(&event.to_string()).expect("a Function URL event")
}

/// One event as a browser's EventSource dispatches it: its type (`message` when unnamed) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserEvent {
    pub event: String,
    pub data: String,
    /// The last event id the browser holds after this event (its `lastEventId`).
    pub id: String,
}

/// Decodes an SSE body with a spec-following parser, as a browser would.
pub async fn browser_events(body: &[u8]) -> Vec<BrowserEvent> {
    let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(bytes::Bytes::copy_from_slice(body))]);
    chunks
        .eventsource()
        .map(|event| {
            let event = event.expect("valid SSE");
            BrowserEvent { event: event.event, data: event.data, id: event.id }
        })
        .collect()
        .await
}

/// The text a browser's `onmessage` would see, delta by delta.
pub fn message_data(events: &[BrowserEvent]) -> Vec<String> {
    events.iter().filter(|e| e.event == "message").map(|e| e.data.clone()).collect()
}

/// What the browser should see for a delta the model sent: the same text, line endings as `\n`.
pub fn as_browser_sees(delta: &str) -> String {
    delta.replace("\r\n", "\n").replace('\r', "\n")
}

/// A limits store's clock standing at the middle of the current minute (the same day as the real
/// clock), so the requests of a test never straddle two rate windows whenever it runs.
pub fn mid_minute_clock() -> spend::Clock {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mid_minute = now - now % 60 + 30;
    std::sync::Arc::new(move || mid_minute)
}

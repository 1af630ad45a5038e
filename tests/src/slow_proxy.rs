//! DynamoDB slow for one operation, in front of dynalite: every request is forwarded as it came,
//! the ones whose `x-amz-target` ends with the operation named only after a delay, so a test can
//! tell a write the reader waits for from one made beside the stream. The operations are kept
//! in the order they arrived.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

/// Stopped when dropped.
pub struct SlowProxy {
    pub addr: std::net::SocketAddr,
    arrived: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl SlowProxy {
    /// A proxy on a loopback port in front of `target` (`http://...`) that holds each
    /// `operation` (say `PutItem`) back for `delay`.
    pub async fn start(target: String, operation: &'static str, delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("its address");
        chat_core::tls::install_crypto_provider();
        let http = reqwest::Client::new();
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let seen = arrived.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let (http, target, seen) = (http.clone(), target.clone(), seen.clone());
            async move {
                let target_header = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let name = target_header.rsplit('.').next().unwrap_or_default().to_owned();
                seen.lock().unwrap_or_else(PoisonError::into_inner).push(name.clone());
                if name == operation {
                    tokio::time::sleep(delay).await;
                }
                forward(&http, &target, &headers, body).await
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, arrived, task }
    }

    /// The value for the SDK's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The operations (`PutItem`, `UpdateItem`, ...) in the order they arrived.
    pub fn arrived(&self) -> Vec<String> {
        self.arrived.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(http: &reqwest::Client, target: &str, headers: &HeaderMap, body: Bytes) -> Response {
    let mut request = http.post(target).body(body);
    for name in ["x-amz-target", "content-type", "authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    let Ok(answer) = request.send().await else { return StatusCode::BAD_GATEWAY.into_response() };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get("content-type").cloned();
    let body = answer.bytes().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}

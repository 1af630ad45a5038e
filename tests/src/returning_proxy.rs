//! DynamoDB's answer to a failed condition, in front of dynalite: DynamoDB returns the item as it
//! was with `ConditionalCheckFailedException` when the write asks for it
//! (`ReturnValuesOnConditionCheckFailure: ALL_OLD`); dynalite returns none. This proxy forwards
//! every request to dynalite and, on such a failure, reads the item (one `GetItem` of its own,
//! not the client's) and puts it in the error as DynamoDB would, so the code path the real
//! service takes is the one tested.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Stopped when dropped.
pub struct ReturningProxy {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ReturningProxy {
    /// A proxy on a loopback port in front of the DynamoDB endpoint `target` (`http://...`).
    pub async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("its address");
        chat_core::tls::install_crypto_provider();
        let http = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let (http, target) = (http.clone(), target.clone());
            async move { forward(&http, &target, &headers, body).await }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, task }
    }

    /// The value for the SDK's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ReturningProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(http: &reqwest::Client, target: &str, headers: &HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let operation = header("x-amz-target");
    let send = |operation: &str, body: Vec<u8>| {
        let mut request = http.post(target).header("x-amz-target", operation).body(body);
        for name in ["content-type", "authorization", "x-amz-date", "x-amz-security-token"] {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value.as_bytes());
            }
        }
        request.send()
    };
    let Ok(answer) = send(&operation, body.to_vec()).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get("content-type").cloned();
    let mut answer_body = answer.bytes().await.unwrap_or_default().to_vec();
    let asked: Value = serde_json::from_slice(&body).unwrap_or_default();
    let failed = serde_json::from_slice::<Value>(&answer_body).unwrap_or_default();
    if operation.ends_with(".UpdateItem")
        && asked["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
        && failed["__type"].as_str().is_some_and(|t| t.ends_with("ConditionalCheckFailedException"))
    {
        let read = json!({"TableName": asked["TableName"], "Key": asked["Key"], "ConsistentRead": true});
        let get = operation.replace(".UpdateItem", ".GetItem");
        if let Ok(item) = send(&get, read.to_string().into_bytes()).await
            && let Ok(item) = item.json::<Value>().await
            && item.get("Item").is_some()
        {
            let mut failed = failed;
            failed["Item"] = item["Item"].clone();
            answer_body = failed.to_string().into_bytes();
        }
    }
    let mut response = (status, answer_body).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}

//! A function URL in front of the Runtime API stand-in: each HTTP request becomes one
//! invocation of the function (its payload 2.0 event), and the invocation's answer (status,
//! headers, body) the HTTP answer, whole once the invocation ends. So an HTTP client (the AI
//! SDK's own transport, say) talks to a release binary with a real function timeout.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

use crate::runtime_api::{Invocation, RuntimeApi, function_url_event};

/// Stopped when dropped.
pub struct FunctionUrl {
    pub addr: SocketAddr,
    invocations: Arc<Mutex<Vec<Invocation>>>,
    task: JoinHandle<()>,
}

impl FunctionUrl {
    /// A URL on a loopback port invoking `function`.
    pub async fn start(function: Arc<RuntimeApi>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the function URL");
        let addr = listener.local_addr().expect("its address");
        let invocations = Arc::new(Mutex::new(Vec::new()));
        let seen = invocations.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (function, seen) = (function.clone(), seen.clone());
            async move {
                let headers: Vec<(String, String)> = headers
                    .iter()
                    .filter(|(name, _)| *name != "host")
                    .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
                    .collect();
                let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                let body = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
                let event = function_url_event(
                    method.as_str(),
                    uri.path(),
                    uri.query().unwrap_or(""),
                    &headers,
                    body.as_deref(),
                );
                let answer = function.invoke(event).await;
                let response = http_answer(&answer);
                seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(answer);
                response
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, invocations, task }
    }

    /// The URL, ending in `/` as a function URL does.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Every invocation so far, in the order they ended.
    pub fn invocations(&self) -> Vec<Invocation> {
        self.invocations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

fn http_answer(answer: &Invocation) -> Response {
    let status = answer.status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, answer.body.clone()).into_response();
    for (name, value) in &answer.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

impl Drop for FunctionUrl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

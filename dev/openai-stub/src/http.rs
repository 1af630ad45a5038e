//! What every route answers with: OpenAI's error bodies, the key check, and SSE bodies written
//! batch by batch, breaking where a scenario says.

use std::sync::Arc;
use std::time::Duration;

use axum::{
    Json,
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{Stream, StreamExt};

use crate::StubState;
use crate::events::Frame;
use crate::scenario::Scenario;
use crate::wire;

pub(crate) fn error(status: u16, scenario: &Scenario, key: Option<&str>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, Json(wire::error_body(status, scenario, key))).into_response();
    let headers = response.headers_mut();
    for (name, value) in [("retry-after", &scenario.retry_after), ("retry-after-ms", &scenario.retry_after_ms)] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert("x-request-id", HeaderValue::from_static("req_stub"));
    response
}

/// What a provider that is down answers every create and count with
/// ([`crate::StubServer::fail_every_create`]); `None` while it is up.
pub(crate) fn when_down(state: &StubState) -> Option<Response> {
    let failing = state.failing.lock().unwrap_or_else(|e| e.into_inner()).clone();
    failing.map(|(status, code)| error(status, &Scenario { status: Some(status), code, ..Scenario::default() }, None))
}

/// The tokens a follow-up of `request` is billed again for the conversation it continues (after
/// a compaction, the compacted one), as OpenAI bills them; OpenAI's refusal (a 400's body) when
/// it has no such response.
pub(crate) fn earlier_tokens(state: &StubState, request: &serde_json::Value) -> Result<u64, serde_json::Value> {
    let Some(id) = request["previous_response_id"].as_str() else { return Ok(0) };
    let threshold = request["context_management"][0]["compact_threshold"].as_u64();
    state
        .responses
        .get(id)
        .and_then(|entry| wire::carried_tokens(&entry.snapshot(), threshold))
        .ok_or_else(|| wire::previous_response_not_found(id))
}

/// A request without a key the stand-in accepts, answered with OpenAI's 401.
pub(crate) struct Refused(Option<String>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        error(401, &Scenario::default(), self.0.as_deref())
    }
}

/// The key the request presents, if it is one the stand-in accepts.
pub(crate) fn authorize(state: &StubState, headers: &HeaderMap) -> Result<String, Refused> {
    let presented = if state.azure.load(std::sync::atomic::Ordering::Relaxed) {
        headers.get("api-key").and_then(|v| v.to_str().ok())
    } else {
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    };
    let presented = presented.map(str::trim).filter(|k| !k.is_empty());
    let Some(presented) = presented else { return Err(Refused(None)) };
    let bedrock = state.bedrock.read().map(|b| b.clone()).unwrap_or(None);
    if let Some(bedrock) = bedrock {
        // Bedrock answers a bad or expired key with a 401, in the OpenAI-compatible shape.
        return match bedrock.verify(presented, std::time::SystemTime::now()) {
            Ok(()) => Ok(presented.to_owned()),
            Err(_) => Err(Refused(Some(presented.to_owned()))),
        };
    }
    let expected = state.expected_key.read().map(|k| k.clone()).unwrap_or(None);
    if expected.as_deref().is_some_and(|k| k != presented) {
        return Err(Refused(Some(presented.to_owned())));
    }
    Ok(presented.to_owned())
}

/// Marks the request's connection closed when the body is dropped, finished or not.
pub(crate) struct CloseGuard {
    pub state: Arc<StubState>,
    pub index: usize,
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        let now = self.state.now_ms();
        self.state.update(self.index, |r| r.closed_ms = Some(now));
    }
}

/// The SSE text of `batch` up to a `Drop`, and whether the connection breaks there.
fn sse_text(batch: &[Frame]) -> (String, bool) {
    let cut = batch.iter().position(|frame| matches!(frame, Frame::Drop));
    (batch[..cut.unwrap_or(batch.len())].iter().map(Frame::sse).collect(), cut.is_some())
}

/// The connection breaking on purpose, once what was sent had time to reach the client.
async fn broken_connection() -> std::io::Error {
    tokio::time::sleep(Duration::from_millis(30)).await;
    std::io::Error::other("connection dropped on purpose")
}

/// An SSE response whose body writes each batch of `frames` as one chunk, breaking at a `Drop`.
pub(crate) fn sse_response(
    frames: impl Stream<Item = Vec<Frame>> + Send + 'static,
    guard: Option<CloseGuard>,
) -> Response {
    let body = async_stream::stream! {
        let _guard = guard;
        let mut frames = std::pin::pin!(frames);
        while let Some(batch) = frames.next().await {
            let (text, breaks) = sse_text(&batch);
            if !text.is_empty() {
                yield Ok(Bytes::from(text));
            }
            if breaks {
                yield Err(broken_connection().await);
                return;
            }
        }
    };
    with_sse_headers(Response::new(Body::from_stream(body)))
}

fn with_sse_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert("x-request-id", HeaderValue::from_static("req_stub"));
    headers.insert("openai-processing-ms", HeaderValue::from_static("42"));
    response
}

//! What chat-stream answers with: the streamed body, a JSON answer in the same body type, and a
//! failure before the answer (a JSON error, or the whole stream in the dialect's words).

use std::convert::Infallible;

use bytes::Bytes;
use chat_core::ApiError;
use futures_util::{StreamExt, stream::BoxStream};
use http_body::Frame;
use http_body_util::StreamBody;
use lambda_http::{Response, http::header};
use shared::RequestSummary;

use crate::dialect::Dialect;

/// The streamed body: each item is written to the client the moment it is produced.
pub type SseBody = StreamBody<BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

/// The streamed answer, with `headers` beyond SSE's own (a dialect's).
pub fn sse_response(events: BoxStream<'static, Bytes>, extra: &[(&'static str, &'static str)]) -> Response<SseBody> {
    let body = StreamBody::new(events.map(|bytes| Ok(Frame::data(bytes))).boxed());
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    // Exactly as the contract writes it; SSE is UTF-8 by definition.
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    for (name, value) in extra {
        headers.insert(*name, header::HeaderValue::from_static(value));
    }
    response
}

/// A failure before the answer started: a JSON error with its status, or, for `errors=inline`,
/// the whole stream in the dialect's words (for EventSource: `start`, a `problem` event
/// (`{"status", "code", "detail", "request_id"}`: what a page needs to act on it), `error` with
/// the sentence, and `end`). `Retry-After` is sent either way.
pub fn failure(error: ApiError, inline: Option<&mut dyn Dialect>, mut summary: RequestSummary) -> Response<SseBody> {
    // A wrong method is no stream request at all: its 405 and `Allow` say what would be one.
    let inline = inline.filter(|_| !matches!(error, ApiError::MethodNotAllowed { .. }));
    summary.failed(&error, inline.is_none());
    let request_id = summary.request_id.clone();
    drop(summary);
    let Some(dialect) = inline else { return json_response(error.to_response(&request_id)) };
    let body = dialect.problem(&error, &request_id);
    let mut response = sse_response(futures_util::stream::once(async move { body }).boxed(), dialect.headers());
    if let Some(seconds) = error.retry_after_header().and_then(|s| header::HeaderValue::from_str(&s).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, seconds);
    }
    response
}

/// A whole JSON answer (an error body, a stop's result) as this function's streamed body type.
pub fn json_response(response: Response<String>) -> Response<SseBody> {
    let (parts, json) = response.into_parts();
    let body = StreamBody::new(futures_util::stream::once(async move { Ok(Frame::data(Bytes::from(json))) }).boxed());
    Response::from_parts(parts, body)
}

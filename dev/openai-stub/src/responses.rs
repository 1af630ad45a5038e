//! The routes about one kept response, as OpenAI has them: retrieve it, stream it again, cancel
//! it; and the answer to a create with `"background": true`.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use crate::background::{self, Entry};
use crate::events::Answer;
use crate::http::{CloseGuard, authorize, sse_response};
use crate::{RecordedRetrieve, StubState, wire};

/// Registers a background response and starts generating it apart from any connection; the
/// create's own connection follows its events when it asked to stream, else gets it `queued`.
pub(crate) fn create_background(state: Arc<StubState>, index: usize, answer: Arc<Answer>, stream: bool) -> Response {
    let entry = Entry::queued(answer, index);
    state.responses.insert(entry.clone());
    let queued = entry.snapshot();
    background::spawn_generator(state.clone(), entry.clone());
    if stream {
        return sse_response(entry.follow(None, true), Some(CloseGuard { state, index }));
    }
    state.update(index, |r| r.closed_ms = Some(state.now_ms()));
    json(StatusCode::OK, queued)
}

/// `GET /v1/responses/{id}`: the response as it stands, or with `stream=true` its events after
/// `starting_after`, following live until it ends.
pub(crate) async fn retrieve(
    State(state): State<Arc<StubState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authorize(&state, &headers) {
        return refused.into_response();
    }
    let Some((stream, starting_after)) = stream_query(query.as_deref()) else {
        return json(
            StatusCode::BAD_REQUEST,
            wire::invalid_request("Invalid value for 'starting_after': expected an integer.", Some("invalid_value")),
        );
    };
    state.record_retrieve(RecordedRetrieve { id: id.clone(), stream, starting_after });
    let Some(entry) = state.responses.get(&id) else {
        return json(StatusCode::NOT_FOUND, wire::response_not_found(&id));
    };
    if !stream {
        return json(StatusCode::OK, entry.snapshot());
    }
    if !entry.background() {
        let message = format!("Response with id '{id}' was not created with background=true and cannot be streamed.");
        return json(StatusCode::BAD_REQUEST, wire::invalid_request(&message, None));
    }
    if entry.created.elapsed() > state.resume_window() {
        let message = format!(
            "Streaming is no longer available for response with id '{id}': it can be retrieved without streaming."
        );
        return json(StatusCode::BAD_REQUEST, wire::invalid_request(&message, Some("stream_expired")));
    }
    sse_response(entry.follow(starting_after, false), None)
}

/// `POST /v1/responses/{id}/cancel`: stops a background response; the response object after,
/// the same for every later call.
pub(crate) async fn cancel(
    State(state): State<Arc<StubState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authorize(&state, &headers) {
        return refused.into_response();
    }
    state.record_cancel(&id);
    let Some(entry) = state.responses.get(&id) else {
        return json(StatusCode::NOT_FOUND, wire::response_not_found(&id));
    };
    match entry.cancel() {
        Some(response) => {
            // Billed for what it generated up to the cancel, as OpenAI bills it.
            let usage = response.get("usage").filter(|u| u.is_object()).cloned();
            state.update(entry.request_index, |r| r.usage = r.usage.take().or(usage));
            json(StatusCode::OK, response)
        }
        None => json(
            StatusCode::BAD_REQUEST,
            wire::invalid_request("Only responses created with background=true can be cancelled.", None),
        ),
    }
}

/// `stream` and `starting_after` from the query string; `None` when `starting_after` is no number.
fn stream_query(query: Option<&str>) -> Option<(bool, Option<u64>)> {
    let mut stream = false;
    let mut starting_after = None;
    for pair in query.unwrap_or_default().split('&') {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("stream", value) => stream = value == "true",
            ("starting_after", value) => starting_after = Some(value.parse().ok()?),
            _ => {}
        }
    }
    Some((stream, starting_after))
}

fn json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert("x-request-id", HeaderValue::from_static("req_stub"));
    response
}

/// `POST /v1/responses/input_tokens`: the input a create with this body would be billed for its
/// first step, as its usage will say (the words of every message and 8, the conversation it
/// continues, its images and files), generating nothing.
pub(crate) async fn count_input(
    State(state): State<Arc<StubState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refused) = authorize(&state, &headers) {
        return refused.into_response();
    }
    if state.counts_unserved.load(std::sync::atomic::Ordering::Relaxed) {
        return json(StatusCode::NOT_FOUND, wire::invalid_request("Unknown route: /responses/input_tokens.", None));
    }
    // A provider that is down counts nothing either.
    if let Some(down) = crate::http::when_down(&state) {
        return down;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return json(StatusCode::BAD_REQUEST, wire::invalid_request("The body is not JSON.", None));
    };
    let seen = match crate::attachments::read(&request) {
        Ok(seen) => seen,
        Err(refused) => return json(StatusCode::BAD_REQUEST, refused),
    };
    let earlier = match crate::http::earlier_tokens(&state, &request) {
        Ok(tokens) => tokens,
        Err(refused) => return json(StatusCode::BAD_REQUEST, refused),
    };
    let messages = wire::input_messages(&request).unwrap_or_default();
    let words: u64 = messages.iter().map(|(_, text)| wire::words(text)).sum();
    state.count_asked();
    json(
        StatusCode::OK,
        serde_json::json!({"object": "response.input_tokens", "input_tokens": words + 8 + earlier + seen.tokens}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_says_whether_to_stream_and_from_where() {
        assert_eq!(stream_query(None), Some((false, None)));
        assert_eq!(stream_query(Some("stream=true&starting_after=7")), Some((true, Some(7))));
        assert_eq!(stream_query(Some("stream=false")), Some((false, None)));
        assert_eq!(stream_query(Some("stream=true&starting_after=x")), None);
    }
}


use std::sync::Arc;
use std::time::Duration;

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use crate::scenario::{Failure, Scenario};
use crate::wire::{self, Ids, Sequence};
use crate::{RecordedRequest, StubState, reply};

/// The stand-in's routes: the Responses API, and a log of what it saw for tests and tools.
pub fn router(state: Arc<StubState>) -> Router {
    Router::new()
        .route("/v1/responses", post(create_response))
        .route("/responses", post(create_response))
        .route("/__stub/requests", get(|State(state): State<Arc<StubState>>| async move { Json(state.requests()) }))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

fn error(status: u16, scenario: &Scenario, key: Option<&str>) -> Response {
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

async fn create_response(State(state): State<Arc<StubState>>, headers: HeaderMap, body: Bytes) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let plain = Scenario::default();
    let Some(presented) = presented else { return error(401, &plain, None) };
    let expected = state.expected_key.read().map(|k| k.clone()).unwrap_or(None);
    if expected.as_deref().is_some_and(|k| k != presented) {
        return error(401, &plain, Some(presented));
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else { return error(400, &plain, None) };
    let (Some(model), Some(input)) = (request["model"].as_str(), request["input"].as_str()) else {
        return error(400, &plain, None);
    };
    let scenario = Scenario::parse(input);
    let stream = request["stream"].as_bool().unwrap_or(false);
    let index = state.record(RecordedRequest {
        input: input.to_owned(),
        stream,
        previous_response_id: request["previous_response_id"].as_str().map(str::to_owned),
        safety_identifier: request["safety_identifier"].as_str().map(str::to_owned),
        model: model.to_owned(),
        started_ms: state.now_ms(),
        closed_ms: None,
        deltas_sent: 0,
        finished: false,
    });
    if scenario.hang_headers {
        std::future::pending::<()>().await;
    }
    if let Some(status) = scenario.status {
        if state.should_fail(input, scenario.times) {
            state.update(index, |r| r.closed_ms = Some(state.now_ms()));
            return error(status, &scenario, Some(presented));
        }
    }
    let ids = Ids::new(index as u64 + 1);
    let deltas = reply::deltas(input, &scenario);
    let failure_message = wire::leak("The server had an error while processing your request.".into(), &scenario, Some(presented));
    if stream {
        streamed(state, index, request, scenario, ids, deltas, failure_message)
    } else {
        buffered(state, index, &request, &scenario, &ids, &deltas).await
    }
}

async fn buffered(state: Arc<StubState>, index: usize, request: &Value, scenario: &Scenario, ids: &Ids, deltas: &[String]) -> Response {
    let pause = scenario.delay.unwrap_or(state.delta_delay);
    tokio::time::sleep(scenario.first_delay.unwrap_or_default() + pause * deltas.len() as u32).await;
    if scenario.hang {
        std::future::pending::<()>().await;
    }
    let text = deltas.concat();
    let mut output = Vec::new();
    if scenario.reasoning {
        output.push(wire::reasoning_item(ids));
    }
    output.push(wire::message_item(ids, Some(&text)));
    let usage = wire::usage(request["input"].as_str().unwrap_or_default(), deltas.len(), scenario.reasoning);
    let mut response = wire::response(ids, request, "completed", output, Some(usage));
    match scenario.failure {
        Some(Failure::Failed) => {
            response["status"] = json!("failed");
            response["output"] = json!([]);
            response["error"] = json!({"code": "server_error", "message": "The model failed to generate a response."});
        }
        Some(Failure::Incomplete) => {
            response["status"] = json!("incomplete");
            response["incomplete_details"] = json!({"reason": "max_output_tokens"});
        }
        Some(Failure::Drop) => {
            let broken = futures_util::stream::iter([Err::<Bytes, _>(std::io::Error::other("dropped"))]);
            return Body::from_stream(broken).into_response();
        }
        Some(Failure::Malformed) => return (StatusCode::OK, "{not json").into_response(),
        Some(Failure::ErrorFlat | Failure::ErrorNested) => return error(500, scenario, None),
        None => {}
    }
    state.update(index, |r| {
        r.deltas_sent = deltas.len();
        r.finished = true;
        r.closed_ms = Some(state.now_ms());
    });
    let mut response = Json(response).into_response();
    response.headers_mut().insert("x-request-id", HeaderValue::from_static("req_stub"));
    response
}

/// Marks the request's connection closed when the body is dropped, finished or not.
struct CloseGuard {
    state: Arc<StubState>,
    index: usize,
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        let now = self.state.now_ms();
        self.state.update(self.index, |r| r.closed_ms = Some(now));
    }
}

fn streamed(state: Arc<StubState>, index: usize, request: Value, scenario: Scenario, ids: Ids, deltas: Vec<String>, failure_message: String) -> Response {
    let pause = scenario.delay.unwrap_or(state.delta_delay);
    let body = async_stream::stream! {
        let _guard = CloseGuard { state: state.clone(), index };
        let mut seq = Sequence::default();
        let input = request["input"].as_str().unwrap_or_default().to_owned();
        let in_progress = wire::response(&ids, &request, "in_progress", vec![], None);
        yield Ok::<_, std::io::Error>(Bytes::from(wire::sse(&seq.event("response.created", json!({"response": in_progress}))) + &wire::sse(&seq.event("response.in_progress", json!({"response": in_progress})))));
        if scenario.hang {
            std::future::pending::<()>().await;
        }
        let mut output_index = 0;
        let mut output = Vec::new();
        if scenario.reasoning {
            let item = wire::reasoning_item(&ids);
            yield Ok(Bytes::from(wire::sse(&seq.event("response.output_item.added", json!({"output_index": 0, "item": item})))));
            tokio::time::sleep(Duration::from_millis(20)).await;
            yield Ok(Bytes::from(wire::sse(&seq.event("response.output_item.done", json!({"output_index": 0, "item": item})))));
            output.push(item);
            output_index = 1;
        }
        let item_id = ids.message.clone();
        let mut head = wire::sse(&seq.event("response.output_item.added", json!({"output_index": output_index, "item": wire::message_item(&ids, None)})));
        head += &wire::sse(&seq.event("response.content_part.added", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}})));
        yield Ok(Bytes::from(head));
        if let Some(first) = scenario.first_delay {
            tokio::time::sleep(first).await;
        }
        for (i, delta) in deltas.iter().enumerate() {
            if let Some(failure) = scenario.failure.filter(|_| i == scenario.after) {
                match failure {
                    Failure::Drop => {
                        // Let what was sent reach the client first, as on a real network.
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        yield Err(std::io::Error::other("connection dropped on purpose"));
                        return;
                    }
                    Failure::Malformed => yield Ok(Bytes::from_static(b"event: response.output_text.delta\ndata: {\"type\": \"response.output_text.delta\", \"delta\": \n\n")),
                    Failure::ErrorFlat => yield Ok(Bytes::from(wire::sse(&seq.event("error", json!({"code": "server_error", "message": failure_message, "param": null}))))),
                    Failure::ErrorNested => yield Ok(Bytes::from(wire::sse(&seq.event("error", json!({"error": {"type": "server_error", "code": "server_error", "message": failure_message, "param": null}}))))),
                    Failure::Failed => {
                        let mut failed = wire::response(&ids, &request, "failed", vec![], None);
                        failed["error"] = json!({"code": "server_error", "message": "The model failed to generate a response."});
                        yield Ok(Bytes::from(wire::sse(&seq.event("response.failed", json!({"response": failed})))));
                    }
                    Failure::Incomplete => {
                        let text = deltas[..i].concat();
                        let mut cut = wire::response(&ids, &request, "incomplete", vec![wire::message_item(&ids, Some(&text))], Some(wire::usage(&input, i, scenario.reasoning)));
                        cut["incomplete_details"] = json!({"reason": "max_output_tokens"});
                        yield Ok(Bytes::from(wire::sse(&seq.event("response.incomplete", json!({"response": cut})))));
                    }
                }
                if scenario.done {
                    yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
                }
                state.update(index, |r| r.finished = true);
                return;
            }
            if i > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let event = seq.event("response.output_text.delta", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "delta": delta, "logprobs": [], "obfuscation": "stub"}));
            yield Ok(Bytes::from(wire::sse(&event)));
            state.update(index, |r| r.deltas_sent = i + 1);
        }
        let text = deltas.concat();
        let message = wire::message_item(&ids, Some(&text));
        let mut tail = wire::sse(&seq.event("response.output_text.done", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "text": text, "logprobs": []})));
        tail += &wire::sse(&seq.event("response.content_part.done", json!({"item_id": item_id, "output_index": output_index, "content_index": 0, "part": message["content"][0]})));
        tail += &wire::sse(&seq.event("response.output_item.done", json!({"output_index": output_index, "item": message})));
        output.push(message);
        let done = wire::response(&ids, &request, "completed", output, Some(wire::usage(&input, deltas.len(), scenario.reasoning)));
        tail += &wire::sse(&seq.event("response.completed", json!({"response": done})));
        if scenario.done {
            tail += "data: [DONE]\n\n";
        }
        yield Ok(Bytes::from(tail));
        state.update(index, |r| r.finished = true);
    };
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert("x-request-id", HeaderValue::from_static("req_stub"));
    headers.insert("openai-processing-ms", HeaderValue::from_static("42"));
    response
}


use std::sync::Arc;

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::background::Entry;
use crate::events::{self, Answer, Frame};
use crate::http::{CloseGuard, authorize, error, sse_response};
use crate::scenario::{Failure, Scenario};
use crate::wire::{self, Ids};
use crate::{RecordedRequest, StubState, reply, responses};

/// The stand-in's routes: the Responses API, and a log of what it saw for tests and tools.
pub fn router(state: Arc<StubState>) -> Router {
    Router::new()
        .route("/v1/responses", post(create_response))
        .route("/responses", post(create_response))
        .route("/v1/responses/input_tokens", post(responses::count_input))
        .route("/responses/input_tokens", post(responses::count_input))
        .route("/v1/responses/{id}", get(responses::retrieve))
        .route("/responses/{id}", get(responses::retrieve))
        .route("/v1/models/{id}", get(crate::models::retrieve))
        .route("/models/{id}", get(crate::models::retrieve))
        .route("/v1/responses/{id}/cancel", post(responses::cancel))
        .route("/responses/{id}/cancel", post(responses::cancel))
        .route("/__stub/requests", get(|State(state): State<Arc<StubState>>| async move { Json(state.requests()) }))
        .route("/__stub/cancels", get(|State(state): State<Arc<StubState>>| async move { Json(state.cancels()) }))
        .route("/__stub/retrieves", get(|State(state): State<Arc<StubState>>| async move { Json(state.retrieves()) }))
        // Every answer gone, as OpenAI forgets them: a follow-up then gets previous_response_not_found.
        .route(
            "/__stub/forget",
            post(|State(state): State<Arc<StubState>>| async move {
                state.forget_responses();
                "forgotten"
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

async fn create_response(State(state): State<Arc<StubState>>, headers: HeaderMap, body: Bytes) -> Response {
    let presented = match authorize(&state, &headers) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let plain = Scenario::default();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else { return error(400, &plain, None) };
    let messages = wire::input_messages(&request).unwrap_or_default();
    let outputs = crate::functions::outputs(&request);
    let approvals = crate::mcp::responses(&request);
    // Results or approvals alone are a turn too: the answer reads them back.
    let question = wire::last_user_text(&messages)
        .map(str::to_owned)
        .or_else(|| (!outputs.is_empty()).then(|| crate::functions::answer_to(&outputs)))
        .or_else(|| (!approvals.is_empty()).then(|| crate::mcp::answer_to(&approvals)));
    let (Some(model), Some(question)) = (request["model"].as_str(), question) else {
        return error(400, &plain, None);
    };
    let input = question.as_str();
    // Images and files OpenAI cannot read are refused before anything is generated.
    let seen = match crate::attachments::read(&request) {
        Ok(seen) => seen,
        Err(refused) => return (StatusCode::BAD_REQUEST, Json(refused)).into_response(),
    };
    // A follow-up is billed for the whole conversation it continues, as OpenAI bills it (after a
    // compaction, the compacted conversation).
    let threshold = request["context_management"][0]["compact_threshold"].as_u64();
    let earlier_tokens = match crate::http::earlier_tokens(&state, &request) {
        Ok(tokens) => tokens,
        Err(refused) => return (StatusCode::BAD_REQUEST, Json(refused)).into_response(),
    };
    let previous = request["previous_response_id"].as_str().and_then(|id| state.responses.get(id));
    let previous = previous.map(|entry| entry.snapshot());
    let checked = crate::functions::check_outputs(previous.as_ref(), &outputs)
        .and_then(|()| crate::mcp::check_responses(previous.as_ref(), &approvals));
    if let Err(refused) = checked {
        return (StatusCode::BAD_REQUEST, Json(refused)).into_response();
    }
    let mut scenario = Scenario::parse(&state.with_every_answer(input));
    if let Some(failure) = *state.failing_in_stream.lock().unwrap_or_else(|e| e.into_inner()) {
        // A moment after `response.created`, as OpenAI fails an answer it has named.
        (scenario.failure, scenario.after) = (Some(failure), 0);
        scenario.first_delay = Some(std::time::Duration::from_millis(50));
    }
    let stream = request["stream"].as_bool().unwrap_or(false);
    let background = request["background"].as_bool().unwrap_or(false);
    let index = state.record(RecordedRequest {
        input: input.to_owned(),
        messages,
        stream,
        previous_response_id: request["previous_response_id"].as_str().map(str::to_owned),
        safety_identifier: request["safety_identifier"].as_str().map(str::to_owned),
        prompt_cache_key: request["prompt_cache_key"].as_str().map(str::to_owned),
        reasoning_effort: request["reasoning"]["effort"].as_str().map(str::to_owned),
        reasoning_summary: request["reasoning"]["summary"].as_str().map(str::to_owned),
        reasoning_context: request["reasoning"]["context"].as_str().map(str::to_owned),
        store: request["store"].as_bool(),
        compact_threshold: request["context_management"][0]["compact_threshold"].as_u64(),
        model: model.to_owned(),
        background,
        started_ms: state.now_ms(),
        closed_ms: None,
        deltas_sent: 0,
        finished: false,
        service_tier: request["service_tier"].as_str().map(str::to_owned),
        usage: None,
        web_searches: 0,
        tools: wire::tool_names(&request),
        function_outputs: outputs.clone(),
        mcp_authorizations: wire::mcp_authorizations(&request),
        images: seen.images,
        files: seen.files,
    });
    if let Some(down) = crate::http::when_down(&state) {
        state.update(index, |r| r.closed_ms = Some(state.now_ms()));
        return down;
    }
    let refuse = |status: StatusCode, body: Value| {
        state.update(index, |r| r.closed_ms = Some(state.now_ms()));
        (status, Json(body)).into_response()
    };
    if crate::models::is_gone(model, &state.today()) {
        return refuse(StatusCode::NOT_FOUND, crate::models::model_not_found(model));
    }
    let asked_reasoning =
        ["effort", "summary", "context"].into_iter().find(|field| !request["reasoning"][*field].is_null());
    if let (Some(field), false) = (asked_reasoning, crate::models::takes_reasoning(model)) {
        return refuse(StatusCode::BAD_REQUEST, wire::unsupported_reasoning(&format!("reasoning.{field}")));
    }
    if let Some(refused) = request["reasoning"]["effort"].as_str().and_then(|e| crate::models::refused_effort(model, e))
    {
        return refuse(StatusCode::BAD_REQUEST, refused);
    }
    if let Some(refused) = request["service_tier"].as_str().and_then(|t| crate::models::refused_tier(model, t)) {
        return refuse(StatusCode::BAD_REQUEST, refused);
    }
    // The turn that crosses the threshold compacts: it reads (and is billed for) the whole
    // conversation, and answers from what is left under the threshold; past the model's window
    // without compaction, the conversation is refused, as OpenAI refuses it.
    let compacted = threshold.filter(|t| earlier_tokens > *t).is_some();
    let context = threshold.filter(|_| compacted).map_or(earlier_tokens, |t| earlier_tokens.min(t));
    if let Some(window) = state.context_window()
        && context + wire::words(&question) + 8 > window
    {
        return refuse(StatusCode::BAD_REQUEST, wire::context_length_exceeded(window));
    }
    if !request["reasoning"]["summary"].is_null() && state.refuse_summaries.load(std::sync::atomic::Ordering::Relaxed) {
        return refuse(StatusCode::BAD_REQUEST, wire::summary_needs_verification());
    }
    // A summary comes only when one is asked for, as upstream.
    let summary =
        if request["reasoning"]["summary"].is_string() { reply::summary_parts(&scenario) } else { Vec::new() };
    if let Some(status) = scenario.status
        && state.should_fail(input, scenario.times)
    {
        state.update(index, |r| r.closed_ms = Some(state.now_ms()));
        return error(status, &scenario, Some(&presented));
    }
    let raw = reply::raw_parts(&scenario);
    let searches = wire::searches(&request, scenario.search);
    state.update(index, |r| r.web_searches = searches);
    let calls = crate::functions::calls(&request, scenario.call, index as u64 + 1);
    let asks = crate::mcp::approval_requests(&request, scenario.approval, index as u64 + 1);
    let mcp_items = if asks.is_empty() { crate::mcp::approved_calls(&request, &approvals) } else { asks };
    // An answer that calls functions or asks approvals says nothing more unless told to.
    let waits = !calls.is_empty() || mcp_items.iter().any(|item| item["type"] == "mcp_approval_request");
    let deltas = if !waits || scenario.echo.is_some() { reply::deltas(input, &scenario) } else { Vec::new() };
    let answer = Arc::new(Answer {
        searches,
        calls,
        mcp_items,
        attachment_tokens: seen.tokens,
        ids: Ids::new(index as u64 + 1),
        deltas,
        failure_message: wire::leak(
            "The server had an error while processing your request.".into(),
            &scenario,
            Some(&presented),
        ),
        pause: scenario.delay.unwrap_or(state.delta_delay),
        scenario,
        background,
        earlier_tokens,
        summary,
        raw,
        compacted,
        request,
    });
    if answer.scenario.hang_headers {
        // The question arrived: OpenAI answers it whole and bills it, though no headers come.
        state.update(index, |r| {
            r.usage = Some(answer.usage(answer.deltas.len()));
            r.finished = true;
        });
        std::future::pending::<()>().await;
    }
    match (background, stream) {
        (true, _) => responses::create_background(state, index, answer, stream),
        (false, true) => streamed(state, index, answer),
        (false, false) => buffered(state, index, answer).await,
    }
}

async fn buffered(state: Arc<StubState>, index: usize, answer: Arc<Answer>) -> Response {
    // A buffered answer is generated to its end, and billed, whether its caller waits or not.
    let _billed = Billing { state: state.clone(), index, answer: answer.clone(), whole: true };
    let (scenario, deltas) = (&answer.scenario, &answer.deltas);
    tokio::time::sleep(
        scenario.think.unwrap_or_default()
            + scenario.first_delay.unwrap_or_default()
            + answer.pause * deltas.len() as u32,
    )
    .await;
    if scenario.hang {
        std::future::pending::<()>().await;
    }
    let text = deltas.concat();
    let mut output = answer.output_before_message();
    if answer.has_message() {
        output.push(answer.message(&text));
    }
    output.extend(answer.calls.iter().cloned());
    let mut response = answer.response("completed", output, Some(answer.usage(deltas.len())));
    match scenario.failure {
        Some(Failure::Failed) => {
            response["status"] = json!("failed");
            response["output"] = json!([]);
            response["error"] = wire::model_failure();
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
        Some(Failure::Stall) => std::future::pending::<()>().await,
        Some(Failure::ErrorFlat | Failure::ErrorNested) => return error(500, scenario, None),
        None => {}
    }
    state.update(index, |r| {
        r.deltas_sent = deltas.len();
        r.finished = true;
        r.closed_ms = Some(state.now_ms());
        r.usage = response.get("usage").cloned();
    });
    state.responses.insert(Entry::ended(answer.clone(), index, response.clone()));
    let mut response = Json(response).into_response();
    response.headers_mut().insert("x-request-id", HeaderValue::from_static("req_stub"));
    response
}

/// A plain stream: the answer's events straight onto this connection, which ends with them.
fn streamed(state: Arc<StubState>, index: usize, answer: Arc<Answer>) -> Response {
    let guard = CloseGuard { state: state.clone(), index };
    let frames = async_stream::stream! {
        // A plain stream whose connection closes stops, billed for what it generated.
        let _billed = Billing { state: state.clone(), index, answer: answer.clone(), whole: false };
        let mut generated = std::pin::pin!(events::generate(answer.clone()));
        let mut ended = None;
        while let Some(batch) = generated.next().await {
            let deltas = batch.iter().filter(|frame| frame.kind() == "response.output_text.delta").count();
            ended = batch.iter().find_map(terminal_response).or(ended);
            yield batch;
            // Counted once the batch was written: the body asks for the next one only then.
            if deltas > 0 {
                state.update(index, |r| r.deltas_sent += deltas);
            }
        }
        let usage = ended.as_ref().and_then(|response| response.get("usage").cloned());
        state.update(index, |r| {
            r.finished = true;
            r.usage = usage;
        });
        if let Some(response) = ended {
            state.responses.insert(Entry::ended(answer.clone(), index, response));
        }
    };
    sse_response(frames, Some(guard))
}

/// Bills an answer that ends without a final usage (its connection closed, its caller left):
/// OpenAI bills what it generated, read or not; a buffered answer is generated whole.
struct Billing {
    state: Arc<StubState>,
    index: usize,
    answer: Arc<Answer>,
    whole: bool,
}

impl Drop for Billing {
    fn drop(&mut self) {
        let whole = self.whole.then_some(self.answer.deltas.len());
        self.state.update(self.index, |r| {
            if r.usage.is_none() {
                r.usage = Some(self.answer.usage(whole.unwrap_or(r.deltas_sent)));
            }
        });
    }
}

/// The response object a `response.completed`, `.incomplete` or `.failed` event carries.
fn terminal_response(frame: &Frame) -> Option<Value> {
    let Frame::Event(event) = frame else { return None };
    matches!(frame.kind(), "response.completed" | "response.incomplete" | "response.failed")
        .then(|| event["response"].clone())
}

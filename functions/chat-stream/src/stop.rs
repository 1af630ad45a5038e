//! `POST /stop` with `{"response_id": "..."}`: cancels a background answer upstream. The
//! invocation streaming it then ends with `stopped` and `end`, and settles what it used.

use chat_core::ApiError;
use lambda_http::{Request, Response, http::header};
use openai_client::ResponsesClient;
use serde_json::json;
use shared::{Outcome, RequestSummary};
use spend::Gate;

use crate::response::{SseBody, failure, json_response};

pub async fn handle(client: &ResponsesClient, gate: &Gate, request: Request) -> Response<SseBody> {
    let mut summary = RequestSummary::start("chat-stream", shared::request_id(&request), client.config());
    match stop(client, gate, &request, &mut summary).await {
        Ok(body) => {
            summary.outcome = Outcome::Completed;
            drop(summary);
            let response = Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CACHE_CONTROL, "no-store")
                .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
                .body(body.to_string())
                .unwrap_or_default();
            json_response(response)
        }
        Err(error) => failure(error, None, summary),
    }
}

/// Checks who asks and whose answer it is, then cancels it: `{"stopped", "status", "usage"}`.
async fn stop(
    client: &ResponsesClient,
    gate: &Gate,
    request: &Request,
    summary: &mut RequestSummary,
) -> Result<serde_json::Value, ApiError> {
    if request.method() != lambda_http::http::Method::POST {
        return Err(ApiError::MethodNotAllowed { method: request.method().to_string(), allow: ApiError::ALLOW_STOP });
    }
    // A stop takes a request slot like any other: each one costs calls to OpenAI.
    let caller = gate.enter(request).await?.caller;
    if !client.config().resumable {
        return Err(ApiError::StopUnavailable);
    }
    let id = shared::request::stop_target(request)?;
    summary.response_id = Some(id.clone());
    let deadline = client.deadline(shared::lambda_deadline(request));
    let answer = client.retrieve(&id, deadline).await?;
    // Someone else's answer is reported as no answer at all: ids are not to be probed.
    if !client.owns(&caller, &answer).await? {
        return Err(ApiError::ResponseNotFound);
    }
    // A finished answer has nothing left to stop (and one not made in background mode, such as
    // chat-complete's, cannot be cancelled): saying so is the harmless answer.
    let stopped = if answer.is_finished() {
        answer
    } else {
        let stopped = client.cancel(&id, deadline).await?;
        summary.upstream_status = Some(200);
        stopped
    };
    Ok(json!({ "stopped": id, "status": stopped.status, "usage": stopped.usage }))
}

//! The AI SDK's `WorkflowChatTransport`: an answer names its run (`x-workflow-run-id`, a signed
//! token of the response and its caller), and `GET .../{run id}/stream?startIndex=N` continues
//! it from UI chunk N. The answer is streamed again from its first event (no new model call), so
//! the chunks are numbered as the first time and the N the client already has are not sent.
//!
//! The same route answers the AI SDK's `resume: true`, `GET .../{chat id}/stream`: an id without
//! a dot is a chat id (see `chats`), whose running answer is replayed from its start, or 204.

use chat_core::ApiError;
use futures_util::StreamExt;
use lambda_http::http::HeaderValue;
use lambda_http::{Request, Response};
use openai_client::{ResponseStream, ResponsesClient, UpstreamEvent};
use shared::RequestSummary;
use shared::ui_chat::{RUN_ID_HEADER, TAIL_INDEX_HEADER};
use spend::Gate;

use crate::dialect::{Dialect, UiMessageStream};
use crate::relay::{Start, relay};
use crate::response::{SseBody, failure, sse_response};
use crate::settlement::Holding;

/// Reads the answer's first event: when it names the answer, the run id of it for `caller`.
/// The event is relayed first all the same.
pub async fn named(
    client: &ResponsesClient,
    caller: &str,
    upstream: &mut ResponseStream,
) -> (Result<UpstreamEvent, ApiError>, Option<String>) {
    let first = upstream.next().await.unwrap_or(Err(ApiError::StreamCut(chat_core::Cut::Ended)));
    let run_id = match &first {
        Ok(UpstreamEvent::Created { id }) => client.signer(caller, id).await.ok().map(|signer| signer.token(0, 0)),
        _ => None,
    };
    (first, run_id)
}

/// `response` with the run's id, when the answer has one.
pub fn with_run_id(mut response: Response<SseBody>, run_id: Option<&str>) -> Response<SseBody> {
    if let Some(value) = run_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert(RUN_ID_HEADER, value);
    }
    response
}

/// The answer a run id names, from chunk `start_index` on, to the caller who asked: the same
/// checks as a resume (a request slot, the token bound to the caller), and the reservation a
/// hand-over parked taken over. A chat id names the answer that chat of the caller is running
/// (204 when none is); without `startIndex` (`DefaultChatTransport`) the stream cannot follow a
/// hand-over, so it ends with `error` at the deadline as any of that transport's answers does.
pub async fn stream_again(
    client: &ResponsesClient,
    gate: &Gate,
    request: Request,
    id: &str,
    start_index: Option<&str>,
) -> Response<SseBody> {
    let mut summary = RequestSummary::start("chat-stream", shared::request_id(&request), client.config());
    summary.resumed = true;
    if request.method() != lambda_http::http::Method::GET {
        let method = request.method().to_string();
        return failure(ApiError::MethodNotAllowed { method, allow: ApiError::ALLOW_STREAM_AGAIN }, None, summary);
    }
    // A whole number past i64 is saturated: past the end, or from the start.
    let saturated = |error: std::num::ParseIntError| match error.kind() {
        std::num::IntErrorKind::PosOverflow => Ok(i64::MAX),
        std::num::IntErrorKind::NegOverflow => Ok(i64::MIN),
        _ => Err(error),
    };
    let start_index_given = start_index.is_some();
    let start_index = match start_index.map(|text| text.parse::<i64>().or_else(saturated)) {
        None => 0,
        Some(Ok(index)) => index,
        Some(Err(_)) => {
            return failure(ApiError::BadRequest("`startIndex` must be a whole number".into()), None, summary);
        }
    };
    let by_chat = !crate::chats::is_run_id(id);
    let skip = u64::try_from(start_index).unwrap_or(0);
    let dialect = match (by_chat, start_index_given) {
        (true, false) => UiMessageStream::default(),
        _ => UiMessageStream::following(skip),
    };
    summary.protocol = dialect.protocol();
    if !by_chat && !client.config().resumable {
        let error = ApiError::ResumeTokenInvalid("this deployment does not resume answers (RESUMABLE_STREAMS=false)");
        return failure(error, None, summary);
    }
    // A run id proves the answer is the caller's, so a sign-in that expired since still names them;
    // a chat id is the client's own choice and proves nothing: a chat is found for a valid sign-in only.
    let pass = match by_chat {
        true => gate.enter(&request).await,
        false => gate.enter_to_resume(&request).await,
    };
    let caller = match pass {
        Ok(pass) => pass.caller,
        Err(error) => return failure(error, None, summary),
    };
    // Nothing runs for any chat without background mode: said after the origin and access
    // checks, as for any chat id.
    if by_chat && !client.config().resumable {
        return no_content(summary);
    }
    let deadline = client.deadline(shared::lambda_deadline(&request));
    let (response_id, chat) = match by_chat {
        true => match crate::chats::running(gate, client, &caller, id, deadline).await {
            Ok(Some((response_id, chat))) => (response_id, Some(chat)),
            Ok(None) => return no_content(summary),
            Err(error) => return failure(error, None, summary),
        },
        false => match client.verify_token(&caller, id).await {
            Ok(position) => (position.response_id, None),
            Err(error) => return failure(error, None, summary),
        },
    };
    summary.response_id = Some(response_id.clone());
    let upstream = match client.from_the_start(&response_id, deadline).await {
        Ok(upstream) => upstream,
        Err(error) => return failure(error, None, summary),
    };
    summary.upstream_status = Some(200);
    let signer = match client.signer(&caller, &response_id).await {
        Ok(signer) => signer,
        Err(error) => return failure(error, None, summary),
    };
    let holding = Holding::taken_over(gate, &response_id).await;
    summary.settles_answer = matches!(holding, Holding::Reservation(_));
    let start = Start {
        upstream,
        caller,
        signer: Some(signer),
        sequence: None,
        offset: 0,
        heard: None,
        first: None,
        question: None,
        chat,
        answer: None,
    };
    let headers = dialect.headers();
    let mut response = sse_response(relay(client, start, summary, holding, deadline, Box::new(dialect)), headers);
    if start_index < 0 {
        response.headers_mut().insert(TAIL_INDEX_HEADER, HeaderValue::from_static("-1"));
    }
    response
}

/// Nothing runs for that chat: `resume: true` shows the chat as it is.
fn no_content(mut summary: RequestSummary) -> Response<SseBody> {
    // Answered as asked (the line says 204), not a reader who left.
    (summary.status, summary.outcome) = (204, shared::Outcome::Completed);
    drop(summary);
    let mut response = crate::response::json_response(Response::new(String::new()));
    *response.status_mut() = lambda_http::http::StatusCode::NO_CONTENT;
    response
}

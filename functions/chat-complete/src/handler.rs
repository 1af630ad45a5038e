use chat_core::ApiError;
use lambda_http::{Body, Error, Request, Response, http::header};
use openai_client::ResponsesClient;
use serde_json::json;
use shared::{Outcome, RequestSummary};
use spend::Gate;

/// Answers `GET ?message=` or `POST {"message"}` with `{"data": "<the whole answer>"}`.
pub async fn handle(client: &ResponsesClient, gate: &Gate, request: Request) -> Result<Response<Body>, Error> {
    let mut summary = RequestSummary::start("chat-complete", shared::request_id(&request), client.config());
    let mut chat = match shared::request::chat_request(&request, client.config().max_message_bytes) {
        Ok(chat) => chat,
        Err(error) => return Ok(failure(&error, summary)),
    };
    let deadline = client.deadline(shared::lambda_deadline(&request));
    let mut admission = match shared::admit::admit(gate, client, &request, &mut chat, None, deadline).await {
        Ok(admission) => {
            summary.admitted();
            admission
        }
        Err(error) => return Ok(failure(&error, summary)),
    };
    let completion = match client.create_within(&chat, deadline, &mut admission).await {
        Ok(completion) => completion,
        Err(error) => {
            if error.before_the_model() {
                admission.release().await;
            }
            return Ok(failure(&error, summary));
        }
    };
    let price = client.provider(completion.from_fallback).config().price();
    admission.settle(completion.usage.as_ref().map(openai_client::types::Usage::billed), price).await;
    summary.upstream_status = Some(200);
    summary.retries = completion.retries;
    summary.usage = completion.usage;
    summary.answered_by(&completion.model, completion.from_fallback);
    summary.text_sent(&completion.text);
    summary.outcome = if completion.incomplete_reason.is_some() { Outcome::Incomplete } else { Outcome::Completed };
    let mut body = serde_json::Map::new();
    body.insert("data".into(), json!(completion.text));
    body.insert("response_id".into(), json!(completion.id));
    body.insert("model".into(), json!(completion.model));
    if let Some(reasoning) = completion.reasoning {
        body.insert("reasoning".into(), json!(reasoning));
    }
    if let Some(reason) = completion.incomplete_reason {
        body.insert("incomplete_reason".into(), json!(reason));
    }
    if !completion.sources.is_empty() {
        for source in &completion.sources {
            summary.cited(&source.url);
        }
        body.insert("sources".into(), json!(completion.sources));
    }
    if !completion.function_calls.is_empty() {
        summary.function_calls = u32::try_from(completion.function_calls.len()).unwrap_or(u32::MAX);
        body.insert("tool_calls".into(), json!(completion.function_calls));
    }
    if !completion.approval_requests.is_empty() {
        body.insert("approvals".into(), json!(completion.approval_requests));
    }
    let body = serde_json::Value::Object(body);
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::Text(body.to_string()))?)
}

fn failure(error: &ApiError, mut summary: RequestSummary) -> Response<Body> {
    summary.failed(error, true);
    error.to_response::<String>(&summary.request_id).map(Body::Text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_harness::{TestUpstream, get_request, post_request};

    async fn call(upstream: &TestUpstream, request: Request) -> (u16, serde_json::Value) {
        let response = handle(&upstream.client, &upstream.gate, request).await.unwrap();
        let status = response.status().as_u16();
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("unexpected body {other:?}"),
        };
        (status, body)
    }

    #[tokio::test]
    async fn answers_with_the_whole_text_through_the_stand_in() {
        let upstream = TestUpstream::start().await;
        let (status, body) = call(&upstream, get_request("/stub reasoning echo Hello, world!")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], "Hello, world!");
        assert!(body["response_id"].as_str().unwrap().starts_with("resp_"));
        let (status, body) = call(&upstream, post_request(r#"{"message":"/stub echo posted"}"#)).await;
        assert_eq!((status, body["data"].as_str()), (200, Some("posted")));
        assert_eq!(upstream.stub.requests().len(), 2);
        assert!(upstream.stub.requests().iter().all(|r| !r.stream));
    }

    #[tokio::test]
    async fn a_reasoning_model_s_summary_comes_beside_the_answer() {
        let upstream = TestUpstream::start_with(&[("OPENAI_MODEL", "gpt-5-mini")]).await;
        let (status, body) = call(&upstream, get_request("/stub summary=tricky echo The answer")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], "The answer");
        assert_eq!(
            body["reasoning"],
            openai_stub::reply::summary_text(&openai_stub::scenario::Scenario::parse("/stub summary=tricky"))
        );
        assert_eq!(upstream.stub.requests()[0].reasoning_summary.as_deref(), Some("auto"));
        // No summary asked for, none given: the field is absent, not empty.
        let plain = TestUpstream::start_with(&[("OPENAI_MODEL", "gpt-4o-mini")]).await;
        let (status, body) = call(&plain, get_request("/stub summary=tricky echo The answer")).await;
        assert_eq!((status, body.get("reasoning")), (200, None), "{body}");
        assert_eq!(plain.stub.requests()[0].reasoning_summary, None, "gpt-4o-mini is sent no reasoning parameter");
    }

    #[tokio::test]
    async fn missing_and_blank_messages_are_400_without_calling_upstream() {
        let upstream = TestUpstream::start().await;
        for query in ["", "message=", "message=%20%20"] {
            let request = test_harness::get_raw_request(query);
            let (status, body) = call(&upstream, request).await;
            assert_eq!(status, 400, "{query}");
            assert!(body["detail"].as_str().unwrap().contains("message"), "{body}");
        }
        assert!(upstream.stub.requests().is_empty());
    }

    #[tokio::test]
    async fn upstream_errors_map_to_statuses_with_details() {
        let upstream = TestUpstream::start().await;
        let (status, body) = call(&upstream, get_request("/stub status=400")).await;
        assert_eq!(status, 502);
        // OpenAI's own words stay in the log.
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("OpenAI rejected the request") && !detail.contains("Invalid value"), "{body}");
        let (status, _) = call(&upstream, get_request("/stub status=429 code=insufficient_quota")).await;
        assert_eq!(status, 503);
        let (status, body) = call(&upstream, get_request("/stub incomplete")).await;
        assert_eq!((status, body["incomplete_reason"].as_str()), (200, Some("max_output_tokens")));
    }
}

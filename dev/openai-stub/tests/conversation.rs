//! Conversations, billed as OpenAI bills them: a follow-up's input is the whole conversation
//! it continues (the previous response's input and output) plus its own, and an unknown
//! `previous_response_id` is OpenAI's 400.

mod support;

use openai_stub::StubServer;
use serde_json::json;
use support::post;

#[tokio::test]
async fn a_follow_up_is_billed_for_the_conversation_it_continues() {
    let stub = StubServer::start().await.expect("stub");
    let first =
        post(stub.addr, "/v1/responses", &json!({ "model": "gpt-4o-mini", "input": "/stub deltas=4 one two three" }))
            .await
            .json();
    assert_eq!(
        (first["usage"]["input_tokens"].as_u64(), first["usage"]["output_tokens"].as_u64()),
        (Some(5 + 8), Some(4))
    );
    let body = json!({ "model": "gpt-4o-mini", "input": "/stub deltas=2 and", "previous_response_id": first["id"] });
    let second = post(stub.addr, "/v1/responses", &body).await.json();
    assert_eq!(second["usage"]["input_tokens"].as_u64(), Some(13 + 4 + 3 + 8), "{second}");
    let body = json!({ "model": "gpt-4o-mini", "input": "/stub deltas=2 again", "previous_response_id": second["id"] });
    let third = post(stub.addr, "/v1/responses", &body).await.json();
    assert_eq!(third["usage"]["input_tokens"].as_u64(), Some(28 + 2 + 3 + 8), "every earlier turn again: {third}");
    let history = json!({ "model": "gpt-4o-mini", "input": [{"role": "user", "content": "a b c"}, {"role": "assistant", "content": "d e"}, {"role": "user", "content": "/stub deltas=1"}] });
    assert_eq!(
        post(stub.addr, "/v1/responses", &history).await.json()["usage"]["input_tokens"].as_u64(),
        Some(3 + 2 + 2 + 8),
        "a history sent whole"
    );
    let unknown = post(
        stub.addr,
        "/v1/responses",
        &json!({ "model": "gpt-4o-mini", "input": "hi", "previous_response_id": "resp_nope" }),
    )
    .await;
    assert_eq!((unknown.status, unknown.json()["error"]["code"].as_str()), (400, Some("previous_response_not_found")));
}

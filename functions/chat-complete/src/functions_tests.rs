//! The caller's own functions through the handler: the tools sent beside the owner's, the
//! calls returned as `tool_calls`, and the results sent back as a follow-up, checked against
//! the answer they follow, as OpenAI checks them (the stand-in refuses what OpenAI refuses).

use lambda_http::Body;
use serde_json::{Value, json};
use test_harness::{TestUpstream, post_request};

use crate::handler::handle;

async fn post(upstream: &TestUpstream, body: Value) -> (u16, Value) {
    let response = handle(&upstream.client, &upstream.gate, post_request(&body.to_string())).await.expect("handled");
    let Body::Text(text) = response.body() else { panic!("a text body") };
    (response.status().as_u16(), serde_json::from_str(text).expect("JSON"))
}

fn weather() -> Value {
    json!({
        "type": "function",
        "name": "get_weather",
        "description": "Today's weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    })
}

#[tokio::test]
async fn a_function_round_trip_calls_then_reads_the_results() {
    let upstream = TestUpstream::start_with(&[("OPENAI_TOOLS", r#"[{"type":"web_search"}]"#)]).await;
    let (status, body) = post(&upstream, json!({"message": "/stub call=2", "tools": [weather()]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], "", "an answer of calls alone has no text: {body}");
    let calls = body["tool_calls"].as_array().expect("tool_calls");
    assert_eq!(calls.len(), 2, "{body}");
    assert_eq!(calls[0]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(calls[0]["arguments"].as_str().unwrap()).expect("JSON arguments");
    assert_eq!(arguments, json!({"city": "city 0"}));
    let asked = &upstream.stub.requests()[0];
    assert_eq!(asked.tools, ["web_search", "function:get_weather"], "the owner's tools, then the caller's");

    let outputs: Vec<Value> = calls
        .iter()
        .zip(["-3 C", "4 C"])
        .map(|(call, out)| json!({"call_id": call["call_id"], "output": out}))
        .collect();
    let follow_up = json!({"previous_response_id": body["response_id"], "tool_outputs": outputs, "tools": [weather()]});
    let (status, answer) = post(&upstream, follow_up).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"], "The tools said: -3 C | 4 C", "the results reached the model: {answer}");
    assert!(answer.get("tool_calls").is_none(), "{answer}");
    let sent = &upstream.stub.requests()[1];
    assert_eq!(sent.function_outputs.len(), 2);
    assert_eq!(sent.previous_response_id.as_deref(), body["response_id"].as_str());
}

#[tokio::test]
async fn results_that_do_not_answer_the_calls_are_refused_before_anything_is_asked() {
    let upstream = TestUpstream::start().await;
    let (_, first) = post(&upstream, json!({"message": "/stub call=2", "tools": [weather()]})).await;
    let id = first["response_id"].clone();
    let call = |n: usize| first["tool_calls"][n]["call_id"].clone();
    let cases = [
        (
            json!({"previous_response_id": id, "tool_outputs": [{"call_id": call(0), "output": "x"}]}),
            "send its output too",
        ),
        (
            json!({"previous_response_id": id, "tool_outputs": [{"call_id": call(0), "output": "x"}, {"call_id": call(1), "output": "y"}, {"call_id": "call_99", "output": "z"}]}),
            "call_99",
        ),
        (json!({"previous_response_id": id, "message": "and now?"}), "send its output too"),
        (json!({"tool_outputs": [{"call_id": call(0), "output": "x"}]}), "previous_response_id"),
    ];
    for (body, words) in cases {
        let (status, refused) = post(&upstream, body.clone()).await;
        assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_tool_outputs")), "{body}: {refused}");
        assert!(refused["detail"].as_str().unwrap().contains(words), "{body}: {refused}");
    }
    assert_eq!(upstream.stub.requests().len(), 1, "nothing refused went upstream");
    let (status, refused) = post(&upstream, json!({"message": "hi", "tools": [{"type": "web_search"}]})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_tools")), "{refused}");
}

#[tokio::test]
async fn an_owner_who_turns_caller_tools_off_gets_them_refused() {
    let upstream = TestUpstream::start_with(&[("CALLER_TOOLS", "false")]).await;
    let (status, refused) = post(&upstream, json!({"message": "/stub call=1", "tools": [weather()]})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("caller_tools_off")), "{refused}");
    assert!(upstream.stub.requests().is_empty());
    let (status, _) = post(&upstream, json!({"message": "/stub echo fine"})).await;
    assert_eq!(status, 200, "a request without tools is answered");
}

const ASKING_MCP: &str =
    r#"[{"type":"mcp","server_label":"docs","server_url":"https://mcp.example","require_approval":"always"}]"#;

#[tokio::test]
async fn an_mcp_call_waits_for_the_caller_s_yes_and_only_the_requests_made_can_be_answered() {
    let upstream = TestUpstream::start_with(&[("OPENAI_TOOLS", ASKING_MCP)]).await;
    let (status, body) = post(&upstream, json!({"message": "/stub approval=2"})).await;
    assert_eq!((status, body["data"].as_str()), (200, Some("")), "{body}");
    let asked = body["approvals"].as_array().expect("approvals");
    assert_eq!(asked.len(), 2, "{body}");
    assert_eq!((asked[0]["server_label"].as_str(), asked[0]["name"].as_str()), (Some("docs"), Some("lookup")));
    assert_eq!(asked[1]["arguments"], r#"{"query":"item 1"}"#);
    let id = |n: usize| asked[n]["approval_request_id"].clone();
    let unknown = json!({"previous_response_id": body["response_id"], "approvals": [{"approval_request_id": "mcpr_99", "approve": true}]});
    let (status, refused) = post(&upstream, unknown).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_approvals")), "{refused}");
    let answer = json!({"previous_response_id": body["response_id"], "approvals": [{"approval_request_id": id(0), "approve": true}, {"approval_request_id": id(1), "approve": false}]});
    let (status, read) = post(&upstream, answer).await;
    assert_eq!(status, 200, "{read}");
    let expected = format!("The MCP server: ran {} | not allowed {}", id(0).as_str().unwrap(), id(1).as_str().unwrap());
    assert_eq!(read["data"].as_str(), Some(expected.as_str()));
    assert_eq!(upstream.stub.requests().len(), 2, "the unknown request was refused here");
    assert_eq!(upstream.stub.requests()[1].tools, ["mcp"], "the server is sent again with the answers");
}

//! The caller's own functions through `handle` against the stand-in: `event: tool_call` after
//! the text, a resume (live or from the stored answer) that sends exactly the calls not yet
//! read, the results sent back as a follow-up, and the AI SDK's round trip (`tool-input-*`,
//! `finish` with `tool-calls`, then the client's message with the outputs).

use http_body_util::BodyExt;
use lambda_http::Request;
use serde_json::{Value, json};
use test_harness::{BrowserEvent, TestUpstream, browser_events, message_data};

use crate::handler::handle;

fn weather() -> Value {
    json!({"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}})
}

async fn events(upstream: &TestUpstream, request: Request) -> (u16, Vec<BrowserEvent>) {
    let response = handle(&upstream.client, &upstream.gate, request).await.unwrap();
    let status = response.status().as_u16();
    let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, browser_events(&body).await)
}

fn calls(events: &[BrowserEvent]) -> Vec<Value> {
    events.iter().filter(|e| e.event == "tool_call").map(|e| serde_json::from_str(&e.data).unwrap()).collect()
}

fn resume(token: &str) -> Request {
    test_harness::request_from("203.0.113.9", "message=ignored", &[("last-event-id", token)])
}

#[tokio::test]
async fn calls_stream_after_the_text_and_a_resume_sends_exactly_the_ones_not_read() {
    let upstream = TestUpstream::start().await;
    let ask = json!({"message": "/stub call=2 echo Checking.", "tools": [weather()]});
    let (status, streamed) = events(&upstream, test_harness::post_request(&ask.to_string())).await;
    assert_eq!(status, 200, "{streamed:?}");
    let names: Vec<&str> = streamed.iter().map(|e| e.event.as_str()).filter(|n| *n != "message").collect();
    assert_eq!(names, ["start", "response", "tool_call", "tool_call", "usage", "end"]);
    assert_eq!(message_data(&streamed).concat(), "Checking.");
    let made = calls(&streamed);
    assert_eq!(made[0]["name"], "get_weather");
    assert_eq!(made[1]["arguments"], r#"{"city":"city 1"}"#, "the arguments exactly as the model wrote them");
    assert!(made[0]["call_id"] != made[1]["call_id"]);

    // From the first call's id: the second call, then the end; from the last text: both.
    let first_call = &streamed.iter().find(|e| e.event == "tool_call").unwrap().id;
    let last_text = &streamed.iter().rfind(|e| e.event == "message").unwrap().id;
    for window in [None, Some(std::time::Duration::ZERO)] {
        if let Some(window) = window {
            upstream.stub.state.set_resume_window(window);
        }
        let (_, rest) = events(&upstream, resume(first_call)).await;
        assert_eq!(calls(&rest), made[1..], "live or stored ({window:?}): {rest:?}");
        let (_, rest) = events(&upstream, resume(last_text)).await;
        assert_eq!((calls(&rest), message_data(&rest).concat()), (made.clone(), String::new()), "{rest:?}");
    }

    // The results, as a follow-up: the model reads them.
    let response_id = streamed.iter().find(|e| e.event == "response").map(|e| e.data.clone()).unwrap();
    let response_id: Value = serde_json::from_str(&response_id).unwrap();
    let outputs: Vec<Value> =
        made.iter().zip(["rain", "sun"]).map(|(c, out)| json!({"call_id": c["call_id"], "output": out})).collect();
    let follow_up = json!({"previous_response_id": response_id["id"], "tool_outputs": outputs, "tools": [weather()]});
    let (status, answer) = events(&upstream, test_harness::post_request(&follow_up.to_string())).await;
    assert_eq!(status, 200, "{answer:?}");
    assert_eq!(message_data(&answer).concat(), "The tools said: rain | sun");
    assert!(calls(&answer).is_empty());
}

fn ui_chat(messages: Value) -> Request {
    let body = json!({"id": "chat-fn", "trigger": "submit-message", "messages": messages, "tools": [weather()]});
    test_harness::post_request(&body.to_string())
}

async fn chunks(upstream: &TestUpstream, request: Request) -> Vec<Value> {
    let (_, events) = events(upstream, request).await;
    events.iter().filter(|e| e.data != "[DONE]").map(|e| serde_json::from_str(&e.data).unwrap()).collect()
}

#[tokio::test]
async fn the_ai_sdk_gets_tool_input_chunks_and_its_results_go_on_from_the_answer() {
    let upstream = TestUpstream::start().await;
    let user = json!({"id": "u1", "role": "user", "parts": [{"type": "text", "text": "/stub call=1"}]});
    let first = chunks(&upstream, ui_chat(json!([user]))).await;
    let types: Vec<&str> = first.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "start",
            "message-metadata",
            "start-step",
            "tool-input-start",
            "tool-input-delta",
            "tool-input-available",
            "finish-step",
            "finish"
        ]
    );
    let call = &first[5];
    assert_eq!((call["toolName"].as_str(), &call["input"]), (Some("get_weather"), &json!({"city": "city 0"})));
    assert_eq!(first[4]["inputTextDelta"], r#"{"city":"city 0"}"#);
    assert_eq!(first[7]["finishReason"], "tool-calls", "the answer waits on the client's function");
    assert!(first.iter().all(|c| c.get("providerExecuted").is_none()), "the client runs it");

    // The client ran it (addToolResult) and sends the conversation again, as useChat does.
    let metadata = &first[7]["messageMetadata"];
    let part = json!({"type": "tool-get_weather", "toolCallId": call["toolCallId"], "state": "output-available", "input": call["input"], "output": {"sky": "clear"}});
    let answered = json!({"id": "a1", "role": "assistant", "metadata": metadata, "parts": [part]});
    let second = chunks(&upstream, ui_chat(json!([user, answered]))).await;
    let text: String =
        second.iter().filter(|c| c["type"] == "text-delta").filter_map(|c| c["delta"].as_str()).collect();
    assert_eq!(text, r#"The tools said: {"sky":"clear"}"#);
    assert_eq!(second.last().unwrap()["finishReason"], "stop");
    let sent = &upstream.stub.requests()[1];
    assert_eq!(sent.previous_response_id.as_deref(), metadata["responseId"].as_str());
    assert_eq!(sent.messages.len(), 0, "only the result goes, not the history: {:?}", sent.messages);
}

const ASKING_MCP: &str =
    r#"[{"type":"mcp","server_label":"docs","server_url":"https://mcp.example","require_approval":"always"}]"#;

#[tokio::test]
async fn an_approval_is_an_event_a_page_answers_with_approve_or_deny() {
    let upstream = TestUpstream::start_with(&[("OPENAI_TOOLS", ASKING_MCP)]).await;
    let (_, asked) = events(&upstream, test_harness::get_request("/stub approval=1")).await;
    let names: Vec<&str> = asked.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["start", "response", "approval", "usage", "end"], "{asked:?}");
    let request: Value = serde_json::from_str(&asked[2].data).unwrap();
    assert_eq!((request["server_label"].as_str(), request["name"].as_str()), (Some("docs"), Some("lookup")));
    let response: Value = serde_json::from_str(&asked[1].data).unwrap();
    let (id, answer) = (request["approval_request_id"].as_str().unwrap(), response["id"].as_str().unwrap());
    let query = format!("previous_response_id={answer}&approve={id}");
    let (status, read) = events(&upstream, test_harness::get_raw_request(&query)).await;
    assert_eq!(status, 200, "{read:?}");
    assert_eq!(message_data(&read).concat(), format!("The MCP server: ran {id}"));
    let tools: Vec<&str> = read.iter().filter(|e| e.event == "tool").map(|e| e.data.as_str()).collect();
    assert!(tools.iter().any(|t| t.contains(r#""type":"mcp""#) && t.contains("completed")), "{tools:?}");
}

#[tokio::test]
async fn the_ai_sdk_gets_an_approval_chunk_only_when_it_says_it_reads_one() {
    let upstream = TestUpstream::start_with(&[("OPENAI_TOOLS", ASKING_MCP)]).await;
    let user = json!({"id": "u1", "role": "user", "parts": [{"type": "text", "text": "/stub approval=1"}]});
    let ask = |version: Option<&str>| {
        let mut body = json!({"id": "chat-mcp", "trigger": "submit-message", "messages": [user]});
        if let Some(version) = version {
            body["ai_sdk_version"] = json!(version);
        }
        test_harness::post_request(&body.to_string())
    };
    let six = chunks(&upstream, ask(Some("6.0.333"))).await;
    let types: Vec<&str> = six.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert!(
        types.windows(3).any(|w| w == ["tool-input-start", "tool-input-available", "tool-approval-request"]),
        "{types:?}"
    );
    let request = six.iter().find(|c| c["type"] == "tool-approval-request").unwrap();
    let call = six.iter().find(|c| c["type"] == "tool-input-available").unwrap();
    assert_eq!((call["dynamic"].as_bool(), call.get("providerExecuted")), (Some(true), None), "{call}");
    assert_eq!(six.last().unwrap()["finishReason"], "tool-calls");
    for older in [None, Some("5.0.277")] {
        let told = chunks(&upstream, ask(older)).await;
        assert!(told.iter().all(|c| !c["type"].as_str().unwrap().starts_with("tool-")), "{older:?}: {told:?}");
        let text: String =
            told.iter().filter(|c| c["type"] == "text-delta").filter_map(|c| c["delta"].as_str()).collect();
        assert!(text.contains("needs your approval") && text.contains("it was not called"), "{text}");
    }

    // The user said no (`addToolApprovalResponse`): the next request carries it.
    let metadata = &six.iter().find(|c| c["type"] == "finish").unwrap()["messageMetadata"];
    let part = json!({"type": "dynamic-tool", "toolName": "lookup", "toolCallId": request["toolCallId"], "state": "approval-responded", "input": call["input"], "approval": {"id": request["approvalId"], "approved": false}});
    let answered =
        json!({"id": "a1", "role": "assistant", "metadata": metadata, "parts": [{"type": "step-start"}, part]});
    let body = json!({"id": "chat-mcp", "trigger": "submit-message", "messages": [user, answered], "ai_sdk_version": "6.0.333"});
    let read = chunks(&upstream, test_harness::post_request(&body.to_string())).await;
    let text: String = read.iter().filter(|c| c["type"] == "text-delta").filter_map(|c| c["delta"].as_str()).collect();
    assert_eq!(text, format!("The MCP server: not allowed {}", request["approvalId"].as_str().unwrap()));
}

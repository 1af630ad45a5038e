use serde_json::json;

use super::*;

fn weather() -> Value {
    json!({
        "type": "function",
        "name": "get_weather",
        "description": "Today's weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": true
    })
}

#[test]
fn function_tools_are_taken_as_sent() {
    assert_eq!(function_tools(None), Ok(vec![]));
    assert_eq!(function_tools(Some(Value::Null)), Ok(vec![]));
    assert_eq!(function_tools(Some(json!([weather()]))), Ok(vec![weather()]));
    let bare = json!({"type": "function", "name": "now"});
    assert_eq!(function_tools(Some(json!([bare]))), Ok(vec![bare]));
}

#[test]
fn anything_but_bounded_function_tools_is_refused_with_its_reason() {
    let many: Vec<Value> = (0..=MAX_TOOLS).map(|n| json!({"type": "function", "name": format!("f{n}")})).collect();
    let huge = json!({"type": "function", "name": "big", "description": "x".repeat(MAX_TOOLS_BYTES)});
    let cases = [
        (json!({"type": "function"}), "array"),
        (json!([{"type": "web_search"}]), "web_search"),
        (json!([{"type": "mcp", "server_url": "https://x"}]), "hosted tools"),
        (json!(["get_weather"]), "not an object"),
        (json!([{"type": "function", "name": "a b"}]), "name"),
        (json!([{"type": "function", "name": ""}]), "name"),
        (json!([{"type": "function", "name": "x".repeat(65)}]), "name"),
        (json!([weather(), weather()]), "two tools"),
        (json!([{"type": "function", "name": "f", "parameters": "{}"}]), "JSON Schema"),
        (json!([{"type": "function", "name": "f", "strict": "yes"}]), "strict"),
        (json!([{"type": "function", "name": "f", "server_url": "https://x"}]), "server_url"),
        (json!(many), "at most 32"),
        (json!([huge]), "bytes"),
    ];
    for (tools, words) in cases {
        let error = function_tools(Some(tools.clone())).unwrap_err();
        assert_eq!((error.status(), error.code()), (http::StatusCode::BAD_REQUEST, "invalid_tools"), "{tools}");
        assert!(error.detail().contains(words), "{tools}: {}", error.detail());
    }
}

#[test]
fn outputs_are_text_each_call_once_and_bounded() {
    let outputs = tool_outputs(
        Some(json!([{"call_id": "call_1", "output": "22 C"}, {"call_id": "call_2", "output": {"temp": 22}}])),
        64,
    )
    .unwrap();
    assert_eq!(
        outputs,
        [
            ToolOutput { call_id: "call_1".into(), output: "22 C".into() },
            ToolOutput { call_id: "call_2".into(), output: r#"{"temp":22}"#.into() }
        ]
    );
    let cases = [
        (json!({"call_id": "call_1"}), "array"),
        (json!([{"output": "x"}]), "call_id"),
        (json!([{"call_id": "../x", "output": "x"}]), "call_id"),
        (json!([{"call_id": "call_1"}]), "no `output`"),
        (json!([{"call_id": "call_1", "output": "a"}, {"call_id": "call_1", "output": "b"}]), "two outputs"),
        (json!([{"call_id": "call_1", "output": "x".repeat(65)}]), "MAX_MESSAGE_BYTES"),
    ];
    for (outputs, words) in cases {
        let error = tool_outputs(Some(outputs.clone()), 64).unwrap_err();
        assert_eq!(error.code(), "invalid_tool_outputs", "{outputs}");
        assert!(error.detail().contains(words), "{outputs}: {}", error.detail());
    }
}

#[test]
fn a_follow_up_answers_every_call_of_its_answer_and_no_other() {
    let output = |id: &str| ToolOutput { call_id: id.into(), output: "ok".into() };
    assert_eq!(check_answers(&["call_1", "call_2"], &[output("call_2"), output("call_1")]), Ok(()));
    assert_eq!(check_answers(&[], &[]), Ok(()));
    let unknown = check_answers(&["call_1"], &[output("call_1"), output("call_9")]).unwrap_err();
    assert!(unknown.detail().contains("call_9"), "{}", unknown.detail());
    let missing = check_answers(&["call_1", "call_2"], &[output("call_1")]).unwrap_err();
    assert!(missing.detail().contains("call_2"), "{}", missing.detail());
    assert_eq!(check_answers(&[], &[output("call_1")]).unwrap_err().code(), "invalid_tool_outputs");
}

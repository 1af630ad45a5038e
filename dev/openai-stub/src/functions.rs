//! The caller's function tools as OpenAI treats them: an answer calls them (`call=N`), and a
//! follow-up carries a `function_call_output` for each call of the answer it continues; one
//! missing, or one for a call that answer never made, is a 400, in OpenAI's words.

use serde_json::{Value, json};

/// The request's function tools.
fn function_tools(request: &Value) -> Vec<&Value> {
    request["tools"].as_array().into_iter().flatten().filter(|tool| tool["type"] == "function").collect()
}

/// The `function_call` items of `n` calls (the request's functions in turn), arguments filled
/// from each one's `parameters`: a string property gets its name and the call's number, a
/// number the number, a boolean true. None without function tools.
pub fn calls(request: &Value, n: usize, response: u64) -> Vec<Value> {
    let tools = function_tools(request);
    if tools.is_empty() {
        return Vec::new();
    }
    (0..n)
        .filter_map(|i| {
            let tool = tools.get(i % tools.len())?;
            let mut arguments = serde_json::Map::new();
            for (name, schema) in tool["parameters"]["properties"].as_object().into_iter().flatten() {
                let value = match schema["type"].as_str() {
                    Some("number" | "integer") => json!(i),
                    Some("boolean") => json!(true),
                    _ => json!(format!("{name} {i}")),
                };
                arguments.insert(name.clone(), value);
            }
            Some(json!({
                "type": "function_call",
                "id": format!("fc_{response:040}_{i}"),
                "call_id": format!("call_{response}_{i}"),
                "name": tool["name"],
                "arguments": Value::Object(arguments).to_string(),
                "status": "completed",
            }))
        })
        .collect()
}

/// The `(call_id, output)` of each `function_call_output` in the input.
pub fn outputs(request: &Value) -> Vec<(String, String)> {
    let items = request["input"].as_array().into_iter().flatten();
    items
        .filter(|item| item["type"] == "function_call_output")
        .map(|item| {
            let output = item["output"].as_str().map_or_else(|| item["output"].to_string(), str::to_owned);
            (item["call_id"].as_str().unwrap_or_default().to_owned(), output)
        })
        .collect()
}

/// OpenAI's 400 when the outputs do not answer the calls of `previous` (a response object, or
/// none for a new conversation) one each.
pub fn check_outputs(previous: Option<&Value>, outputs: &[(String, String)]) -> Result<(), Value> {
    let calls: Vec<&str> = previous
        .and_then(|response| response["output"].as_array())
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "function_call")
        .filter_map(|item| item["call_id"].as_str())
        .collect();
    if let Some((unknown, _)) = outputs.iter().find(|(id, _)| !calls.contains(&id.as_str())) {
        return Err(bad_input(&format!("No tool call found for function call output with call_id {unknown}.")));
    }
    if let Some(missing) = calls.iter().find(|call| !outputs.iter().any(|(id, _)| id == *call)) {
        return Err(bad_input(&format!("No tool output found for function call {missing}.")));
    }
    Ok(())
}

/// What a follow-up that only carries results is answered with: the results read back.
pub fn answer_to(outputs: &[(String, String)]) -> String {
    let said: Vec<&str> = outputs.iter().map(|(_, output)| output.as_str()).collect();
    format!("/stub echo The tools said: {}", said.join(" | "))
}

/// The output tokens the calls' arguments take.
pub fn argument_tokens(calls: &[Value]) -> u64 {
    calls.iter().map(|call| crate::wire::words(call["arguments"].as_str().unwrap_or_default()) + 4).sum()
}

fn bad_input(message: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": null}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_fill_arguments_from_the_schema_and_outputs_must_answer_each() {
        let request = json!({"tools": [{"type": "web_search"}, {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}]});
        let made = calls(&request, 2, 7);
        assert_eq!(made.len(), 2);
        assert_eq!(made[1]["call_id"], "call_7_1");
        assert_eq!(
            serde_json::from_str::<Value>(made[1]["arguments"].as_str().unwrap()).unwrap(),
            json!({"city": "city 1", "days": 1})
        );
        assert!(calls(&json!({"tools": [{"type": "web_search"}]}), 1, 1).is_empty());
        let previous = json!({"output": made});
        let answer = |ids: &[&str]| ids.iter().map(|id| ((*id).to_owned(), "ok".to_owned())).collect::<Vec<_>>();
        assert_eq!(check_outputs(Some(&previous), &answer(&["call_7_1", "call_7_0"])), Ok(()));
        let missing = check_outputs(Some(&previous), &answer(&["call_7_0"])).unwrap_err();
        assert_eq!(missing["error"]["message"], "No tool output found for function call call_7_1.");
        let unknown = check_outputs(None, &answer(&["call_1"])).unwrap_err();
        assert!(unknown["error"]["message"].as_str().unwrap().contains("call_1"));
        let input = json!({"input": [{"type": "function_call_output", "call_id": "call_7_0", "output": "22 C"}, {"role": "user", "content": "and?"}]});
        assert_eq!(outputs(&input), [("call_7_0".to_owned(), "22 C".to_owned())]);
    }
}

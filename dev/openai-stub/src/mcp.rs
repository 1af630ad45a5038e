//! The owner's MCP servers as OpenAI runs them when a call needs the caller's yes: an answer
//! (`approval=N`) lists the server's tools and ends with `mcp_approval_request` items, and a
//! follow-up's `mcp_approval_response` items, each naming a request of the answer it continues,
//! run the approved calls (`mcp_call`) before the text. A response to a request that answer never
//! made is a 400.

use serde_json::{Value, json};

/// The request's MCP server that asks before a call (`require_approval` other than `never`).
fn asking_server(request: &Value) -> Option<&Value> {
    let tools = request["tools"].as_array()?;
    tools.iter().find(|tool| tool["type"] == "mcp" && tool["require_approval"] != "never")
}

/// The items before the text of an answer that asks `n` approvals: the server's tool list,
/// then each request. None without an MCP server that asks.
pub fn approval_requests(request: &Value, n: usize, response: u64) -> Vec<Value> {
    let Some(server) = asking_server(request).filter(|_| n > 0) else { return Vec::new() };
    let label = server["server_label"].clone();
    let list = json!({"type": "mcp_list_tools", "id": format!("mcpl_{response}"), "server_label": label, "tools": [{"name": "lookup", "input_schema": {"type": "object"}}]});
    let requests = (0..n).map(|i| {
        json!({
            "type": "mcp_approval_request",
            "id": format!("mcpr_{response}_{i}"),
            "server_label": label,
            "name": "lookup",
            "arguments": json!({"query": format!("item {i}")}).to_string(),
        })
    });
    std::iter::once(list).chain(requests).collect()
}

/// The `(approval_request_id, approve)` of each `mcp_approval_response` in the input.
pub fn responses(request: &Value) -> Vec<(String, bool)> {
    let items = request["input"].as_array().into_iter().flatten();
    items
        .filter(|item| item["type"] == "mcp_approval_response")
        .map(|item| (item["approval_request_id"].as_str().unwrap_or_default().to_owned(), item["approve"] == true))
        .collect()
}

/// OpenAI's 400 for a response to a request `previous` did not make.
pub fn check_responses(previous: Option<&Value>, responses: &[(String, bool)]) -> Result<(), Value> {
    let asked: Vec<&str> = previous
        .and_then(|response| response["output"].as_array())
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "mcp_approval_request")
        .filter_map(|item| item["id"].as_str())
        .collect();
    match responses.iter().find(|(id, _)| !asked.contains(&id.as_str())) {
        Some((unknown, _)) => Err(
            json!({"error": {"message": format!("No approval request found with id '{unknown}'."), "type": "invalid_request_error", "param": "input", "code": null}}),
        ),
        None => Ok(()),
    }
}

/// The calls the approved responses make, as `mcp_call` items, run before the text.
pub fn approved_calls(request: &Value, responses: &[(String, bool)]) -> Vec<Value> {
    let label = asking_server(request).map_or(Value::Null, |server| server["server_label"].clone());
    responses
        .iter()
        .filter(|(_, approve)| *approve)
        .map(|(id, _)| {
            json!({"type": "mcp_call", "id": format!("mcp_{id}"), "server_label": label, "name": "lookup", "arguments": "{}", "output": format!("result of {id}"), "error": null, "status": "completed"})
        })
        .collect()
}

/// What a follow-up that only answers approvals is answered with: what was run, and refused.
pub fn answer_to(responses: &[(String, bool)]) -> String {
    let said: Vec<String> = responses
        .iter()
        .map(|(id, approve)| if *approve { format!("ran {id}") } else { format!("not allowed {id}") })
        .collect();
    format!("/stub echo The MCP server: {}", said.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asking_server_s_requests_are_answered_one_each() {
        let request = json!({"tools": [{"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example", "require_approval": "always"}]});
        let items = approval_requests(&request, 2, 5);
        let kinds: Vec<&str> = items.iter().filter_map(|i| i["type"].as_str()).collect();
        assert_eq!(kinds, ["mcp_list_tools", "mcp_approval_request", "mcp_approval_request"]);
        assert!(approval_requests(&json!({"tools": [{"type": "mcp", "require_approval": "never"}]}), 2, 5).is_empty());
        let previous = json!({"output": items});
        assert_eq!(check_responses(Some(&previous), &[("mcpr_5_1".into(), true)]), Ok(()));
        assert!(check_responses(Some(&previous), &[("mcpr_9".into(), true)]).is_err());
        let calls = approved_calls(&request, &[("mcpr_5_0".into(), false), ("mcpr_5_1".into(), true)]);
        assert_eq!((calls.len(), calls[0]["server_label"].as_str()), (1, Some("docs")));
    }
}

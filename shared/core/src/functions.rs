//! The caller's own function tools (a request's `tools`), the calls the model makes of them, and
//! the caller's answers to those calls (`tool_outputs`). Checked here, so that what goes to
//! OpenAI is only what was checked: function tools alone (hosted tools are the owner's, priced
//! and capped), bounded in count and size.

use serde_json::{Map, Value};

use crate::ApiError;

/// The most function tools one request may carry (OpenAI takes more; a chat needs few).
pub const MAX_TOOLS: usize = 32;
/// The most bytes the tools may take as JSON: they are input tokens on every step.
pub const MAX_TOOLS_BYTES: usize = 64 * 1024;
/// The most outputs one follow-up may carry (one per call of the answer it follows).
pub const MAX_OUTPUTS: usize = 32;
/// The keys a function tool may have, as OpenAI defines it.
const TOOL_KEYS: [&str; 5] = ["type", "name", "description", "parameters", "strict"];

/// A call the model made of one of the caller's functions: its arguments exactly as the model
/// wrote them (a JSON text, which the caller parses).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunctionCall {
    pub call_id: String,
    pub name: String,
    pub arguments: String,
}

/// The caller's answer to one call: what its function returned, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub call_id: String,
    pub output: String,
}

/// Reads a request's `tools`: an array of `{"type":"function","name","description",
/// "parameters","strict"}`, rebuilt from the checked keys. Absent or `null` is no tools.
pub fn function_tools(tools: Option<Value>) -> Result<Vec<Value>, ApiError> {
    let invalid = |why: String| ApiError::InvalidTools(why);
    let tools = match tools {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err(invalid("send an array of function tools".into())),
    };
    if tools.len() > MAX_TOOLS {
        return Err(invalid(format!("{} tools; at most {MAX_TOOLS}", tools.len())));
    }
    let mut checked: Vec<Value> = Vec::with_capacity(tools.len());
    for (index, tool) in tools.into_iter().enumerate() {
        let Value::Object(tool) = tool else { return Err(invalid(format!("tool {index} is not an object"))) };
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind != "function" {
            return Err(invalid(format!(
                "tool {index} is of type {kind:?}: only function tools ({{\"type\":\"function\",\"name\",...}}) are taken; hosted tools are the deployment's own"
            )));
        }
        if let Some(key) = tool.keys().find(|key| !TOOL_KEYS.contains(&key.as_str())) {
            return Err(invalid(format!("tool {index} has the key {key:?}; a function tool has {TOOL_KEYS:?}")));
        }
        let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
        if !is_function_name(name) {
            return Err(invalid(format!("tool {index}'s name must be 1 to 64 letters, digits, `_` or `-`")));
        }
        if checked.iter().any(|known| known["name"] == name) {
            return Err(invalid(format!("two tools are named {name:?}")));
        }
        let shape_ok = tool.get("description").is_none_or(Value::is_string)
            && tool.get("parameters").is_none_or(Value::is_object)
            && tool.get("strict").is_none_or(Value::is_boolean);
        if !shape_ok {
            return Err(invalid(format!(
                "tool {name:?}: `description` is a string, `parameters` a JSON Schema object, `strict` true or false"
            )));
        }
        let rebuilt: Map<String, Value> =
            TOOL_KEYS.iter().filter_map(|key| tool.get(*key).map(|value| ((*key).to_owned(), value.clone()))).collect();
        checked.push(Value::Object(rebuilt));
    }
    let bytes: usize = checked.iter().map(|tool| tool.to_string().len()).sum();
    if bytes > MAX_TOOLS_BYTES {
        return Err(invalid(format!("the tools take {bytes} bytes as JSON; at most {MAX_TOOLS_BYTES}")));
    }
    Ok(checked)
}

/// Reads a request's `tool_outputs`: `[{"call_id", "output"}]`, each call once, the outputs
/// `max_bytes` in all. An output that is not a string is sent as its JSON text.
pub fn tool_outputs(outputs: Option<Value>, max_bytes: usize) -> Result<Vec<ToolOutput>, ApiError> {
    let invalid = |why: String| ApiError::InvalidToolOutputs(why);
    let outputs = match outputs {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(outputs)) => outputs,
        Some(_) => return Err(invalid("send an array of {\"call_id\", \"output\"}".into())),
    };
    if outputs.len() > MAX_OUTPUTS {
        return Err(invalid(format!("{} outputs; at most {MAX_OUTPUTS}", outputs.len())));
    }
    let mut checked: Vec<ToolOutput> = Vec::with_capacity(outputs.len());
    for (index, output) in outputs.into_iter().enumerate() {
        let call_id = output.get("call_id").and_then(Value::as_str).unwrap_or_default();
        if !is_call_id(call_id) {
            return Err(invalid(format!("output {index} needs the `call_id` of the call it answers")));
        }
        if checked.iter().any(|known| known.call_id == call_id) {
            return Err(invalid(format!("two outputs answer {call_id:?}")));
        }
        let output_text = match output.get("output") {
            Some(Value::String(text)) => text.clone(),
            None | Some(Value::Null) => return Err(invalid(format!("output {index} has no `output`"))),
            Some(other) => other.to_string(),
        };
        checked.push(ToolOutput { call_id: call_id.to_owned(), output: output_text });
    }
    let bytes: usize = checked.iter().map(|output| output.output.len()).sum();
    if bytes > max_bytes {
        return Err(invalid(format!("the outputs are {bytes} bytes; at most {max_bytes} (MAX_MESSAGE_BYTES)")));
    }
    Ok(checked)
}

/// Whether `outputs` answer each of `calls` (the call ids of the answer they follow) once: a
/// follow-up of an answer that called the caller's functions must carry every result, and no
/// other (OpenAI refuses either; refused here first, before anything is spent).
pub fn check_answers(calls: &[&str], outputs: &[ToolOutput]) -> Result<(), ApiError> {
    let invalid = |why: String| ApiError::InvalidToolOutputs(why);
    if let Some(unknown) = outputs.iter().find(|output| !calls.contains(&output.call_id.as_str())) {
        return Err(invalid(format!("{:?} is not a call of the answer they follow", unknown.call_id)));
    }
    if let Some(missing) = calls.iter().find(|call| !outputs.iter().any(|output| output.call_id == **call)) {
        return Err(invalid(format!("the answer they follow called {missing:?}: send its output too")));
    }
    Ok(())
}

/// OpenAI's rule for a function's name.
fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A call id as OpenAI makes them (`call_...`): 1 to 128 letters, digits, `_` or `-`.
pub(crate) fn is_call_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
#[path = "functions_tests.rs"]
mod tests;

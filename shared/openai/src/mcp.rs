//! Each MCP server's `authorization`, from the Secrets Manager secret `MCP_AUTHORIZATION_SECRET_ID`
//! names (a JSON object by `server_label`), added to the owner's tool objects as they are sent,
//! never kept in a plain variable. Read once per execution environment, beside init.

use std::borrow::Cow;

use serde_json::{Map, Value};

use chat_core::ApiError;

use crate::client::ResponsesClient;

impl ResponsesClient {
    /// The owner's tools as sent: with each MCP server's authorization when a secret holds them.
    pub(crate) async fn owner_tools(&self) -> Result<Cow<'_, [Value]>, ApiError> {
        let Some(tools) = &self.config.tools else { return Ok(Cow::Borrowed(&[])) };
        let Some(secret) = &self.mcp_secret else { return Ok(Cow::Borrowed(&tools.objects)) };
        let text = secret.get().await.map_err(|error| {
            tracing::error!(error = %error.log_detail(), "the MCP servers' authorization (MCP_AUTHORIZATION_SECRET_ID) could not be read");
            ApiError::Misconfigured("MCP_AUTHORIZATION_SECRET_ID could not be read".into())
        })?;
        authorized(&tools.objects, &text).map(Cow::Owned)
    }
}

/// `objects` with `authorization` set on each `mcp` tool whose `server_label` the secret names.
fn authorized(objects: &[Value], secret: &str) -> Result<Vec<Value>, ApiError> {
    let tokens: Map<String, Value> = serde_json::from_str(secret).map_err(|_| {
        // Neither the secret nor serde's words about it (which may quote it) reach the log.
        ApiError::Misconfigured(
            "MCP_AUTHORIZATION_SECRET_ID must hold a JSON object: {\"<server_label>\": \"<token>\"}".into(),
        )
    })?;
    let mut sent = objects.to_vec();
    for object in sent.iter_mut().filter(|object| object["type"] == "mcp") {
        let label = object["server_label"].as_str().unwrap_or_default();
        match tokens.get(label) {
            Some(Value::String(token)) => object["authorization"] = Value::String(token.clone()),
            Some(_) => {
                return Err(ApiError::Misconfigured(format!(
                    "MCP_AUTHORIZATION_SECRET_ID's value for {label:?} is not a string"
                )));
            }
            None => {}
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_named_server_gets_its_token_and_nothing_else_changes() {
        let tools = [
            json!({"type": "web_search"}),
            json!({"type": "mcp", "server_label": "docs", "server_url": "https://docs.example"}),
            json!({"type": "mcp", "server_label": "open", "server_url": "https://open.example"}),
        ];
        let sent = authorized(&tools, r#"{"docs": "Bearer s3cret", "unused": "x"}"#).unwrap();
        assert_eq!(sent[1]["authorization"], "Bearer s3cret");
        assert_eq!((&sent[0], &sent[2]), (&tools[0], &tools[2]));
        for bad in ["s3cret-not-json", r#"["docs"]"#, r#"{"docs": 5}"#] {
            let error = authorized(&tools, bad).unwrap_err();
            assert!(!error.log_detail().contains("s3cret"), "{bad}: {}", error.log_detail());
            assert_eq!(error.code(), "misconfigured");
        }
    }
}

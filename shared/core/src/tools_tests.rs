use super::*;

fn tools(text: &str) -> Result<Option<ToolsConfig>, ConfigError> {
    ToolsConfig::from_settings(Some(text.to_owned()), None, None)
}

#[test]
fn the_owner_s_tools_are_read_as_written_and_refused_clearly() {
    let search = tools(r#"[{"type":"web_search","search_context_size":"low"}]"#).unwrap().unwrap();
    assert_eq!((search.kinds.as_slice(), search.max_calls), ([ToolKind::WebSearch].as_slice(), DEFAULT_MAX_TOOL_CALLS));
    assert_eq!(search.objects[0]["search_context_size"], "low", "sent exactly as written");
    assert_eq!(tools("[]").unwrap(), None);
    for (bad, says) in [
        ("web_search", "JSON array"),
        (r#"[{"type":"function","name":"f"}]"#, "caller's own functions"),
        (r#"[{"type":"computer_use"}]"#, "web_search, file_search"),
        (r#"[{"type":"mcp","server_label":"x","authorization":"sk-secret"}]"#, "plain variable"),
    ] {
        let refused = tools(bad).unwrap_err().to_string();
        assert!(refused.contains("OPENAI_TOOLS") && refused.contains(says), "{bad}: {refused}");
    }
    let many = ToolsConfig::from_settings(Some(r#"[{"type":"web_search"}]"#.into()), Some(65), None).unwrap_err();
    assert!(many.to_string().contains("OPENAI_MAX_TOOL_CALLS"), "{many}");
}

#[test]
fn calls_are_counted_from_output_items_and_priced_by_the_day() {
    let mut calls = ToolCalls::default();
    for item in ["message", "web_search_call", "reasoning", "web_search_call", "file_search_call", "mcp_call"] {
        calls.count(item);
    }
    assert_eq!((calls.of(ToolKind::WebSearch), calls.total()), (2, 4));
    // Two searches at $0.01, one file search at $0.0025, an MCP call free.
    assert_eq!(calls.fees_nanos_on("2026-12-07"), 2 * 10_000_000 + 2_500_000);
    assert_eq!(calls.fees_nanos_on("2024-01-01"), 0, "before any price");
}

#[test]
fn the_worst_case_bounds_every_step_reading_every_result() {
    let search = tools(r#"[{"type":"web_search"},{"type":"mcp","server_label":"docs","server_url":"https://x"}]"#)
        .unwrap()
        .unwrap();
    // Three calls at the dearest fee, $0.01.
    assert_eq!(search.worst_fees_nanos("2026-12-07"), 3 * 10_000_000);
    // Four steps read a 1,000-token question; results of 8,000 tokens pile up: 1 + 2 + 3 of them.
    assert_eq!(search.input_tokens(1_000, "2026-12-07"), 4 * 1_000 + 8_000 * 6);
    assert!(search.definition_bytes() > 20);
}

#[test]
fn every_tool_row_names_a_known_tool_and_a_source() {
    let list: Value = serde_json::from_str(PRICE_LIST).unwrap();
    let rows = list["tools"].as_array().unwrap();
    assert_eq!(rows.len(), PRICES.len());
    for row in rows {
        assert!(row["tool"].as_str().and_then(ToolKind::named).is_some(), "{row}");
        assert!(row["source"].as_str().is_some_and(|s| s.len() > 10), "{row} names no source");
        assert!(row["result_tokens"].as_u64().is_some_and(|n| n > 0), "{row}");
    }
    assert!(price_on(ToolKind::CodeInterpreter, "2026-12-07").is_none(), "containers are not priced per call");
}

#[test]
fn an_mcp_authorization_secret_needs_an_mcp_tool() {
    let mcp = r#"[{"type":"mcp","server_label":"docs","server_url":"https://mcp.example"}]"#;
    let secret = || Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:mcp".to_owned());
    let config = ToolsConfig::from_settings(Some(mcp.into()), None, secret()).unwrap().unwrap();
    assert_eq!(config.mcp_authorization_secret, secret());
    let search = r#"[{"type":"web_search"}]"#;
    for tools in [Some(search.to_owned()), None] {
        let error = ToolsConfig::from_settings(tools.clone(), None, secret()).unwrap_err().to_string();
        assert!(error.contains("MCP_AUTHORIZATION_SECRET_ID"), "{tools:?}: {error}");
    }
}

//! The owner's web search through the shipped chat-stream behind the Runtime API stand-in: the
//! tool sent on every create with `max_tool_calls`, `event: tool` while it searches, `event:
//! source` once per page cited, and the calls billed per call in the estimate, the summary line
//! and the `ToolCalls` metric, held to the stand-in's own bill.

use openai_stub::StubServer;
use serde_json::Value;
use test_harness::browser_events;
use test_harness::runtime_api::{RuntimeApi, question_event};

const SEARCH: &str = r#"[{"type":"web_search","search_context_size":"low"}]"#;

fn lines(function: &RuntimeApi) -> Vec<Value> {
    function.log().lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_streams_its_progress_and_sources_and_is_billed_per_call() {
    let stub = StubServer::start().await.expect("start the OpenAI stand-in");
    let env = [("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("OPENAI_TOOLS", SEARCH)];
    let stream = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &env).await;
    // Five asked for, three made: OPENAI_MAX_TOOL_CALLS' default.
    let answer = stream.invoke(question_event("/stub search=5 deltas=3")).await;
    assert_eq!(answer.status, Some(200), "{:?}\n{}", answer.error, stream.log());
    let events = browser_events(&answer.body).await;
    let tools: Vec<Value> =
        events.iter().filter(|e| e.event == "tool").map(|e| serde_json::from_str(&e.data).expect("JSON")).collect();
    let statuses: Vec<&str> = tools.iter().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(statuses, ["in_progress", "searching", "completed"].repeat(3), "{tools:?}");
    assert!(tools.iter().all(|t| t["type"] == "web_search"), "{tools:?}");
    assert_eq!(tools[2]["query"], "/stub search=5 deltas=3 0", "what it searched for, once done");
    let sources: Vec<Value> =
        events.iter().filter(|e| e.event == "source").map(|e| serde_json::from_str(&e.data).expect("JSON")).collect();
    let urls: Vec<&str> = sources.iter().filter_map(|s| s["url"].as_str()).collect();
    assert_eq!(urls, ["https://example.com/result-0", "https://example.com/result-1", "https://example.com/result-2"]);
    assert_eq!(sources[0]["title"], "Result <0> & \"more\"");
    // The tool events come before the text, the sources after it, all between start and end.
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let first_text = names.iter().position(|n| *n == "message").expect("text");
    assert!(names.iter().rposition(|n| *n == "tool").is_some_and(|last| last < first_text), "{names:?}");
    assert_eq!(names[names.len() - 2..], ["usage", "end"], "{names:?}");

    let asked = stub.state.requests().pop().expect("one request");
    assert_eq!(asked.web_searches, 3);
    let line = lines(&stream).into_iter().find(|l| l["message"] == "request finished").expect("a summary line");
    assert_eq!((line["tool_calls"]["web_search"].as_u64(), line["sources"].as_u64()), (Some(3), Some(3)), "{line}");
    assert_eq!(line["ToolCalls"].as_f64(), Some(3.0), "{line}");
    let (estimated, billed) = (line["EstimatedCost"].as_f64().unwrap(), asked.bill_usd());
    assert!(billed > 0.03 && (estimated - billed).abs() < 1e-9, "{estimated} against the bill {billed}");
    let names = lines(&stream)
        .iter()
        .filter(|line| line.get("_aws").is_some())
        .flat_map(|line| test_harness::emf::declared_metrics(line).expect("EMF"))
        .collect();
    test_harness::emf::record_emitted("hosted_tools", &names);
}

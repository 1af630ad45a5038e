//! Tools through the shipped binaries behind the Runtime API stand-in. The owner's web search:
//! `event: tool` while it searches, `event: source` once per page cited, told again on a resume
//! from the stored answer, and the calls billed per call in the estimate and `ToolCalls`. The
//! caller's own functions with the limits on: the calls streamed (`event: tool_call`) and
//! returned (`tool_calls`), the results sent back and read, a wrong result refused before
//! anything is asked, and the day's counters holding what the stand-in billed. Pictures and PDFs
//! on both functions with the limits on: counted by OpenAI before the reservation, read by the
//! model, settled to the bill.

use openai_stub::{RecordedRequest, StubServer};
use serde_json::{Value, json};
use test_harness::runtime_api::{RuntimeApi, post_json_event, question_event};
use test_harness::{Dynalite, browser_events, message_data};

/// The function's JSON log lines.
fn lines(function: &RuntimeApi) -> Vec<Value> {
    function.log().lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).collect()
}

const SEARCH: &str = r#"[{"type":"web_search","search_context_size":"low"}]"#;

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

    // A reader who left at the start comes back once the answer is stored: the searches and the
    // sources are told again from the stored answer, with the whole text, and nothing is asked.
    let first_id = events.iter().find(|e| e.event == "response").map(|e| e.id.clone()).expect("the response's id");
    let resume =
        test_harness::runtime_api::function_url_event("GET", "/", "", &[("last-event-id", first_id.as_str())], None);
    let again = browser_events(&stream.invoke(resume).await.body).await;
    let told: Vec<&str> = again.iter().filter(|e| e.event == "tool").map(|e| e.data.as_str()).collect();
    assert_eq!(told.len(), 3, "each search once, done: {again:?}");
    assert!(told[0].contains(r#""query":"/stub search=5 deltas=3 0""#), "{told:?}");
    assert_eq!(again.iter().filter(|e| e.event == "source").count(), 3, "{again:?}");
    let text: String = again.iter().filter(|e| e.event == "message").map(|e| e.data.as_str()).collect();
    assert_eq!(text, "w0 w1 w2");
    assert_eq!(stub.state.requests().len(), 1, "no new model call");

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

fn weather() -> Value {
    json!({"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}})
}

/// The JSON body of a buffered answer, and its status.
fn json_body(invocation: &test_harness::runtime_api::Invocation) -> (Option<u16>, Value) {
    (invocation.status, serde_json::from_slice(&invocation.body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_caller_s_functions_round_trip_with_the_limits_on_and_settle_to_the_bill() {
    let stub = StubServer::start().await.expect("start the OpenAI stand-in");
    let dynamo = Dynalite::start().await;
    let (store, _, _) = dynamo.with_two_keys("limits").await;
    let env: Vec<(&str, &str)> = [("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("OPENAI_TOOLS", SEARCH)]
        .into_iter()
        .chain(dynamo.limits_env("limits"))
        .collect();
    let stream = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &env).await;
    let complete = RuntimeApi::launch_release("chat-complete", &stub.base_url(), &env).await;

    // EventSource's contract: the calls after the text, then the results as a follow-up.
    let ask = json!({"message": "/stub call=2 echo Checking.", "tools": [weather()]});
    let answer = stream.invoke(post_json_event(&ask.to_string())).await;
    assert_eq!(answer.status, Some(200), "{:?}\n{}", answer.error, stream.log());
    let events = browser_events(&answer.body).await;
    let calls: Vec<Value> = events
        .iter()
        .filter(|e| e.event == "tool_call")
        .map(|e| serde_json::from_str(&e.data).expect("JSON"))
        .collect();
    assert_eq!(calls.len(), 2, "{events:?}");
    assert_eq!(
        (calls[0]["name"].as_str(), calls[0]["arguments"].as_str()),
        (Some("get_weather"), Some(r#"{"city":"city 0"}"#))
    );
    assert_eq!(message_data(&events).concat(), "Checking.");
    let response: Value =
        serde_json::from_str(&events.iter().find(|e| e.event == "response").expect("response").data).unwrap();
    let outputs: Vec<Value> =
        calls.iter().zip(["rain", "sun"]).map(|(c, out)| json!({"call_id": c["call_id"], "output": out})).collect();
    // One result short: refused before anything is asked, in the contract's JSON error.
    let short = json!({"previous_response_id": response["id"], "tool_outputs": &outputs[..1], "tools": [weather()]});
    let refused = stream.invoke(post_json_event(&short.to_string())).await;
    let (status, body) = json_body(&refused);
    assert_eq!((status, body["code"].as_str()), (Some(400), Some("invalid_tool_outputs")), "{body}");
    let asked_before = stub.state.requests().len();
    let follow_up = json!({"previous_response_id": response["id"], "tool_outputs": outputs, "tools": [weather()]});
    let read = browser_events(&stream.invoke(post_json_event(&follow_up.to_string())).await.body).await;
    assert_eq!(message_data(&read).concat(), "The tools said: rain | sun", "{read:?}");
    assert_eq!(stub.state.requests().len(), asked_before + 1);
    let line = lines(&stream)
        .into_iter()
        .find(|l| l["function_calls"].as_u64() == Some(2))
        .expect("a summary line with the calls");
    assert_eq!(line["message"], "request finished", "{line}");

    // The buffered function: `tool_calls` beside the (empty) text, then the results read.
    let asked =
        complete.invoke(post_json_event(&json!({"message": "/stub call=1", "tools": [weather()]}).to_string())).await;
    let (status, body) = json_body(&asked);
    assert_eq!((status, body["data"].as_str()), (Some(200), Some("")), "{body}");
    let call = &body["tool_calls"][0];
    let follow_up = json!({"previous_response_id": body["response_id"], "tool_outputs": [{"call_id": call["call_id"], "output": {"sky": "clear"}}]});
    let (status, read) = json_body(&complete.invoke(post_json_event(&follow_up.to_string())).await);
    assert_eq!((status, read["data"].as_str()), (Some(200), Some(r#"The tools said: {"sky":"clear"}"#)), "{read}");
    let sent = stub.state.requests();
    let tools = &sent[0].tools;
    assert_eq!(tools, &["web_search", "function:get_weather"], "the owner's tools, then the caller's");

    // Every answer settled to what OpenAI billed: the tools' definitions and the results are
    // input, the arguments output, reserved and counted like any other tokens.
    let used = store.used(&format!("budget#{}", spend::day_now())).await.expect("the day's budget");
    let billed: u64 = sent.iter().map(RecordedRequest::billed_tokens).sum();
    assert_eq!(used, billed, "settled to the bill");
}

/// A PNG header of 2048 x 2048 pixels (765 tokens at high detail), and a one-page PDF.
const LARGE_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAACAAAAAgACAIAAAA9xURnAAAAAElFTkSuQmCC";
const PDF: &str = "JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvUGFnZSA+PiBlbmRvYmoKJSVFT0Y=";

#[tokio::test(flavor = "multi_thread")]
async fn pictures_and_pdfs_are_counted_first_read_and_settled_to_the_bill() {
    let stub = StubServer::start().await.expect("start the OpenAI stand-in");
    let dynamo = Dynalite::start().await;
    let (store, _, _) = dynamo.with_two_keys("limits").await;
    let env: Vec<(&str, &str)> =
        [("AWS_LAMBDA_LOG_FORMAT", "JSON")].into_iter().chain(dynamo.limits_env("limits")).collect();
    let stream = RuntimeApi::launch_release("chat-stream", &stub.base_url(), &env).await;
    let complete = RuntimeApi::launch_release("chat-complete", &stub.base_url(), &env).await;
    let attachments =
        json!([{"name": "big.png", "media_type": "image/png", "data": LARGE_PNG}, {"name": "page.pdf", "data": PDF}]);

    let ask = json!({"message": "/stub echo read", "attachments": attachments});
    let (status, body) = json_body(&complete.invoke(post_json_event(&ask.to_string())).await);
    assert_eq!((status, body["data"].as_str()), (Some(200), Some("read")), "{body}");
    let streamed = browser_events(&stream.invoke(post_json_event(&ask.to_string())).await.body).await;
    assert_eq!(message_data(&streamed).concat(), "read", "{streamed:?}");
    let unsupported =
        json!({"message": "x", "attachments": [{"name": "a.png", "media_type": "image/png", "data": "aGVsbG8="}]});
    let (status, body) = json_body(&stream.invoke(post_json_event(&unsupported.to_string())).await);
    assert_eq!((status, body["code"].as_str()), (Some(415), Some("unsupported_attachment")), "{body}");

    let sent = stub.state.requests();
    assert_eq!(sent.len(), 2, "the refused one asked nothing");
    assert!(sent.iter().all(|r| (r.images, r.files) == (1, 1)));
    assert_eq!(stub.state.input_counts(), 2, "each counted before it was reserved");
    let input = sent[0].usage.as_ref().and_then(|u| u["input_tokens"].as_u64()).unwrap();
    assert!(input >= 765 + 765, "the picture's tiles and the page, billed as input: {input}");
    let used = store.used(&format!("budget#{}", spend::day_now())).await.expect("the day's budget");
    let billed: u64 = sent.iter().map(RecordedRequest::billed_tokens).sum();
    assert_eq!(used, billed, "settled to the bill");
}

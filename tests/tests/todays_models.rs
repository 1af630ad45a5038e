//! The models of December 2026, through the shipped binaries behind the Runtime API stand-in:
//! the default model and what it is asked, the model's lifecycle watched (a shutdown date, a
//! model gone), reasoning settings a model refuses, raw reasoning streamed and resumed, prompt
//! cache writes priced, and compaction keeping a long conversation answering. (Tools, the
//! owner's and the caller's: tests/tests/tools_and_files_release.rs.)

use std::time::Duration;

use openai_stub::StubServer;
use serde_json::Value;
use test_harness::runtime_api::{RuntimeApi, get_event, question_event};
use test_harness::{browser_events, message_data};

async fn stub() -> StubServer {
    StubServer::start().await.expect("start the OpenAI stand-in")
}

async fn launch(function: &str, stub: &StubServer, extra: &[(&str, &str)]) -> RuntimeApi {
    let env = [&[("AWS_LAMBDA_LOG_FORMAT", "JSON")][..], extra].concat();
    RuntimeApi::launch_release(function, &stub.base_url(), &env).await
}

/// The function's JSON log lines.
fn lines(function: &RuntimeApi) -> Vec<Value> {
    function.log().lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).collect()
}

/// Waits (5 s at most) for a log line that `wanted` accepts.
async fn wait_for_line(function: &RuntimeApi, wanted: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        if let Some(line) = lines(function).into_iter().find(|line| wanted(line)) {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no such log line; log:\n{}", function.log());
}

fn summaries(function: &RuntimeApi) -> Vec<Value> {
    lines(function).into_iter().filter(|line| line["message"] == "request finished").collect()
}

/// Records what every JSON line of `functions` declared, for the template check.
fn record_emitted(suite: &str, functions: &[&RuntimeApi]) {
    let names = functions
        .iter()
        .flat_map(|f| lines(f))
        .filter(|line| line.get("_aws").is_some())
        .flat_map(|line| {
            test_harness::emf::declared_metrics(&line).unwrap_or_else(|e| panic!("not valid EMF ({e}): {line}"))
        })
        .collect();
    test_harness::emf::record_emitted(suite, &names);
}

fn declares(line: &Value, metric: &str) -> bool {
    test_harness::emf::declared_metrics(line)
        .is_ok_and(|names| names.iter().any(|n| n.ends_with(&format!("/{metric}"))))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_model_is_current_reasons_at_low_effort_and_every_answer_is_stored() {
    let stub = stub().await;
    let complete = launch("chat-complete", &stub, &[]).await;
    let answer = complete.invoke(question_event("hello")).await;
    assert_eq!(answer.status, Some(200), "{}", answer.text());
    let stream = launch("chat-stream", &stub, &[]).await;
    let streamed = stream.invoke(question_event("hello again")).await;
    assert_eq!(streamed.status, Some(200), "{}", streamed.text());
    for answer in [&answer, &streamed] {
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "chat answers are not sniffed");
    }
    let sent = stub.requests();
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(request.model, "gpt-6-luna");
        assert_eq!(request.reasoning_effort.as_deref(), Some("low"), "fast and cheap by default");
        assert_eq!(request.reasoning_summary.as_deref(), Some("auto"));
        assert_eq!(request.store, Some(true), "stored explicitly, so resumes and follow-ups find it");
    }
    assert!(sent[1].background, "chat-stream's answer runs in background mode");
    // The lifecycle is asked once per environment, after the first request; no shutdown: no warning.
    wait_for_line(&complete, |_| stub.state.model_lookups().len() >= 2).await;
    assert_eq!(stub.state.model_lookups(), ["gpt-6-luna", "gpt-6-luna"]);
    assert!(!complete.log().contains("shuts down the model"), "{}", complete.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_with_a_shutdown_date_is_a_warning_and_a_metric_the_alarm_reads() {
    let stub = stub().await;
    let complete = launch("chat-complete", &stub, &[("OPENAI_MODEL", "gpt-4o-mini")]).await;
    assert_eq!(complete.invoke(question_event("hello")).await.status, Some(200));
    let warning = wait_for_line(&complete, |line| declares(line, "ModelDaysToShutdown")).await;
    let today = chat_core::date::today_date();
    let shutdown = chat_core::date::parse_day("2027-01-14").unwrap();
    let days = chat_core::date::days_between(today, shutdown) as f64;
    assert_eq!(warning["level"], "WARN", "{warning}");
    let message = warning["message"].as_str().unwrap();
    assert!(message.contains("gpt-4o-mini") && message.contains("2027-01-14"), "{message}");
    assert_eq!(
        (warning["ModelDaysToShutdown"].as_f64(), warning["function"].as_str()),
        (Some(days), Some("chat-complete"))
    );
    assert_eq!(warning["model"], "gpt-4o-mini");
    // Every summary line after it carries the figure, so the alarm always has data.
    assert_eq!(complete.invoke(question_event("and again")).await.status, Some(200));
    let last = summaries(&complete).pop().unwrap();
    assert!(declares(&last, "ModelDaysToShutdown"), "{last}");
    assert_eq!(last["ModelDaysToShutdown"].as_f64(), Some(days));
    record_emitted("model_shutdown", &[&complete]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_that_is_gone_is_model_unavailable_to_every_client_and_an_error_line() {
    let stub = stub().await;
    stub.state.set_today("2027-01-20");
    let complete = launch("chat-complete", &stub, &[("OPENAI_MODEL", "gpt-4o-mini")]).await;
    let answer = complete.invoke(question_event("hello")).await;
    assert_eq!(answer.status, Some(503), "{}", answer.text());
    let body = answer.json().unwrap();
    assert_eq!(body["code"], "model_unavailable", "{body}");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert!(body["detail"].as_str().unwrap().contains("gpt-4o-mini"), "{body}");
    let summary = summaries(&complete).pop().unwrap();
    assert!(declares(&summary, "ModelUnavailable"), "{summary}");
    let error = wait_for_line(&complete, |line| line["level"] == "ERROR" && declares(line, "ModelUnavailable")).await;
    assert!(error["message"].as_str().unwrap().contains("gpt-4o-mini"), "{error}");
    // An EventSource page gets it inline, the AI SDK as its error part.
    let stream = launch("chat-stream", &stub, &[("OPENAI_MODEL", "gpt-4o-mini")]).await;
    let inline = stream.invoke(get_event("message=hi&errors=inline")).await;
    let events = browser_events(&inline.body).await;
    let problem = events.iter().find(|e| e.event == "problem").expect("a problem event");
    let problem: Value = serde_json::from_str(&problem.data).unwrap();
    assert_eq!((problem["code"].as_str(), problem["status"].as_u64()), (Some("model_unavailable"), Some(503)));
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("end"));
    assert!(declares(&summaries(&stream).pop().unwrap(), "Failures"), "the error-rate alarm counts it");
    record_emitted("model_unavailable", &[&complete, &stream]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reasoning_value_the_model_refuses_is_named_and_the_ones_it_takes_are_sent() {
    let stub = stub().await;
    // A model the catalogue does not know (a fine-tune) and the effort its base refuses: OpenAI's
    // 400, named for the owner at the first question.
    let fine_tune = ("OPENAI_MODEL", "ft:gpt-6-luna-2026-09-15:acme::x1");
    let refused = launch("chat-complete", &stub, &[fine_tune, ("OPENAI_REASONING_EFFORT", "minimal")]).await;
    let answer = refused.invoke(question_event("hello")).await;
    assert_eq!(answer.status, Some(500), "{}", answer.text());
    let body = answer.json().unwrap();
    assert_eq!(body["code"], "setting_refused");
    assert!(body["detail"].as_str().unwrap().contains("OPENAI_REASONING_EFFORT=minimal"), "{body}");
    let summary = summaries(&refused).pop().unwrap();
    assert!(summary["error"].as_str().unwrap().contains("OPENAI_REASONING_EFFORT"), "{summary}");
    assert_eq!(stub.requests().len(), 1, "asked once, not downgraded and asked again");
    let taken = launch(
        "chat-complete",
        &stub,
        &[
            ("OPENAI_MODEL", "gpt-6-sol"),
            ("OPENAI_REASONING_EFFORT", "max"),
            ("OPENAI_REASONING_CONTEXT", "current_turn"),
        ],
    )
    .await;
    assert_eq!(taken.invoke(question_event("hello")).await.status, Some(200));
    let sent = stub.requests().pop().unwrap();
    assert_eq!(
        (sent.reasoning_effort.as_deref(), sent.reasoning_context.as_deref()),
        (Some("max"), Some("current_turn"))
    );
    let off = launch("chat-complete", &stub, &[("OPENAI_REASONING_EFFORT", "none")]).await;
    assert_eq!(off.invoke(question_event("hello")).await.status, Some(200), "gpt-6-luna takes none");
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_reasoning_in_two_items_streams_as_reasoning_and_a_resume_from_it_is_exact() {
    let stub = stub().await;
    let model = [("OPENAI_MODEL", "gpt-oss-120b")];
    let stream = launch("chat-stream", &stub, &model).await;
    let whole = stream.invoke(question_event("/stub raw=2 items=2 deltas=3")).await;
    let events = browser_events(&whole.body).await;
    let reasoning: Vec<&test_harness::BrowserEvent> = events.iter().filter(|e| e.event == "reasoning").collect();
    let text: String = reasoning.iter().map(|e| e.data.as_str()).collect();
    let parts = openai_stub::reply::raw_parts(&openai_stub::scenario::Scenario::parse("/stub raw=2"));
    let expected: Vec<String> = parts.iter().map(|part| part.concat()).collect();
    assert_eq!(text, expected.join("\n\n"), "two items, set apart by one blank line");
    assert_eq!(message_data(&events).concat(), "w0 w1 w2");
    // From every place inside the reasoning, the rest is exactly what the reader had not had.
    for cut in [1, reasoning.len() / 2, reasoning.len() - 1] {
        let had: String = reasoning[..=cut].iter().map(|e| e.data.as_str()).collect();
        let resume = test_harness::runtime_api::function_url_event(
            "GET",
            "/",
            "message=ignored",
            &[("last-event-id", reasoning[cut].id.as_str())],
            None,
        );
        let rest = browser_events(&stream.invoke(resume).await.body).await;
        let rest_reasoning: String = rest.iter().filter(|e| e.event == "reasoning").map(|e| e.data.as_str()).collect();
        assert_eq!(format!("{had}{rest_reasoning}"), text, "cut after reasoning event {cut}");
        assert_eq!(message_data(&rest).concat(), "w0 w1 w2");
        assert_eq!(rest.last().map(|e| e.event.as_str()), Some("end"));
    }
    let complete = launch("chat-complete", &stub, &model).await;
    let buffered = complete.invoke(question_event("/stub raw=2 items=2 deltas=3")).await;
    assert_eq!(buffered.json().unwrap()["reasoning"].as_str(), Some(text.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_writes_and_the_tier_are_priced_in_the_estimate() {
    let stub = stub().await;
    let complete = launch("chat-complete", &stub, &[]).await;
    let answer = complete.invoke(question_event("/stub cached=600 cache_write=300 deltas=5")).await;
    assert_eq!(answer.status, Some(200), "{}", answer.text());
    let line = summaries(&complete).pop().unwrap();
    // gpt-6-luna: 12 fresh input tokens at $0.10/M, 600 cached at $0.01/M, 300 written at
    // $0.125/M, 5 output at $0.50/M.
    let expected = (12.0 * 0.10 + 600.0 * 0.01 + 300.0 * 0.125 + 5.0 * 0.50) / 1e6;
    assert_eq!((line["input_tokens"].as_u64(), line["cache_write_tokens"].as_u64()), (Some(912), Some(300)));
    assert!((line["EstimatedCost"].as_f64().unwrap() - expected).abs() < 1e-12, "{line}");
    assert!((line["estimated_cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12, "{line}");
    assert_eq!(line["service_tier"], "default");
    // OPENAI_SERVICE_TIER=flex is sent, OpenAI answers in flex, and the estimate is half.
    let flex = launch("chat-complete", &stub, &[("OPENAI_SERVICE_TIER", "flex")]).await;
    assert_eq!(flex.invoke(question_event("/stub cached=600 cache_write=300 deltas=5")).await.status, Some(200));
    let line = summaries(&flex).pop().unwrap();
    assert_eq!(line["service_tier"], "flex", "{line}");
    assert!((line["EstimatedCost"].as_f64().unwrap() - expected / 2.0).abs() < 1e-12, "{line}");
    // Ultrafast on GPT-6.2: sent, served, and estimated at the multiple OpenAI bills today (the
    // stand-in reads it from the same dated rows, on its own).
    let fast = [("OPENAI_MODEL", "gpt-6.2-sol"), ("OPENAI_SERVICE_TIER", "ultrafast")];
    let ultrafast = launch("chat-complete", &stub, &fast).await;
    assert_eq!(ultrafast.invoke(question_event("/stub cached=600 deltas=5")).await.status, Some(200));
    let line = summaries(&ultrafast).pop().unwrap();
    assert_eq!(line["service_tier"], "ultrafast", "{line}");
    let asked = stub.state.requests().into_iter().last().unwrap();
    assert_eq!(asked.service_tier.as_deref(), Some("ultrafast"));
    let (estimated, billed) = (line["EstimatedCost"].as_f64().unwrap(), asked.bill_usd());
    assert!(billed > 0.0 && (estimated - billed).abs() < 1e-12, "{estimated} against the bill {billed}");
    let list = openai_stub::billing::dollars(&asked.model, None, asked.usage.as_ref().unwrap());
    assert!(estimated >= list * 3.0 - 1e-12, "at least 3x the list price: {estimated} {list}");
}

/// Asks `turns` questions of `function`, each continuing the one before; the statuses.
async fn conversation(function: &RuntimeApi, turns: usize) -> Vec<u16> {
    let mut previous: Option<String> = None;
    let mut statuses = Vec::new();
    for turn in 0..turns {
        let query = match &previous {
            None => format!("message={}", test_harness::encode(&format!("/stub deltas=10 turn {turn}"))),
            Some(id) => {
                format!(
                    "message={}&previous_response_id={id}",
                    test_harness::encode(&format!("/stub deltas=10 turn {turn}"))
                )
            }
        };
        let answer = function.invoke(get_event(&query)).await;
        statuses.push(answer.status.unwrap_or_default());
        previous = answer.json().and_then(|j| j["response_id"].as_str().map(str::to_owned));
    }
    statuses
}

#[tokio::test(flavor = "multi_thread")]
async fn with_compaction_a_conversation_longer_than_the_window_keeps_answering() {
    let stub = stub().await;
    stub.state.set_context_window(Some(60));
    let plain = launch("chat-complete", &stub, &[]).await;
    let statuses = conversation(&plain, 5).await;
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    assert_eq!(statuses[3], 400, "past the window: context_length_exceeded, {statuses:?}");
    let compacting = launch("chat-complete", &stub, &[("OPENAI_COMPACT_THRESHOLD", "40")]).await;
    let asked_before = stub.requests().len();
    assert_eq!(conversation(&compacting, 6).await, [200; 6]);
    let sent = &stub.requests()[asked_before..];
    assert!(sent.iter().all(|r| r.compact_threshold == Some(40)), "context_management sent every time");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_effort_the_catalogue_says_the_model_refuses_stops_init_naming_what_it_takes() {
    let stub = stub().await;
    let binary = tokio::task::block_in_place(|| test_harness::runtime_api::release_binary("chat-complete"));
    let base = stub.base_url();
    // An effort, and the ultrafast tier on a family that does not take it.
    let cases = [
        (("OPENAI_MODEL", "gpt-6.2-sol"), ("OPENAI_REASONING_EFFORT", "none"), "low, medium, high, xhigh, max"),
        (("OPENAI_MODEL", "gpt-6-luna"), ("OPENAI_SERVICE_TIER", "ultrafast"), "auto, default, flex, priority"),
    ];
    for (model, setting, takes) in cases {
        let api = RuntimeApi::start().await.expect("start the stand-in");
        let env = [("OPENAI_BASE_URL", base.as_str()), ("OPENAI_API_KEY", test_harness::TEST_KEY), model, setting];
        api.spawn(&binary, &env).expect("spawn");
        let answer = api.invoke(question_event("hello")).await;
        assert!(answer.error.is_some(), "the function never starts");
        let said = format!("{}{}", api.log(), api.init_error().unwrap_or_default());
        assert!(said.contains(setting.0) && said.contains(takes), "{said}");
    }
    assert!(stub.requests().is_empty(), "nothing was asked of OpenAI");
}

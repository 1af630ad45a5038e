//! The fault suite through `cargo lambda watch`: every upstream fault on both chat functions,
//! with every body and log line searched for the key, the one-line-per-request JSON logs
//! checked, and 50 concurrent streams compared byte for byte.

use std::time::Duration;

use futures_util::future::join_all;
use openai_stub::{StubServer, StubState};
use test_harness::{LambdaWatch, TEST_KEY, browser_events, encode, message_data};

const STREAM_FAULTS: &[&str] = &[
    "/stub error=flat leak echo abcd",
    "/stub error=nested leak echo abcd",
    "/stub failed echo abcd",
    "/stub incomplete echo abcd",
    "/stub drop echo abcd",
    "/stub malformed echo abcd",
    "/stub hang",
    "/stub status=400 leak",
    "/stub status=401",
    "/stub status=429 code=insufficient_quota",
    "/stub status=500 times=1 echo retried",
    "/stub text=tricky done",
    "/stub reasoning first_delay_ms=700 echo thought",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_under_cargo_lambda_watch() {
    let stub =
        StubServer::start_with(StubState::new(Duration::ZERO, Some(TEST_KEY.into())), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("stand-in");
    let watch = LambdaWatch::start(&[
        ("OPENAI_BASE_URL", &stub.base_url()),
        ("OPENAI_API_KEY", TEST_KEY),
        ("OPENAI_FIRST_EVENT_TIMEOUT_MS", "1500"),
        ("OPENAI_IDLE_TIMEOUT_MS", "1500"),
        // A hung answer is stuck, not thinking, after a second of silence: it fails.
        ("OPENAI_MAX_THINK_MS", "1000"),
        ("OPENAI_TOTAL_TIMEOUT_MS", "5000"),
        ("HEARTBEAT_INTERVAL_MS", "250"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ])
    .await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    watch.warm_up().await;
    let mut bodies = Vec::new();

    for fault in STREAM_FAULTS {
        let response =
            http.get(format!("{}?message={}", watch.url("chat-stream"), encode(fault))).send().await.expect(fault);
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("body").to_vec();
        let events = browser_events(&body).await;
        if status == 200 {
            assert_eq!(events.first().map(|e| e.event.as_str()), Some("start"), "{fault}");
            assert_eq!(events.last().map(|e| e.event.as_str()), Some("end"), "{fault}: every stream ends with end");
        } else {
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
            assert!(json["detail"].is_string(), "{fault}");
        }
        match *fault {
            // Background mode (the default) reads an answer again when its connection to
            // OpenAI breaks: the reader gets all of it and no error.
            f if f.contains("drop") => {
                assert_eq!(message_data(&events).concat(), "abcd", "{fault}: read again after the cut");
                assert!(!events.iter().any(|e| e.event == "error"), "{fault}: {events:?}");
            }
            // One event that cannot be read is logged and skipped: the answer is whole.
            f if f.contains("malformed") => {
                assert_eq!(message_data(&events).concat(), "abcd", "{fault}: the unreadable event skipped");
                assert!(!events.iter().any(|e| e.event == "error"), "{fault}: {events:?}");
            }
            f if f.contains("echo abcd") => {
                assert_eq!(message_data(&events), ["a", "b"], "{fault}: the text already sent is kept");
                assert!(events.iter().any(|e| e.event == "error" && !e.data.is_empty()), "{fault}");
            }
            "/stub hang" => {
                assert!(events.iter().any(|e| e.event == "error" && e.data.contains("too long")), "{events:?}")
            }
            "/stub status=401" => assert_eq!(status, 500),
            "/stub status=429 code=insufficient_quota" => assert_eq!(status, 503),
            "/stub status=400 leak" => assert_eq!(status, 502),
            f if f.contains("retried") => assert_eq!(message_data(&events).concat(), "retried"),
            f if f.contains("thought") => {
                assert_eq!(message_data(&events).concat(), "thought");
                assert!(String::from_utf8_lossy(&body).contains("\n: ping\n"), "no heartbeat while the model thought");
            }
            _ => {}
        }
        bodies.push(body);
    }

    // The buffered function: each fault gives its own status, and the text or the words it must.
    let tricky: String = openai_stub::reply::TRICKY_DELTAS.concat();
    let complete_cases: &[(&str, u16, &str)] = &[
        ("/stub error=flat leak echo abcd", 502, "OpenAI failed to answer (HTTP 500)"),
        ("/stub error=nested leak echo abcd", 502, "OpenAI failed to answer (HTTP 500)"),
        ("/stub failed echo abcd", 502, "failed part way"),
        ("/stub incomplete echo abcd", 200, "abcd"),
        ("/stub drop echo abcd", 502, "connection to OpenAI was lost"),
        ("/stub malformed echo abcd", 502, "could not be understood"),
        ("/stub hang", 504, "took too long"),
        ("/stub status=400 leak", 502, "OpenAI rejected the request"),
        ("/stub status=400 code=context_length_exceeded", 400, "start a new chat"),
        ("/stub status=401", 500, "rejected this deployment's API key"),
        ("/stub status=429 code=insufficient_quota", 503, "run out of quota"),
        ("/stub status=500 times=1 echo retried", 200, "retried"),
        ("/stub text=tricky done", 200, &tricky),
        ("/stub reasoning first_delay_ms=700 echo thought", 200, "thought"),
    ];
    for (fault, expected_status, expected_text) in complete_cases {
        let response =
            http.get(format!("{}?message={}", watch.url("chat-complete"), encode(fault))).send().await.expect(fault);
        let status = response.status().as_u16();
        let json: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(status, *expected_status, "{fault}: {json}");
        if status == 200 {
            assert_eq!(json["data"].as_str(), Some(*expected_text), "{fault}: {json}");
        } else {
            let detail = json["detail"].as_str().unwrap_or_default();
            assert!(detail.to_lowercase().contains(&expected_text.to_lowercase()), "{fault}: {json}");
            assert!(json["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{fault}: {json}");
        }
        if fault.contains("incomplete") {
            assert_eq!(json["incomplete_reason"], "max_output_tokens", "{json}");
        }
        bodies.push(json.to_string().into_bytes());
    }

    // A reader that leaves mid-answer still leaves its summary line, marked cancelled.
    let url = format!("{}?message={}", watch.url("chat-stream"), encode("/stub delay_ms=100 deltas=40"));
    let mut leaving = http.get(url).send().await.expect("stream");
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains(" w2") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), leaving.chunk()).await.expect("deltas in time");
        seen.extend_from_slice(&chunk.expect("a chunk").expect("the stream went on"));
    }
    drop(leaving);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Its tokens are counted once the answer it left has finished, on a line of their own.
    let waited = std::time::Instant::now();
    while !watch.log().contains(r#""message":"answer settled""#) && waited.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A limits table that cannot be reached: both functions refuse with a 503, and count it.
    let unreachable = LambdaWatch::start(&[
        ("OPENAI_BASE_URL", &stub.base_url()),
        ("OPENAI_API_KEY", TEST_KEY),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("LIMITS_TABLE", "limits"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ])
    .await;
    for function in ["chat-stream", "chat-complete"] {
        let response = http.get(format!("{}?message=hello", unreachable.url(function))).send().await.expect(function);
        assert_eq!(response.status(), 503, "{function}: an unreachable limits table");
    }

    for body in &bodies {
        assert!(!String::from_utf8_lossy(body).contains(TEST_KEY), "the key leaked into a response");
    }
    let log = watch.log() + &unreachable.log();
    assert!(!log.contains(TEST_KEY), "the key leaked into the log");
    let settled = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok())
        .find(|line| line["message"] == "answer settled")
        .unwrap_or_else(|| panic!("the answer whose reader left was never counted:\n{log}"));
    assert!(
        settled["OutputTokens"].as_f64().is_some_and(|n| n >= 40.0) && settled.get("Requests").is_none(),
        "{settled}"
    );
    test_harness::emf::declared_metrics(&settled).unwrap_or_else(|error| panic!("not valid EMF ({error}): {settled}"));

    // One structured JSON line per request, with the fields an operator needs at the top level
    // beside `timestamp`, `level` and `message`, each field once.
    let summaries: Vec<(serde_json::Value, &str)> = log
        .lines()
        .filter_map(|line| Some((serde_json::from_str::<serde_json::Value>(line.trim()).ok()?, line)))
        .filter(|(line, _)| line["message"] == "request finished")
        .collect();
    let finished = summaries
        .iter()
        .map(|(line, _)| line)
        .find(|l| l["function"] == "chat-stream" && l["outcome"] == "completed" && l["deltas"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("no JSON summary line in:\n{log}"));
    for field in [
        "timestamp",
        "level",
        "request_id",
        "status",
        "upstream_status",
        "retries",
        "first_text_ms",
        "total_ms",
        "input_tokens",
        "output_tokens",
    ] {
        assert!(!finished[field].is_null(), "summary lacks {field}: {finished}");
    }
    assert!(finished["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{finished}");
    for (_, raw) in &summaries {
        for field in ["\"upstream_status\":", "\"status\":", "\"message\":"] {
            assert!(raw.matches(field).count() <= 1, "{field} twice in {raw}");
        }
    }
    assert!(summaries.iter().any(|(l, _)| l["function"] == "chat-complete"), "no chat-complete summary");
    // Every summary line is valid EMF; what the lines declare is what the template's dashboard
    // and alarms may use (tests/template/check_template.py reads the lists written to target/emf-metrics/).
    let mut emitted = std::collections::BTreeSet::new();
    for (line, raw) in &summaries {
        let declared =
            test_harness::emf::declared_metrics(line).unwrap_or_else(|error| panic!("not valid EMF ({error}): {raw}"));
        emitted.extend(declared);
    }
    for expected in [
        "Requests",
        "TimeToFirstText",
        "TotalTime",
        "EstimatedCost",
        "RefusedBadInput",
        "UpstreamError",
        "UpstreamTimeout",
        "ReadersGone",
        "Misconfigured",
        "UpstreamRateLimited",
        "InputTokens",
        "OutputTokens",
        "LimitsUnavailable",
        "Failures",
    ] {
        assert!(
            emitted.contains(&format!("{}/{expected}", shared::metrics::NAMESPACE)),
            "{expected} never emitted: {emitted:?}"
        );
    }
    test_harness::emf::record_emitted("faults_under_watch", &emitted);
    let refused = summaries.iter().map(|(l, _)| l).find(|l| l["status"] == 400).expect("the warm-up's 400 was logged");
    assert_eq!(
        (refused["level"].as_str(), refused["outcome"].as_str()),
        (Some("INFO"), Some("rejected")),
        "callers' 4xx stay below warn"
    );
    let failed = summaries.iter().map(|(l, _)| l).find(|l| l["status"] == 502).expect("a 502 was logged");
    assert_eq!(failed["level"], "WARN", "{failed}");
    let cancelled = summaries
        .iter()
        .map(|(l, _)| l)
        .find(|l| l["function"] == "chat-stream" && l["outcome"] == "cancelled")
        .unwrap_or_else(|| panic!("the reader that left was not logged:\n{log}"));
    assert!(
        cancelled["deltas"].as_u64().is_some_and(|n| (1..40).contains(&n)),
        "what was streamed so far: {cancelled}"
    );

    // Load: 50 streams at once, each answer complete and byte-exact.
    let streams = (0..50).map(|i| {
        let http = http.clone();
        let text = format!("stream {i}: line one\nline two\n\nend of {i}");
        let url = format!("{}?message={}", watch.url("chat-stream"), encode(&format!("/stub delay_ms=2 echo {text}")));
        async move {
            let body = http.get(url).send().await.expect("stream").bytes().await.expect("body");
            let events = browser_events(&body).await;
            (text, message_data(&events).concat(), events.last().map(|e| e.event.clone()))
        }
    });
    let results =
        tokio::time::timeout(Duration::from_secs(240), join_all(streams)).await.expect("50 streams finished in time");
    for (expected, got, last) in results {
        assert_eq!(got, expected);
        assert_eq!(last.as_deref(), Some("end"));
    }
}

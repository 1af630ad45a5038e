//! The fault suite through `cargo lambda watch`: every upstream fault on both chat functions,
//! with every body and log line searched for the key, the one-line-per-request JSON logs
//! checked, and 50 concurrent streams compared byte for byte.

use std::time::Duration;

use e2e::{LambdaWatch, TEST_KEY, browser_events, encode, message_data};
use futures_util::future::join_all;
use openai_stub::{StubServer, StubState};

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
    let stub = StubServer::start_with(StubState::new(Duration::ZERO, Some(TEST_KEY.into())), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in");
    let watch = LambdaWatch::start(&[
        ("OPENAI_BASE_URL", &stub.base_url()),
        ("OPENAI_API_KEY", TEST_KEY),
        ("OPENAI_FIRST_EVENT_TIMEOUT_MS", "1500"),
        ("OPENAI_IDLE_TIMEOUT_MS", "1500"),
        ("OPENAI_TOTAL_TIMEOUT_MS", "5000"),
        ("HEARTBEAT_INTERVAL_MS", "250"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ])
    .await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    watch.warm_up().await;
    let mut bodies = Vec::new();

    for fault in STREAM_FAULTS {
        let response = http.get(format!("{}?message={}", watch.url("chat-stream"), encode(fault))).send().await.expect(fault);
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
            f if f.contains("echo abcd") => {
                assert_eq!(message_data(&events), ["a", "b"], "{fault}: the text already sent is kept");
                assert!(events.iter().any(|e| e.event == "error" && !e.data.is_empty()), "{fault}");
            }
            "/stub hang" => assert!(events.iter().any(|e| e.event == "error" && e.data.contains("too long")), "{events:?}"),
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

    for fault in STREAM_FAULTS {
        let response = http.get(format!("{}?message={}", watch.url("chat-complete"), encode(fault))).send().await.expect(fault);
        let status = response.status().as_u16();
        let json: serde_json::Value = response.json().await.expect("JSON");
        assert!(json["data"].is_string() || json["detail"].is_string(), "{fault}: {json}");
        if fault.contains("hang") {
            assert_eq!(status, 504, "{json}");
        }
        bodies.push(json.to_string().into_bytes());
    }

    for body in &bodies {
        assert!(!String::from_utf8_lossy(body).contains(TEST_KEY), "the key leaked into a response");
    }
    let log = watch.log();
    assert!(!log.contains(TEST_KEY), "the key leaked into the log");

    // One structured JSON line per request, with the fields an operator needs.
    let summaries: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok())
        .filter(|line| matches!(line["fields"]["message"].as_str(), Some(m) if m.starts_with("request ")))
        .collect();
    let finished = summaries
        .iter()
        .find(|l| l["fields"]["function"] == "chat-stream" && l["fields"]["message"] == "request finished" && l["fields"]["deltas"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("no JSON summary line in:\n{log}"));
    for field in ["request_id", "status", "upstream_status", "retries", "first_text_ms", "total_ms", "input_tokens", "output_tokens"] {
        assert!(!finished["fields"][field].is_null(), "summary lacks {field}: {finished}");
    }
    assert!(finished["fields"]["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{finished}");
    assert!(summaries.iter().any(|l| l["fields"]["function"] == "chat-complete"), "no chat-complete summary");

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
    let results = tokio::time::timeout(Duration::from_secs(240), join_all(streams)).await.expect("50 streams finished in time");
    for (expected, got, last) in results {
        assert_eq!(got, expected);
        assert_eq!(last.as_deref(), Some("end"));
    }
}

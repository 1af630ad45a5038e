//! The public API against its own document: schemathesis (from the project's .venv) generates
//! requests from `static/openapi.json`, valid and invalid, sends them to the functions under
//! `cargo lambda watch`, and checks every answer against the document: no server error, a
//! documented status, content type, headers and body (each SSE event of a stream too).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use openai_stub::StubServer;
use serde_json::Value;
use test_harness::{LambdaWatch, TEST_KEY, browser_events, workspace_root};

/// Generated cases per operation and phase: every operation reached in about 15 s.
const MAX_EXAMPLES: &str = "20";
/// The stand-in answers at once and streams without pauses, so every answer ends well within this.
const REQUEST_TIMEOUT_S: &str = "10";
/// The whole schemathesis run; past it the process is killed and the test fails.
const WALL_CLOCK: Duration = Duration::from_secs(90);
/// Fixed, so a failure reproduces run after run; `API_FUZZ_SEED=<n>` explores others.
const DEFAULT_SEED: &str = "20261123";
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Each documented operation as schemathesis labels it: `POST /chat-stream/stop`.
fn documented_operations(doc: &Value) -> Vec<String> {
    let paths = doc["paths"].as_object().expect("paths");
    let each = paths.iter().flat_map(|(path, item)| {
        METHODS.iter().filter(|m| item.get(**m).is_some()).map(move |m| format!("{} {path}", m.to_uppercase()))
    });
    each.collect()
}

/// The pinned version, from requirements-dev.txt.
fn pinned_version(root: &Path) -> String {
    let requirements = std::fs::read_to_string(root.join("requirements-dev.txt")).expect("requirements-dev.txt");
    let line = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("schemathesis=="))
        .expect("schemathesis is pinned in requirements-dev.txt");
    line.trim().to_owned()
}

/// The id of a real answer from chat-stream (background mode), for the stops to name.
async fn answer_id(watch: &LambdaWatch) -> String {
    let body = reqwest::get(format!("{}?message=A+question+to+stop", watch.url("chat-stream")))
        .await
        .expect("ask")
        .bytes()
        .await
        .expect("body");
    let events = browser_events(&body).await;
    let created =
        events.iter().find(|e| e.event == "response").unwrap_or_else(|| panic!("no response event: {events:?}"));
    let id: Value = serde_json::from_str(&created.data).expect("ResponseCreated JSON");
    id["id"].as_str().expect("id").to_owned()
}

/// The `x-workflow-run-id` of a real answer asked as `WorkflowChatTransport` asks (JSON as
/// `text/plain`, no `trigger`), for the reconnects to name.
async fn run_id(watch: &LambdaWatch) -> String {
    let body = r#"{"messages":[{"id":"m1","role":"user","parts":[{"type":"text","text":"A question to follow"}]}]}"#;
    let response = reqwest::Client::new()
        .post(watch.url("chat-stream"))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body)
        .send()
        .await
        .expect("ask");
    let run = response.headers().get("x-workflow-run-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    drop(response.bytes().await);
    run.expect("a run id")
}

/// The run's settings: no state kept between runs, and a real answer's id offered to the stops
/// (half of their generated bodies), so their 200 is checked too and not only unknown ids' 404;
/// a real run id to the reconnects, likewise.
fn config(answer_id: &str, run_id: &str) -> String {
    format!(
        "[cache]\nenabled = false\n\n[dictionaries]\nanswers = {{ values = [\"{answer_id}\"] }}\n\
         runs = {{ values = [\"{run_id}\"] }}\n\n\
         [[operations]]\ninclude-operation-id = \"chatStreamStop\"\n\
         parameters.\"body.response_id\" = {{ dictionary = \"answers\", probability = 0.5 }}\n\n\
         [[operations]]\ninclude-operation-id = \"chatStreamAgain\"\n\
         parameters.\"path.id\" = {{ dictionary = \"runs\", probability = 0.5 }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_the_api_as_documented() {
    let root = workspace_root();
    let schemathesis = root.join(".venv").join("bin").join("schemathesis");
    assert!(
        schemathesis.is_file(),
        "{} is missing: run scripts/tools.sh (scripts/test does) to install requirements-dev.txt into .venv",
        schemathesis.display()
    );
    let out = root.join("target").join("api-fuzz");
    let _ = std::fs::remove_dir_all(&out);
    // Hypothesis and schemathesis write their caches in the working directory: under target/.
    let work = out.join("work");
    std::fs::create_dir_all(&work).expect("create target/api-fuzz");
    let document = root.join("static").join("openapi.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&document).expect("read the document")).expect("JSON");
    let operations = documented_operations(&doc);

    let setup = Instant::now();
    let stub = StubServer::start().await.expect("stand-in");
    let watch = LambdaWatch::start(&[("OPENAI_BASE_URL", &stub.base_url()), ("OPENAI_API_KEY", TEST_KEY)]).await;
    watch.warm_up().await;
    println!("functions under watch ready in {:.1?}", setup.elapsed());
    let config_path = out.join("schemathesis.toml");
    std::fs::write(&config_path, config(&answer_id(&watch).await, &run_id(&watch).await)).expect("write the config");

    let (output_path, junit, report_path, known_path) =
        (out.join("output.txt"), out.join("junit.xml"), out.join("report.json"), out.join("known.log"));
    let seed = std::env::var("API_FUZZ_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    let output = std::fs::File::create(&output_path).expect("create the output file");
    let mut command = tokio::process::Command::new(&schemathesis);
    command
        .arg("--config-file")
        .arg(&config_path)
        .arg("run")
        .arg(&document)
        .args(["--url", &format!("{}/lambda-url", watch.base_url)])
        // Every check: the hooks set aside, one by one, the failures the document states in words.
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES, "--request-timeout", REQUEST_TIMEOUT_S, "--seed", &seed])
        .args(["--generation-database", "none", "--no-color"])
        // One worker: hypothesis describing strategies on two threads trips CPython 3.11's AST parser.
        .args(["--workers", "1"])
        .args(["--report", "junit,json"])
        .arg("--report-junit-path")
        .arg(&junit)
        .arg("--report-json-path")
        .arg(&report_path)
        .env("SCHEMATHESIS_HOOKS", root.join("tests").join("fuzz").join("hooks.py"))
        .env("API_FUZZ_KNOWN_LOG", &known_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(output.try_clone().expect("output handle"))
        .stderr(output)
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().unwrap_or_else(|e| panic!("run {}: {e}", schemathesis.display()));
    let status = tokio::time::timeout(WALL_CLOCK, child.wait()).await;
    let elapsed = started.elapsed();
    let said = std::fs::read_to_string(&output_path).unwrap_or_default();
    let known = std::fs::read_to_string(&known_path).unwrap_or_default();
    let Ok(status) = status else {
        let _ = child.kill().await;
        panic!("schemathesis ran past {WALL_CLOCK:?} and was killed; its output so far:\n{said}");
    };
    let status = status.expect("wait for schemathesis");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for reason in known.lines().filter_map(|l| l.split_once(": ").map(|(_, r)| r)) {
        *counts.entry(reason).or_default() += 1;
    }
    println!("schemathesis: {elapsed:.1?}, seed {seed}; set aside by tests/fuzz/hooks.py: {counts:#?}");
    assert!(status.success(), "schemathesis failed ({status}); report {}:\n{said}", junit.display());

    // A run that tested nothing passes too: what it tested is read from its report.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("the JSON report")).expect("report JSON");
    let context = format!("{}\n{said}", report_path.display());
    assert_eq!(
        report["schemathesis_version"].as_str(),
        Some(pinned_version(&root).as_str()),
        "the .venv's schemathesis is not the pinned one: run scripts/tools.sh"
    );
    assert_eq!(report["complete"], true, "{context}");
    let tested = &report["operations"];
    for field in ["total", "selected", "tested"] {
        assert_eq!(tested[field].as_u64(), Some(operations.len() as u64), "operations.{field}: {context}");
    }
    assert_eq!((tested["errored"].as_u64(), tested["skipped"].as_u64()), (Some(0), Some(0)), "{context}");
    for phase in ["examples", "coverage", "fuzzing"] {
        assert_eq!(report["phases"][phase]["status"], "success", "phase {phase}: {context}");
    }
    let cases = &report["test_cases"];
    assert!(cases["generated"].as_u64().unwrap_or(0) >= 10 * operations.len() as u64, "too few cases: {context}");
    assert_eq!((cases["errored"].as_u64(), cases["without_checks"].as_u64()), (Some(0), Some(0)), "{context}");
    // Every operation answered at least one valid request with a 2xx: the handlers were reached.
    for operation in &operations {
        let phases = report["valid_rates"][operation]
            .as_object()
            .unwrap_or_else(|| panic!("{operation} never tested: {context}"));
        let accepted: u64 = phases.values().filter_map(|p| p["accepted"].as_u64()).sum();
        assert!(accepted > 0, "{operation}: no request was accepted: {context}");
    }
    assert!(stub.requests().len() >= 10, "the chat functions hardly reached the stand-in");
    assert!(!watch.log().contains(TEST_KEY), "the key leaked into the log");
}

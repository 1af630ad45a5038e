//! The peers measured beside this project: the tutorial's FastAPI app (c) and the LiteLLM proxy
//! (l), each from its own virtualenv under target/ (scripts/bench and scripts/litellm-peer.sh
//! make them); without one, the run goes on without it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use openai_stub::StubServer;
use test_harness::free_port;

use crate::measure::{millis, quantile};
use crate::report::Figures;

/// How long the LiteLLM proxy may take to start (it imports a great deal).
const LITELLM_START: Duration = Duration::from_secs(120);

/// The LiteLLM proxy on a free port, pointed at `upstream` (an OpenAI base URL), its master key
/// the benchmark's (bench/litellm-config.yaml); its base URL, or `None` when it is not installed.
pub async fn start_litellm(
    root: &Path,
    upstream: &str,
    http: &reqwest::Client,
) -> Option<(tokio::process::Child, String)> {
    let litellm = root.join("target").join("litellm-venv").join("bin").join("litellm");
    if !litellm.exists() {
        eprintln!(
            "warning: {} is missing (scripts/litellm-peer.sh installs it); measuring without LiteLLM",
            litellm.display()
        );
        return None;
    }
    let port = free_port();
    let config = root.join("bench").join("litellm-config.yaml");
    let log = std::fs::File::create(root.join("target").join("litellm.log")).ok()?;
    let child = tokio::process::Command::new(&litellm)
        .args([
            "--config",
            &config.to_string_lossy(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--num_workers",
            "1",
        ])
        // As scripts/litellm-peer.sh runs it: offline, quiet, no database, from target/.
        .env("OPENAI_BASE_URL", upstream)
        .env("OPENAI_API_KEY", "sk-bench")
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_TELEMETRY_DISABLED", "true")
        .env("LITELLM_MODE", "PRODUCTION")
        .env("LITELLM_LOG", "ERROR")
        .env_remove("DATABASE_URL")
        .current_dir(root.join("target"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().ok()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let started = Instant::now();
    let body = serde_json::json!({ "model": "gpt-6-luna", "input": "hello there", "stream": false });
    loop {
        let ready = http
            .post(format!("{base_url}/responses"))
            .bearer_auth("sk-bench")
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if matches!(ready, Ok(r) if r.status().is_success()) {
            eprintln!("    LiteLLM answered after {:.1} s", started.elapsed().as_secs_f64());
            return Some((child, base_url));
        }
        if started.elapsed() > LITELLM_START {
            eprintln!(
                "warning: LiteLLM did not answer within {LITELLM_START:?} (target/litellm.log); measuring without it"
            );
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts the tutorial's app three times, timing start to first answer; keeps the last running.
/// Without its virtualenv (scripts/bench makes it) the run goes on without it.
pub async fn start_peer(
    root: &Path,
    stub: &StubServer,
    http: &reqwest::Client,
    figures: &mut Figures,
) -> Option<(tokio::process::Child, u16)> {
    let peer_dir = root.join("..").join("shared").join("peers").join("seed-fastapi");
    let uvicorn = root.join("target").join("peer-venv").join("bin").join("uvicorn");
    if !uvicorn.exists() {
        eprintln!(
            "warning: {} is missing (scripts/bench installs it); measuring without the tutorial's app",
            uvicorn.display()
        );
        figures.peer_start_ms = f64::NAN;
        return None;
    }
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/chat-complete?message=hi");
    let mut starts = Vec::new();
    let mut peer = None;
    for _ in 0..3 {
        if let Some(mut old) = peer.take() {
            let _ = tokio::process::Child::kill(&mut old).await;
        }
        let started = Instant::now();
        let child = tokio::process::Command::new(&uvicorn)
            .args([
                "main:app",
                "--app-dir",
                &peer_dir.to_string_lossy(),
                "--port",
                &port.to_string(),
                "--log-level",
                "warning",
            ])
            .env("OPENAI_API_KEY", "sk-bench")
            .env("OPENAI_BASE_URL", stub.base_url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start uvicorn (scripts/bench installs it into target/peer-venv)");
        while !matches!(http.get(&url).timeout(Duration::from_secs(5)).send().await, Ok(r) if r.status().is_success()) {
            assert!(started.elapsed() < Duration::from_secs(60), "the tutorial's app did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        starts.push(millis(started.elapsed()));
        peer = Some(child);
    }
    figures.peer_start_ms = quantile(&starts, 0.5);
    peer.map(|child| (child, port))
}

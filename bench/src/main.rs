//! `cargo run --release -p bench` (or `scripts/bench`): the stand-in upstream called directly
//! (a), this project's functions under `cargo lambda watch --release` (b) and the tutorial's
//! FastAPI app (c), measured in one interleaved run against the same upstream on loopback.
//! Prints a table and writes BENCHMARKS.md.

mod coldstart;
mod measure;
mod procs;
mod report;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use e2e::{LambdaWatch, free_port, workspace_root};
use measure::{Server, millis, quantile};
use openai_stub::{StubServer, StubState};
use report::Figures;

const TTFT_ROUNDS: usize = 60;
const DELTA_ROUNDS: usize = 5;
const DELTAS: usize = 2000;
const INIT_RUNS: usize = 30;

#[tokio::main]
async fn main() {
    shared::tls::install_crypto_provider();
    let root = workspace_root();
    let peer_dir = root.join("..").join("shared").join("peers").join("seed-fastapi");
    let peer_venv = root.join("target").join("peer-venv");
    let stub = StubServer::start_with(StubState::new(Duration::ZERO, None), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("stand-in");
    // A fresh connection per request, as a browser's first request: the emulator's server does
    // not set TCP_NODELAY, so on a reused connection Nagle and delayed ACKs add ~40 ms to it.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut figures = Figures::default();

    eprintln!("==> (c) the tutorial's app: start to first answer");
    let peer_port = free_port();
    let mut peer_starts = Vec::new();
    let mut peer = None;
    for _ in 0..3 {
        if let Some(mut old) = peer.take() {
            let _ = tokio::process::Child::kill(&mut old).await;
        }
        let started = Instant::now();
        let child = tokio::process::Command::new(peer_venv.join("bin").join("uvicorn"))
            .args(["main:app", "--app-dir", &peer_dir.to_string_lossy(), "--port", &peer_port.to_string(), "--log-level", "warning"])
            .env("OPENAI_API_KEY", "sk-bench")
            .env("OPENAI_BASE_URL", stub.base_url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start uvicorn (scripts/bench installs it into target/peer-venv)");
        let url = format!("http://127.0.0.1:{peer_port}/chat-complete?message=hi");
        while !matches!(http.get(&url).send().await, Ok(r) if r.status().is_success()) {
            assert!(started.elapsed() < Duration::from_secs(60), "the tutorial's app did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        peer_starts.push(millis(started.elapsed()));
        peer = Some(child);
    }
    figures.peer_start_ms = quantile(&peer_starts, 0.5);
    let peer_pid = peer.as_ref().and_then(|p| p.id()).expect("peer pid");

    eprintln!("==> (b) this project under cargo lambda watch --release (builds on first use)");
    let watch = LambdaWatch::start_with_args(&["--release"], &[("OPENAI_BASE_URL", &stub.base_url()), ("OPENAI_API_KEY", "sk-bench")]).await;
    watch.warm_up().await;
    let servers = [
        Server::Direct { base_url: stub.base_url() },
        Server::Ours { url: watch.url("chat-stream") },
        Server::Peer { url: format!("http://127.0.0.1:{peer_port}/chat-stream") },
    ];

    eprintln!("==> the emulator's own hop (a blank message: answered without upstream)");
    let mut hops = Vec::new();
    for _ in 0..TTFT_ROUNDS {
        let started = Instant::now();
        http.get(format!("{}?message=", watch.url("chat-stream"))).send().await.expect("hop").bytes().await.expect("body");
        hops.push(millis(started.elapsed()));
    }
    figures.emulator_hop_ms = quantile(&hops, 0.5);

    eprintln!("==> time to first text, {TTFT_ROUNDS} rounds, interleaved");
    let mut ttft: [Vec<f64>; 3] = Default::default();
    for _ in 0..TTFT_ROUNDS {
        let mut texts = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let timing = server.stream(&http, "hello there").await;
            ttft[i].push(millis(timing.first_text));
            texts.push(timing.text);
        }
        assert!(texts.iter().all(|t| *t == texts[0]), "the three answers differ: {texts:?}");
    }
    for i in 0..3 {
        figures.ttft_median[i] = quantile(&ttft[i], 0.5);
        figures.ttft_p95[i] = quantile(&ttft[i], 0.95);
    }

    eprintln!("==> {DELTAS} deltas with no pacing, {DELTA_ROUNDS} rounds, interleaved");
    let functions = procs::find("target/release/chat-stream");
    let emulator = procs::find("lambda watch");
    let cpu_before = [procs::total_cpu_ms(&functions), procs::cpu_ms(peer_pid), procs::total_cpu_ms(&emulator)];
    let mut ends: [Vec<f64>; 3] = Default::default();
    let message = format!("/stub deltas={DELTAS} delay_ms=0");
    for _ in 0..DELTA_ROUNDS {
        for (i, server) in servers.iter().enumerate() {
            let timing = server.stream(&http, &message).await;
            assert_eq!(timing.text.split(' ').count(), DELTAS, "{server:?} lost deltas");
            ends[i].push(millis(timing.end));
        }
    }
    let functions = procs::find("target/release/chat-stream");
    let cpu_after = [procs::total_cpu_ms(&functions), procs::cpu_ms(peer_pid), procs::total_cpu_ms(&emulator)];
    for i in 0..3 {
        figures.stream_end_ms[i] = quantile(&ends[i], 0.5);
    }
    let per_thousand = |i: usize| (cpu_after[i].saturating_sub(cpu_before[i])) as f64 / (DELTA_ROUNDS * DELTAS / 1000) as f64;
    figures.cpu_per_1000 = [per_thousand(0), per_thousand(1)];
    figures.emulator_cpu_per_1000 = per_thousand(2);
    figures.peak_rss_kb = [procs::max_rss_kb(&functions), procs::peak_rss_kb(peer_pid)];
    drop(watch);
    drop(peer);

    eprintln!("==> cold start: exec until the first Runtime API poll, {INIT_RUNS} runs each");
    let release = root.join("target").join("release");
    let secret_env: &[(&str, &str)] = &[
        ("OPENAI_API_KEY_SECRET_ID", "bench/openai"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ];
    for (i, function) in ["chat-complete", "chat-stream", "index"].iter().enumerate() {
        let binary: PathBuf = release.join(function);
        let mut with_key = Vec::new();
        let mut with_secret = Vec::new();
        for _ in 0..INIT_RUNS {
            with_key.push(coldstart::init_ms(&binary, &[("OPENAI_API_KEY", "sk-bench")]).await);
            if *function != "index" {
                with_secret.push(coldstart::init_ms(&binary, secret_env).await);
            }
        }
        figures.init_ms[i] = quantile(&with_key, 0.5);
        figures.init_secret_ms[i] = quantile(&with_secret, 0.5);
        let zip = root.join("target").join("lambda").join(function).join("bootstrap.zip");
        figures.zip_bytes[i] = std::fs::metadata(zip).map(|m| m.len()).unwrap_or(0);
    }

    let table = figures.table();
    println!("{table}");
    report::write(&root.join("BENCHMARKS.md"), &figures, &table).expect("write BENCHMARKS.md");
    eprintln!("==> wrote BENCHMARKS.md");
}

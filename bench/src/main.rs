//! `cargo run --release -p bench` (or `scripts/bench`): the production path measured against
//! its limits, in one interleaved run on loopback against the same OpenAI stand-in:
//!
//! - (a) the stand-in read directly, the limit;
//! - (b) this project's release `chat-stream`, one warm process behind the Lambda Runtime API
//!   stand-in (`test_harness::runtime_api`), as AWS runs it: the main figures;
//! - (c) the tutorial's FastAPI app under uvicorn;
//! - (w) the same function under `cargo lambda watch --release`, kept as a separate row: the
//!   emulator's own server sets no TCP_NODELAY, so stalls there are the emulator's.
//!
//! `bench cold` and `bench failover` measure only the cold first request, or only the failover
//! rows. Prints the tables and writes BENCHMARKS.md. Every loop has a fixed count and every wait a
//! time limit (requests 60 s, invocations 30 s, starts 10–60 s).

mod added;
mod background;
mod buffered;
mod chart;
mod cold;
mod coldstart;
mod document;
mod failover;
mod limits;
mod measure;
mod peers;
mod procs;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use measure::{Server, lateness_ms, millis, quantile};
use openai_stub::tls::TestCa;
use openai_stub::{StubServer, StubState};
use report::Figures;
use test_harness::runtime_api::{RuntimeApi, release_binary};
use test_harness::{Dynalite, LambdaWatch, workspace_root};

const FUNCTIONS: [&str; 3] = ["chat-complete", "chat-stream", "index"];
const TTFT_ROUNDS: usize = 60;
/// Rounds per pace and server; each answer has `PACED_DELTAS` deltas.
const PACED_ROUNDS: usize = 40;
const PACED_DELTAS: usize = 25;
/// Bursty (deltas 2 ms apart, as a fast model streams tokens) and steady (10 ms apart).
const PACES: [Duration; 2] = [Duration::from_millis(2), Duration::from_millis(10)];
const THROUGHPUT_ROUNDS: usize = 5;
const THROUGHPUT_DELTAS: usize = 2000;
const INIT_RUNS: usize = 30;

#[tokio::main]
async fn main() {
    chat_core::tls::install_crypto_provider();
    let root = workspace_root();
    let stub = StubServer::start_with(StubState::new(Duration::ZERO, None), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("stand-in");
    // A fresh connection per HTTP request, as a browser's first request; the emulator's server
    // does not set TCP_NODELAY, so a reused connection to it stalls ~40 ms on every request.
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(0).build().expect("client");
    let mut figures = Figures::default();
    match std::env::args().nth(1).as_deref() {
        Some("cold") => return cold_only(&root, &stub).await,
        Some("failover") => {
            let figures = failover::measure(&private_copies(&root)[1], &[]).await;
            println!("| figure | median / p95 |\n| --- | ---: |\n{}", figures.rows());
            return;
        }
        // The limits section alone (p50 / p95 / p99), to look into what admission costs.
        Some("limits") => {
            let binaries = private_copies(&root);
            let env = [("OPENAI_BASE_URL", stub.base_url()), ("OPENAI_API_KEY", "sk-bench".to_owned())];
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let off = Arc::new(RuntimeApi::launch(&binaries[1], &env).await);
            let l = limits::measure(&binaries[1], &off, &env, &http).await;
            for (name, q) in [
                ("first text, limits off", l.ttft_off),
                ("first text, limits on", l.ttft_on),
                ("one write", l.write),
                ("two at once", l.two_writes),
                ("the function's admission, from here", l.admission),
            ] {
                println!("| {name} | {:.2} / {:.2} / {:.2} ms |", q[0], q[1], q[2]);
            }
            return;
        }
        _ => {}
    }

    eprintln!(
        "==> release build of the functions (cargo build --release --bin chat-stream --bin chat-complete --bin index)"
    );
    let binaries = private_copies(&root);
    let upstream = [("OPENAI_BASE_URL", stub.base_url()), ("OPENAI_API_KEY", "sk-bench".to_owned())];
    let upstream: Vec<(&str, &str)> = upstream.iter().map(|(k, v)| (*k, v.as_str())).collect();

    eprintln!("==> (b) the release chat-stream behind the Runtime API stand-in");
    let function = Arc::new(RuntimeApi::launch(&binaries[1], &upstream).await);
    let function_pid = function.pid().expect("function pid");

    eprintln!("==> (c) the tutorial's app: start to first answer");
    let peer = peers::start_peer(&root, &stub, &http, &mut figures).await;
    let peer_pid = peer.as_ref().and_then(|(child, _)| child.id());

    eprintln!("==> (w) the functions under cargo lambda watch --release (builds on first use)");
    let watch = LambdaWatch::start_with_args(&["--release"], &upstream).await;
    watch.warm_up().await;

    // Each with its column in the figures: a, b, c, w.
    let mut servers =
        vec![(0, Server::Direct { base_url: stub.base_url() }), (1, Server::Function { api: function.clone() })];
    if let Some((_, port)) = &peer {
        servers.push((2, Server::Peer { url: format!("http://127.0.0.1:{port}/chat-stream") }));
    }
    servers.push((3, Server::Watch { url: watch.url("chat-stream") }));
    // Each server's first answer opens its connections; not measured.
    for (_, server) in &servers {
        server.stream(&http, "warm up").await;
    }

    eprintln!("==> the emulator's own hop (a blank message: answered without upstream), {TTFT_ROUNDS} rounds");
    let mut hops = Vec::new();
    for _ in 0..TTFT_ROUNDS {
        let started = Instant::now();
        let response = http.get(format!("{}?message=", watch.url("chat-stream"))).send().await.expect("hop");
        response.bytes().await.expect("body");
        hops.push(millis(started.elapsed()));
    }
    figures.emulator_hop_ms = quantile(&hops, 0.5);

    eprintln!("==> time to first text, {TTFT_ROUNDS} rounds, interleaved");
    let mut ttft: [Vec<f64>; 4] = Default::default();
    for _ in 0..TTFT_ROUNDS {
        let mut texts = Vec::new();
        for (i, server) in &servers {
            let timing = server.stream(&http, "hello there").await;
            ttft[*i].push(millis(timing.first_text));
            texts.push(timing.text);
        }
        assert!(texts.iter().all(|t| *t == texts[0]), "the answers differ: {texts:?}");
    }
    for (i, samples) in ttft.iter().enumerate() {
        figures.ttft_median[i] = quantile(samples, 0.5);
        figures.ttft_p95[i] = quantile(samples, 0.95);
    }

    for (p, pace) in PACES.iter().enumerate() {
        eprintln!("==> {PACED_DELTAS} deltas {pace:?} apart, {PACED_ROUNDS} rounds, interleaved");
        let message = format!("/stub deltas={PACED_DELTAS} delay_ms={}", pace.as_millis());
        let mut late: [Vec<f64>; 4] = Default::default();
        for _ in 0..PACED_ROUNDS {
            for (i, server) in &servers {
                let timing = server.stream(&http, &message).await;
                assert_eq!(timing.deltas.len(), PACED_DELTAS, "{} lost deltas", server.label());
                late[*i].extend(lateness_ms(&timing.deltas, *pace));
            }
        }
        for (i, samples) in late.iter().enumerate() {
            figures.lateness_p99[p][i] = quantile(samples, 0.99);
            figures.lateness_max[p][i] = quantile(samples, 1.0);
            figures.stalls[p][i] = samples.iter().filter(|l| **l > 20.0).count();
        }
        figures.lateness_samples[p] = late[1].len();
    }
    drop(watch);

    eprintln!("==> background mode: time to first text against plain streams, and a resume's cost, 30 rounds");
    figures.background = background::measure(&binaries[1], &function, &upstream, &stub.base_url(), &http).await;

    eprintln!("==> non-streamed: chat-complete against a direct buffered call, 200 rounds, interleaved");
    figures.buffered = buffered::measure(&binaries[0], &upstream, &stub.base_url(), &http).await;

    eprintln!("==> failover: first text when the primary refuses at once, against a healthy primary");
    figures.failover = failover::measure(&binaries[1], &[]).await;

    eprintln!("==> limits on (dynalite on loopback) against limits off: time to first text, 60 rounds, interleaved");
    figures.limits = limits::measure(&binaries[1], &function, &upstream, &http).await;

    eprintln!(
        "==> added over direct, p99, two passes: first text (plain, TLS, limits on), non-streamed, per delta at 20 ms"
    );
    let (ca, ca_file, tls_stub) = tls_stand_in(&root).await;
    let litellm = peers::start_litellm(&root, &stub.base_url(), &http).await;
    let targets = added::Targets {
        stub_url: stub.base_url(),
        tls_stub_url: tls_stub.base_url(),
        env: upstream.clone(),
        ca_file: &ca_file,
        ca_pem: &ca.ca_pem,
        stream_binary: &binaries[1],
        complete_binary: &binaries[0],
        peer_url: litellm.as_ref().map(|(_, url)| url.clone()),
    };
    figures.added = added::measure(&targets).await;
    drop(litellm);

    eprintln!("==> cold first request: exec to first text, OpenAI behind TLS, limits on, both chat functions");
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table(cold::TABLE).await;
    let (ca_path, tls_url) = (ca_file.to_string_lossy().into_owned(), tls_stub.base_url());
    let cold_env = limits_on(behind_tls(&tls_url, &ca_path), &dynamo);
    let client = dynamo.client();
    figures.cold = [
        cold::measure(&binaries[0], &cold_env, false, Some(&client)).await,
        cold::measure(&binaries[1], &cold_env, true, Some(&client)).await,
    ];
    drop(dynamo);

    eprintln!("==> {THROUGHPUT_DELTAS} deltas with no pacing, {THROUGHPUT_ROUNDS} rounds, interleaved");
    let cpu = || [Some(function_pid), peer_pid].map(|pid| pid.map(procs::cpu_ms));
    let cpu_before = cpu();
    let mut ends: [Vec<f64>; 3] = Default::default();
    let message = format!("/stub deltas={THROUGHPUT_DELTAS} delay_ms=0");
    for _ in 0..THROUGHPUT_ROUNDS {
        for (i, server) in servers.iter().filter(|(i, _)| *i < 3) {
            let timing = server.stream(&http, &message).await;
            assert_eq!(timing.deltas.len(), THROUGHPUT_DELTAS, "{} lost deltas", server.label());
            ends[*i].push(millis(timing.end));
        }
    }
    let cpu_after = cpu();
    for (i, samples) in ends.iter().enumerate() {
        figures.stream_end_ms[i] = quantile(samples, 0.5);
    }
    let per_thousand = |i: usize| match (cpu_before[i], cpu_after[i]) {
        (Some(before), Some(after)) => {
            after.saturating_sub(before) as f64 / (THROUGHPUT_ROUNDS * THROUGHPUT_DELTAS / 1000) as f64
        }
        _ => f64::NAN,
    };
    figures.cpu_per_1000 = [per_thousand(0), per_thousand(1)];
    figures.peak_rss_kb = [procs::peak_rss_kb(function_pid), peer_pid.map_or(0, procs::peak_rss_kb)];
    assert!(function.is_alive(), "the function died during the run; log:\n{}", function.log());
    drop(servers);
    drop(function);
    drop(peer);

    eprintln!("==> init: exec until the first Runtime API poll, this shell's environment, {INIT_RUNS} runs each");
    // Init opens the connection to OpenAI: the stand-in's, as a deployment's would be OpenAI's.
    let base_url = stub.base_url();
    let secret_env: &[(&str, &str)] = &[
        ("OPENAI_BASE_URL", &base_url),
        ("OPENAI_API_KEY_SECRET_ID", "bench/openai"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ];
    for (i, function) in FUNCTIONS.iter().enumerate() {
        let (mut with_key, mut with_secret) = (Vec::new(), Vec::new());
        for _ in 0..INIT_RUNS {
            with_key.push(
                coldstart::init_ms(&binaries[i], &[("OPENAI_API_KEY", "sk-bench"), ("OPENAI_BASE_URL", &base_url)])
                    .await,
            );
            if *function != "index" {
                with_secret.push(coldstart::init_ms(&binaries[i], secret_env).await);
            }
        }
        figures.init_ms[i] = quantile(&with_key, 0.5);
        figures.init_p95_ms[i] = quantile(&with_key, 0.95);
        figures.init_secret_ms[i] = quantile(&with_secret, 0.5);
        let zip = root.join("target").join("lambda").join(function).join("bootstrap.zip");
        figures.zip_bytes[i] = std::fs::metadata(zip).map(|m| m.len()).unwrap_or(0);
    }

    let table = figures.table();
    println!("{table}");
    document::write(&root.join("BENCHMARKS.md"), &figures, &table).expect("write BENCHMARKS.md");
    std::fs::write(root.join("docs").join("benchmarks-added.svg"), chart::svg(&figures.added))
        .expect("write the chart");
    eprintln!("==> wrote BENCHMARKS.md");
}

/// Builds the release binaries as the tests do and copies them aside, so that `cargo lambda
/// watch`'s own builds (one binary at a time) cannot swap what is measured mid-run.
fn private_copies(root: &Path) -> Vec<PathBuf> {
    let dir = root.join("target").join("bench-bin");
    std::fs::create_dir_all(&dir).expect("create target/bench-bin");
    FUNCTIONS
        .iter()
        .map(|name| {
            let copy = dir.join(name);
            std::fs::copy(release_binary(name), &copy).unwrap_or_else(|e| panic!("copy {name}: {e}"));
            copy
        })
        .collect()
}

/// `bench cold`: only the cold first request of both chat functions, built up one part at a
/// time (plain upstream, then TLS, then limits on), with where chat-stream's time goes; for work
/// on start-up.
async fn cold_only(root: &Path, stub: &StubServer) {
    let binaries = private_copies(root);
    let (_ca, ca_file, tls_stub) = tls_stand_in(root).await;
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table(cold::TABLE).await;
    let (plain_url, tls_url, ca_path) = (stub.base_url(), tls_stub.base_url(), ca_file.to_string_lossy().into_owned());
    let plain = vec![("OPENAI_BASE_URL", plain_url.as_str()), ("OPENAI_API_KEY", "sk-bench")];
    let tls = behind_tls(&tls_url, &ca_path);
    let limited = limits_on(tls.clone(), &dynamo);
    println!(
        "| function, upstream | init | first answer | warm | extra | poll → prelude, cold / warm | prelude → text, cold / warm | dynalite: 3 writes at once − 2 | extra over a new caller's warm request |"
    );
    let client = dynamo.client();
    for (function, binary, streamed) in [("chat-stream", &binaries[1], true), ("chat-complete", &binaries[0], false)] {
        for (name, env, dynamo) in
            [("plain", &plain, None), ("TLS", &tls, None), ("TLS, limits", &limited, Some(&client))]
        {
            let c = cold::measure(binary, env, streamed, dynamo).await;
            println!(
                "| {function}, {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} | {:.2} |",
                c.init[0],
                c.first_answer[0],
                c.warm[0],
                c.extra[0],
                c.to_prelude[0],
                c.to_prelude[1],
                c.prelude_to_text[0],
                c.prelude_to_text[1],
                c.third_write,
                c.extra_over_new_caller[0]
            );
        }
    }
}

/// A test CA (its PEM written to target/bench-bin) and the stand-in behind TLS with it.
async fn tls_stand_in(root: &Path) -> (TestCa, PathBuf, StubServer) {
    let ca = TestCa::new().expect("a test CA");
    let ca_file = root.join("target").join("bench-bin").join("test-ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).expect("write the test CA");
    let stub = StubServer::start_tls(StubState::new(Duration::ZERO, None), "127.0.0.1:0".parse().expect("addr"), &ca)
        .await
        .expect("TLS stand-in");
    (ca, ca_file, stub)
}

/// A function's variables for OpenAI at `url`, trusted through the CA bundle at `ca_path`.
fn behind_tls<'a>(url: &'a str, ca_path: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![("OPENAI_BASE_URL", url), ("OPENAI_API_KEY", "sk-bench"), ("SSL_CERT_FILE", ca_path)]
}

/// `env` with limits on in `dynamo`'s cold table, set out of reach: what is measured is their
/// round trips.
fn limits_on<'a>(mut env: Vec<(&'static str, &'a str)>, dynamo: &'a Dynalite) -> Vec<(&'static str, &'a str)> {
    env.extend(dynamo.limits_env(cold::TABLE));
    env.extend(limits::OUT_OF_REACH);
    env
}

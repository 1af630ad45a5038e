//! Added over direct, measured as the fastest gateways are: one request at a time against the
//! same stand-in on this machine, each path's p99 less the direct read's p99 from the same
//! interleaved rounds; all of it twice (the second pass after the whole first), so each figure
//! comes with its run-to-run spread. Ours asks for plain streams here (`RESUMABLE_STREAMS=false`),
//! the same upstream work as the direct read and the peer; background mode's own cost has its
//! table. Beside ours, the LiteLLM proxy on the same loads when it is installed
//! (scripts/litellm-peer.sh), in rounds of its own with a direct baseline of their own: the work
//! it leaves running after each answer must not land on ours.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use test_harness::Dynalite;
use test_harness::runtime_api::{RuntimeApi, get_event};

use crate::measure::{Server, lateness_ms, millis, quantiles};

const FIRST_TEXT_ROUNDS: usize = 200;
const BUFFERED_ROUNDS: usize = 200;
const PACED_ROUNDS: usize = 16;
const PACED_DELTAS: usize = 25;
const PACE: Duration = Duration::from_millis(20);

/// One path: p50 and p99 (ms; µs for the per-delta path) per pass of: 0 direct, 1 ours, 2 the
/// peer, 3 direct in the peer's rounds.
#[derive(Debug, Clone, Copy)]
pub struct Added {
    pub name: &'static str,
    pub unit: &'static str,
    /// The goal for ours, on p99 added (NaN: judged otherwise).
    pub goal: f64,
    pub passes: [[[f64; 2]; 4]; 2],
}

pub const LIMITS_ROW: &str = "first text, limits on (dynalite)";

impl Added {
    fn new(name: &'static str, unit: &'static str, goal: f64) -> Self {
        Self { name, unit, goal, passes: [[[f64::NAN; 2]; 4]; 2] }
    }

    /// p99 added over direct by `who` (1 ours, 2 the peer) in `pass`.
    pub fn added(&self, pass: usize, who: usize) -> f64 {
        let direct = if who == 2 { 3 } else { 0 };
        self.passes[pass][who][1] - self.passes[pass][direct][1]
    }

    /// The larger of the two passes' p99 added: the figure a goal is judged on.
    pub fn worst_added(&self, who: usize) -> f64 {
        self.added(0, who).max(self.added(1, who))
    }

    pub fn spread(&self, who: usize) -> f64 {
        (self.added(0, who) - self.added(1, who)).abs()
    }
}

/// Where the loads go: the stand-in (plain and behind TLS), the functions, the peer.
pub struct Targets<'a> {
    pub stub_url: String,
    pub tls_stub_url: String,
    /// chat-stream's environment, to start the TLS and limits-on copies from.
    pub env: Vec<(&'a str, &'a str)>,
    pub ca_file: &'a Path,
    pub ca_pem: &'a str,
    pub stream_binary: &'a Path,
    pub complete_binary: &'a Path,
    pub peer_url: Option<String>,
}

pub async fn measure(t: &Targets<'_>) -> Vec<Added> {
    // The direct reader keeps its connection, as the functions keep theirs to OpenAI.
    let pooled = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let ca = reqwest::Certificate::from_pem(t.ca_pem.as_bytes()).expect("the test CA");
    let pooled_tls =
        reqwest::Client::builder().timeout(Duration::from_secs(60)).tls_certs_only([ca]).build().expect("TLS client");

    let mut plain_env = t.env.clone();
    plain_env.push(("RESUMABLE_STREAMS", "false"));
    let ours = launch(t.stream_binary, &plain_env).await;
    let mut tls_env = plain_env.clone();
    let ca_file = t.ca_file.to_string_lossy().into_owned();
    tls_env.retain(|(k, _)| *k != "OPENAI_BASE_URL");
    tls_env.extend([("OPENAI_BASE_URL", t.tls_stub_url.as_str()), ("SSL_CERT_FILE", ca_file.as_str())]);
    let tls_stream = launch(t.stream_binary, &tls_env).await;
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("added").await;
    let mut limits_env = plain_env.clone();
    limits_env.extend(dynamo.limits_env("added"));
    limits_env.extend(crate::limits::OUT_OF_REACH);
    let limited_stream = launch(t.stream_binary, &limits_env).await;
    let complete = RuntimeApi::launch(t.complete_binary, &t.env).await;

    let direct = Server::Direct { base_url: t.stub_url.clone() };
    let direct_tls = Server::Direct { base_url: t.tls_stub_url.clone() };
    let peer = t.peer_url.clone().map(|base_url| Server::Gateway { base_url });
    for server in [&direct, &ours, &tls_stream, &limited_stream].into_iter().chain(peer.as_ref()) {
        server.stream(&pooled, "warm up").await;
    }
    direct_tls.stream(&pooled_tls, "warm up").await;
    let Server::Function { api: ours_api } = &ours else { unreachable!("a function") };

    let mut rows = vec![
        Added::new("first text, streamed", "ms", 0.5),
        Added::new("first text, OpenAI behind TLS", "ms", 0.5),
        Added::new(LIMITS_ROW, "ms", f64::NAN),
        Added::new("non-streamed answer", "ms", 0.15),
        Added::new("per delta, 20 ms pacing", "µs", 5.0),
        Added::new("the Runtime API hop alone (a blank message)", "ms", f64::NAN),
    ];
    let message = format!("/stub deltas={PACED_DELTAS} delay_ms={}", PACE.as_millis());
    for pass in 0..2 {
        eprintln!("    pass {}: first text, {FIRST_TEXT_ROUNDS} rounds; the Runtime API hop", pass + 1);
        let mut samples: [[Vec<f64>; 4]; 3] = Default::default();
        let mut hop: [Vec<f64>; 4] = Default::default();
        for _ in 0..FIRST_TEXT_ROUNDS {
            let direct_ms = millis(direct.stream(&pooled, "hello there").await.first_text);
            samples[0][0].push(direct_ms);
            samples[0][1].push(millis(ours.stream(&pooled, "hello there").await.first_text));
            samples[1][0].push(millis(direct_tls.stream(&pooled_tls, "hello there").await.first_text));
            samples[1][1].push(millis(tls_stream.stream(&pooled, "hello there").await.first_text));
            samples[2][0].push(direct_ms);
            samples[2][1].push(millis(limited_stream.stream(&pooled, "hello there").await.first_text));
            let blank = ours_api.invoke(get_event("message=")).await;
            assert_eq!(blank.status, Some(400), "a blank message is refused before anything else");
            hop[0].push(0.0);
            hop[1].push(millis(blank.finished_at.saturating_duration_since(blank.invoked_at)));
        }
        rows[5].passes[pass] = hop.each_ref().map(|s| p50_p99(s));

        eprintln!("    pass {}: non-streamed, {BUFFERED_ROUNDS} rounds", pass + 1);
        let mut buffered: [Vec<f64>; 4] = Default::default();
        for _ in 0..BUFFERED_ROUNDS {
            buffered[0].push(buffered_call(&pooled, &t.stub_url).await);
            buffered[1].push(complete_call(&complete).await);
        }

        eprintln!("    pass {}: {PACED_DELTAS} deltas {PACE:?} apart, {PACED_ROUNDS} rounds", pass + 1);
        let mut late: [Vec<f64>; 4] = Default::default();
        for _ in 0..PACED_ROUNDS {
            for (who, server) in [(0, &direct), (1, &ours)] {
                late[who].extend(paced_lateness_us(server, &pooled, &message).await);
            }
        }

        if let Some(peer) = &peer {
            eprintln!("    pass {}: the peer, in rounds of its own", pass + 1);
            for _ in 0..FIRST_TEXT_ROUNDS {
                samples[0][3].push(millis(direct.stream(&pooled, "hello there").await.first_text));
                samples[0][2].push(millis(peer.stream(&pooled, "hello there").await.first_text));
            }
            for _ in 0..BUFFERED_ROUNDS {
                buffered[3].push(buffered_call(&pooled, &t.stub_url).await);
                buffered[2].push(buffered_call(&pooled, &peer_base(peer)).await);
            }
            for _ in 0..PACED_ROUNDS {
                late[3].extend(paced_lateness_us(&direct, &pooled, &message).await);
                late[2].extend(paced_lateness_us(peer, &pooled, &message).await);
            }
        }
        for (row, path) in rows.iter_mut().zip(&samples) {
            row.passes[pass] = path.each_ref().map(|s| p50_p99(s));
        }
        rows[3].passes[pass] = buffered.each_ref().map(|s| p50_p99(s));
        rows[4].passes[pass] = late.each_ref().map(|s| p50_p99(s));
    }
    rows
}

async fn launch(binary: &Path, env: &[(&str, &str)]) -> Server {
    Server::Function { api: Arc::new(RuntimeApi::launch(binary, env).await) }
}

fn peer_base(peer: &Server) -> String {
    match peer {
        Server::Gateway { base_url } => base_url.clone(),
        _ => unreachable!("the peer is a gateway"),
    }
}

/// Each delta's lateness after the one before (µs) in one paced answer.
async fn paced_lateness_us(server: &Server, http: &reqwest::Client, message: &str) -> Vec<f64> {
    let timing = server.stream(http, message).await;
    assert_eq!(timing.deltas.len(), PACED_DELTAS, "{} lost deltas", server.label());
    lateness_ms(&timing.deltas, PACE).map(|ms| ms * 1000.0).collect()
}

fn p50_p99(samples: &[f64]) -> [f64; 2] {
    quantiles(samples, [0.5, 0.99])
}

/// A non-streamed answer read whole from an OpenAI-shaped API (the stand-in, or the peer).
async fn buffered_call(http: &reqwest::Client, base_url: &str) -> f64 {
    let started = Instant::now();
    let body = serde_json::json!({ "model": "gpt-6-luna", "input": "hello there", "stream": false });
    let response = http
        .post(format!("{base_url}/responses"))
        .bearer_auth("sk-bench")
        .json(&body)
        .send()
        .await
        .expect("buffered call");
    assert!(response.status().is_success(), "{base_url}: HTTP {}", response.status());
    let json: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(json["status"], "completed", "{json}");
    millis(started.elapsed())
}

async fn complete_call(function: &RuntimeApi) -> f64 {
    let answer = function.invoke(get_event(&format!("message={}", test_harness::encode("hello there")))).await;
    assert_eq!(answer.status, Some(200), "chat-complete: {:?} {}", answer.error, answer.text());
    millis(answer.finished_at.saturating_duration_since(answer.invoked_at))
}

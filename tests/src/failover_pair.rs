//! A shipped binary between two providers, as a deployment with a fallback runs: the primary and
//! the fallback are OpenAI stand-ins in this process (each with its own faults and its own record
//! of requests), the function a release binary behind the Runtime API stand-in with its own
//! circuit, and timeouts short enough that a stalled provider costs a test a second, not minutes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use openai_stub::StubServer;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

use crate::runtime_api::{Invocation, RuntimeApi, question_event};

/// The fallback's model, as its answers name it.
pub const FALLBACK_MODEL: &str = "gpt-6-sol";
/// The fallback's key (the primary takes [`crate::TEST_KEY`]).
pub const FALLBACK_KEY: &str = "sk-fallback-9a8b7c6d";

/// The settings every pair runs with: the windows are short so a silent provider is given up
/// within a second, and the logs are JSON (the summary lines and their metrics are read).
const SHORT: &[(&str, &str)] = &[
    ("OPENAI_MAX_RETRIES", "2"),
    ("OPENAI_FIRST_EVENT_TIMEOUT_MS", "800"),
    ("OPENAI_IDLE_TIMEOUT_MS", "400"),
    ("OPENAI_MAX_THINK_MS", "1200"),
    ("OPENAI_TOTAL_TIMEOUT_MS", "20000"),
    ("HEARTBEAT_INTERVAL_MS", "250"),
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
];

/// How the fallback takes its key (`FALLBACK_AUTH`), and the stand-in checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// [`FALLBACK_KEY`] as `Authorization: Bearer`.
    Bearer,
    /// [`FALLBACK_KEY`] in `api-key`, never as a bearer token.
    Azure,
    /// A short-term Bedrock API key the function mints from its credentials (the stand-in's
    /// test role, in the environment as Lambda gives a role's), checked by its signature.
    Bedrock,
}

/// The Region the Bedrock stand-in plays.
const BEDROCK_REGION: &str = "us-east-1";

/// Stopped (the process killed, the stand-ins closed) when dropped.
pub struct Pair {
    pub primary: StubServer,
    pub fallback: StubServer,
    pub function: RuntimeApi,
}

impl Pair {
    /// `function`'s release binary with the primary at its stand-in and `extra` settings.
    pub async fn launch(function: &str, extra: &[(&str, &str)]) -> Self {
        let primary = StubServer::start().await.expect("start the primary's stand-in");
        let url = primary.base_url();
        Self::launch_at(function, primary, &url, extra).await
    }

    /// The same with the primary at `primary_url` (a server of the test's own, say); `primary`
    /// then stands by unused.
    pub async fn launch_at(function: &str, primary: StubServer, primary_url: &str, extra: &[(&str, &str)]) -> Self {
        Self::launch_with(function, primary, primary_url, Auth::Bearer, extra).await
    }

    /// `function`'s release binary with a fallback that takes its key as `auth` says.
    pub async fn launch_with_auth(function: &str, auth: Auth) -> Self {
        let primary = StubServer::start().await.expect("start the primary's stand-in");
        let url = primary.base_url();
        Self::launch_with(function, primary, &url, auth, &[]).await
    }

    async fn launch_with(
        function: &str,
        primary: StubServer,
        primary_url: &str,
        auth: Auth,
        extra: &[(&str, &str)],
    ) -> Self {
        primary.state.expected_key.write().unwrap_or_else(|e| e.into_inner()).replace(crate::TEST_KEY.to_owned());
        let fallback = StubServer::start().await.expect("start the fallback's stand-in");
        let fallback_url = fallback.base_url();
        let mut env: Vec<(&str, &str)> = SHORT.to_vec();
        env.extend_from_slice(&[("FALLBACK_BASE_URL", fallback_url.as_str()), ("FALLBACK_MODEL", FALLBACK_MODEL)]);
        match auth {
            Auth::Bearer | Auth::Azure => {
                fallback.state.expected_key.write().unwrap_or_else(|e| e.into_inner()).replace(FALLBACK_KEY.to_owned());
                env.push(("FALLBACK_API_KEY", FALLBACK_KEY));
                if auth == Auth::Azure {
                    fallback.take_keys_as_azure();
                    env.push(("FALLBACK_AUTH", "azure"));
                }
            }
            Auth::Bedrock => {
                fallback.take_keys_as_bedrock(BEDROCK_REGION);
                env.extend_from_slice(&[
                    ("FALLBACK_AUTH", "bedrock"),
                    ("AWS_REGION", BEDROCK_REGION),
                    ("AWS_ACCESS_KEY_ID", openai_stub::bedrock::TEST_ACCESS_KEY_ID),
                    ("AWS_SECRET_ACCESS_KEY", openai_stub::bedrock::TEST_SECRET_ACCESS_KEY),
                    ("AWS_SESSION_TOKEN", "stand-in-session-token"),
                ]);
            }
        }
        env.extend_from_slice(extra);
        let function = RuntimeApi::launch_release(function, primary_url, &env).await;
        Self { primary, fallback, function }
    }

    /// Asks `message` as the page does (`GET ?message=`).
    pub async fn ask(&self, message: &str) -> Invocation {
        self.function.invoke(question_event(message)).await
    }

    /// The function's JSON log lines.
    pub fn lines(&self) -> Vec<Value> {
        self.function.log().lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).collect()
    }

    /// Its summary lines (`request finished`), in order.
    pub fn summaries(&self) -> Vec<Value> {
        self.lines().into_iter().filter(|line| line["message"] == "request finished").collect()
    }

    /// Waits (3 s at most) for the `n`th summary line: it is written as the request ends, a
    /// moment after the answer's last byte.
    pub async fn summary(&self, n: usize) -> Value {
        for _ in 0..60 {
            if let Some(line) = self.summaries().get(n) {
                return line.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no summary line {n}; log:\n{}", self.function.log());
    }
}

/// A server that reads a request and resets the connection (RST) before any header: a provider
/// that takes the request and then is gone. Stopped when dropped.
pub struct Resetter {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Resetter {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the resetter");
        let addr = listener.local_addr().expect("its address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    // The request line and headers are in; a POST's body may not be: either way, reset.
                    if socket.read(&mut request).await.is_ok_and(|n| n > 0) && request.starts_with(b"POST") {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = socket.set_zero_linger();
                });
            }
        });
        Self { addr, accepted, task }
    }

    /// The value for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The creates it took (and reset).
    pub fn creates(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Resetter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

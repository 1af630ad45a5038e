//! A stand-in for the Lambda Runtime API on loopback, so the release binaries run exactly as AWS
//! runs them: the function polls `GET /2018-06-01/runtime/invocation/next`, gets a Function URL
//! event, and posts its answer back, buffered (API Gateway v2 JSON) or streamed (a JSON prelude,
//! 8 NUL bytes, then the body). Unlike `cargo lambda watch`, every accepted socket gets
//! TCP_NODELAY, as AWS's own Runtime API does, so a stall seen here is the function's.
//!
//! ```no_run
//! # async fn example() {
//! use test_harness::runtime_api::{RuntimeApi, get_event, release_binary};
//! let function = RuntimeApi::launch(&release_binary("chat-stream"), &[("OPENAI_API_KEY", "sk-...")]).await;
//! let answer = function.invoke(get_event("message=hi")).await;
//! assert_eq!(answer.status, Some(200));
//! assert!(function.is_alive());
//! # }
//! ```

mod event;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use event::{function_url_event, get_event, post_json_event, question_event};
use server::{Shared, lock};

/// How long [`RuntimeApi::invoke`] waits for an answer.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// One body chunk of a streamed answer, as it reached the stand-in.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub at: Instant,
    pub bytes: Bytes,
}

/// Why an invocation has no proper answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationError {
    /// The function posted to `.../invocation/{id}/error` (a handler error or a caught panic).
    Reported { error_type: String, message: String },
    /// An error reported in the middle of a streamed answer (trailers or lambda_runtime's in-band lines).
    StreamError { error_type: String, message: String },
    /// The answer's connection broke before its end.
    Incomplete(String),
    /// An answer that is not in the Runtime API's format.
    Malformed(String),
    /// The function process ended before answering (a panic with `panic = "abort"`, say).
    ProcessExited(String),
    /// No answer within the time allowed.
    TimedOut(Duration),
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reported { error_type, message } => {
                write!(f, "the function reported an error: {error_type}: {message}")
            }
            Self::StreamError { error_type, message } => write!(f, "error inside the stream: {error_type}: {message}"),
            Self::Incomplete(why) | Self::Malformed(why) => f.write_str(why),
            Self::ProcessExited(status) => write!(f, "the function process exited ({status}) before answering"),
            Self::TimedOut(limit) => write!(f, "no answer within {limit:?}"),
        }
    }
}

/// What one invocation got back, as the Runtime API saw it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// When the event was queued.
    pub invoked_at: Instant,
    /// When the function's `next` poll took it.
    pub handed_out_at: Option<Instant>,
    /// When the answer was complete (or given up on).
    pub finished_at: Instant,
    /// Posted with `Lambda-Runtime-Function-Response-Mode: streaming`.
    pub streaming: bool,
    /// The HTTP status from the prelude or the buffered JSON; `None` if there was no proper answer.
    pub status: Option<u16>,
    pub headers: HeaderMap,
    pub cookies: Vec<String>,
    /// The HTTP body the client would get (base64 decoded; the prelude removed).
    pub body: Vec<u8>,
    /// Streaming only: when the prelude arrived, then every body chunk with its arrival time.
    pub prelude_at: Option<Instant>,
    pub chunks: Vec<Chunk>,
    pub error: Option<InvocationError>,
}

impl Invocation {
    fn empty(request_id: &str, invoked_at: Instant) -> Self {
        Self {
            request_id: request_id.to_owned(),
            invoked_at,
            handed_out_at: None,
            finished_at: invoked_at,
            streaming: false,
            status: None,
            headers: HeaderMap::new(),
            cookies: Vec::new(),
            body: Vec::new(),
            prelude_at: None,
            chunks: Vec::new(),
            error: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The Runtime API stand-in with (once [`RuntimeApi::spawn`] ran) the one function process
/// polling it, like one Lambda execution environment. Dropping it kills the process.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    process: Mutex<Option<Process>>,
}

struct Process {
    child: Child,
    spawned_at: Instant,
    log_path: PathBuf,
}

impl RuntimeApi {
    /// Starts the stand-in on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // AWS's Runtime API sets TCP_NODELAY; without it our side could add the stalls we look for.
        let listener = listener.tap_io(|socket| {
            let _ = socket.set_nodelay(true);
        });
        let shared = Shared::new();
        let app = server::router(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, server, process: Mutex::new(None) })
    }

    /// Starts the stand-in, spawns `binary` against it and waits (10 s at most) for its first
    /// poll; panics with the function's log if it does not come.
    pub async fn launch(binary: &Path, env: &[(&str, &str)]) -> Self {
        let api = Self::start().await.expect("start the Runtime API stand-in");
        api.spawn(binary, env).unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        if api.wait_ready(Duration::from_secs(10)).await.is_none() {
            panic!(
                "{} never polled the Runtime API; init error: {:?}; log:\n{}",
                binary.display(),
                api.init_error(),
                api.log()
            );
        }
        api
    }

    /// `function`'s release binary (built once, see [`release_binary`]) launched against the
    /// OpenAI stand-in at `openai_base_url` with the test key, and `extra` variables (which win
    /// over those). Call it from a multi-threaded runtime: the first call may build.
    pub async fn launch_release(function: &str, openai_base_url: &str, extra: &[(&str, &str)]) -> Self {
        let mut env = vec![("OPENAI_BASE_URL", openai_base_url), ("OPENAI_API_KEY", crate::TEST_KEY)];
        env.extend_from_slice(extra);
        let binary = tokio::task::block_in_place(|| release_binary(function));
        Self::launch(&binary, &env).await
    }

    /// Gives every invocation from now on `deadline` to run, as a function's timeout does.
    pub fn set_deadline(&self, deadline: Duration) {
        *server::lock(&self.shared.deadline) = deadline;
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `binary` as Lambda would: this process's environment plus the Lambda variables and
    /// `env`, stdout and stderr to a log file. Replaces (kills) a process spawned before.
    pub fn spawn(&self, binary: &Path, env: &[(&str, &str)]) -> std::io::Result<()> {
        static LOGS: AtomicU64 = AtomicU64::new(0);
        self.kill();
        let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("function").to_owned();
        *lock(&self.shared.function_name) = name.clone();
        *lock(&self.shared.first_poll) = None;
        let dir = target_dir().join("runtime-api");
        std::fs::create_dir_all(&dir)?;
        let n = LOGS.fetch_add(1, Ordering::Relaxed);
        let log_path = dir.join(format!("{name}-{}-{}-{n}.log", std::process::id(), self.addr.port()));
        let log = std::fs::File::create(&log_path)?;
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let spawned_at = Instant::now();
        let child = command.spawn()?;
        *lock(&self.process) = Some(Process { child, spawned_at, log_path });
        Ok(())
    }

    /// Waits for the spawned process's first `next` poll; the time from exec to that poll
    /// (the function's init), or `None` if it did not come within `limit` or the process died.
    pub async fn wait_ready(&self, limit: Duration) -> Option<Duration> {
        let spawned_at = lock(&self.process).as_ref()?.spawned_at;
        let started = Instant::now();
        loop {
            let polled = self.shared.polled.notified();
            tokio::pin!(polled);
            polled.as_mut().enable();
            if let Some(at) = *lock(&self.shared.first_poll) {
                return Some(at.saturating_duration_since(spawned_at));
            }
            let left = limit.checked_sub(started.elapsed())?;
            if !self.is_alive() {
                return None;
            }
            // Woken by the poll; the short cap notices a process that dies during init.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), polled).await;
        }
    }

    /// Invokes the function with `event` and waits up to [`INVOKE_TIMEOUT`] for its answer.
    pub async fn invoke(&self, event: Value) -> Invocation {
        self.invoke_within(event, INVOKE_TIMEOUT).await
    }

    /// Like [`RuntimeApi::invoke`], with its own time limit. Never hangs: a process that dies
    /// or a missing answer comes back as [`Invocation::error`].
    pub async fn invoke_within(&self, event: Value, limit: Duration) -> Invocation {
        let (id, mut answer) = self.shared.enqueue(event);
        let started = Instant::now();
        let error = loop {
            match tokio::time::timeout(Duration::from_millis(20), &mut answer).await {
                Ok(Ok(invocation)) => return invocation,
                Ok(Err(_)) => break InvocationError::Incomplete("the stand-in dropped the invocation".into()),
                Err(_) => {}
            }
            if let Some(status) = self.exit_status() {
                // Give an answer that was already complete the chance to arrive first.
                if let Ok(Ok(invocation)) = tokio::time::timeout(Duration::from_millis(100), &mut answer).await {
                    return invocation;
                }
                break InvocationError::ProcessExited(status.to_string());
            }
            if started.elapsed() >= limit {
                break InvocationError::TimedOut(limit);
            }
        };
        let (invoked_at, handed_out_at) = self.shared.cancel(&id).unwrap_or((started, None));
        let mut invocation = Invocation::empty(&id, invoked_at);
        invocation.handed_out_at = handed_out_at;
        invocation.finished_at = Instant::now();
        invocation.error = Some(error);
        invocation
    }

    /// Whether the spawned process is still running.
    pub fn is_alive(&self) -> bool {
        lock(&self.process).is_some() && self.exit_status().is_none()
    }

    /// How the spawned process ended, if it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        lock(&self.process).as_mut().and_then(|p| p.child.try_wait().ok().flatten())
    }

    pub fn pid(&self) -> Option<u32> {
        lock(&self.process).as_ref().map(|p| p.child.id())
    }

    pub fn log_path(&self) -> Option<PathBuf> {
        lock(&self.process).as_ref().map(|p| p.log_path.clone())
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log_path().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
    }

    /// The body of a `POST /runtime/init/error`, if the function sent one.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.shared.init_error).clone()
    }

    /// Kills the spawned process (if any) and reaps it.
    pub fn kill(&self) {
        if let Some(mut process) = lock(&self.process).take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
            // A failing test's log stays in target/runtime-api; the others would pile up.
            if !std::thread::panicking() {
                let _ = std::fs::remove_file(&process.log_path);
            }
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.kill();
        self.server.abort();
    }
}

/// Builds the three functions in release mode (the `panic = "abort"` profile they ship with),
/// once per process, with `cargo build --release --bin chat-stream --bin chat-complete --bin
/// index` from the workspace root; then returns `target/release/<name>`. Panics if the build fails.
pub fn release_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "--release", "--bin", "chat-stream", "--bin", "chat-complete", "--bin", "index"])
            .current_dir(crate::workspace_root())
            .status()
            .map_err(|e| format!("run cargo build: {e}"))?;
        if status.success() { Ok(()) } else { Err(format!("cargo build --release of the functions failed ({status})")) }
    });
    if let Err(why) = built {
        panic!("{why}");
    }
    target_dir().join("release").join(name)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else the workspace's `target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => crate::workspace_root().join(dir),
        None => crate::workspace_root().join("target"),
    }
}

//! A local stand-in for the OpenAI Responses API (`POST /v1/responses`), faithful to its wire
//! format, for tests (in-process, through [`StubServer`]) and for offline runs (the binary).
//! Prompts starting with `/stub` make it misbehave on purpose: see [`scenario`]. Background
//! responses (`"background": true`) can be retrieved, streamed again and cancelled, as upstream.

mod attachments;
mod background;
pub mod bedrock;
pub mod billing;
mod events;
mod functions;
mod http;
mod mcp;
pub mod models;
mod recorded;
pub mod reply;
mod responses;
pub mod scenario;
mod server;
pub mod tls;
pub mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

pub use recorded::{RecordedRequest, RecordedRetrieve};
pub use server::router;

/// How long a background response can be streamed again after its creation, unless set.
pub const DEFAULT_RESUME_WINDOW: Duration = Duration::from_secs(600);

/// Settings and shared state of one stand-in server.
pub struct StubState {
    /// The key requests must present; `None` accepts any non-empty key.
    pub expected_key: RwLock<Option<String>>,
    /// Pause between deltas unless a scenario says otherwise.
    pub delta_delay: Duration,
    started: Instant,
    requests: Mutex<Vec<RecordedRequest>>,
    failures: Mutex<std::collections::HashMap<String, usize>>,
    responses: background::Registry,
    resume_window: Mutex<Duration>,
    /// Refuse `reasoning.summary`, as OpenAI does for an organization not verified for it.
    pub refuse_summaries: std::sync::atomic::AtomicBool,
    cancels: Mutex<Vec<String>>,
    retrieves: Mutex<Vec<RecordedRetrieve>>,
    /// TCP connections accepted: a client that opened its connection early opens none later.
    connections: std::sync::atomic::AtomicU64,
    /// The day it is for the stand-in (`YYYY-MM-DD`, UTC; [`CATALOGUE_DAY`] unless set): models
    /// shut down by then are gone.
    today: RwLock<String>,
    /// Each `GET /v1/models/{id}`, in order.
    model_lookups: Mutex<Vec<String>>,
    /// The model's context window in input tokens: a request over it is refused with
    /// `context_length_exceeded` (after compaction, when asked for). `None`: no limit.
    context_window: Mutex<Option<u64>>,
    /// Every create is answered with this status and error code, whatever it asks: a provider
    /// that is down (a failover's primary), until set to `None`.
    pub failing: Mutex<Option<(u16, Option<String>)>>,
    /// Keys are taken as Azure OpenAI takes them, in `api-key`, and a bearer token is refused.
    pub azure: std::sync::atomic::AtomicBool,
    /// Keys are taken as Amazon Bedrock takes its short-term ones: a bearer `bedrock-api-key-...`
    /// whose SigV4 signature is recomputed with these credentials; any other key is refused.
    pub bedrock: RwLock<Option<bedrock::BedrockCheck>>,
    /// Every answer fails this way before its first delta, after `response.created`, whatever
    /// it asks: a provider failing in the stream (a failover's primary), until set to `None`.
    pub failing_in_stream: Mutex<Option<scenario::Failure>>,
    /// `/stub` settings every answer gets before the prompt's own, whatever it asks: one fault
    /// of this provider's (a failover's primary) while the other answers the same prompt well.
    every_answer: Mutex<Option<String>>,
    /// `POST /v1/responses/input_tokens` calls answered.
    input_counts: std::sync::atomic::AtomicU64,
    /// The counting route is not served (404), as by a compatible provider without it.
    pub counts_unserved: std::sync::atomic::AtomicBool,
}

impl StubState {
    pub fn new(delta_delay: Duration, expected_key: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            expected_key: RwLock::new(expected_key),
            delta_delay,
            started: Instant::now(),
            requests: Mutex::new(Vec::new()),
            failures: Mutex::default(),
            responses: background::Registry::default(),
            resume_window: Mutex::new(DEFAULT_RESUME_WINDOW),
            refuse_summaries: Default::default(),
            cancels: Mutex::default(),
            retrieves: Mutex::default(),
            connections: Default::default(),
            today: RwLock::new(CATALOGUE_DAY.to_owned()),
            model_lookups: Mutex::default(),
            context_window: Mutex::default(),
            failing: Mutex::default(),
            azure: Default::default(),
            bedrock: RwLock::default(),
            failing_in_stream: Mutex::default(),
            every_answer: Mutex::default(),
            input_counts: Default::default(),
            counts_unserved: Default::default(),
        })
    }

    /// The prompt as its scenario is read: [`StubServer::every_answer`]'s settings first.
    fn with_every_answer(&self, prompt: &str) -> String {
        let every = self.every_answer.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match every {
            None => prompt.to_owned(),
            Some(settings) => {
                let own = prompt.trim_start().strip_prefix("/stub").unwrap_or("");
                format!("/stub {settings} {own}")
            }
        }
    }

    /// The day it is for the stand-in.
    pub fn today(&self) -> String {
        self.today.read().map(|d| d.clone()).unwrap_or_else(|_| CATALOGUE_DAY.to_owned())
    }

    /// Moves the stand-in's calendar (`YYYY-MM-DD`), e.g. past a model's shutdown.
    pub fn set_today(&self, day: &str) {
        *self.today.write().unwrap_or_else(|e| e.into_inner()) = day.to_owned();
    }

    /// The model ids asked about with `GET /v1/models/{id}`.
    pub fn model_lookups(&self) -> Vec<String> {
        self.model_lookups.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn record_model_lookup(&self, model: &str) {
        self.model_lookups.lock().unwrap_or_else(|e| e.into_inner()).push(model.to_owned());
    }

    /// Sets the context window every model has here, in input tokens.
    pub fn set_context_window(&self, tokens: Option<u64>) {
        *self.context_window.lock().unwrap_or_else(|e| e.into_inner()) = tokens;
    }

    pub fn context_window(&self) -> Option<u64> {
        *self.context_window.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_connection(&self) {
        self.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The id of every cancel call, in order, repeats included.
    pub fn cancels(&self) -> Vec<String> {
        self.cancels.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// How many times the input was counted (`POST /v1/responses/input_tokens`).
    pub fn input_counts(&self) -> u64 {
        self.input_counts.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn count_asked(&self) {
        self.input_counts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn retrieves(&self) -> Vec<RecordedRetrieve> {
        self.retrieves.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Deltas generated so far for the kept response `id`.
    pub fn deltas_generated(&self, id: &str) -> Option<usize> {
        self.responses.get(id).map(|entry| entry.deltas())
    }

    /// The status of the kept response `id`: `queued`, `in_progress`, `completed`, ...
    pub fn status(&self, id: &str) -> Option<String> {
        self.responses.get(id).map(|entry| entry.status())
    }

    /// Every response is gone from now on (404), the ones being generated stopped.
    pub fn forget_responses(&self) {
        self.responses.clear();
    }

    /// How long after its creation a background response can still be streamed again.
    pub fn set_resume_window(&self, window: Duration) {
        *self.resume_window.lock().unwrap_or_else(|e| e.into_inner()) = window;
    }

    pub fn resume_window(&self) -> Duration {
        *self.resume_window.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record_cancel(&self, id: &str) {
        self.cancels.lock().unwrap_or_else(|e| e.into_inner()).push(id.to_owned());
    }

    fn record_retrieve(&self, retrieve: RecordedRetrieve) {
        self.retrieves.lock().unwrap_or_else(|e| e.into_inner()).push(retrieve);
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record(&self, request: RecordedRequest) -> usize {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests.push(request);
        requests.len() - 1
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut RecordedRequest)) {
        if let Some(request) = self.requests.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index) {
            change(request);
        }
    }

    /// Counts a failure for `prompt`; true while it has failed fewer than `times` times.
    fn should_fail(&self, prompt: &str, times: Option<usize>) -> bool {
        let Some(times) = times else { return true };
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(prompt.to_owned()).or_default();
        *count += 1;
        *count <= times
    }
}

/// The day the stand-in's calendar stands at unless told otherwise: the day its model catalogue
/// was checked, so that a test naming a model retired since keeps passing on a later day.
pub const CATALOGUE_DAY: &str = "2026-12-06";

/// Today in UTC, as `YYYY-MM-DD` (the offline binary's calendar).
pub fn real_today() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// A stand-in server on a loopback port, stopped when dropped.
pub struct StubServer {
    pub addr: SocketAddr,
    pub state: Arc<StubState>,
    task: JoinHandle<()>,
    scheme: &'static str,
}

impl StubServer {
    /// Starts on a free loopback port with no pause between deltas.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(
            StubState::new(Duration::ZERO, None),
            "127.0.0.1:0".parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))),
        )
        .await
    }

    pub async fn start_with(state: Arc<StubState>, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let counted = state.clone();
        // Each event is flushed the moment it is written, as OpenAI's servers do: without
        // TCP_NODELAY the stand-in itself would hold a delta for the reader's delayed ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp| {
            let _ = tcp.set_nodelay(true);
            counted.count_connection();
        });
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task, scheme: "http" })
    }

    /// The same behind TLS with a certificate signed by `ca` (for `localhost` and 127.0.0.1).
    pub async fn start_tls(state: Arc<StubState>, addr: SocketAddr, ca: &tls::TestCa) -> std::io::Result<Self> {
        let tcp = tokio::net::TcpListener::bind(addr).await?;
        let addr = tcp.local_addr()?;
        let counted = state.clone();
        let listener = tls::TlsListener::new(tcp, ca, Arc::new(move || counted.count_connection()))?;
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task, scheme: "https" })
    }

    /// The value for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("{}://{}/v1", self.scheme, self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    pub fn cancels(&self) -> Vec<String> {
        self.state.cancels()
    }

    pub fn retrieves(&self) -> Vec<RecordedRetrieve> {
        self.state.retrieves()
    }

    pub fn deltas_generated(&self, id: &str) -> Option<usize> {
        self.state.deltas_generated(id)
    }

    pub fn status(&self, id: &str) -> Option<String> {
        self.state.status(id)
    }

    pub fn set_resume_window(&self, window: Duration) {
        self.state.set_resume_window(window);
    }

    /// Answers every create with `status` (and OpenAI's error `code`), as a provider that is
    /// down; `None` brings it back.
    pub fn fail_every_create(&self, failure: Option<(u16, Option<&str>)>) {
        *self.state.failing.lock().unwrap_or_else(|e| e.into_inner()) =
            failure.map(|(status, code)| (status, code.map(str::to_owned)));
    }

    /// Fails every answer with `failure` before its first delta (after `response.created`).
    pub fn fail_every_stream(&self, failure: Option<scenario::Failure>) {
        *self.state.failing_in_stream.lock().unwrap_or_else(|e| e.into_inner()) = failure;
    }

    /// Gives every answer these `/stub` settings (e.g. `"stall after=3"`) ahead of the prompt's
    /// own; `None` stops.
    pub fn every_answer(&self, settings: Option<&str>) {
        *self.state.every_answer.lock().unwrap_or_else(|e| e.into_inner()) = settings.map(str::to_owned);
    }

    /// Takes keys as Azure OpenAI does: in `api-key`, never as a bearer token.
    pub fn take_keys_as_azure(&self) {
        self.state.azure.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes keys as Amazon Bedrock does: short-term keys signed by the test role
    /// ([`bedrock::TEST_ACCESS_KEY_ID`]) for `region`, alive and well signed, and nothing else.
    pub fn take_keys_as_bedrock(&self, region: &str) {
        *self.state.bedrock.write().unwrap_or_else(|e| e.into_inner()) = Some(bedrock::BedrockCheck::test_role(region));
    }

    /// A stand-in playing Amazon Bedrock in `region` (see [`Self::take_keys_as_bedrock`]).
    pub async fn start_as_bedrock(region: &str) -> std::io::Result<Self> {
        let server = Self::start().await?;
        server.take_keys_as_bedrock(region);
        Ok(server)
    }

    pub fn forget_responses(&self) {
        self.state.forget_responses();
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

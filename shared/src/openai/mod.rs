//! `ResponsesClient`: the OpenAI Responses API, buffered and streamed, with timeouts and retries.

mod background;
mod retry;
mod stream;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio::time::Instant;

pub use stream::{ResponseStream, UpstreamEvent, parse as parse_event};
use types::{CreateResponse, ResponseObject, Usage};

use crate::{ApiError, ApiKey, ChatRequest, Config, redact};

/// What a request keeps free before the Lambda deadline, for what comes after its upstream
/// deadline: cancelling a background answer (up to 3 s) and settling its reservation (two
/// writes of up to 1 s each), with a second to spare.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(6);

/// A whole answer from a buffered call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub id: String,
    pub text: String,
    pub usage: Option<Usage>,
    /// Why the answer stops early (`max_output_tokens`, `content_filter`), when it does.
    pub incomplete_reason: Option<String>,
    pub retries: u32,
}

/// Talks to `POST {OPENAI_BASE_URL}/responses`. Built once per execution environment; a clone
/// shares it (for work that outlives one request, such as settling an abandoned answer).
#[derive(Clone)]
pub struct ResponsesClient {
    http: HttpClient,
    endpoint: String,
    config: Arc<Config>,
    key: ApiKey,
    /// The HMAC key of resume tokens and owner tags, when it is not the API key.
    signing: Option<ApiKey>,
}

/// The HTTPS client, built on a blocking thread beside init: building it reads and parses every
/// certificate under /etc/ssl/certs (the platform's roots, which verify OpenAI exactly as
/// before), ~7 ms that would otherwise come before the first Runtime API poll.
type HttpClient = Shared<BoxFuture<'static, Result<reqwest::Client, ApiError>>>;

impl ResponsesClient {
    pub fn new(config: Arc<Config>, key: ApiKey) -> Result<Self, ApiError> {
        crate::tls::install_crypto_provider();
        let timeout = config.timeouts.connect;
        let http = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let building = runtime.spawn_blocking(move || build_http_client(timeout));
                let interrupted = || ApiError::Misconfigured("building the HTTP client was interrupted".into());
                async move { building.await.unwrap_or_else(|_| Err(interrupted())) }.boxed()
            }
            Err(_) => futures_util::future::ready(build_http_client(timeout)).boxed(),
        };
        let endpoint = format!("{}/responses", config.base_url);
        if crate::metrics::Prices::for_model(&config.model, config.prices).is_none() {
            tracing::warn!(model = %config.model, "no price is known for this model: set OPENAI_PRICE_INPUT_PER_MTOK and OPENAI_PRICE_OUTPUT_PER_MTOK, or EstimatedCost (and the spend alarm) will miss it; the token alarm still counts it");
        }
        let signing = config.signing.as_ref().map(ApiKey::from_config);
        if signing.is_none() {
            tracing::warn!("TOKEN_SIGNING_SECRET_ID is not set: resume tokens and the owners of answers are signed with the OpenAI API key, so rotating that key ends them");
        }
        Ok(Self { http: http.shared(), endpoint, config, key, signing })
    }

    /// Waits until the API key has been read (tests, and callers that want to fail early).
    pub async fn key_ready(&self) -> Result<(), ApiError> {
        self.key.get().await.map(drop)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// When a request started now must be finished: the configured total, or the Lambda
    /// invocation's own deadline less [`DEADLINE_MARGIN`], whichever comes first.
    pub fn deadline(&self, lambda_deadline: Option<Instant>) -> Instant {
        let configured = Instant::now() + self.config.timeouts.total;
        match lambda_deadline {
            Some(lambda) => configured.min(lambda.checked_sub(DEADLINE_MARGIN).unwrap_or(lambda)),
            None => configured,
        }
    }

    /// The key resume tokens, owner tags and safety identifiers are signed with: their own
    /// secret when the deployment has one, else the API key.
    pub(crate) async fn signing_key(&self) -> Result<Arc<str>, ApiError> {
        match &self.signing {
            Some(signing) => signing.get().await,
            None => self.key.get().await,
        }
    }

    /// Asks for the whole answer and waits for it.
    pub async fn create(&self, request: &ChatRequest, deadline: Instant) -> Result<Completion, ApiError> {
        let body = self.body(request, false, &self.signing_key().await?);
        let sent = self.send(&self.create_call(body), deadline, None).await?;
        let Sent { response, key, retries, .. } = sent;
        let response = read_object(response, deadline).await?;
        match response.status.as_deref() {
            Some("failed") => {
                let message = response.error.and_then(|e| e.message).unwrap_or_else(|| "no reason given".into());
                Err(ApiError::StreamFailed(redact(&message, &key)))
            }
            _ => Ok(Completion {
                text: response.output_text(),
                incomplete_reason: response.incomplete_reason().map(str::to_owned),
                id: response.id,
                usage: response.usage,
                retries,
            }),
        }
    }

    /// Starts a streamed answer. Returns once upstream has accepted the request (retrying
    /// before that when it is safe), so a failure here can still become an HTTP error status.
    pub async fn stream(&self, request: &ChatRequest, deadline: Instant) -> Result<ResponseStream, ApiError> {
        let body = self.body(request, true, &self.signing_key().await?);
        let first_token = self.config.timeouts.first_event;
        let sent = self.send(&self.create_call(body), deadline, Some(first_token)).await?;
        // The first token is due a window after the attempt that was accepted was sent.
        let first_token_by = (sent.sent_at + first_token).min(deadline);
        Ok(ResponseStream::new(sent.response, sent.key, sent.retries, self.config.timeouts, first_token_by, deadline))
    }

    fn create_call(&self, body: bytes::Bytes) -> retry::Call {
        retry::Call { method: reqwest::Method::POST, url: self.endpoint.clone(), body: Some(body), names_a_response: false }
    }

    fn body(&self, request: &ChatRequest, stream: bool, signing_key: &str) -> bytes::Bytes {
        let safety_identifier = request.caller.as_deref().map(|caller| crate::limits::safety_identifier(caller, signing_key));
        // Only a streamed answer is worth resuming or stopping; a buffered one ends with its call.
        let background = stream && self.config.resumable;
        let body = CreateResponse {
            // Every answer names its owner, so that only they may continue the conversation.
            metadata: safety_identifier.clone().map(|owner| types::Metadata { owner: Some(owner) }),
            background,
            safety_identifier,
            model: &self.config.model,
            input: types::Input::of(request),
            instructions: self.config.instructions.as_deref(),
            previous_response_id: request.previous_response_id.as_deref(),
            max_output_tokens: self.config.max_output_tokens,
            stream,
        };
        serde_json::to_vec(&body).unwrap_or_default().into()
    }
}

fn build_http_client(connect_timeout: Duration) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(50))
        // A redirect would carry the key to wherever it points: OpenAI sends none.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("lambda-openai-chat/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ApiError::Misconfigured(format!("could not build the HTTP client: {e}")))
}

/// Reads a response object from a JSON answer, within the deadline.
async fn read_object(response: reqwest::Response, deadline: Instant) -> Result<ResponseObject, ApiError> {
    let bytes = tokio::time::timeout_at(deadline, response.bytes())
        .await
        .map_err(|_| ApiError::UpstreamTimeout("the overall deadline"))?
        .map_err(|_| ApiError::UpstreamUnreachable)?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::MalformedUpstream)
}

struct Sent {
    response: reqwest::Response,
    key: Arc<str>,
    retries: u32,
    /// When the accepted attempt went out.
    sent_at: Instant,
}

//! `ResponsesClient`: one per execution environment, shared by every request; its calls live in
//! `create` (new answers), `stored` (answers that exist) and `retry` (sending any of them).

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio::time::Instant;

use chat_core::fallback::FallbackAuth;
use chat_core::{ApiError, Config};

use crate::key::ApiKey;

/// What a request keeps free before the Lambda deadline, for what comes after its upstream
/// deadline: cancelling a background answer (up to 3 s) and settling its reservation (two
/// writes of up to 1 s each), with a second to spare.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(6);

/// Talks to `POST {OPENAI_BASE_URL}/responses`. Built once per execution environment; a clone
/// shares it (for work that outlives one request, such as settling an abandoned answer).
#[derive(Clone)]
pub struct ResponsesClient {
    pub(crate) http: HttpClient,
    pub(crate) endpoint: String,
    pub(crate) config: Arc<Config>,
    pub(crate) key: ApiKey,
    /// The HMAC key of resume tokens and owner tags, when it is not the API key.
    signing: Option<ApiKey>,
    /// The `reasoning` every create sends, decided once from the configuration and the model.
    pub(crate) reasoning: Option<chat_core::ReasoningRequest>,
    /// OpenAI refused `reasoning.summary` (an organization not verified for summaries): asked
    /// no more in this execution environment.
    pub(crate) summaries_refused: Arc<std::sync::atomic::AtomicBool>,
    /// How the key is presented: `Authorization: Bearer`, or Azure's `api-key`.
    pub(crate) auth: FallbackAuth,
    /// What the ids of this provider's answers start with, as callers see them: nothing for
    /// the primary, [`FALLBACK_ID_PREFIX`] for the fallback, so a resume, a stop or a follow-up
    /// reaches the provider that holds the answer, and only it.
    pub(crate) id_prefix: &'static str,
    /// `FALLBACK_BASE_URL`: where new answers go when the primary cannot take them.
    pub(crate) fallback: Option<Arc<ResponsesClient>>,
    pub(crate) circuit: Arc<crate::circuit::Circuit>,
    /// `MCP_AUTHORIZATION_SECRET_ID`'s secret, read from init on (see `mcp`).
    pub(crate) mcp_secret: Option<ApiKey>,
}

/// The start of the ids of the fallback's answers (ids are `[A-Za-z0-9_-]`; OpenAI's start `resp_`).
pub const FALLBACK_ID_PREFIX: &str = "fb-";

/// The HTTPS client, built on a blocking thread beside init: building it reads and parses every
/// certificate under /etc/ssl/certs (the platform's roots, which verify OpenAI exactly as
/// before), ~7 ms that would otherwise come before the first Runtime API poll.
pub(crate) type HttpClient = Shared<BoxFuture<'static, Result<reqwest::Client, ApiError>>>;

impl ResponsesClient {
    pub fn new(config: Arc<Config>, key: ApiKey) -> Result<Self, ApiError> {
        chat_core::tls::install_crypto_provider();
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
        if chat_core::catalogue::describe(&config.model).is_none() {
            tracing::warn!(model = %config.model, "the model catalogue (shared/core/data/models.json) does not know this model: its reasoning settings are not checked at init, and OpenAI decides what it takes");
        }
        if config.price().is_none() {
            tracing::warn!(model = %config.model, "no price is known for this model: set OPENAI_PRICE_INPUT_PER_MTOK and OPENAI_PRICE_OUTPUT_PER_MTOK, or EstimatedCost (and the spend alarm) will miss it; the token alarm still counts it");
        }
        let signing = config.signing.as_ref().map(ApiKey::from_config);
        if signing.is_none() {
            tracing::warn!(
                "TOKEN_SIGNING_SECRET_ID is not set: resume tokens and the owners of answers are signed with the OpenAI API key, so rotating that key ends them"
            );
        }
        let reasoning = config.reasoning.request(&config.model);
        let http = http.shared();
        let fallback = config.fallback.as_ref().map(|fallback| {
            if config.fallback_price().is_none() {
                tracing::warn!(model = %fallback.model, "no price is known for the fallback's model (a Bedrock inference profile id is not in the catalogue): set FALLBACK_PRICE_INPUT_PER_MTOK and FALLBACK_PRICE_OUTPUT_PER_MTOK, or EstimatedCost misses the answers it gives; the token metrics and limits still count them");
            }
            // Tokens, owner tags and safety identifiers stay signed with the primary's key, so
            // either provider's answers are verified the same way.
            let signing = signing.clone().unwrap_or_else(|| key.clone());
            let config = Config {
                base_url: fallback.base_url.clone(),
                model: fallback.model.clone(),
                key: fallback.key.clone(),
                prices: config.fallback_price(),
                fallback: None,
                ..(*config).clone()
            };
            let config = for_the_fallback(config);
            Arc::new(Self {
                http: http.clone(),
                endpoint: format!("{}/responses", config.base_url),
                reasoning: config.reasoning.request(&config.model),
                key: ApiKey::from_config(&fallback.key),
                signing: Some(signing),
                config: Arc::new(config),
                summaries_refused: Arc::default(),
                auth: fallback.auth,
                id_prefix: FALLBACK_ID_PREFIX,
                fallback: None,
                circuit: Arc::default(),
                mcp_secret: None,
            })
        });
        let mcp_secret = config.tools.as_ref().and_then(|tools| tools.mcp_authorization_secret.clone());
        let mcp_secret = mcp_secret.map(ApiKey::whole_secret);
        Ok(Self {
            mcp_secret,
            http,
            endpoint,
            config,
            key,
            signing,
            reasoning,
            summaries_refused: Arc::default(),
            auth: FallbackAuth::Bearer,
            id_prefix: "",
            fallback,
            circuit: Arc::default(),
        })
    }

    /// The same client with `key` for its fallback (a Bedrock key minted from given credentials).
    pub fn with_fallback_key(mut self, key: ApiKey) -> Self {
        if let Some(fallback) = &self.fallback {
            self.fallback = Some(Arc::new(Self { key, ..(**fallback).clone() }));
        }
        self
    }

    /// The provider that holds the answer `id` (as callers see it).
    pub fn for_id(&self, id: &str) -> &Self {
        match &self.fallback {
            Some(fallback) if id.starts_with(FALLBACK_ID_PREFIX) => fallback,
            _ => self,
        }
    }

    /// `id` as this provider knows it.
    pub(crate) fn own_id<'a>(&self, id: &'a str) -> &'a str {
        id.strip_prefix(self.id_prefix).unwrap_or(id)
    }

    /// An id of this provider's as callers see it.
    pub fn presented_id(&self, own: &str) -> String {
        format!("{}{own}", self.id_prefix)
    }

    /// The fallback, when its lifecycle can be asked as OpenAI's (`GET /models/{id}` with a
    /// bearer key: another OpenAI project); Azure's deployment names and Bedrock's inference
    /// profiles are not OpenAI's model ids, and a 404 there would be a false alarm.
    pub fn watched_fallback(&self) -> Option<&Self> {
        self.fallback.as_deref().filter(|fallback| fallback.auth == FallbackAuth::Bearer)
    }

    /// Whether this is the fallback provider.
    pub fn is_fallback(&self) -> bool {
        !self.id_prefix.is_empty()
    }

    /// The same client, trying each call once (an open circuit's probe).
    pub(crate) fn single_attempt(&self) -> Self {
        Self { config: Arc::new(Config { max_retries: 0, ..(*self.config).clone() }), ..self.clone() }
    }

    /// Opens the connection to OpenAI ahead of the first request (TCP and TLS), and keeps it in
    /// the pool: a `HEAD` of the base URL without the key, whose answer (a 404 or 401) is not
    /// read. Never fails: a request after it connects as it would have.
    pub async fn open_connection(&self) {
        let Ok(http) = self.http.clone().await else { return };
        let opened = http.head(&self.config.base_url).timeout(self.config.timeouts.connect).send().await;
        if let Err(error) = opened {
            tracing::debug!(error = %error.without_url(), "the connection to OpenAI was not opened ahead");
        }
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
}

/// The fallback's settings ([`chat_core::fallback::sent_to_fallback`]), what is not sent said
/// once at init.
fn for_the_fallback(config: Config) -> Config {
    let (config, dropped) = chat_core::fallback::sent_to_fallback(config);
    if !dropped.is_empty() {
        tracing::warn!(
            model = %config.model,
            not_sent = %dropped.join(", "),
            "these settings are OpenAI's own and are not sent to the fallback, whose model may refuse them"
        );
    }
    config
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

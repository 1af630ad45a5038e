//! The OpenAI API key: given directly, or read from AWS Secrets Manager once per execution
//! environment. The read starts at init, beside the rest of start-up, and is awaited on first use.
//! A Bedrock fallback's key is minted instead (`bedrock`), and minted again before it dies.

use std::sync::{Arc, Mutex};

use aws_sdk_secretsmanager::Client as SecretsClient;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio::sync::OnceCell;

use chat_core::{ApiError, KeyConfig};

#[derive(Clone)]
pub struct ApiKey(Arc<Inner>);

struct Inner {
    source: Source,
    /// The latest read of the secret, shared by every request that needs it. A shared future
    /// keeps its progress when one waiter is cancelled, and the lock is never held across I/O.
    read: Mutex<Read>,
}

type Read = Shared<BoxFuture<'static, Result<Arc<str>, ApiError>>>;

/// What a secret holds: an API key (alone, or as `OPENAI_API_KEY` of a JSON object), or a
/// document read whole (the MCP servers' authorization).
#[derive(Clone, Copy)]
enum Shape {
    ApiKey,
    Whole,
}

enum Source {
    Plain,
    Secret { id: String, client: Arc<OnceCell<SecretsClient>>, shape: Shape },
    Bedrock(crate::bedrock::Minter),
    Missing,
}

impl ApiKey {
    /// Starts reading the secret at once when the key lives in Secrets Manager.
    pub fn from_config(config: &KeyConfig) -> Self {
        let (source, read) = match config {
            KeyConfig::Plain(key) => {
                let key: Arc<str> = key.as_str().into();
                (Source::Plain, ready(Ok(key)))
            }
            KeyConfig::Missing => (Source::Missing, ready(Err(missing()))),
            KeyConfig::Bedrock { region } => {
                return Self::bedrock(region.clone(), crate::bedrock::CredentialSource::DefaultChain);
            }
            KeyConfig::Secret(id) => {
                let source = Source::Secret { id: id.clone(), client: Arc::new(OnceCell::new()), shape: Shape::ApiKey };
                (source, read_in_background(id.clone(), Shape::ApiKey))
            }
        };
        Self(Arc::new(Inner { source, read: Mutex::new(read) }))
    }

    /// The whole text of secret `id`, read from now on as a key is (once, again after a failure).
    pub fn whole_secret(id: String) -> Self {
        let read = read_in_background(id.clone(), Shape::Whole);
        let source = Source::Secret { id, client: Arc::new(OnceCell::new()), shape: Shape::Whole };
        Self(Arc::new(Inner { source, read: Mutex::new(read) }))
    }

    /// A short-term Bedrock API key for `region`, minted from `credentials` when first needed.
    pub fn bedrock(region: String, credentials: crate::bedrock::CredentialSource) -> Self {
        let minter = crate::bedrock::Minter::new(region, credentials);
        let unused = ready(Err(ApiError::Misconfigured("a minted key is never read".into())));
        Self(Arc::new(Inner { source: Source::Bedrock(minter), read: Mutex::new(unused) }))
    }

    /// The key, waiting for the secret read if it is still under way. A read that had already
    /// failed (at init, say) is tried once more for this request rather than handed on.
    pub async fn get(&self) -> Result<Arc<str>, ApiError> {
        if let Source::Bedrock(minter) = &self.0.source {
            return minter.get().await;
        }
        let read = self.current();
        match read.clone().await {
            Err(_) if matches!(self.0.source, Source::Secret { .. }) => self.read_again_unless_done(&read).await,
            outcome => outcome,
        }
    }

    /// After upstream rejected `rejected`, reads the secret again (it may have been rotated).
    /// `Ok(None)`: there is nothing new to try. `Err`: Secrets Manager itself failed.
    pub async fn refresh(&self, rejected: &str) -> Result<Option<Arc<str>>, ApiError> {
        if let Source::Bedrock(minter) = &self.0.source {
            return minter.refresh(rejected).await;
        }
        if !matches!(self.0.source, Source::Secret { .. }) {
            return Ok(None);
        }
        let read = self.current();
        if let Some(Ok(current)) = read.peek()
            && **current != *rejected
        {
            return Ok(Some(current.clone()));
        }
        let fresh = self.read_again_unless_done(&read).await?;
        Ok((*fresh != *rejected).then_some(fresh))
    }

    fn current(&self) -> Read {
        self.0.read.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces `read` with a new read of the secret, unless another request already did (then
    /// its read is shared), and waits for it.
    async fn read_again_unless_done(&self, read: &Read) -> Result<Arc<str>, ApiError> {
        let Source::Secret { id, client, shape } = &self.0.source else { return self.current().await };
        let next = {
            let mut current = self.0.read.lock().unwrap_or_else(|e| e.into_inner());
            if current.ptr_eq(read) {
                *current = read_secret(id.clone(), client.clone(), *shape).boxed().shared();
            }
            current.clone()
        };
        next.await
    }
}

fn ready(outcome: Result<Arc<str>, ApiError>) -> Read {
    futures_util::future::ready(outcome).boxed().shared()
}

fn missing() -> ApiError {
    ApiError::Misconfigured("no OpenAI API key: set OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ID".into())
}

/// Reads the secret on a thread of its own, so its start-up work (SDK configuration, TLS
/// roots) runs beside the runtime's first poll for work instead of delaying it. The SDK client
/// made there dies with that thread's runtime; later reads build one on the main runtime.
fn read_in_background(id: String, shape: Shape) -> Read {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let secret_id = id.clone();
    let read = move || {
        let outcome = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(read_secret(id, Arc::new(OnceCell::new()), shape)),
            Err(error) => {
                Err(ApiError::SecretUnavailable { secret_id: id, reason: format!("could not start the read: {error}") })
            }
        };
        let _ = sender.send(outcome);
    };
    let interrupted = move || ApiError::SecretUnavailable { secret_id, reason: "the read was interrupted".into() };
    if std::thread::Builder::new().name("secret-read".into()).spawn(read).is_err() {
        return ready(Err(interrupted()));
    }
    async move { receiver.await.unwrap_or_else(|_| Err(interrupted())) }.boxed().shared()
}

async fn read_secret(id: String, client: Arc<OnceCell<SecretsClient>>, shape: Shape) -> Result<Arc<str>, ApiError> {
    let failed = |reason: String| ApiError::SecretUnavailable { secret_id: id.clone(), reason };
    let client = client.get_or_init(|| async { SecretsClient::new(&chat_core::tls::aws_sdk_config().await) }).await;
    let output = client.get_secret_value().secret_id(&id).send().await.map_err(|error| {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
        match error.code() {
            Some(code) => failed(format!("{code}: {}", error.message().unwrap_or("no details"))),
            None => failed("Secrets Manager could not be reached".into()),
        }
    })?;
    let raw = output.secret_string().unwrap_or_default().trim();
    let key = if raw.starts_with('{') && matches!(shape, Shape::ApiKey) {
        let json: serde_json::Value =
            serde_json::from_str(raw).map_err(|_| failed("the secret holds invalid JSON".into()))?;
        json.get("OPENAI_API_KEY")
            .and_then(|v| v.as_str())
            .map(str::trim)
            .ok_or_else(|| failed("the secret's JSON has no string field OPENAI_API_KEY".into()))?
            .to_owned()
    } else {
        raw.to_owned()
    };
    if key.is_empty() {
        return Err(failed("the secret is empty".into()));
    }
    Ok(key.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_key_is_ready_and_missing_key_is_a_500() {
        let key = ApiKey::from_config(&KeyConfig::Plain("sk-test".into()));
        assert_eq!(&*key.get().await.unwrap(), "sk-test");
        assert_eq!(key.refresh("sk-test").await, Ok(None));
        let missing = ApiKey::from_config(&KeyConfig::Missing).get().await.unwrap_err();
        assert_eq!(missing.status(), 500);
        assert!(missing.log_detail().contains("OPENAI_API_KEY"), "the log says what to set");
        assert!(!missing.detail().contains("OPENAI_API_KEY"), "the caller is not told the deployment's variables");
    }
}

//! The OpenAI API key: given directly, or read from AWS Secrets Manager once per execution
//! environment. The read starts at init, beside the rest of start-up, and is awaited on first use.

use std::sync::Arc;

use aws_sdk_secretsmanager::Client as SecretsClient;
use tokio::sync::{Mutex, OnceCell, oneshot};

use crate::{ApiError, config::KeyConfig};

#[derive(Clone)]
pub struct ApiKey(Arc<Inner>);

struct Inner {
    source: Source,
    state: Mutex<State>,
}

enum Source {
    Plain(Arc<str>),
    Secret { id: String, client: Arc<OnceCell<SecretsClient>> },
    Missing,
}

enum State {
    Reading(oneshot::Receiver<Result<Arc<str>, ApiError>>),
    Ready(Arc<str>),
    /// No key yet (never read, or the last read failed): the next use reads again.
    Empty,
}

impl ApiKey {
    /// Starts reading the secret at once when the key lives in Secrets Manager.
    pub fn from_config(config: &KeyConfig) -> Self {
        let (source, state) = match config {
            KeyConfig::Plain(key) => {
                let key: Arc<str> = key.as_str().into();
                (Source::Plain(key.clone()), State::Ready(key))
            }
            KeyConfig::Missing => (Source::Missing, State::Empty),
            KeyConfig::Secret(id) => {
                let state = read_in_background(id.clone()).map_or(State::Empty, State::Reading);
                (Source::Secret { id: id.clone(), client: Arc::new(OnceCell::new()) }, state)
            }
        };
        Self(Arc::new(Inner { source, state: Mutex::new(state) }))
    }

    /// The key, waiting for the secret read if it is still under way.
    pub async fn get(&self) -> Result<Arc<str>, ApiError> {
        let mut state = self.0.state.lock().await;
        let outcome = match std::mem::replace(&mut *state, State::Empty) {
            State::Ready(key) => Ok(key),
            State::Reading(read) => read.await.unwrap_or_else(|_| Err(self.read_failed("the read was interrupted"))),
            State::Empty => match &self.0.source {
                Source::Plain(key) => Ok(key.clone()),
                Source::Secret { id, client } => read_secret(id.clone(), client.clone()).await,
                Source::Missing => Err(ApiError::Misconfigured(
                    "no OpenAI API key: set OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ID".into(),
                )),
            },
        };
        if let Ok(key) = &outcome {
            *state = State::Ready(key.clone());
        }
        outcome
    }

    /// After upstream rejected `rejected`, reads the secret again (it may have been rotated).
    /// Returns `None` when there is nothing new to try.
    pub async fn refresh(&self, rejected: &str) -> Option<Arc<str>> {
        let Source::Secret { id, client } = &self.0.source else { return None };
        let mut state = self.0.state.lock().await;
        if let State::Ready(current) = &*state {
            if **current != *rejected {
                return Some(current.clone());
            }
        }
        let fresh = read_secret(id.clone(), client.clone()).await.ok()?;
        *state = State::Ready(fresh.clone());
        (*fresh != *rejected).then_some(fresh)
    }

    fn read_failed(&self, reason: &str) -> ApiError {
        let secret_id = match &self.0.source {
            Source::Secret { id, .. } => id.clone(),
            _ => String::new(),
        };
        ApiError::SecretUnavailable { secret_id, reason: reason.into() }
    }
}

/// Reads the secret on a thread of its own, so its start-up work (SDK configuration, TLS
/// roots) runs beside the runtime's first poll for work instead of delaying it. The SDK client
/// made there dies with that thread's runtime; later reads build one on the main runtime.
fn read_in_background(id: String) -> Option<oneshot::Receiver<Result<Arc<str>, ApiError>>> {
    let (sender, receiver) = oneshot::channel();
    let read = move || {
        let outcome = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(read_secret(id, Arc::new(OnceCell::new()))),
            Err(error) => Err(ApiError::SecretUnavailable { secret_id: id, reason: format!("could not start the read: {error}") }),
        };
        let _ = sender.send(outcome);
    };
    std::thread::Builder::new().name("secret-read".into()).spawn(read).ok().map(|_| receiver)
}

async fn read_secret(id: String, client: Arc<OnceCell<SecretsClient>>) -> Result<Arc<str>, ApiError> {
    let failed = |reason: String| ApiError::SecretUnavailable { secret_id: id.clone(), reason };
    let client = client
        .get_or_init(|| async { SecretsClient::new(&crate::tls::aws_sdk_config().await) })
        .await;
    let output = client.get_secret_value().secret_id(&id).send().await.map_err(|error| {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
        match error.code() {
            Some(code) => failed(format!("{code}: {}", error.message().unwrap_or("no details"))),
            None => failed("Secrets Manager could not be reached".into()),
        }
    })?;
    let raw = output.secret_string().unwrap_or_default().trim();
    let key = if raw.starts_with('{') {
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
        return Err(failed("the secret is empty: put the OpenAI API key in it".into()));
    }
    Ok(key.into())
}

/// Removes the key, and anything shaped like an OpenAI key, from text bound for a user or a log.
pub fn redact(text: &str, key: &str) -> String {
    let mut out = if key.len() >= 4 { text.replace(key, "[redacted]") } else { text.to_owned() };
    let mut from = 0;
    while let Some(at) = out[from..].find("sk-").map(|i| i + from) {
        if out[..at].ends_with(|c: char| c.is_ascii_alphanumeric()) {
            from = at + 3;
            continue;
        }
        let end = out[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*'))
            .map_or(out.len(), |i| i + at);
        out.replace_range(at..end, "[redacted]");
        from = at + "[redacted]".len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_the_key_and_key_shaped_text() {
        let text = "Incorrect API key provided: sk-proj-abc***xyz. Key mykey-123456 was used";
        let redacted = redact(text, "mykey-123456");
        assert_eq!(redacted, "Incorrect API key provided: [redacted]. Key [redacted] was used");
        assert_eq!(redact("ask-me sk-", ""), "ask-me [redacted]");
    }

    #[tokio::test]
    async fn plain_key_is_ready_and_missing_key_is_a_500() {
        let key = ApiKey::from_config(&KeyConfig::Plain("sk-test".into()));
        assert_eq!(&*key.get().await.unwrap(), "sk-test");
        assert_eq!(key.refresh("sk-test").await, None);
        let missing = ApiKey::from_config(&KeyConfig::Missing).get().await.unwrap_err();
        assert_eq!(missing.status(), 500);
        assert!(missing.detail().contains("OPENAI_API_KEY"));
    }
}

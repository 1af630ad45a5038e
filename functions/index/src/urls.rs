//! Where the page sends its questions. Given directly (`CHAT_COMPLETE_URL`, `CHAT_STREAM_URL`),
//! or, when deployed, looked up by function name (`CHAT_COMPLETE_FUNCTION`,
//! `CHAT_STREAM_FUNCTION`): the chat URLs' CORS names the page's origin, so the page cannot
//! also take their URLs at deploy time without a dependency cycle.

use aws_sdk_lambda::Client as LambdaClient;
use tokio::sync::OnceCell;

pub struct ChatUrls {
    complete: Source,
    stream: Source,
    lambda: OnceCell<LambdaClient>,
}

enum Source {
    Url(String),
    Function(String),
}

/// The URLs the page calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub complete: String,
    pub stream: String,
}

impl ChatUrls {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let source = |url: &str, function: &str, default: &str| match (var(url), var(function)) {
            (Some(url), _) => Source::Url(url),
            (None, Some(name)) => Source::Function(name),
            (None, None) => Source::Url(default.to_owned()),
        };
        Self {
            complete: source("CHAT_COMPLETE_URL", "CHAT_COMPLETE_FUNCTION", "/lambda-url/chat-complete"),
            stream: source("CHAT_STREAM_URL", "CHAT_STREAM_FUNCTION", "/lambda-url/chat-stream"),
            lambda: OnceCell::new(),
        }
    }

    #[cfg(test)]
    pub fn fixed(complete: &str, stream: &str) -> Self {
        Self { complete: Source::Url(complete.into()), stream: Source::Url(stream.into()), lambda: OnceCell::new() }
    }

    /// Resolves both URLs, asking Lambda for those given by function name.
    pub async fn resolve(&self) -> Result<Resolved, String> {
        let (complete, stream) = tokio::try_join!(self.one(&self.complete), self.one(&self.stream))?;
        Ok(Resolved { complete, stream })
    }

    async fn one(&self, source: &Source) -> Result<String, String> {
        let name = match source {
            Source::Url(url) => return Ok(url.clone()),
            Source::Function(name) => name,
        };
        let client = self
            .lambda
            .get_or_init(|| async { LambdaClient::new(&shared::tls::aws_sdk_config().await) })
            .await;
        let output = client
            .get_function_url_config()
            .function_name(name)
            .send()
            .await
            .map_err(|e| format!("could not look up the URL of function {name}: {}", aws_sdk_lambda::error::DisplayErrorContext(e)))?;
        Ok(output.function_url().to_owned())
    }
}

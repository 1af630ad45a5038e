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
        let client =
            self.lambda.get_or_init(|| async { LambdaClient::new(&chat_core::tls::aws_sdk_config().await) }).await;
        let output = client.get_function_url_config().function_name(name).send().await.map_err(|e| {
            format!("could not look up the URL of function {name}: {}", aws_sdk_lambda::error::DisplayErrorContext(e))
        })?;
        Ok(output.function_url().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};

    fn client_for(endpoint: &str) -> LambdaClient {
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .http_client(chat_core::tls::aws_https_client())
            .build();
        LambdaClient::from_conf(config)
    }

    fn by_function(complete: &str, stream: &str, endpoint: &str) -> ChatUrls {
        let urls = ChatUrls {
            complete: Source::Function(complete.into()),
            stream: Source::Function(stream.into()),
            lambda: OnceCell::new(),
        };
        let _ = urls.lambda.set(client_for(endpoint));
        urls
    }

    // The deployed page's URLs come from Lambda itself: checked against moto's Lambda emulator,
    // with the functions and URLs made as the SAM template makes them.
    #[tokio::test]
    #[cfg_attr(
        not(feature = "e2e"),
        ignore = "needs Python (moto): cargo test --all-features, as scripts/test runs it"
    )]
    async fn deployed_urls_are_looked_up_by_function_name() {
        let moto = test_harness::MotoServer::start(test_harness::free_port()).await;
        let script = test_harness::workspace_root().join("tests").join("fixtures").join("create_function_urls.py");
        let python = test_harness::workspace_root().join(".venv").join("bin").join("python");
        let output =
            std::process::Command::new(python).arg(script).arg(moto.endpoint()).output().expect("run the fixture");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let created: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");

        let urls = by_function("stack-chat-complete", "stack-chat-stream", &moto.endpoint())
            .resolve()
            .await
            .expect("resolved");
        assert_eq!(urls.complete, created["stack-chat-complete"].as_str().unwrap());
        assert_eq!(urls.stream, created["stack-chat-stream"].as_str().unwrap());
        assert!(urls.stream.starts_with("https://"));

        let error =
            by_function("stack-chat-complete", "no-such-function", &moto.endpoint()).resolve().await.unwrap_err();
        assert!(error.contains("no-such-function"), "{error}");
    }
}

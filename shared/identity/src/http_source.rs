//! The provider's keys over HTTPS: `JWT_JWKS_URL`, or the `jwks_uri` of the issuer's
//! discovery document (OpenID Connect Discovery), whose `issuer` must be the one configured.

use std::time::Duration;

use tokio::sync::OnceCell;

use chat_core::{ApiError, JwtConfig};

use crate::keys::{Fetched, KeySource};

/// The largest discovery document or JWKS read: real ones are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

pub struct HttpKeySource {
    http: reqwest::Client,
    issuer: String,
    discovery_url: String,
    jwks_url: OnceCell<String>,
}

impl HttpKeySource {
    pub fn new(config: &JwtConfig) -> Result<Self, ApiError> {
        chat_core::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(4))
            // The keys must come from where the configuration says, not from where a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("lambda-openai-chat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ApiError::Misconfigured(format!("could not build the identity provider's HTTP client: {e}"))
            })?;
        let jwks_url = OnceCell::new_with(config.jwks_url.clone());
        Ok(Self { http, issuer: config.issuer.clone(), discovery_url: config.discovery_url(), jwks_url })
    }

    async fn jwks_url(&self) -> Result<&String, String> {
        self.jwks_url
            .get_or_try_init(|| async {
                let (document, _) = self.get_json(&self.discovery_url).await?;
                let named_issuer = document.get("issuer").and_then(|v| v.as_str());
                if named_issuer != Some(self.issuer.as_str()) {
                    return Err(format!("the discovery document names another issuer ({named_issuer:?})"));
                }
                let url = document
                    .get("jwks_uri")
                    .and_then(|v| v.as_str())
                    .ok_or("the discovery document has no jwks_uri")?;
                if !trusted_url(url) {
                    return Err("the discovery document's jwks_uri is not https".to_owned());
                }
                Ok(url.to_owned())
            })
            .await
    }

    async fn get_json(&self, url: &str) -> Result<(serde_json::Value, Option<Duration>), String> {
        let mut response = self.http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let max_age =
            response.headers().get(reqwest::header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: the document is larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
        }
        let json = serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))?;
        Ok((json, max_age))
    }
}

impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<Fetched, String> {
        let url = self.jwks_url().await?.clone();
        let (document, max_age) = self.get_json(&url).await?;
        let keys = document.get("keys").and_then(|k| k.as_array()).cloned().ok_or("the JWKS has no `keys` array")?;
        Ok(Fetched { keys, max_age })
    }
}

/// `https`, or plain `http` only to this machine (a local provider in tests and development).
fn trusted_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else { return false };
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    match url.scheme() {
        "https" => !host.is_empty(),
        "http" => {
            host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// `max-age=N` of a `Cache-Control` value; `no-store` and `no-cache` count as zero.
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_only_from_https_or_this_machine() {
        assert!(
            trusted_url("https://id.example/keys")
                && trusted_url("http://127.0.0.1:9/jwks")
                && trusted_url("http://[::1]/k")
        );
        assert!(
            !trusted_url("http://127.0.0.1.evil.example/jwks")
                && !trusted_url("http://id.example/keys")
                && !trusted_url("file:///etc/keys")
        );
    }

    #[test]
    fn cache_control_gives_the_age() {
        assert_eq!(max_age("public, max-age=21600, must-revalidate"), Some(Duration::from_secs(21600)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("max-age=300, no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}

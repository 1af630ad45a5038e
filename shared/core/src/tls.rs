//! One TLS stack for every outgoing connection: rustls with the ring provider.

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Makes ring the process's rustls provider (reqwest uses it). Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The AWS SDK's configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`,
/// ...), with an HTTPS client on the same rustls + ring stack and bounded timeouts.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_timeout(std::time::Duration::from_secs(10))
        .build();
    aws_config::from_env().http_client(aws_https_client()).timeout_config(timeouts).load().await
}

/// The AWS SDK's HTTPS client on rustls + ring.
pub fn aws_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

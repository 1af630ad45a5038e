//! `FALLBACK_AUTH=bedrock`: a short-term Amazon Bedrock API key minted from the function's own
//! AWS credentials, step for step as AWS's `aws-bedrock-token-generator` makes it, and minted
//! again well before it (or the credentials it was signed with) dies. The key is never logged.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::{Mutex, OnceCell};

use chat_core::ApiError;

/// What every short-term Bedrock API key starts with.
pub const KEY_PREFIX: &str = "bedrock-api-key-";
/// The host the presigned request names (the key is never sent there: Bedrock reads it).
pub const SIGNED_HOST: &str = "bedrock.amazonaws.com";
/// The action the presigned request asks for, the only query parameter before signing.
pub const ACTION: &str = "Action=CallWithBearerToken";
/// Appended after signing, outside the signature, as the token generators do.
pub const VERSION: &str = "&Version=1";
/// The SigV4 service name the key is signed for.
pub const SERVICE: &str = "bedrock";
/// The longest a short-term key may live (`X-Amz-Expires`).
pub const MAX_LIFETIME: Duration = Duration::from_secs(43_200);
/// How long each key is asked to live: minting is cheap, and a key that leaked dies within the hour.
pub const LIFETIME: Duration = Duration::from_secs(3_600);
/// Minted again this long before the key or its credentials die: more than a Lambda invocation
/// lasts (15 min), so a key a request took outlives that request and its retries.
pub const MARGIN: Duration = Duration::from_secs(20 * 60);

/// SigV4's unreserved characters, the only ones a query value keeps unencoded.
const SIGV4_QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The key for `credentials` in `region` at `now`, valid for `lifetime` (at most 12 h): the
/// SigV4 query-presigned `POST https://bedrock.amazonaws.com/?Action=CallWithBearerToken`
/// (signed header `host`, the empty body's SHA-256), without `https://`, plus `&Version=1`,
/// base64 after `bedrock-api-key-`.
pub fn mint(credentials: &Credentials, region: &str, now: SystemTime, lifetime: Duration) -> Result<String, ApiError> {
    let failed = |reason: String| ApiError::Misconfigured(format!("could not mint the Bedrock API key: {reason}"));
    if lifetime.is_zero() || lifetime > MAX_LIFETIME || region.is_empty() {
        return Err(failed(format!("a region and a lifetime up to 12 h are needed (got {region:?}, {lifetime:?})")));
    }
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(lifetime);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| failed(e.to_string()))?
        .into();
    let unsigned = format!("https://{SIGNED_HOST}/?{ACTION}");
    let request =
        SignableRequest::new("POST", unsigned.as_str(), [("host", SIGNED_HOST)].into_iter(), SignableBody::Bytes(&[]))
            .map_err(|e| failed(e.to_string()))?;
    let (instructions, _) = sign(request, &params).map_err(|e| failed(e.to_string()))?.into_parts();
    let mut presigned = format!("{SIGNED_HOST}/?{ACTION}");
    // The generators (botocore, the JS SDK) both put the signature last; the rest as signed.
    let signed = instructions.params();
    let is_signature = |name: &str| name == "X-Amz-Signature";
    let ordered = signed.iter().filter(|(n, _)| !is_signature(n)).chain(signed.iter().filter(|(n, _)| is_signature(n)));
    for (name, value) in ordered {
        presigned.push_str(&format!("&{name}={}", utf8_percent_encode(value, SIGV4_QUERY)));
    }
    presigned.push_str(VERSION);
    Ok(format!("{KEY_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(presigned)))
}

/// When a key minted at `now` must be replaced: [`MARGIN`] before it dies, which is after
/// `lifetime` or when its credentials expire, whichever comes first. Never before `now` (a
/// key whose credentials are about to expire is used once, and the next request mints again).
pub fn refresh_at(now: SystemTime, lifetime: Duration, credentials_expire: Option<SystemTime>) -> SystemTime {
    let dies = credentials_expire.map_or(now + lifetime, |expiry| expiry.min(now + lifetime));
    dies.checked_sub(MARGIN).unwrap_or(now).max(now)
}

/// Where the function's credentials come from.
pub enum CredentialSource {
    /// The SDK's default chain (on Lambda, the role's `AWS_ACCESS_KEY_ID`, ... in the environment).
    DefaultChain,
    /// Given (tests, tools).
    Given(SharedCredentialsProvider),
}

/// The current key, shared by every request of the execution environment.
pub(crate) struct Minter {
    region: String,
    source: CredentialSource,
    chain: OnceCell<Option<SharedCredentialsProvider>>,
    /// One mint at a time: a request that finds the key due waits for the one minting it.
    current: Mutex<Option<(Arc<str>, SystemTime)>>,
}

impl Minter {
    pub(crate) fn new(region: String, source: CredentialSource) -> Self {
        Self { region, source, chain: OnceCell::new(), current: Mutex::new(None) }
    }

    /// The current key, minted again when it is due.
    pub(crate) async fn get(&self) -> Result<Arc<str>, ApiError> {
        let mut current = self.current.lock().await;
        match current.as_ref() {
            Some((key, due)) if SystemTime::now() < *due => Ok(key.clone()),
            _ => self.mint_into(&mut current).await,
        }
    }

    /// After Bedrock refused `rejected`: a new key (its credentials read again), unless another
    /// request already minted one. `Ok(None)`: the new key is the same (minted the same second).
    pub(crate) async fn refresh(&self, rejected: &str) -> Result<Option<Arc<str>>, ApiError> {
        let mut current = self.current.lock().await;
        if let Some((key, _)) = current.as_ref()
            && **key != *rejected
        {
            return Ok(Some(key.clone()));
        }
        let fresh = self.mint_into(&mut current).await?;
        Ok((*fresh != *rejected).then_some(fresh))
    }

    async fn mint_into(&self, current: &mut Option<(Arc<str>, SystemTime)>) -> Result<Arc<str>, ApiError> {
        let credentials = self.credentials().await?;
        let now = SystemTime::now();
        let key: Arc<str> = mint(&credentials, &self.region, now, LIFETIME)?.into();
        *current = Some((key.clone(), refresh_at(now, LIFETIME, credentials.expiry())));
        tracing::info!(region = %self.region, "minted a Bedrock API key from the function's credentials");
        Ok(key)
    }

    async fn credentials(&self) -> Result<Credentials, ApiError> {
        let unavailable = |reason: String| {
            ApiError::Misconfigured(format!("no AWS credentials to mint the Bedrock API key with: {reason}"))
        };
        let provider = match &self.source {
            CredentialSource::Given(provider) => Some(provider.clone()),
            CredentialSource::DefaultChain => self
                .chain
                .get_or_init(|| async { chat_core::tls::aws_sdk_config().await.credentials_provider() })
                .await
                .clone(),
        };
        let provider = provider.ok_or_else(|| unavailable("the SDK found no credentials provider".into()))?;
        provider.provide_credentials().await.map_err(|e| unavailable(e.to_string()))
    }
}

#[cfg(test)]
#[path = "bedrock_tests.rs"]
mod tests;

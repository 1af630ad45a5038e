//! One token checked, in the order that refuses the cheapest way first: its size, its shape
//! and header (asymmetric algorithms only, no key named by the token itself), the issuer's key
//! for its `kid`, the signature, then the claims (`exp`, `nbf`, `iat`, `iss`, `aud`, `sub`).

use base64::Engine;
use chat_core::{ApiError, JwtConfig};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{AlgorithmFamily, Validation};

use crate::http_source::HttpKeySource;
use crate::keys::{CachePolicy, KeyCache, KeySource, Lookup};

/// Tokens longer than this are refused before any parsing (real ones are 1 to 4 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Whether a token past its `exp` is refused (always, but to resume an admitted answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Enforced,
    Ignored,
}

/// Clock difference allowed between the provider and this function, for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 60;

/// A user the provider signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub issuer: String,
    pub subject: String,
    /// The value of `JWT_LIMITS_CLAIM`, when configured and present.
    pub plan: Option<String>,
}

impl User {
    /// `user:` and the first 32 hex digits of SHA-256 over issuer and subject: how limits,
    /// owner tags and logs name the user, without their identifier.
    pub fn caller_id(&self) -> String {
        let digest =
            ring::digest::digest(&ring::digest::SHA256, format!("{}\n{}", self.issuer, self.subject).as_bytes());
        let hex: String = digest.as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("user:{hex}")
    }
}

/// The verifier, built once per execution environment.
pub struct Verifier<S = HttpKeySource> {
    config: JwtConfig,
    keys: KeyCache<S>,
}

impl Verifier<HttpKeySource> {
    pub fn from_config(config: JwtConfig) -> Result<Self, ApiError> {
        let source = HttpKeySource::new(&config)?;
        Ok(Self::with_source(config, source, CachePolicy::default()))
    }
}

impl<S: KeySource> Verifier<S> {
    pub fn with_source(config: JwtConfig, source: S, policy: CachePolicy) -> Self {
        crate::ring_provider::install();
        Self { config, keys: KeyCache::new(source, policy) }
    }

    /// Fetches the provider's keys ahead of the first token (during init); never fails.
    pub async fn fetch_keys(&self) {
        self.keys.prefetch().await;
    }

    /// How many times the keys were fetched.
    pub async fn key_fetches(&self) -> u64 {
        self.keys.fetches().await
    }

    /// The user `token` was issued to, or why it is refused (a fixed sentence: nothing of the
    /// token is repeated). `AuthUnavailable` when no key can be had to check it.
    pub async fn verify(&self, token: &str) -> Result<User, ApiError> {
        self.verify_with(token, Expiry::Enforced).await
    }

    /// [`Self::verify`], but a token that has expired since still names its user: only to
    /// continue an answer that user was admitted for, which their resume token (signed, bound
    /// to them, valid for an hour) must also prove. Every other check stands.
    pub async fn verify_for_resume(&self, token: &str) -> Result<User, ApiError> {
        self.verify_with(token, Expiry::Ignored).await
    }

    async fn verify_with(&self, token: &str, expiry: Expiry) -> Result<User, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::TokenInvalid("it is longer than 8 KiB"));
        }
        if token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(ApiError::TokenInvalid("it is not a signed JWT (three base64url parts)"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| match raw_algorithm(token) {
            Some(alg) if alg.parse::<jsonwebtoken::Algorithm>().is_err() => {
                ApiError::TokenInvalid("its algorithm is not one this service accepts (RS, PS, ES or EdDSA)")
            }
            _ => ApiError::TokenInvalid("its header cannot be read"),
        })?;
        if header.alg.family() == AlgorithmFamily::Hmac {
            return Err(ApiError::TokenInvalid(
                "it is signed with a shared secret; only the issuer's public keys are accepted",
            ));
        }
        if header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() || header.x5c.is_some() {
            return Err(ApiError::TokenInvalid(
                "its header points to its own key; only the issuer's published keys are accepted",
            ));
        }
        if header.crit.is_some() {
            return Err(ApiError::TokenInvalid("its header has critical extensions this service does not know"));
        }
        let key = self.keys.key(header.kid.as_deref()).await.map_err(|lookup| match lookup {
            Lookup::Unknown => ApiError::TokenInvalid("it is signed by a key its issuer does not publish"),
            Lookup::Unavailable => ApiError::AuthUnavailable,
        })?;
        if !key.algorithms.contains(&header.alg) {
            return Err(ApiError::TokenInvalid("its algorithm is not the one its key allows"));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_exp = expiry == Expiry::Enforced;
        validation.validate_aud = false; // `aud` or Cognito's `client_id`, checked below
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[&self.config.issuer]);
        let claims =
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key.decoding, &validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => ApiError::TokenExpired,
                    ErrorKind::ImmatureSignature => ApiError::TokenInvalid("it is not valid yet (nbf)"),
                    ErrorKind::InvalidIssuer => {
                        ApiError::TokenInvalid("it was issued by another identity provider (iss)")
                    }
                    ErrorKind::InvalidSignature => ApiError::TokenInvalid("its signature does not match"),
                    ErrorKind::MissingRequiredClaim(_) => {
                        ApiError::TokenInvalid("a required claim (exp, iss or sub) is missing or not of its type")
                    }
                    ErrorKind::InvalidClaimFormat(_) => ApiError::TokenInvalid("a claim has the wrong type"),
                    _ => ApiError::TokenInvalid("it cannot be read"),
                })?
                .claims;
        self.check_claims(&claims)
    }

    fn check_claims(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Result<User, ApiError> {
        let subject = claims.get("sub").and_then(|s| s.as_str()).filter(|s| !s.trim().is_empty());
        let subject = subject.ok_or(ApiError::TokenInvalid("its subject (sub) is empty"))?;
        if let Some(iat) = claims.get("iat") {
            let now = jsonwebtoken::get_current_timestamp();
            let issued = iat.as_f64().ok_or(ApiError::TokenInvalid("a claim has the wrong type"))?;
            if issued > (now + LEEWAY_SECONDS) as f64 {
                return Err(ApiError::TokenInvalid("it was issued in the future (iat)"));
            }
        }
        let accepted =
            |value: &serde_json::Value| value.as_str().is_some_and(|v| self.config.audiences.iter().any(|a| a == v));
        let audience_ok = match claims.get("aud") {
            Some(serde_json::Value::Array(values)) => values.iter().any(accepted),
            Some(value) => accepted(value),
            // Cognito access tokens name their app client in `client_id` and carry no `aud`.
            None => claims.get("client_id").is_some_and(accepted),
        };
        if !audience_ok {
            return Err(ApiError::TokenInvalid("it was issued for another application (aud)"));
        }
        let plan = self.config.limits_claim.as_ref().and_then(|claim| match claims.get(claim) {
            Some(serde_json::Value::String(plan)) => Some(plan.clone()),
            Some(serde_json::Value::Number(plan)) => Some(plan.to_string()),
            _ => None,
        });
        Ok(User { issuer: self.config.issuer.clone(), subject: subject.to_owned(), plan })
    }
}

/// The `alg` a header names, read apart from jsonwebtoken (which refuses names it does not
/// know, `none` among them, without saying so), to tell the caller why.
fn raw_algorithm(token: &str) -> Option<String> {
    let encoded = token.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&json).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

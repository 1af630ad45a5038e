//! The issuer's signing keys (its JWKS), fetched once and cached for as long as its
//! `Cache-Control` says within bounds, fetched again for an unknown `kid` at most once a minute
//! (so made-up `kid`s cannot make us hammer the provider), and kept when a refresh fails.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A JWKS as its source served it.
pub struct Fetched {
    /// Each key of the set as JSON; one this service cannot use is skipped, not fatal.
    pub keys: Vec<serde_json::Value>,
    /// `Cache-Control: max-age` (zero for `no-store` or `no-cache`).
    pub max_age: Option<Duration>,
}

/// Where the keys come from: the provider over HTTPS ([`crate::HttpKeySource`]), or a test's.
pub trait KeySource: Send + Sync {
    /// The current key set, or why it could not be had (for the log only).
    fn fetch(&self) -> impl Future<Output = Result<Fetched, String>> + Send;
}

/// How long keys are trusted and how often they may be asked for again.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// Bounds on the provider's `max-age`, and the age used when it sends none.
    pub min_age: Duration,
    pub max_age: Duration,
    pub default_age: Duration,
    /// At most one fetch for unknown `kid`s in this long.
    pub unknown_kid_interval: Duration,
    /// After a failed fetch, no other for this long (answers are 503 meanwhile when no key is cached).
    pub retry_after_failure: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            min_age: Duration::from_secs(60),
            max_age: Duration::from_secs(24 * 3600),
            default_age: Duration::from_secs(600),
            unknown_kid_interval: Duration::from_secs(60),
            retry_after_failure: Duration::from_secs(5),
        }
    }
}

/// One usable key: what it verifies with, and the algorithms it allows.
#[derive(Clone)]
pub struct Key {
    pub decoding: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

/// Why no key could be had for a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The issuer publishes no such key (even after asking again, when that was allowed).
    Unknown,
    /// No key set could be had at all: the provider is unreachable and nothing is cached.
    Unavailable,
}

struct KeySet {
    by_kid: HashMap<String, Key>,
    /// Keys published without a `kid`: used only when the set holds exactly one key.
    anonymous: Vec<Key>,
    fresh_until: Instant,
}

#[derive(Default)]
struct State {
    keys: Option<KeySet>,
    last_unknown_refetch: Option<Instant>,
    failed_at: Option<Instant>,
    fetches: u64,
}

/// The cache, one per execution environment. Lookups wait on one another while a fetch is in
/// flight, so a burst of requests makes one fetch, not one each.
pub struct KeyCache<S> {
    source: S,
    policy: CachePolicy,
    state: Mutex<State>,
}

impl<S: KeySource> KeyCache<S> {
    pub fn new(source: S, policy: CachePolicy) -> Self {
        Self { source, policy, state: Mutex::new(State::default()) }
    }

    /// How many times the source was asked (tests, logs).
    pub async fn fetches(&self) -> u64 {
        self.state.lock().await.fetches
    }

    /// The key a token names by `kid` (or the only key, when it names none).
    pub async fn key(&self, kid: Option<&str>) -> Result<Key, Lookup> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let mut fetched_now = false;
        if state.keys.as_ref().is_none_or(|keys| now >= keys.fresh_until) {
            fetched_now = self.refresh(&mut state, now).await;
        }
        if let Some(key) = state.keys.as_ref().and_then(|keys| keys.find(kid)) {
            return Ok(key);
        }
        let may_ask_again =
            state.last_unknown_refetch.is_none_or(|at| now.duration_since(at) >= self.policy.unknown_kid_interval);
        if !fetched_now && may_ask_again && state.keys.is_some() {
            state.last_unknown_refetch = Some(now);
            self.refresh(&mut state, now).await;
        }
        match &state.keys {
            Some(keys) => keys.find(kid).ok_or(Lookup::Unknown),
            None => Err(Lookup::Unavailable),
        }
    }

    /// Fetches the set ahead of the first token (during init), unless one is held. A failure here
    /// is only logged: the first token asks again, as if nothing had been tried.
    pub async fn prefetch(&self) {
        let mut state = self.state.lock().await;
        if state.keys.is_some() {
            return;
        }
        state.fetches += 1;
        match self.source.fetch().await {
            Ok(fetched) => self.keep(&mut state, &fetched, Instant::now()),
            Err(reason) => tracing::debug!(reason, "the identity provider's signing keys were not fetched ahead"),
        }
    }

    fn keep(&self, state: &mut State, fetched: &Fetched, now: Instant) {
        let age = fetched.max_age.unwrap_or(self.policy.default_age).clamp(self.policy.min_age, self.policy.max_age);
        let set = KeySet::from_json(&fetched.keys, now + age);
        tracing::info!(
            keys = set.by_kid.len() + set.anonymous.len(),
            cached_for_s = age.as_secs(),
            "fetched the identity provider's signing keys"
        );
        state.keys = Some(set);
        state.failed_at = None;
    }

    /// Fetches the set unless a fetch failed moments ago; whether it was fetched. A failure
    /// keeps the keys already held (for `retry_after_failure` more) rather than refusing everyone.
    async fn refresh(&self, state: &mut State, now: Instant) -> bool {
        if state.failed_at.is_some_and(|at| now.duration_since(at) < self.policy.retry_after_failure) {
            return false;
        }
        state.fetches += 1;
        match self.source.fetch().await {
            Ok(fetched) => {
                self.keep(state, &fetched, now);
                true
            }
            Err(reason) => {
                tracing::warn!(
                    reason,
                    cached = state.keys.is_some(),
                    "could not fetch the identity provider's signing keys"
                );
                state.failed_at = Some(now);
                if let Some(keys) = &mut state.keys {
                    keys.fresh_until = now + self.policy.retry_after_failure;
                }
                false
            }
        }
    }
}

impl KeySet {
    fn from_json(keys: &[serde_json::Value], fresh_until: Instant) -> Self {
        let mut set = Self { by_kid: HashMap::new(), anonymous: Vec::new(), fresh_until };
        for value in keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else { continue };
            let Some(key) = usable(&jwk) else { continue };
            match jwk.common.key_id {
                Some(kid) => {
                    set.by_kid.insert(kid, key);
                }
                None => set.anonymous.push(key),
            }
        }
        set
    }

    fn find(&self, kid: Option<&str>) -> Option<Key> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None if self.by_kid.len() + self.anonymous.len() == 1 => {
                self.by_kid.values().chain(&self.anonymous).next().cloned()
            }
            None => None,
        }
    }
}

/// A signature key of an asymmetric kind, with the algorithms it allows: its `alg` when it
/// names one, else those of its type and curve. Encryption keys and shared secrets are skipped.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))) {
        return None;
    }
    use Algorithm::*;
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => vec![ES256],
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P384 => vec![ES384],
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => vec![EdDSA],
        _ => return None,
    };
    let algorithms = match &jwk.common.key_algorithm {
        Some(named) => {
            let named: Algorithm = named.to_string().parse().ok()?;
            by_type.contains(&named).then(|| vec![named])?
        }
        None => by_type,
    };
    Some(Key { decoding: DecodingKey::from_jwk(jwk).ok()?, algorithms })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A source whose answers a test sets, counting its fetches.
    #[derive(Clone, Default)]
    struct Scripted {
        keys: Arc<std::sync::Mutex<Option<Vec<serde_json::Value>>>>,
        calls: Arc<AtomicU64>,
    }

    impl KeySource for Scripted {
        async fn fetch(&self) -> Result<Fetched, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let keys = self.keys.lock().unwrap().clone();
            keys.map(|keys| Fetched { keys, max_age: Some(Duration::from_secs(3600)) }).ok_or_else(|| "down".to_owned())
        }
    }

    fn ec_key(kid: &str) -> serde_json::Value {
        // A P-256 public point (any valid encoding will do: nothing is verified here).
        serde_json::json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_kid_is_asked_for_at_most_once_a_minute() {
        let source = Scripted::default();
        *source.keys.lock().unwrap() = Some(vec![ec_key("a")]);
        let cache = KeyCache::new(source.clone(), CachePolicy::default());
        assert!(cache.key(Some("a")).await.is_ok());
        for n in 0..100 {
            assert_eq!(cache.key(Some(&format!("made-up-{n}"))).await.err(), Some(Lookup::Unknown));
        }
        assert_eq!(source.calls.load(Ordering::SeqCst), 2, "the first fetch, and one for the unknown kids");
        // A key rotated in later is found by the next allowed fetch, without a restart.
        *source.keys.lock().unwrap() = Some(vec![ec_key("a"), ec_key("b")]);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(cache.key(Some("b")).await.is_ok());
        assert_eq!(source.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_provider_down_keeps_the_cached_keys_and_is_not_asked_at_every_request() {
        let source = Scripted::default();
        let cache = KeyCache::new(source.clone(), CachePolicy::default());
        for _ in 0..20 {
            assert_eq!(cache.key(Some("a")).await.err(), Some(Lookup::Unavailable));
        }
        assert_eq!(source.calls.load(Ordering::SeqCst), 1, "one try per retry_after_failure");
        *source.keys.lock().unwrap() = Some(vec![ec_key("a")]);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(cache.key(Some("a")).await.is_ok());
        // Down again after the keys expire: the ones held still verify.
        *source.keys.lock().unwrap() = None;
        tokio::time::advance(Duration::from_secs(3601)).await;
        assert!(cache.key(Some("a")).await.is_ok());
    }

    #[test]
    fn only_asymmetric_signature_keys_are_kept_with_the_algorithms_they_allow() {
        let rsa = serde_json::json!({"kty": "RSA", "kid": "r", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"});
        let set = KeySet::from_json(
            &[
                rsa.clone(),
                serde_json::json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}),
                serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa["n"], "e": "AQAB"}),
                ec_key("e"),
                serde_json::json!({"kty": "EC", "kid": "lie", "alg": "RS256", "crv": "P-256", "x": ec_key("e")["x"], "y": ec_key("e")["y"]}),
            ],
            Instant::now(),
        );
        assert_eq!(set.find(Some("r")).unwrap().algorithms.len(), 6);
        assert_eq!(set.find(Some("e")).unwrap().algorithms, [Algorithm::ES256]);
        assert!(set.find(Some("h")).is_none(), "an HMAC secret is never a key");
        assert!(set.find(Some("enc")).is_none(), "an encryption key is not a signature key");
        assert!(set.find(Some("lie")).is_none(), "an EC key that claims an RSA algorithm");
        assert!(set.find(None).is_none(), "no kid with several keys: which one is not guessed");
    }
}

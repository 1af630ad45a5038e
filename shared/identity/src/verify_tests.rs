//! The verifier against keys made here (ring signs ES256 and EdDSA), one refusal per test case.
//! RSA, RSA-PSS and tokens made by another library are proven through the functions, against
//! the local OpenID provider (tests/oidc).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chat_core::{ApiError, JwtConfig};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use crate::keys::{CachePolicy, Fetched, KeySource};
use crate::verify::Verifier;

const ISSUER: &str = "https://id.example";

struct Keys {
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
}

impl Keys {
    fn new() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
        Self { ec, ed }
    }

    fn jwks(&self) -> Vec<Value> {
        let point = self.ec.public_key().as_ref();
        vec![
            json!({"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..])}),
            json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": B64.encode(self.ed.public_key().as_ref())}),
        ]
    }

    /// A token with this header and these claims, signed by the key its `alg` names.
    fn token(&self, header: Value, claims: Value) -> String {
        let message = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = match header["alg"].as_str() {
            Some("EdDSA") => self.ed.sign(message.as_bytes()).as_ref().to_vec(),
            _ => self.ec.sign(&ring::rand::SystemRandom::new(), message.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{message}.{}", B64.encode(signature))
    }
}

struct Fixed(Vec<Value>);

impl KeySource for Fixed {
    async fn fetch(&self) -> Result<Fetched, String> {
        Ok(Fetched { keys: self.0.clone(), max_age: None })
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> Value {
    json!({"iss": ISSUER, "sub": "alice", "aud": "chat-app", "iat": now(), "exp": now() + 300, "plan": "pro"})
}

fn ec_header() -> Value {
    json!({"alg": "ES256", "typ": "JWT", "kid": "ec-1"})
}

fn verifier(keys: &Keys) -> Verifier<Fixed> {
    let config = JwtConfig {
        issuer: ISSUER.into(),
        audiences: vec!["chat-app".into(), "cognito-client".into()],
        jwks_url: None,
        limits_claim: Some("plan".into()),
        plans: Vec::new(),
    };
    Verifier::with_source(config, Fixed(keys.jwks()), CachePolicy::default())
}

fn with(mut value: Value, changes: Value) -> Value {
    for (name, change) in changes.as_object().unwrap() {
        match change {
            Value::Null => value.as_object_mut().unwrap().remove(name),
            other => value.as_object_mut().unwrap().insert(name.clone(), other.clone()),
        };
    }
    value
}

#[tokio::test]
async fn a_good_token_names_its_user_and_plan() {
    let keys = Keys::new();
    let verifier = verifier(&keys);
    let user = verifier.verify(&keys.token(ec_header(), claims())).await.unwrap();
    assert_eq!((user.subject.as_str(), user.plan.as_deref()), ("alice", Some("pro")));
    let ed = keys.token(json!({"alg": "EdDSA", "kid": "ed-1"}), claims());
    assert_eq!(verifier.verify(&ed).await.unwrap(), user, "EdDSA too");
    // The caller id is a hash of issuer and subject: stable, and nothing of either in clear.
    assert!(
        user.caller_id().starts_with("user:") && !user.caller_id().contains("alice") && user.caller_id().len() == 37
    );
    let bob = verifier.verify(&keys.token(ec_header(), with(claims(), json!({"sub": "bob"})))).await.unwrap();
    assert_ne!(bob.caller_id(), user.caller_id());
    assert_eq!(verifier.key_fetches().await, 1, "the keys are fetched once");
}

#[tokio::test]
async fn cognito_access_tokens_are_accepted_by_their_client_id() {
    let keys = Keys::new();
    let access = with(claims(), json!({"aud": null, "client_id": "cognito-client", "token_use": "access"}));
    assert!(verifier(&keys).verify(&keys.token(ec_header(), access)).await.is_ok());
    let other = with(claims(), json!({"aud": null, "client_id": "someone-else"}));
    assert_eq!(
        verifier(&keys).verify(&keys.token(ec_header(), other)).await,
        Err(ApiError::TokenInvalid("it was issued for another application (aud)"))
    );
    let listed = with(claims(), json!({"aud": ["other", "chat-app"]}));
    assert!(verifier(&keys).verify(&keys.token(ec_header(), listed)).await.is_ok(), "aud as an array");
}

#[tokio::test]
async fn every_claim_problem_is_refused_with_its_own_reason() {
    let keys = Keys::new();
    let verifier = verifier(&keys);
    let cases = [
        (json!({"exp": now() - 120}), ApiError::TokenExpired),
        (
            json!({"exp": null}),
            ApiError::TokenInvalid("a required claim (exp, iss or sub) is missing or not of its type"),
        ),
        (
            json!({"exp": "99999999999"}),
            ApiError::TokenInvalid("a required claim (exp, iss or sub) is missing or not of its type"),
        ),
        (json!({"nbf": now() + 600}), ApiError::TokenInvalid("it is not valid yet (nbf)")),
        (json!({"nbf": "99999999999"}), ApiError::TokenInvalid("a claim has the wrong type")),
        (json!({"iat": now() + 600}), ApiError::TokenInvalid("it was issued in the future (iat)")),
        (
            json!({"iss": "https://id.example/"}),
            ApiError::TokenInvalid("it was issued by another identity provider (iss)"),
        ),
        (json!({"sub": ""}), ApiError::TokenInvalid("its subject (sub) is empty")),
        (
            json!({"sub": null}),
            ApiError::TokenInvalid("a required claim (exp, iss or sub) is missing or not of its type"),
        ),
        (json!({"aud": "another-app"}), ApiError::TokenInvalid("it was issued for another application (aud)")),
    ];
    for (change, expected) in cases {
        let token = keys.token(ec_header(), with(claims(), change.clone()));
        assert_eq!(verifier.verify(&token).await, Err(expected), "{change}");
    }
    // Within the leeway, a token just expired still passes (clocks differ).
    assert!(verifier.verify(&keys.token(ec_header(), with(claims(), json!({"exp": now() - 30})))).await.is_ok());
}

#[tokio::test]
async fn headers_that_choose_their_own_key_or_algorithm_are_refused() {
    let keys = Keys::new();
    let verifier = verifier(&keys);
    let cases = [
        (
            json!({"jku": "https://evil.example/jwks"}),
            "its header points to its own key; only the issuer's published keys are accepted",
        ),
        (
            json!({"x5u": "https://evil.example/cert"}),
            "its header points to its own key; only the issuer's published keys are accepted",
        ),
        (
            json!({"jwk": keys.jwks()[0].clone()}),
            "its header points to its own key; only the issuer's published keys are accepted",
        ),
        (json!({"crit": ["exp"]}), "its header has critical extensions this service does not know"),
        (json!({"kid": "ed-1"}), "its algorithm is not the one its key allows"),
        (json!({"kid": "nobody"}), "it is signed by a key its issuer does not publish"),
        (json!({"alg": "none"}), "its algorithm is not one this service accepts (RS, PS, ES or EdDSA)"),
        (json!({"alg": "HS256"}), "it is signed with a shared secret; only the issuer's public keys are accepted"),
    ];
    for (change, reason) in cases {
        let token = keys.token(with(ec_header(), change.clone()), claims());
        assert_eq!(verifier.verify(&token).await, Err(ApiError::TokenInvalid(reason)), "{change}");
    }
    // A kid naming the EC key, signed by another EC key: the signature does not match.
    let stranger = Keys::new();
    let forged = stranger.token(ec_header(), claims());
    assert_eq!(verifier.verify(&forged).await, Err(ApiError::TokenInvalid("its signature does not match")));
    // Tampered claims under a real signature.
    let token = keys.token(ec_header(), claims());
    let parts: Vec<&str> = token.split('.').collect();
    let tampered =
        format!("{}.{}.{}", parts[0], B64.encode(with(claims(), json!({"sub": "admin"})).to_string()), parts[2]);
    assert_eq!(verifier.verify(&tampered).await, Err(ApiError::TokenInvalid("its signature does not match")));
}

#[tokio::test]
async fn malformed_and_oversized_tokens_are_refused_before_any_key_is_fetched() {
    let keys = Keys::new();
    let verifier = verifier(&keys);
    let huge = format!("{}.{}.x", "a".repeat(5000), "b".repeat(5000));
    assert_eq!(verifier.verify(&huge).await, Err(ApiError::TokenInvalid("it is longer than 8 KiB")));
    for bad in ["", "abc", "a.b", "a.b.c.d.e", "!!!.???.***"] {
        assert!(matches!(verifier.verify(bad).await, Err(ApiError::TokenInvalid(_))), "{bad:?}");
    }
    assert_eq!(verifier.key_fetches().await, 0);
    for error in
        [ApiError::TokenInvalid("its signature does not match"), ApiError::TokenExpired, ApiError::TokenMissing]
    {
        assert_eq!(error.status(), 401);
        assert!(error.www_authenticate().unwrap().starts_with("Bearer error=\"invalid_token\""));
    }
}

//! Who a bearer token says the caller is (`ACCESS=jwt`): a JWT from the configured OpenID
//! provider, verified against the provider's published keys (its JWKS, cached and fetched again
//! at most once a minute for an unknown `kid`), asymmetric algorithms only, its claims checked.
//!
//! It knows nothing of Lambda, of limits or of OpenAI: it is handed a token and answers with
//! the [`User`] or the [`chat_core::ApiError`] that refuses it.

mod http_source;
mod keys;
mod ring_provider;
mod verify;

pub use http_source::HttpKeySource;
pub use keys::{CachePolicy, Fetched, KeySource};
pub use verify::{LEEWAY_SECONDS, MAX_TOKEN_BYTES, User, Verifier};

#[cfg(test)]
mod verify_tests;

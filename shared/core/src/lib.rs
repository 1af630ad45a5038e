//! What every crate of the chat functions speaks: the configuration, read once at init; the one
//! error type, whose variants know their status and message; the question being asked; and the
//! care of secrets (redaction of key-shaped text, one TLS stack). It depends on no crate of ours
//! and knows nothing of Lambda or of OpenAI's wire format.

pub mod access;
pub mod approvals;
pub mod attachments;
pub mod attempt;
pub mod catalogue;
pub mod config;
pub mod date;
pub mod error;
mod error_examples;
mod error_kind;
pub mod fallback;
pub mod functions;
mod interruption;
pub mod prices;
mod provider_failure;
pub mod query;
mod question;
pub mod reasoning;
mod redact;
mod setting;
pub mod tls;
pub mod tools;

pub use access::{JwtConfig, PlanLimits};
pub use config::{Config, KeyConfig, LimitsConfig, Timeouts};
pub use error::{ApiError, Cut, Wait};
pub use error_kind::ErrorKind;
pub use provider_failure::ProviderFailure;
pub use question::{ChatRequest, Role, Turn};
pub use reasoning::{ReasoningConfig, ReasoningRequest};
pub use redact::redact;

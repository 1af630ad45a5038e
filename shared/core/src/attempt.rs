//! What an attempt at an answer may have cost when another provider is asked in its place, and
//! the tab a failover must settle with before it asks (the caller's reservation, in `spend`).

use std::future::Future;
use std::pin::Pin;

use crate::prices::{Billed, Prices};
use crate::{ApiError, ProviderFailure};

/// What the primary's attempt at an answer cost, once the fallback is to be asked instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Abandoned {
    /// It generated nothing: its question never left, or was refused before the model (a 429,
    /// a refused key, a model gone).
    Nothing,
    /// OpenAI reported what it generated (a cancel's usage), at its provider's price.
    Billed { billed: Billed, price: Option<Prices> },
    /// It may have generated, and nobody can say how much: its id never arrived (headers held
    /// back, a connection lost after the create was sent, a 408, 502 or 504) or its cancel said
    /// nothing. A 500, 503 or 429 is the provider's own refusal, which bills nothing.
    Unknown,
}

impl Abandoned {
    /// What a primary that failed before its stream this way may have cost: whether the create
    /// can have reached the model decides it.
    pub fn by(error: &ApiError) -> Self {
        match error.provider_failure() {
            ProviderFailure::Down { may_have_generated: true } | ProviderFailure::CutMidAnswer => Self::Unknown,
            ProviderFailure::Down { may_have_generated: false }
            | ProviderFailure::RefusedTheDeployment
            | ProviderFailure::RefusedTheQuestion
            | ProviderFailure::NotTheProvider => Self::Nothing,
        }
    }
}

/// Whether a create answered with `status` may still be generating: 408, 502 and 504 come from
/// something that stopped waiting for the model, not from the model refusing. A 500, 503, 409 or
/// 429 is the provider's own refusal, which generates and bills nothing (so it may be retried).
pub fn may_still_generate(status: u16) -> bool {
    matches!(status, 408 | 502 | 504)
}

/// A future a tab returns (boxed: `spend` implements it for the functions, and `openai-client`
/// calls it, neither knowing the other).
pub type TabFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>>;

/// The account of one question: before a failover asks the fallback, what the abandoned attempt
/// cost is counted, and the fallback's worst case reserved again when the first one may be
/// spent; an error (a limit reached) means the fallback is not asked.
pub trait FailoverTab: Send {
    fn fail_over(&mut self, abandoned: Abandoned) -> TabFuture<'_>;
}

/// No account: a deployment or a tool without limits.
pub struct Untracked;

impl FailoverTab for Untracked {
    fn fail_over(&mut self, _: Abandoned) -> TabFuture<'_> {
        Box::pin(std::future::ready(Ok(())))
    }
}

//! A question's account when its provider fails: what the abandoned attempt cost stays counted,
//! and the fallback's answer is reserved again when the first attempt may have spent its share,
//! so that the two together never pass a limit (the budget holds under failover).

use chat_core::ApiError;
use chat_core::attempt::{Abandoned, FailoverTab, TabFuture};

use crate::amount::Amount;
use crate::gate::{Admission, used};
use crate::store::Change;

impl Admission {
    /// Counts what the primary's abandoned attempt cost before the fallback is asked:
    /// - [`Abandoned::Nothing`]: the reservation is the fallback's, as it was;
    /// - [`Abandoned::Billed`]: the bill is added to the counters, under the limits;
    /// - [`Abandoned::Unknown`]: the reservation stands for that attempt, and as much again is
    ///   reserved for the fallback's.
    ///
    /// The addition is one conditional write against the caller's day and the deployment's: when
    /// a limit refuses it, the fallback is not asked (the error says which limit), and what the
    /// attempt cost stays counted (its bill, or its whole reservation when unknown).
    pub async fn fail_over(&mut self, abandoned: Abandoned) -> Result<(), ApiError> {
        let Some(held) = &mut self.held else { return Ok(()) };
        let extra = match abandoned {
            Abandoned::Nothing => return Ok(()),
            Abandoned::Billed { billed, price } => used(billed, price),
            Abandoned::Unknown => held.amount,
        };
        if extra == Amount::default() {
            return Ok(());
        }
        let Some((caller_per_day, budget)) = held.limits else {
            held.store.adjust(&self.caller, held.day, Change::of(extra)).await;
            return Ok(());
        };
        match held.store.reserve(&self.caller, extra, caller_per_day, budget).await {
            Ok(_) => Ok(()),
            Err(refused) => {
                tracing::warn!(error = %refused.log_detail(), "no room for the fallback's answer beside what the primary's attempt may have cost: the fallback is not asked");
                // Nothing more is asked: the attempt's cost is all there is to settle.
                let held = self.held.take();
                if let (Some(held), Abandoned::Billed { .. }) = (held, abandoned) {
                    let back = crate::gate::settlement_delta(extra, held.amount);
                    held.store.adjust(&self.caller, held.day, back).await;
                }
                Err(refused)
            }
        }
    }
}

impl FailoverTab for Admission {
    fn fail_over(&mut self, abandoned: Abandoned) -> TabFuture<'_> {
        Box::pin(Admission::fail_over(self, abandoned))
    }
}

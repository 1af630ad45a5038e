//! What a counter counts: tokens (`used`) and nano-dollars (`nano_usd`), side by side in the same
//! items and the same conditional writes, so a dollar limit costs no round trip of its own.

use chat_core::prices::{Nanos, usd_words};

/// The attribute a day's tokens are counted in.
pub(crate) const TOKENS: &str = "used";
/// The attribute a day's nano-dollars are counted in.
pub(crate) const NANOS: &str = "nano_usd";

/// What a reservation holds, or a bill comes to: tokens, and nano-dollars (0 when the model has
/// no price and no limit is in dollars).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    pub tokens: u64,
    pub nanos: Nanos,
}

/// A counter's limit for a day: tokens, and dollars when one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayLimit {
    pub tokens: u64,
    pub nanos: Option<Nanos>,
}

impl Amount {
    /// Tokens alone (a model with no price).
    pub fn tokens(tokens: u64) -> Self {
        Self { tokens, nanos: 0 }
    }
}

/// Which of a day's limits refused a write, when the store said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Tokens,
    Dollars,
    /// The item was not returned (an emulator): both limits are named.
    Unknown,
}

impl DayLimit {
    /// A limit in tokens alone.
    pub fn tokens(tokens: u64) -> Self {
        Self { tokens, nanos: None }
    }

    /// Room left before `amount` is added, per attribute; `None` when `amount` alone is over.
    pub(crate) fn room(&self, amount: Amount) -> Option<(u64, Option<u64>)> {
        let tokens = self.tokens.checked_sub(amount.tokens)?;
        let nanos = match self.nanos {
            Some(limit) => Some(limit.checked_sub(amount.nanos)?),
            None => None,
        };
        Some((tokens, nanos))
    }

    /// Which limit an item as it was refuses `amount`.
    pub(crate) fn refused_by(&self, amount: Amount, item: Option<&crate::table::Item>) -> Refused {
        let Some(item) = item else { return Refused::Unknown };
        let over = |name: &str, limit: u64, more: u64| number(item, name).unwrap_or(0).saturating_add(more) > limit;
        if self.nanos.is_some_and(|limit| over(NANOS, limit, amount.nanos)) && !over(TOKENS, self.tokens, amount.tokens)
        {
            Refused::Dollars
        } else {
            Refused::Tokens
        }
    }

    /// The limit in words, as a refusal names it: "100000 tokens", "$0.50", or both.
    pub(crate) fn words(&self, refused: Refused) -> String {
        let tokens = format!("{} tokens", self.tokens);
        match (refused, self.nanos) {
            (Refused::Dollars, Some(nanos)) => usd_words(nanos),
            (Refused::Unknown, Some(nanos)) => format!("{tokens} or {}", usd_words(nanos)),
            _ => tokens,
        }
    }

    /// Whether `amount` alone is more than a whole day allows; the words of the limit it breaks.
    pub(crate) fn too_large(&self, amount: Amount) -> Option<(String, String)> {
        if amount.tokens > self.tokens {
            return Some((format!("{} tokens", amount.tokens), format!("{} tokens", self.tokens)));
        }
        let limit = self.nanos.filter(|limit| amount.nanos > *limit)?;
        Some((usd_words(amount.nanos), usd_words(limit)))
    }

    /// The tighter of two limits, attribute by attribute (a caller's day within the deployment's).
    pub(crate) fn within(self, other: DayLimit) -> DayLimit {
        let nanos = match (self.nanos, other.nanos) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        DayLimit { tokens: self.tokens.min(other.tokens), nanos }
    }
}

pub(crate) fn number(item: &crate::table::Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn a_refusal_names_the_limit_that_refused() {
        let limit = DayLimit { tokens: 1_000, nanos: Some(500_000_000) };
        let item = |used: u64, nanos: u64| {
            crate::table::Item::from([
                (TOKENS.to_owned(), AttributeValue::N(used.to_string())),
                (NANOS.to_owned(), AttributeValue::N(nanos.to_string())),
            ])
        };
        let ask = Amount { tokens: 100, nanos: 100_000_000 };
        assert_eq!(limit.refused_by(ask, Some(&item(950, 0))), Refused::Tokens);
        assert_eq!(limit.refused_by(ask, Some(&item(0, 450_000_000))), Refused::Dollars);
        assert_eq!(limit.words(Refused::Dollars), "$0.50");
        assert_eq!(limit.words(Refused::Unknown), "1000 tokens or $0.50");
        assert_eq!(DayLimit { nanos: None, ..limit }.words(Refused::Unknown), "1000 tokens");
        assert_eq!(limit.room(ask), Some((900, Some(400_000_000))));
        assert_eq!(limit.room(Amount { tokens: 1, nanos: 600_000_000 }), None);
        assert_eq!(limit.too_large(Amount { tokens: 1, nanos: 600_000_000 }), Some(("$0.60".into(), "$0.50".into())));
        assert_eq!(limit.too_large(ask), None);
        let caller = DayLimit { tokens: 2_000, nanos: None };
        assert_eq!(caller.within(limit), DayLimit { tokens: 1_000, nanos: Some(500_000_000) });
    }
}

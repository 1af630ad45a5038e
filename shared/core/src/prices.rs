//! What tokens cost: list prices of common models, or the deployment's own, for the estimate
//! the metrics carry and the alarms watch.

/// Dollars per million tokens: input, input read from OpenAI's prompt cache, output
/// (reasoning tokens are billed as output). Writing the cache costs nothing extra at OpenAI:
/// those tokens are plain input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub input_per_million: f64,
    pub cached_input_per_million: f64,
    pub output_per_million: f64,
}

/// List prices (USD per 1M tokens, standard tier, 2026) of the models people most often run
/// here; `OPENAI_PRICE_INPUT_PER_MTOK` / `OPENAI_PRICE_OUTPUT_PER_MTOK` override them. Longer
/// names first, so `gpt-4o-mini` is not read as `gpt-4o`; dated snapshots match their family.
const LIST_PRICES: &[(&str, f64, f64, f64)] = &[
    ("gpt-4.1-nano", 0.10, 0.025, 0.40),
    ("gpt-4.1-mini", 0.40, 0.10, 1.60),
    ("gpt-4.1", 2.00, 0.50, 8.00),
    ("gpt-4o-mini", 0.15, 0.075, 0.60),
    ("gpt-4o", 2.50, 1.25, 10.00),
    ("gpt-5-nano", 0.05, 0.005, 0.40),
    ("gpt-5-mini", 0.25, 0.025, 2.00),
    ("gpt-5", 1.25, 0.125, 10.00),
    ("o4-mini", 1.10, 0.275, 4.40),
    ("o3-mini", 1.10, 0.55, 4.40),
    ("o3", 2.00, 0.50, 8.00),
];

impl Prices {
    /// The prices for `model`: the override when given, else the list price of its family.
    pub fn for_model(model: &str, overridden: Option<Prices>) -> Option<Prices> {
        overridden.or_else(|| {
            LIST_PRICES
                .iter()
                .find(|(name, _, _, _)| {
                    model == *name || model.strip_prefix(name).is_some_and(|rest| rest.starts_with('-'))
                })
                .map(|(_, input, cached, output)| Prices {
                    input_per_million: *input,
                    cached_input_per_million: *cached,
                    output_per_million: *output,
                })
        })
    }

    /// `cached_tokens` are part of `input_tokens`, priced at the cached rate.
    pub fn cost_usd(&self, input_tokens: u64, cached_tokens: u64, output_tokens: u64) -> f64 {
        let cached = cached_tokens.min(input_tokens);
        let fresh = input_tokens - cached;
        (fresh as f64 * self.input_per_million
            + cached as f64 * self.cached_input_per_million
            + output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_the_hand_computed_figure() {
        // gpt-4o-mini: 200 input tokens at $0.15/M and 400 output at $0.60/M.
        let prices = Prices::for_model("gpt-4o-mini", None).unwrap();
        let expected = 200.0 * 0.15 / 1e6 + 400.0 * 0.60 / 1e6;
        assert!((prices.cost_usd(200, 0, 400) - expected).abs() < 1e-12);
        assert!((prices.cost_usd(200, 0, 400) - 0.00027).abs() < 1e-12);
        // gpt-5: 1000 input of which 800 cached ($0.125/M), 500 output (reasoning included).
        let gpt5 = Prices::for_model("gpt-5-2025-08-07", None).unwrap();
        let expected = 200.0 * 1.25 / 1e6 + 800.0 * 0.125 / 1e6 + 500.0 * 10.0 / 1e6;
        assert!((gpt5.cost_usd(1000, 800, 500) - expected).abs() < 1e-12);
        assert!((gpt5.cost_usd(10, 99, 0) - 10.0 * 0.125 / 1e6).abs() < 1e-12, "no more cached than input");
        assert_eq!(Prices::for_model("gpt-4o-mini-2024-07-18", None), Some(prices));
        assert_eq!(Prices::for_model("gpt-4o", None).unwrap().input_per_million, 2.50);
        assert_eq!(Prices::for_model("my-local-model", None), None);
        let custom = Prices { input_per_million: 1.0, cached_input_per_million: 1.0, output_per_million: 2.0 };
        assert_eq!(Prices::for_model("gpt-4o", Some(custom)), Some(custom));
    }
}

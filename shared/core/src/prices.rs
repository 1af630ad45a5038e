//! What tokens cost: list prices of common models, or the deployment's own, for the estimate
//! the metrics carry and the alarms watch.

/// Dollars per million tokens: input, output (reasoning tokens are billed as output).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// List prices (USD per 1M tokens, standard tier, 2026) of the models people most often run
/// here; `OPENAI_PRICE_INPUT_PER_MTOK` / `OPENAI_PRICE_OUTPUT_PER_MTOK` override them. Longer
/// names first, so `gpt-4o-mini` is not read as `gpt-4o`; dated snapshots match their family.
const LIST_PRICES: &[(&str, f64, f64)] = &[
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5", 1.25, 10.00),
    ("o4-mini", 1.10, 4.40),
    ("o3-mini", 1.10, 4.40),
    ("o3", 2.00, 8.00),
];

impl Prices {
    /// The prices for `model`: the override when given, else the list price of its family.
    pub fn for_model(model: &str, overridden: Option<Prices>) -> Option<Prices> {
        overridden.or_else(|| {
            LIST_PRICES
                .iter()
                .find(|(name, _, _)| model == *name || model.strip_prefix(name).is_some_and(|rest| rest.starts_with('-')))
                .map(|(_, input, output)| Prices { input_per_million: *input, output_per_million: *output })
        })
    }

    pub fn cost_usd(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_million + output_tokens as f64 * self.output_per_million) / 1_000_000.0
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
        assert!((prices.cost_usd(200, 400) - expected).abs() < 1e-12);
        assert!((prices.cost_usd(200, 400) - 0.00027).abs() < 1e-12);
        assert_eq!(Prices::for_model("gpt-4o-mini-2024-07-18", None), Some(prices));
        assert_eq!(Prices::for_model("gpt-4o", None).unwrap().input_per_million, 2.50);
        assert_eq!(Prices::for_model("my-local-model", None), None);
        let custom = Prices { input_per_million: 1.0, output_per_million: 2.0 };
        assert_eq!(Prices::for_model("gpt-4o", Some(custom)), Some(custom));
    }
}

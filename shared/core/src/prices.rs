//! What tokens cost: the list prices in `shared/core/data/prices.json` (data a person updates,
//! with its source and the date each price took effect), or the deployment's own, for the
//! estimate the metrics carry and the alarms watch.

use std::sync::LazyLock;

use serde::Deserialize;

/// Dollars per million tokens: fresh input, input read from the prompt cache, input written to
/// it (1.25x input from GPT-5.6 on; plain input before), output (reasoning included).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Prices {
    #[serde(rename = "input")]
    pub input_per_million: f64,
    #[serde(rename = "cached_input")]
    pub cached_input_per_million: f64,
    #[serde(rename = "cache_write")]
    pub cache_write_per_million: f64,
    #[serde(rename = "output")]
    pub output_per_million: f64,
}

/// The tokens of one answer by the class they are billed at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Billed {
    /// All input, cached and cache writes included (as OpenAI reports `input_tokens`).
    pub input: u64,
    pub cached: u64,
    pub cache_write: u64,
    /// Output, reasoning included.
    pub output: u64,
}

#[derive(Debug, Deserialize)]
struct Catalogue {
    models: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Row {
    model: String,
    /// `YYYY-MM-DD`: the day this price took effect (a later row for the same model wins from then).
    from: String,
    #[serde(flatten)]
    prices: Prices,
}

const CATALOGUE_JSON: &str = include_str!("../data/prices.json");

/// The catalogue, longest model names first so `gpt-4o-mini` is not read as `gpt-4o`.
static CATALOGUE: LazyLock<Vec<Row>> = LazyLock::new(|| {
    let mut rows = serde_json::from_str::<Catalogue>(CATALOGUE_JSON).map(|c| c.models).unwrap_or_default();
    rows.sort_by(|a, b| b.model.len().cmp(&a.model.len()).then_with(|| b.from.cmp(&a.from)));
    rows
});

impl Prices {
    /// The prices for `model`: the override when given, else the list price of its family in
    /// effect today.
    pub fn for_model(model: &str, overridden: Option<Prices>) -> Option<Prices> {
        overridden.or_else(|| Self::listed(model, &crate::date::today()))
    }

    /// The list price of `model`'s family in effect on `day` (`YYYY-MM-DD`).
    pub fn listed(model: &str, day: &str) -> Option<Prices> {
        let model = model.trim().to_ascii_lowercase();
        let family = |name: &str| model == name || model.strip_prefix(name).is_some_and(|rest| rest.starts_with('-'));
        let rows = CATALOGUE.iter().filter(|row| family(&row.model));
        // Rows are sorted longest name first, then latest `from` first: the first in effect wins.
        let longest = rows.clone().next().map(|row| row.model.len())?;
        rows.filter(|row| row.model.len() == longest).find(|row| row.from.as_str() <= day).map(|row| row.prices)
    }

    /// What `tokens` cost in dollars. Cached and cache-write tokens are part of the input and are
    /// priced at their own rates; the rest of the input is fresh.
    pub fn cost_usd(&self, tokens: Billed) -> f64 {
        let cached = tokens.cached.min(tokens.input);
        let written = tokens.cache_write.min(tokens.input - cached);
        let fresh = tokens.input - cached - written;
        (fresh as f64 * self.input_per_million
            + cached as f64 * self.cached_input_per_million
            + written as f64 * self.cache_write_per_million
            + tokens.output as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn billed(input: u64, cached: u64, cache_write: u64, output: u64) -> Billed {
        Billed { input, cached, cache_write, output }
    }

    #[test]
    fn the_catalogue_parses_and_knows_today_s_families() {
        let rows: Catalogue = serde_json::from_str(CATALOGUE_JSON).unwrap();
        assert!(rows.models.len() >= 10);
        for model in ["gpt-6-luna", "gpt-6-sol", "gpt-6-astra", "gpt-6.1-sol", "gpt-5.6-terra", "gpt-5.6-luna"] {
            assert!(Prices::listed(model, "2026-12-06").is_some(), "{model}");
        }
        let sol = Prices::listed("gpt-6-sol", "2026-12-06").unwrap();
        assert_eq!((sol.input_per_million, sol.cached_input_per_million), (2.0, 0.2));
        assert_eq!((sol.cache_write_per_million, sol.output_per_million), (2.5, 10.0));
    }

    #[test]
    fn a_price_change_takes_effect_on_its_day() {
        // GPT-5.6 Luna was cut by 80% on 2026-07-30.
        let before = Prices::listed("gpt-5.6-luna", "2026-07-29").unwrap();
        let after = Prices::listed("gpt-5.6-luna-2026-07-01", "2026-07-30").unwrap();
        assert_eq!((before.input_per_million, after.input_per_million), (1.0, 0.2));
        assert_eq!(Prices::listed("gpt-6-luna", "2020-01-01"), None, "not yet priced");
    }

    #[test]
    fn cost_is_the_hand_computed_figure_for_every_class() {
        // gpt-6-luna: 1000 input of which 600 cached and 300 written to the cache, 500 output.
        let luna = Prices::listed("gpt-6-luna", "2026-12-06").unwrap();
        let expected = (100.0 * 0.10 + 600.0 * 0.01 + 300.0 * 0.125 + 500.0 * 0.50) / 1e6;
        assert!((luna.cost_usd(billed(1000, 600, 300, 500)) - expected).abs() < 1e-15);
        // gpt-4o-mini: 200 input at $0.15/M and 400 output at $0.60/M.
        let mini = Prices::listed("gpt-4o-mini-2024-07-18", "2026-12-06").unwrap();
        assert!((mini.cost_usd(billed(200, 0, 0, 400)) - 0.00027).abs() < 1e-12);
        assert_eq!(Prices::listed("gpt-4o", "2026-12-06").unwrap().input_per_million, 2.50);
        // Never more cached or written than input.
        assert!((luna.cost_usd(billed(10, 99, 99, 0)) - 10.0 * 0.01 / 1e6).abs() < 1e-15);
        assert_eq!(Prices::listed("my-local-model", "2026-12-06"), None);
        let custom = Prices {
            input_per_million: 1.0,
            cached_input_per_million: 1.0,
            cache_write_per_million: 1.0,
            output_per_million: 2.0,
        };
        assert_eq!(Prices::for_model("gpt-4o", Some(custom)), Some(custom));
    }
}

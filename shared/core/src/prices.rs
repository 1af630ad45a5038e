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
    /// Whether a request over [`LONG_CONTEXT_TOKENS`] input is billed at the long-context rates.
    #[serde(default)]
    pub long_context: bool,
}

/// The tokens of one answer by the class they are billed at, and the tier it was served in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Billed {
    /// All input, cached and cache writes included (as OpenAI reports `input_tokens`).
    pub input: u64,
    pub cached: u64,
    pub cache_write: u64,
    /// Output, reasoning included.
    pub output: u64,
    pub tier: Tier,
}

/// The service tier a response was served in (its `service_tier`): `flex` bills half the list
/// price, `priority` twice; `default` (and `auto`, and anything else) the list price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tier {
    #[default]
    Default,
    Flex,
    Priority,
}

impl Tier {
    pub fn named(name: Option<&str>) -> Self {
        match name {
            Some("flex") => Self::Flex,
            Some("priority") => Self::Priority,
            _ => Self::Default,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Flex => "flex",
            Self::Priority => "priority",
        }
    }

    fn multiplier(self) -> f64 {
        match self {
            Self::Default => 1.0,
            Self::Flex => 0.5,
            Self::Priority => 2.0,
        }
    }
}

/// Past this many input tokens a request is billed whole at [`LONG_INPUT`] times the input
/// rates (fresh, cached, cache writes) and [`LONG_OUTPUT`] times the output rate (GPT-5.4 and
/// later families: the rows of the catalogue marked `long_context`).
pub const LONG_CONTEXT_TOKENS: u64 = 272_000;
const LONG_INPUT: f64 = 2.0;
const LONG_OUTPUT: f64 = 1.5;

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
        let listed = Self::listed(model, &crate::date::today());
        // An owner's prices replace the rates, not OpenAI's long-context rule for the family.
        let long_context = listed.is_some_and(|p| p.long_context);
        overridden.map(|prices| Prices { long_context, ..prices }).or(listed)
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
    /// priced at their own rates; the rest of the input is fresh. A request past
    /// [`LONG_CONTEXT_TOKENS`] pays the long-context rates whole (where the model has them), and
    /// the tier multiplies it all.
    pub fn cost_usd(&self, tokens: Billed) -> f64 {
        let cached = tokens.cached.min(tokens.input);
        let written = tokens.cache_write.min(tokens.input - cached);
        let fresh = tokens.input - cached - written;
        let long = self.long_context && tokens.input > LONG_CONTEXT_TOKENS;
        let (input_rate, output_rate) = if long { (LONG_INPUT, LONG_OUTPUT) } else { (1.0, 1.0) };
        let input = fresh as f64 * self.input_per_million
            + cached as f64 * self.cached_input_per_million
            + written as f64 * self.cache_write_per_million;
        let output = tokens.output as f64 * self.output_per_million;
        (input * input_rate + output * output_rate) * tokens.tier.multiplier() / 1_000_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn billed(input: u64, cached: u64, cache_write: u64, output: u64) -> Billed {
        Billed { input, cached, cache_write, output, tier: Tier::Default }
    }

    #[test]
    fn long_context_and_the_tier_multiply_the_bill() {
        let sol = Prices::listed("gpt-6-sol", "2026-12-06").unwrap();
        // 300,000 input (100,000 cached, 50,000 written), 1,000 output, past the threshold:
        // every input class at 2x, output at 1.5x.
        let long = billed(300_000, 100_000, 50_000, 1_000);
        let expected = ((150_000.0 * 2.0 + 100_000.0 * 0.2 + 50_000.0 * 2.5) * 2.0 + 1_000.0 * 10.0 * 1.5) / 1e6;
        assert!((sol.cost_usd(long) - expected).abs() < 1e-12, "{} {expected}", sol.cost_usd(long));
        // At the threshold, list rates; flex halves and priority doubles whatever the rest is.
        let at = billed(LONG_CONTEXT_TOKENS, 0, 0, 0);
        assert!((sol.cost_usd(at) - 272_000.0 * 2.0 / 1e6).abs() < 1e-12);
        let flex = Billed { tier: Tier::Flex, ..long };
        let priority = Billed { tier: Tier::Priority, ..long };
        assert!((sol.cost_usd(flex) - expected / 2.0).abs() < 1e-12);
        assert!((sol.cost_usd(priority) - expected * 2.0).abs() < 1e-12);
        // A model without long-context rates (gpt-4o-mini) is billed at its list rates.
        let mini = Prices::listed("gpt-4o-mini", "2026-12-06").unwrap();
        assert!((mini.cost_usd(billed(300_000, 0, 0, 0)) - 300_000.0 * 0.15 / 1e6).abs() < 1e-12);
        assert_eq!(
            (Tier::named(Some("flex")), Tier::named(Some("auto")), Tier::named(None)),
            (Tier::Flex, Tier::Default, Tier::Default)
        );
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
            long_context: false,
        };
        assert_eq!(Prices::for_model("gpt-4o", Some(custom)), Some(custom));
        assert!(Prices::for_model("gpt-6-sol", Some(custom)).unwrap().long_context, "the family's rule stays");
    }
}

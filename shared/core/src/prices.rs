//! What tokens cost: the list prices in `shared/core/data/prices.json` (data a person updates,
//! with its source and the date each price took effect), or the deployment's own, for the
//! estimate the metrics carry and the alarms watch.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::setting::ConfigError;

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
    /// What OpenAI bills in tokens (input and output, or the total it reports when more): what
    /// the token limits count.
    pub total: u64,
}

impl Billed {
    /// The tokens the token limits count: [`Billed::total`], never less than input and output.
    pub fn tokens(&self) -> u64 {
        self.total.max(self.input.saturating_add(self.output))
    }
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

    /// The tier's price as a fraction of the list price: `(times, divisor)`.
    fn fraction(self) -> (u128, u128) {
        match self {
            Self::Default => (1, 1),
            Self::Flex => (1, 2),
            Self::Priority => (2, 1),
        }
    }
}

/// Past this many input tokens a request is billed whole at twice the input
/// rates (fresh, cached, cache writes) and 1.5 times the output rate (GPT-5.4 and
/// later families: the rows of the catalogue marked `long_context`).
pub const LONG_CONTEXT_TOKENS: u64 = 272_000;

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

    /// What `tokens` cost in dollars (the estimate the metrics carry): [`Prices::cost_nanos`]
    /// before it is rounded.
    pub fn cost_usd(&self, tokens: Billed) -> f64 {
        let (picos, divisor) = self.cost_picos(tokens);
        picos as f64 / divisor as f64 / 1e12
    }

    /// What `tokens` cost in nano-dollars, rounded up: the unit the dollar limits count in,
    /// integer so that reservations and settlements add up exactly.
    pub fn cost_nanos(&self, tokens: Billed) -> Nanos {
        let (picos, divisor) = self.cost_picos(tokens);
        u64::try_from(picos.div_ceil(divisor * 1_000)).unwrap_or(u64::MAX)
    }

    /// The most a request of at most `input` and `output` tokens can be billed when asked for in
    /// the `requested` service tier: every input token at the dearest input class, the
    /// long-context rates when `input` can cross the threshold, and twice the price unless the
    /// tier asked for is `default` or `flex` (`auto` is the project's default, which may be
    /// `priority`).
    pub fn worst_case_nanos(&self, input: u64, output: u64, requested: Option<&str>) -> Nanos {
        let (fresh, cached, written) = (
            picos_per_token(self.input_per_million),
            picos_per_token(self.cached_input_per_million),
            picos_per_token(self.cache_write_per_million),
        );
        let class = |rate: u128| if rate == fresh.max(cached).max(written) { input } else { 0 };
        let cached_tokens = class(cached);
        let written_tokens = if cached_tokens == 0 { class(written) } else { 0 };
        let tier = match requested {
            Some("default" | "flex") => Tier::Default,
            _ => Tier::Priority,
        };
        self.cost_nanos(Billed { input, cached: cached_tokens, cache_write: written_tokens, output, tier, total: 0 })
    }

    /// The bill in pico-dollars as a fraction `(numerator, divisor)`, exact: the rates are whole
    /// pico-dollars per token and the multipliers halves.
    fn cost_picos(&self, tokens: Billed) -> (u128, u128) {
        let cached = tokens.cached.min(tokens.input);
        let written = tokens.cache_write.min(tokens.input - cached);
        let fresh = tokens.input - cached - written;
        let long = self.long_context && tokens.input > LONG_CONTEXT_TOKENS;
        // In halves: input 2x long (4/2), output 1.5x long (3/2).
        let (input_halves, output_halves) = if long { (4, 3) } else { (2, 2) };
        let input = u128::from(fresh) * picos_per_token(self.input_per_million)
            + u128::from(cached) * picos_per_token(self.cached_input_per_million)
            + u128::from(written) * picos_per_token(self.cache_write_per_million);
        let output = u128::from(tokens.output) * picos_per_token(self.output_per_million);
        let (tier_times, tier_divisor) = tokens.tier.fraction();
        ((input * input_halves + output * output_halves) * tier_times, 2 * tier_divisor)
    }
}

/// Nano-dollars (10^-9 USD).
pub type Nanos = u64;

/// A price in dollars per million tokens as whole pico-dollars per token (exact to a millionth
/// of a cent per million tokens, finer than any list price).
fn picos_per_token(dollars_per_million: f64) -> u128 {
    (dollars_per_million * 1e6).round().max(0.0) as u128
}

/// Dollars as a person writes them: `$5`, `$0.50`, `$0.000125`.
pub fn usd_words(nanos: Nanos) -> String {
    let (dollars, fraction) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    if fraction == 0 {
        return format!("${dollars}");
    }
    let digits = format!("{fraction:09}");
    let digits = digits.trim_end_matches('0');
    format!("${dollars}.{digits:0<2}")
}

/// Dollars as an owner writes them in a variable (`5`, `0.50`) in nano-dollars; `None` when not a
/// non-negative amount.
pub fn parse_usd(text: &str) -> Option<Nanos> {
    let text = text.trim().trim_start_matches('$');
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: u64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().ok()? };
    whole.checked_mul(1_000_000_000)?.checked_add(fraction)
}

/// The variables that override one provider's prices.
pub(crate) struct PriceNames {
    input: &'static str,
    output: &'static str,
    cached_input: &'static str,
    cache_write: &'static str,
}

pub(crate) const OPENAI_PRICES: PriceNames = PriceNames {
    input: "OPENAI_PRICE_INPUT_PER_MTOK",
    output: "OPENAI_PRICE_OUTPUT_PER_MTOK",
    cached_input: "OPENAI_PRICE_CACHED_INPUT_PER_MTOK",
    cache_write: "OPENAI_PRICE_CACHE_WRITE_PER_MTOK",
};

pub(crate) const FALLBACK_PRICES: PriceNames = PriceNames {
    input: "FALLBACK_PRICE_INPUT_PER_MTOK",
    output: "FALLBACK_PRICE_OUTPUT_PER_MTOK",
    cached_input: "FALLBACK_PRICE_CACHED_INPUT_PER_MTOK",
    cache_write: "FALLBACK_PRICE_CACHE_WRITE_PER_MTOK",
};

pub(crate) fn from_settings(
    get: &impl Fn(&str) -> Option<String>,
    names: &PriceNames,
) -> Result<Option<Prices>, ConfigError> {
    let price = |name: &'static str| -> Result<Option<f64>, ConfigError> {
        get(name)
            .map(|v| {
                v.parse::<f64>().ok().filter(|p| p.is_finite() && *p >= 0.0).ok_or(ConfigError::Invalid {
                    name,
                    value: v,
                    expected: "dollars per million tokens, e.g. 0.15",
                })
            })
            .transpose()
    };
    let cached = price(names.cached_input)?;
    let cache_write = price(names.cache_write)?;
    match (price(names.input)?, price(names.output)?) {
        // Unset, cached input is priced as input and cache writes at OpenAI's 1.25x input: an
        // estimate never too low.
        (Some(input_per_million), Some(output_per_million)) => Ok(Some(Prices {
            input_per_million,
            cached_input_per_million: cached.unwrap_or(input_per_million),
            cache_write_per_million: cache_write.unwrap_or(input_per_million * 1.25),
            output_per_million,
            // Set from the model's family by `Prices::for_model`.
            long_context: false,
        })),
        (None, None) => Ok(None),
        (input, _) => Err(ConfigError::Invalid {
            name: if input.is_some() { names.output } else { names.input },
            value: String::new(),
            expected: "set together with the other price",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn billed(input: u64, cached: u64, cache_write: u64, output: u64) -> Billed {
        Billed { input, cached, cache_write, output, tier: Tier::Default, total: 0 }
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

    #[test]
    fn nano_dollars_are_exact_and_the_worst_case_bounds_every_bill() {
        let luna = Prices::listed("gpt-6-luna", "2026-12-06").unwrap();
        // (100 x 0.10 + 600 x 0.01 + 300 x 0.125 + 500 x 0.50) / 1e6 dollars = 303,500 nano-dollars.
        assert_eq!(luna.cost_nanos(billed(1000, 600, 300, 500)), 303_500);
        assert_eq!(luna.cost_nanos(billed(1, 1, 0, 0)), 10, "a cached token: $0.01/M");
        // A tenth of a nano-dollar (an owner's price of $0.0001/M) rounds up, never to nothing.
        let tiny = Prices { input_per_million: 0.0001, ..luna };
        assert_eq!(tiny.cost_nanos(billed(1, 0, 0, 0)), 1);
        let sol = Prices::listed("gpt-6-sol", "2026-12-06").unwrap();
        // 300,000 input, long: 2x input at the cache-write rate ($2.50), 1.5x output, priority 2x.
        let worst = sol.worst_case_nanos(300_000, 1_000, None);
        assert_eq!(worst, (300_000 * 2_500 * 2 + 1_000 * 10_000 * 3 / 2) * 2);
        assert_eq!(sol.worst_case_nanos(300_000, 1_000, Some("default")), worst / 2);
        assert_eq!(sol.worst_case_nanos(1_000, 1_000, Some("flex")), 1_000 * 2_500 + 1_000 * 10_000);
        for (input, cached, written, output) in [(300_000, 0, 0, 1_000), (300_000, 300_000, 0, 1), (5, 0, 5, 0)] {
            for tier in [Tier::Default, Tier::Flex, Tier::Priority] {
                let bill = Billed { tier, ..billed(input, cached, written, output) };
                assert!(sol.cost_nanos(bill) <= sol.worst_case_nanos(input, output, None));
            }
        }
        // A price list whose cached input is dearest (an owner's override) reserves at that.
        let odd = Prices { cached_input_per_million: 9.0, ..sol };
        assert_eq!(odd.worst_case_nanos(10, 0, Some("default")), 10 * 9_000);
    }

    #[test]
    fn dollars_read_and_written_as_people_do() {
        assert_eq!(parse_usd("5"), Some(5_000_000_000));
        assert_eq!(parse_usd("$0.50"), Some(500_000_000));
        assert_eq!(parse_usd(" .000000001 "), Some(1));
        for bad in ["", ".", "-1", "1.0000000001", "abc", "1e3", "18446744074"] {
            assert_eq!(parse_usd(bad), None, "{bad}");
        }
        assert_eq!(usd_words(5_000_000_000), "$5");
        assert_eq!(usd_words(500_000_000), "$0.50");
        assert_eq!(usd_words(125_000), "$0.000125");
        assert_eq!(usd_words(1_234_500_000), "$1.2345");
    }
}

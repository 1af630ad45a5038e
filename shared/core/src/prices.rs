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
    /// The hosted tool calls, billed per call on top of the tokens.
    pub tool_calls: crate::tools::ToolCalls,
}

impl Billed {
    /// The tokens the token limits count: [`Billed::total`], never less than input and output.
    pub fn tokens(&self) -> u64 {
        self.total.max(self.input.saturating_add(self.output))
    }
}

/// The service tier a response was served in (its `service_tier`), priced as a multiple of the
/// list price by the `tiers` of `prices.json` on the day it is billed (`flex` half, `priority`
/// twice, `ultrafast` 3x then 6x); `default` (and `auto`, and anything else) the list price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tier {
    #[default]
    Default,
    Flex,
    Priority,
    Ultrafast,
}

impl Tier {
    pub fn named(name: Option<&str>) -> Self {
        match name {
            Some("flex") => Self::Flex,
            Some("priority") => Self::Priority,
            Some("ultrafast") => Self::Ultrafast,
            _ => Self::Default,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Flex => "flex",
            Self::Priority => "priority",
            Self::Ultrafast => "ultrafast",
        }
    }

    /// The tier's price on `day` (`YYYY-MM-DD`) in halves of the list price (flex 1, priority
    /// 4); `None` when the list prices the tier on no day up to `day`.
    pub fn halves_on(self, day: &str) -> Option<u128> {
        if self == Self::Default {
            return Some(2);
        }
        // Rows are sorted latest `from` first: the first in effect wins.
        let row = TIERS.iter().find(|row| row.tier == self.as_str() && row.from.as_str() <= day)?;
        Some((row.times * 2.0).round().max(0.0) as u128)
    }

    /// The dearest this tier can be billed at for a request that starts on `day` and may end on
    /// the next (a dated change at midnight), in halves; `None` when unpriced on either.
    fn dearest_halves_from(self, day: time::Date) -> Option<u128> {
        let next = day.next_day().unwrap_or(day);
        let on = |date| self.halves_on(&crate::date::format_day(date));
        Some(on(day)?.max(on(next)?))
    }
}

/// Past this many input tokens a request is billed whole at twice the input
/// rates (fresh, cached, cache writes) and 1.5 times the output rate (GPT-5.4 and
/// later families: the rows of the catalogue marked `long_context`).
pub const LONG_CONTEXT_TOKENS: u64 = 272_000;

#[derive(Debug, Deserialize)]
struct Catalogue {
    models: Vec<Row>,
    #[serde(default)]
    tiers: Vec<TierRow>,
}

/// A tier's price as a multiple of the list price from a day on.
#[derive(Debug, Deserialize)]
pub(crate) struct TierRow {
    pub(crate) tier: String,
    from: String,
    /// A multiple of a half (the bill is computed exactly in halves).
    pub(crate) times: f64,
}

#[derive(Debug, Deserialize)]
struct Row {
    model: String,
    /// `YYYY-MM-DD`: the day this price took effect (a later row for the same model wins from then).
    from: String,
    #[serde(flatten)]
    prices: Prices,
}

pub(crate) const CATALOGUE_JSON: &str = include_str!("../data/prices.json");

/// The catalogue, longest model names first so `gpt-4o-mini` is not read as `gpt-4o`.
static CATALOGUE: LazyLock<Vec<Row>> = LazyLock::new(|| {
    let mut rows = serde_json::from_str::<Catalogue>(CATALOGUE_JSON).map(|c| c.models).unwrap_or_default();
    rows.sort_by(|a, b| b.model.len().cmp(&a.model.len()).then_with(|| b.from.cmp(&a.from)));
    rows
});

/// The tiers' multiples, latest first.
static TIERS: LazyLock<Vec<TierRow>> = LazyLock::new(|| {
    let mut rows = serde_json::from_str::<Catalogue>(CATALOGUE_JSON).map(|c| c.tiers).unwrap_or_default();
    rows.sort_by(|a, b| b.from.cmp(&a.from));
    rows
});

/// Every tier row (for the data's own tests).
#[cfg(test)]
pub(crate) fn tier_rows() -> &'static [TierRow] {
    &TIERS
}

impl Prices {
    /// The prices for `model`: the override when given, else the list price of its family in
    /// effect today.
    pub fn for_model(model: &str, overridden: Option<Prices>) -> Option<Prices> {
        let listed = Self::listed(model, &crate::date::today());
        // An owner's prices replace the rates, not OpenAI's long-context rule for the family;
        // for a model the list does not have (a Bedrock inference profile), the owner says it.
        let listed_long = listed.is_some_and(|p| p.long_context);
        overridden.map(|prices| Prices { long_context: prices.long_context || listed_long, ..prices }).or(listed)
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
        let today = crate::date::today();
        let (picos, divisor) = self.cost_picos(tokens, tokens.tier.halves_on(&today));
        picos as f64 / divisor as f64 / 1e12 + tokens.tool_calls.fees_nanos_on(&today) as f64 / 1e9
    }

    /// What `tokens` cost in nano-dollars, rounded up: the unit the dollar limits count in,
    /// integer so that reservations and settlements add up exactly.
    pub fn cost_nanos(&self, tokens: Billed) -> Nanos {
        self.cost_nanos_on(tokens, &crate::date::today())
    }

    /// [`Prices::cost_nanos`] of an answer billed on `day` (`YYYY-MM-DD`): the tier's multiple
    /// then (a tier the list does not price then counts at the list price).
    pub fn cost_nanos_on(&self, tokens: Billed, day: &str) -> Nanos {
        let (picos, divisor) = self.cost_picos(tokens, tokens.tier.halves_on(day));
        let tokens_nanos = u64::try_from(picos.div_ceil(divisor * 1_000)).unwrap_or(u64::MAX);
        tokens_nanos.saturating_add(tokens.tool_calls.fees_nanos_on(day))
    }

    /// The most a request of at most `input` and `output` tokens can be billed when asked for in
    /// the `requested` service tier: every input token at the dearest input class, the
    /// long-context rates when `input` can cross the threshold, and the dearest multiple the tier
    /// can be served at today or tomorrow (`default` and `flex` at the list price, `ultrafast` at
    /// its own, anything else at `priority`'s: `auto` is the project's default, which may be it).
    pub fn worst_case_nanos(&self, input: u64, output: u64, requested: Option<&str>) -> Nanos {
        self.worst_case_nanos_from(input, output, requested, crate::date::today_date())
    }

    /// [`Prices::worst_case_nanos`] for a request that starts on `day`.
    pub fn worst_case_nanos_from(&self, input: u64, output: u64, requested: Option<&str>, day: time::Date) -> Nanos {
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
            Some("ultrafast") => Tier::Ultrafast,
            _ => Tier::Priority,
        };
        // An unpriced tier is refused at init under a dollar limit; without one, the most listed.
        let halves = tier.dearest_halves_from(day).unwrap_or(*MOST_HALVES);
        let tokens =
            Billed { input, cached: cached_tokens, cache_write: written_tokens, output, tier, ..Billed::default() };
        let (picos, divisor) = self.cost_picos(tokens, Some(halves));
        u64::try_from(picos.div_ceil(divisor * 1_000)).unwrap_or(u64::MAX)
    }

    /// The bill in pico-dollars as a fraction `(numerator, divisor)`, exact: the rates are whole
    /// pico-dollars per token and the multipliers halves.
    fn cost_picos(&self, tokens: Billed, tier_halves: Option<u128>) -> (u128, u128) {
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
        // In halves again: the tier's multiple (the list price when the tier is unpriced).
        ((input * input_halves + output * output_halves) * tier_halves.unwrap_or(2), 4)
    }
}

/// The dearest tier multiple the list has ever had, in halves: the reservation's bound for a
/// tier unpriced on its day (only reached without a dollar limit, which refuses that at init).
static MOST_HALVES: LazyLock<u128> =
    LazyLock::new(|| TIERS.iter().map(|row| (row.times * 2.0).round() as u128).max().unwrap_or(4).max(4));

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
    long_context: &'static str,
}

pub(crate) const OPENAI_PRICES: PriceNames = PriceNames {
    input: "OPENAI_PRICE_INPUT_PER_MTOK",
    output: "OPENAI_PRICE_OUTPUT_PER_MTOK",
    cached_input: "OPENAI_PRICE_CACHED_INPUT_PER_MTOK",
    cache_write: "OPENAI_PRICE_CACHE_WRITE_PER_MTOK",
    long_context: "OPENAI_PRICE_LONG_CONTEXT",
};

pub(crate) const FALLBACK_PRICES: PriceNames = PriceNames {
    input: "FALLBACK_PRICE_INPUT_PER_MTOK",
    output: "FALLBACK_PRICE_OUTPUT_PER_MTOK",
    cached_input: "FALLBACK_PRICE_CACHED_INPUT_PER_MTOK",
    cache_write: "FALLBACK_PRICE_CACHE_WRITE_PER_MTOK",
    long_context: "FALLBACK_PRICE_LONG_CONTEXT",
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
    let long_context = match get(names.long_context).as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            let (name, value) = (names.long_context, other.to_owned());
            return Err(ConfigError::Invalid {
                name,
                value,
                expected: "true (a request past 272,000 input tokens bills 2x input and 1.5x output, as OpenAI's GPT-5.4 and later families) or false",
            });
        }
    };
    match (price(names.input)?, price(names.output)?) {
        // Unset, cached input is priced as input and cache writes at OpenAI's 1.25x input: an
        // estimate never too low.
        (Some(input_per_million), Some(output_per_million)) => Ok(Some(Prices {
            input_per_million,
            cached_input_per_million: cached.unwrap_or(input_per_million),
            cache_write_per_million: cache_write.unwrap_or(input_per_million * 1.25),
            output_per_million,
            // Else from the model's family by `Prices::for_model`.
            long_context,
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
#[path = "prices_tests.rs"]
mod tests;

//! What each model family takes (`shared/core/data/models.json`, data a person updates beside
//! the prices): the reasoning efforts it accepts, whether it reasons at all, the tiers beyond the
//! usual, its limits and inputs. A setting the model does not take stops init with a message
//! naming what it does take; a model the catalogue does not know still runs (OpenAI decides).

use std::sync::LazyLock;

use serde::Deserialize;

use crate::Config;
use crate::setting::ConfigError;

/// One family's facts, with where they come from.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelFacts {
    pub family: String,
    /// The `reasoning.effort` values it takes; empty when it takes no `reasoning` at all.
    pub efforts: Vec<String>,
    /// Service tiers beyond `auto`, `default`, `flex` and `priority` (`ultrafast`).
    #[serde(default)]
    pub tiers: Vec<String>,
    pub context_window: Option<u64>,
    pub max_output: Option<u64>,
    pub images: Option<bool>,
    pub files: Option<bool>,
    #[serde(default)]
    pub tools: Vec<String>,
    /// No row in the price list, on purpose (open weights served elsewhere).
    #[serde(default)]
    pub unpriced: bool,
    pub source: String,
}

#[derive(Debug, Deserialize)]
struct Catalogue {
    families: Vec<ModelFacts>,
}

pub(crate) const CATALOGUE_JSON: &str = include_str!("../data/models.json");

/// The families, longest names first so `gpt-4o-mini` is not read as `gpt-4o`.
static FAMILIES: LazyLock<Vec<ModelFacts>> = LazyLock::new(|| {
    let mut families = serde_json::from_str::<Catalogue>(CATALOGUE_JSON).map(|c| c.families).unwrap_or_default();
    families.sort_by_key(|facts| std::cmp::Reverse(facts.family.len()));
    families
});

/// What the catalogue says of `model`'s family (a dated snapshot is its family's); `None` when
/// it does not know the model.
pub fn describe(model: &str) -> Option<&'static ModelFacts> {
    let model = model.trim().to_ascii_lowercase();
    let family = |name: &str| model == name || model.strip_prefix(name).is_some_and(|rest| rest.starts_with('-'));
    FAMILIES.iter().find(|facts| family(&facts.family))
}

/// Refuses at init a configured effort, reasoning context or service tier the model (or the
/// fallback's model, with what it is sent) does not take, naming what it does take; and, with a
/// dollar limit, a tier the price list does not price today.
pub(crate) fn check(config: &Config) -> Result<(), ConfigError> {
    check_model(&config.model, config.reasoning.effort, config.reasoning.context, "OPENAI_MODEL")?;
    check_tier(config)?;
    check_compaction(config)?;
    check_tools(config)?;
    if let Some(fallback) = &config.fallback {
        // Checked with what the fallback is sent, by the one rule the client sends it by.
        let (sent, _) = crate::fallback::sent_to_fallback(config.clone());
        check_model(&fallback.model, sent.reasoning.effort, sent.reasoning.context, "FALLBACK_MODEL")?;
    }
    Ok(())
}

/// The usual tiers every model is sent; a family takes the others only when its row lists them.
const USUAL_TIERS: [&str; 4] = ["auto", "default", "flex", "priority"];

fn check_tier(config: &Config) -> Result<(), ConfigError> {
    let Some(tier) = config.service_tier.filter(|tier| !USUAL_TIERS.contains(tier)) else { return Ok(()) };
    if let Some(facts) = describe(&config.model).filter(|facts| !facts.tiers.iter().any(|taken| taken == tier)) {
        let takes = [USUAL_TIERS.as_slice(), &facts.tiers.iter().map(String::as_str).collect::<Vec<_>>()].concat();
        return Err(ConfigError::Refused {
            name: "OPENAI_SERVICE_TIER",
            value: tier.to_owned(),
            expected: format!(
                "one of {} (OPENAI_MODEL={}; data: shared/core/data/models.json)",
                takes.join(", "),
                config.model
            ),
        });
    }
    let priced = crate::prices::Tier::named(Some(tier)).halves_on(&crate::date::today()).is_some();
    if config.limits.counts_dollars() && !priced {
        return Err(ConfigError::Refused {
            name: "OPENAI_SERVICE_TIER",
            value: tier.to_owned(),
            expected: "a tier the price list prices today (shared/core/data/prices.json, tiers): a dollar limit cannot be kept at an unknown multiple".into(),
        });
    }
    Ok(())
}

/// A compaction threshold at or past the model's context window would never compact: the
/// conversation is refused for its length first. (Which families take compaction at all, no
/// source says: OpenAI decides.)
fn check_compaction(config: &Config) -> Result<(), ConfigError> {
    let (Some(threshold), Some(window)) =
        (config.compact_threshold, describe(&config.model).and_then(|facts| facts.context_window))
    else {
        return Ok(());
    };
    if threshold < window {
        return Ok(());
    }
    Err(ConfigError::Refused {
        name: "OPENAI_COMPACT_THRESHOLD",
        value: threshold.to_string(),
        expected: format!(
            "fewer input tokens than the model's context window, {window} (OPENAI_MODEL={}; data: shared/core/data/models.json)",
            config.model
        ),
    })
}

/// Each hosted tool must be one the model supports (when the catalogue knows it) and, with a
/// dollar limit, priced today.
fn check_tools(config: &Config) -> Result<(), ConfigError> {
    let Some(tools) = &config.tools else { return Ok(()) };
    let facts = describe(&config.model);
    for kind in &tools.kinds {
        if let Some(facts) = facts.filter(|facts| !facts.tools.iter().any(|tool| tool == kind.as_str())) {
            let supported = if facts.tools.is_empty() { "none".to_owned() } else { facts.tools.join(", ") };
            return Err(ConfigError::Refused {
                name: "OPENAI_TOOLS",
                value: kind.as_str().to_owned(),
                expected: format!(
                    "a tool the model supports: {supported} (OPENAI_MODEL={}; data: shared/core/data/models.json)",
                    config.model
                ),
            });
        }
        if config.limits.counts_dollars() && crate::tools::price_on(*kind, &crate::date::today()).is_none() {
            return Err(ConfigError::Refused {
                name: "OPENAI_TOOLS",
                value: kind.as_str().to_owned(),
                expected: "a tool with a per-call price in shared/core/data/prices.json (tools): a dollar limit cannot be kept on what a tool bills outside usage".into(),
            });
        }
    }
    Ok(())
}

fn check_model(
    model: &str,
    effort: Option<&'static str>,
    context: Option<&'static str>,
    which: &'static str,
) -> Result<(), ConfigError> {
    let Some(facts) = describe(model) else { return Ok(()) };
    let refused = |name: &'static str, value: &str, expected: String| ConfigError::Refused {
        name,
        value: value.to_owned(),
        expected: format!("{expected} ({which}={model}; data: shared/core/data/models.json)"),
    };
    if let Some(effort) = effort.filter(|effort| !facts.efforts.iter().any(|taken| taken == effort)) {
        let takes = match facts.efforts.is_empty() {
            true => "nothing: the model takes no reasoning parameter".to_owned(),
            false => format!("one of {}", facts.efforts.join(", ")),
        };
        return Err(refused("OPENAI_REASONING_EFFORT", effort, takes));
    }
    if let Some(context) = context.filter(|_| facts.efforts.is_empty()) {
        return Err(refused(
            "OPENAI_REASONING_CONTEXT",
            context,
            "nothing: the model takes no reasoning parameter".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "catalogue_tests.rs"]
mod tests;

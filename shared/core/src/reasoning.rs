//! `OPENAI_REASONING_EFFORT` and `OPENAI_REASONING_SUMMARY`: what a reasoning model is asked
//! for, and the documented rule for when the Responses API's `reasoning` object is sent at all.
//!
//! The rule: an effort is sent whenever the owner sets one (they chose a model that takes it);
//! a summary is sent when set explicitly, or, by default (`auto`), only to models whose name
//! says they reason (`o1`, `o3`, `o4-mini`, … and the `gpt-5` family except `gpt-5-chat`), so a
//! non-reasoning model never receives a parameter it would refuse.

use crate::setting::ConfigError;

/// The owner's reasoning settings, read once at init.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasoningConfig {
    /// `minimal`, `low`, `medium` or `high`; `None`: the model's own default.
    pub effort: Option<&'static str>,
    pub summary: Summary,
}

/// `OPENAI_REASONING_SUMMARY`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Summary {
    /// Unset: `auto`, to reasoning models only.
    #[default]
    Default,
    /// Set: sent whatever the model (`auto`, `concise` or `detailed`).
    Explicit(&'static str),
    Off,
}

/// What goes upstream as `reasoning`, when anything does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasoningRequest {
    pub effort: Option<&'static str>,
    pub summary: Option<&'static str>,
}

impl ReasoningConfig {
    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let effort = match get("OPENAI_REASONING_EFFORT") {
            None => None,
            Some(value) => Some(one_of(&value, &["minimal", "low", "medium", "high"]).ok_or(ConfigError::Invalid {
                name: "OPENAI_REASONING_EFFORT",
                value,
                expected: "minimal, low, medium or high (unset: the model's default)",
            })?),
        };
        let summary = match get("OPENAI_REASONING_SUMMARY") {
            None => Summary::Default,
            Some(value) if value.eq_ignore_ascii_case("off") => Summary::Off,
            Some(value) => {
                Summary::Explicit(one_of(&value, &["auto", "concise", "detailed"]).ok_or(ConfigError::Invalid {
                    name: "OPENAI_REASONING_SUMMARY",
                    value,
                    expected: "auto, concise, detailed or off",
                })?)
            }
        };
        Ok(Self { effort, summary })
    }

    /// The `reasoning` object for `model` by the rule above; `None` sends none.
    pub fn request(&self, model: &str) -> Option<ReasoningRequest> {
        let summary = match self.summary {
            Summary::Default => is_reasoning_model(model).then_some("auto"),
            Summary::Explicit(summary) => Some(summary),
            Summary::Off => None,
        };
        (self.effort.is_some() || summary.is_some()).then_some(ReasoningRequest { effort: self.effort, summary })
    }
}

fn one_of(value: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed.iter().copied().find(|a| a.eq_ignore_ascii_case(value))
}

/// `o1`, `o3-mini`, `o4-mini-2025-04-16`, `gpt-5`, `gpt-5-mini`, `gpt-5.1`, `gpt-5-codex`…;
/// not `gpt-5-chat-latest`, `gpt-4o`, `gpt-4.1`.
pub fn is_reasoning_model(model: &str) -> bool {
    let model = model.trim().to_ascii_lowercase();
    let o_series = model.strip_prefix('o').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    let gpt5 = model.strip_prefix("gpt-5").is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.']))
        && !model.starts_with("gpt-5-chat");
    o_series || gpt5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<ReasoningConfig, ConfigError> {
        ReasoningConfig::from_lookup(&|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn reasoning_models_are_told_by_name() {
        for model in
            ["o1", "o3", "o3-mini", "o4-mini-2025-04-16", "gpt-5", "gpt-5-mini", "gpt-5.1", "gpt-5-codex", "GPT-5"]
        {
            assert!(is_reasoning_model(model), "{model}");
        }
        for model in ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5-chat-latest", "omni-moderation", "gpt-50", ""] {
            assert!(!is_reasoning_model(model), "{model}");
        }
    }

    #[test]
    fn by_default_only_reasoning_models_are_asked_for_a_summary() {
        let default = config(&[]).unwrap();
        assert_eq!(default.request("gpt-5"), Some(ReasoningRequest { effort: None, summary: Some("auto") }));
        assert_eq!(default.request("gpt-4o-mini"), None, "a non-reasoning model gets no parameter it would refuse");
        let explicit =
            config(&[("OPENAI_REASONING_EFFORT", "high"), ("OPENAI_REASONING_SUMMARY", "Detailed")]).unwrap();
        assert_eq!(
            explicit.request("my-fine-tune"),
            Some(ReasoningRequest { effort: Some("high"), summary: Some("detailed") })
        );
        let off = config(&[("OPENAI_REASONING_SUMMARY", "off")]).unwrap();
        assert_eq!(off.request("o3"), None);
        let effort_only =
            config(&[("OPENAI_REASONING_EFFORT", "minimal"), ("OPENAI_REASONING_SUMMARY", "off")]).unwrap();
        assert_eq!(effort_only.request("gpt-5"), Some(ReasoningRequest { effort: Some("minimal"), summary: None }));
    }

    #[test]
    fn other_values_are_named_in_the_error() {
        let error = config(&[("OPENAI_REASONING_EFFORT", "extreme")]).unwrap_err().to_string();
        assert!(error.contains("OPENAI_REASONING_EFFORT") && error.contains("minimal, low, medium or high"), "{error}");
        assert!(config(&[("OPENAI_REASONING_SUMMARY", "verbose")]).is_err());
    }
}

//! `OPENAI_REASONING_EFFORT`, `OPENAI_REASONING_SUMMARY` and `OPENAI_REASONING_CONTEXT`: what a
//! reasoning model is asked for, and the documented rule for when the Responses API's
//! `reasoning` object is sent at all.
//!
//! The rule: an effort or a context is sent whenever the owner sets one (they chose a model
//! that takes it; a model that refuses it gets a clear error naming the variable, never a silent
//! downgrade). Without an effort set, the default model (`gpt-6-luna`, which reasons by default
//! at `medium`) is asked for `low`, so a plain chat stays fast and cheap. A summary is
//! sent when set explicitly, or, by default (`auto`), to every model not known to reason never
//! (`gpt-4o`, `gpt-4.1`, `*-chat*`, …): OpenAI's own answer decides for the rest, since a model
//! that refuses `reasoning.summary` is asked once more without it, and never again.

use crate::setting::ConfigError;

/// The seven values of `reasoning.effort` (December 2026); not every model takes every one.
pub const EFFORTS: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];
/// The values of `reasoning.context`.
pub const CONTEXTS: [&str; 3] = ["auto", "current_turn", "all_turns"];
/// The effort the default model is asked for when the owner sets none.
pub const DEFAULT_MODEL_EFFORT: &str = "low";

/// The owner's reasoning settings, read once at init.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasoningConfig {
    /// One of [`EFFORTS`]; `None`: the model's own default.
    pub effort: Option<&'static str>,
    pub summary: Summary,
    /// One of [`CONTEXTS`]; `None`: the model's own default.
    pub context: Option<&'static str>,
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
    pub context: Option<&'static str>,
}

impl ReasoningConfig {
    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let effort = match get("OPENAI_REASONING_EFFORT") {
            None => None,
            Some(value) => Some(one_of(&value, &EFFORTS).ok_or(ConfigError::Invalid {
                name: "OPENAI_REASONING_EFFORT",
                value,
                expected: "none, minimal, low, medium, high, xhigh or max (unset: the model's default)",
            })?),
        };
        let context = match get("OPENAI_REASONING_CONTEXT") {
            None => None,
            Some(value) => Some(one_of(&value, &CONTEXTS).ok_or(ConfigError::Invalid {
                name: "OPENAI_REASONING_CONTEXT",
                value,
                expected: "auto, current_turn or all_turns (unset: the model's default)",
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
        Ok(Self { effort, summary, context })
    }

    /// The effort the default model gets when the owner set none.
    pub(crate) fn with_default_effort(mut self, model_is_default: bool) -> Self {
        if model_is_default && self.effort.is_none() {
            self.effort = Some(DEFAULT_MODEL_EFFORT);
        }
        self
    }

    /// The `reasoning` object for `model` by the rule above; `None` sends none.
    pub fn request(&self, model: &str) -> Option<ReasoningRequest> {
        let summary = match self.summary {
            Summary::Default => (!never_reasons(model)).then_some("auto"),
            Summary::Explicit(summary) => Some(summary),
            Summary::Off => None,
        };
        let (effort, context) = (self.effort, self.context);
        (effort.is_some() || summary.is_some() || context.is_some()).then_some(ReasoningRequest {
            effort,
            summary,
            context,
        })
    }
}

fn one_of(value: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed.iter().copied().find(|a| a.eq_ignore_ascii_case(value))
}

/// Models known to take no `reasoning` at all: the GPT-4 families, GPT-3.5 and the chat
/// snapshots (`gpt-5-chat-latest`). Every other model, including ones named after this was
/// written, is asked for a summary, and OpenAI's answer decides ([`ReasoningConfig`]'s rule).
pub fn never_reasons(model: &str) -> bool {
    let model = model.trim().to_ascii_lowercase();
    let family = |name: &str| model.strip_prefix(name).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'));
    ["gpt-4o", "gpt-4.1", "gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "chatgpt-4o"].iter().any(|name| family(name))
        || model.contains("-chat")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<ReasoningConfig, ConfigError> {
        ReasoningConfig::from_lookup(&|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn only_the_families_that_never_reason_are_spared_a_summary() {
        for model in ["gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1", "gpt-4.1-mini", "gpt-5-chat-latest", "GPT-4"] {
            assert!(never_reasons(model), "{model}");
        }
        // Today's families and ones named later are asked; OpenAI's answer decides.
        for model in ["gpt-6-luna", "gpt-6.1-sol", "gpt-5.6-terra", "o3", "gpt-oss-120b", "gpt-7", "gpt-40"] {
            assert!(!never_reasons(model), "{model}");
        }
    }

    #[test]
    fn by_default_every_model_but_the_old_ones_is_asked_for_a_summary() {
        let default = config(&[]).unwrap();
        let auto = |effort| Some(ReasoningRequest { effort, summary: Some("auto"), context: None });
        assert_eq!(default.request("gpt-6-luna"), auto(None));
        assert_eq!(default.clone().with_default_effort(true).request("gpt-6-luna"), auto(Some("low")));
        assert_eq!(default.request("gpt-4o-mini"), None, "a non-reasoning model gets no parameter it would refuse");
        let explicit = config(&[
            ("OPENAI_REASONING_EFFORT", "XHigh"),
            ("OPENAI_REASONING_SUMMARY", "Detailed"),
            ("OPENAI_REASONING_CONTEXT", "current_turn"),
        ])
        .unwrap();
        let chosen =
            Some(ReasoningRequest { effort: Some("xhigh"), summary: Some("detailed"), context: Some("current_turn") });
        assert_eq!(
            explicit.clone().with_default_effort(true).request("my-fine-tune"),
            chosen,
            "the owner's effort wins"
        );
        let off = config(&[("OPENAI_REASONING_SUMMARY", "off")]).unwrap();
        assert_eq!(off.request("o3"), None);
        let effort_only = config(&[("OPENAI_REASONING_EFFORT", "none"), ("OPENAI_REASONING_SUMMARY", "off")]).unwrap();
        assert_eq!(
            effort_only.request("gpt-6-luna"),
            Some(ReasoningRequest { effort: Some("none"), summary: None, context: None })
        );
    }

    #[test]
    fn all_seven_efforts_are_taken_and_others_named_in_the_error() {
        for effort in EFFORTS {
            assert_eq!(config(&[("OPENAI_REASONING_EFFORT", effort)]).unwrap().effort, Some(effort));
        }
        let error = config(&[("OPENAI_REASONING_EFFORT", "extreme")]).unwrap_err().to_string();
        assert!(error.contains("OPENAI_REASONING_EFFORT") && error.contains("none, minimal, low"), "{error}");
        assert!(config(&[("OPENAI_REASONING_SUMMARY", "verbose")]).is_err());
        let error = config(&[("OPENAI_REASONING_CONTEXT", "everything")]).unwrap_err().to_string();
        assert!(error.contains("OPENAI_REASONING_CONTEXT") && error.contains("current_turn"), "{error}");
    }
}

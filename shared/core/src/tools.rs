//! The owner's hosted tools (`OPENAI_TOOLS`: OpenAI's own tool objects, sent as written on every
//! create) and what they cost: a fee per call and the results read as input tokens, both as data
//! in `shared/core/data/prices.json` (`tools`), so a reservation bounds them and a settlement
//! counts the calls OpenAI made.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

use crate::setting::ConfigError;

/// Nano-dollars, as `prices` counts them (which reads this module's fees, not the other way).
type Nanos = u64;

/// The price list, whose `tools` rows are read here.
const PRICE_LIST: &str = include_str!("../data/prices.json");

/// The hosted tools this service sends and prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    WebSearch,
    FileSearch,
    CodeInterpreter,
    Mcp,
}

impl ToolKind {
    pub const ALL: [Self; 4] = [Self::WebSearch, Self::FileSearch, Self::CodeInterpreter, Self::Mcp];

    /// The tool's `type`, as OpenAI names it in `tools` (and the catalogue's `tools`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebSearch => "web_search",
            Self::FileSearch => "file_search",
            Self::CodeInterpreter => "code_interpreter",
            Self::Mcp => "mcp",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The kind of one call, from its output item's `type` (`web_search_call`, ...).
    pub fn of_call(item_type: &str) -> Option<Self> {
        Self::named(item_type.strip_suffix("_call")?)
    }
}

/// The hosted tool calls one answer made, by kind (its output items): what their fees are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolCalls {
    web_search: u32,
    file_search: u32,
    code_interpreter: u32,
    mcp: u32,
}

impl ToolCalls {
    /// Counts one output item; anything but a hosted tool's call counts nothing.
    pub fn count(&mut self, item_type: &str) {
        if let Some(kind) = ToolKind::of_call(item_type) {
            let calls = self.of_mut(kind);
            *calls = calls.saturating_add(1);
        }
    }

    pub fn of(&self, kind: ToolKind) -> u32 {
        match kind {
            ToolKind::WebSearch => self.web_search,
            ToolKind::FileSearch => self.file_search,
            ToolKind::CodeInterpreter => self.code_interpreter,
            ToolKind::Mcp => self.mcp,
        }
    }

    fn of_mut(&mut self, kind: ToolKind) -> &mut u32 {
        match kind {
            ToolKind::WebSearch => &mut self.web_search,
            ToolKind::FileSearch => &mut self.file_search,
            ToolKind::CodeInterpreter => &mut self.code_interpreter,
            ToolKind::Mcp => &mut self.mcp,
        }
    }

    pub fn total(&self) -> u32 {
        ToolKind::ALL.into_iter().map(|kind| self.of(kind)).fold(0, u32::saturating_add)
    }

    /// The calls' fees on `day` in nano-dollars; a kind with calls but no price then counts
    /// nothing (a dollar limit refuses such a tool at init).
    pub fn fees_nanos_on(&self, day: &str) -> Nanos {
        ToolKind::ALL
            .into_iter()
            .filter_map(|kind| Some(u64::from(self.of(kind)).saturating_mul(price_on(kind, day)?.per_call_nanos())))
            .fold(0, u64::saturating_add)
    }
}

/// A tool's price from a day on: its fee per call, and the input its results can add.
#[derive(Debug, Clone, Deserialize)]
pub struct ToolPrice {
    tool: String,
    from: String,
    /// Dollars per call.
    per_call: f64,
    /// The most input tokens one call's results add, as this project bounds them.
    pub result_tokens: u64,
}

impl ToolPrice {
    pub fn per_call_nanos(&self) -> Nanos {
        (self.per_call * 1e9).round().max(0.0) as Nanos
    }
}

#[derive(Deserialize)]
struct Rows {
    #[serde(default)]
    tools: Vec<ToolPrice>,
}

/// The rows, latest first.
static PRICES: LazyLock<Vec<ToolPrice>> = LazyLock::new(|| {
    let mut rows = serde_json::from_str::<Rows>(PRICE_LIST).map(|r| r.tools).unwrap_or_default();
    rows.sort_by(|a, b| b.from.cmp(&a.from));
    rows
});

/// `kind`'s price in effect on `day`; `None` when the list does not price it then.
pub fn price_on(kind: ToolKind, day: &str) -> Option<&'static ToolPrice> {
    PRICES.iter().find(|row| row.tool == kind.as_str() && row.from.as_str() <= day)
}

/// `OPENAI_TOOLS` and `OPENAI_MAX_TOOL_CALLS`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolsConfig {
    /// The tool objects, exactly as the owner wrote them.
    pub objects: Vec<Value>,
    pub kinds: Vec<ToolKind>,
    /// Sent as `max_tool_calls`: the most hosted tool calls one answer may make.
    pub max_calls: u32,
    /// `MCP_AUTHORIZATION_SECRET_ID`: the Secrets Manager secret holding each MCP server's
    /// `authorization`, a JSON object by `server_label`; added to the tool objects as sent.
    pub mcp_authorization_secret: Option<String>,
}

/// `max_tool_calls` when the owner sets none: a search or two and a follow-up look.
pub const DEFAULT_MAX_TOOL_CALLS: u32 = 3;

impl ToolsConfig {
    /// `None` without `OPENAI_TOOLS` (or with `[]`).
    pub(crate) fn from_settings(
        tools: Option<String>,
        max_calls: Option<u64>,
        mcp_authorization_secret: Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let max_calls = match max_calls {
            None => DEFAULT_MAX_TOOL_CALLS,
            Some(n @ 1..=64) => n as u32,
            Some(n) => {
                return Err(ConfigError::Invalid {
                    name: "OPENAI_MAX_TOOL_CALLS",
                    value: n.to_string(),
                    expected: "1 to 64 hosted tool calls an answer may make",
                });
            }
        };
        let Some(text) = tools else {
            return match mcp_authorization_secret {
                Some(value) => Err(ConfigError::Invalid {
                    name: "MCP_AUTHORIZATION_SECRET_ID",
                    value,
                    expected: "a secret for the mcp tools of OPENAI_TOOLS, which is not set",
                }),
                None => Ok(None),
            };
        };
        let invalid =
            |expected: &'static str| ConfigError::Invalid { name: "OPENAI_TOOLS", value: text.clone(), expected };
        let objects: Vec<Value> = serde_json::from_str(&text)
            .map_err(|_| invalid("a JSON array of OpenAI Responses tool objects, e.g. [{\"type\":\"web_search\"}]"))?;
        let mut kinds = Vec::new();
        for object in &objects {
            let kind = object["type"].as_str().and_then(ToolKind::named).ok_or_else(|| {
                invalid("tools of type web_search, file_search, code_interpreter or mcp (the caller's own functions come with the request)")
            })?;
            if object.get("authorization").is_some() || object.get("headers").is_some() {
                return Err(invalid(
                    "an mcp tool without authorization or headers: a secret never goes in a plain variable (put each server's authorization in the secret MCP_AUTHORIZATION_SECRET_ID names, by server_label)",
                ));
            }
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if mcp_authorization_secret.is_some() && !kinds.contains(&ToolKind::Mcp) {
            return Err(ConfigError::Invalid {
                name: "MCP_AUTHORIZATION_SECRET_ID",
                value: mcp_authorization_secret.unwrap_or_default(),
                expected: "a secret for the mcp tools of OPENAI_TOOLS, which has none",
            });
        }
        if objects.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self { objects, kinds, max_calls, mcp_authorization_secret }))
    }

    /// The most one answer's tool calls add on `day`: the dearest fee among the tools enabled
    /// for each call, and the most input their results add to each step (see [`Self::input_tokens`]).
    pub fn worst_fees_nanos(&self, day: &str) -> Nanos {
        let dearest = self.kinds.iter().filter_map(|kind| price_on(*kind, day)).map(ToolPrice::per_call_nanos).max();
        dearest.unwrap_or(0).saturating_mul(u64::from(self.max_calls))
    }

    /// The most input tokens an answer whose question is `base` tokens can be billed with its
    /// tool calls: each of the `n + 1` steps reads the question again with every result so far,
    /// `(n + 1) * base + result * n * (n + 1) / 2`, at the largest result a tool enabled can add.
    pub fn input_tokens(&self, base: u64, day: &str) -> u64 {
        let result = self.kinds.iter().filter_map(|kind| price_on(*kind, day)).map(|p| p.result_tokens).max();
        let (n, result) = (u64::from(self.max_calls), result.unwrap_or(0));
        let steps = n + 1;
        base.saturating_mul(steps).saturating_add(result.saturating_mul(n).saturating_mul(steps) / 2)
    }

    /// The bytes the tool objects add to every step's input (they are tokens too).
    pub fn definition_bytes(&self) -> u64 {
        self.objects.iter().map(|object| object.to_string().len() as u64).sum()
    }
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;

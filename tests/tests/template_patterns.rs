//! Each template parameter's AllowedPattern against the functions' own parser, both ways: a value
//! the pattern takes, `Config::from_lookup` takes; a value it refuses, the parser refuses too, so
//! a deployment never stops at init on a value CloudFormation let through, and the template never
//! refuses what the functions would run with. The values are those of
//! `tests/template/pattern_cases.json` (which `tests/template/check_template.py` reads too);
//! its `code_only` values are the deliberate differences, which the parser takes and the
//! template refuses.

use std::collections::BTreeMap;

use chat_core::Config;
use regex::Regex;
use serde_json::Value;

const TEMPLATE: &str = include_str!("../../template.yaml");
const CASES: &str = include_str!("../template/pattern_cases.json");

/// Each parameter's AllowedPattern, read from the template's text: a two-space-indented name
/// under `Parameters:`, then its four-space-indented `AllowedPattern: "..."` (double-quoted).
fn patterns() -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut parameter: Option<String> = None;
    let section = TEMPLATE.split_once("\nParameters:\n").expect("template.yaml has Parameters").1;
    for line in section.lines() {
        if !line.is_empty() && !line.starts_with(' ') && !line.starts_with('#') {
            break; // the next top-level section
        }
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
            && !name.starts_with('#')
        {
            parameter = Some(name.to_owned());
        } else if let Some(quoted) = line.strip_prefix("    AllowedPattern: ") {
            let inner = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{parameter:?}: write the AllowedPattern double-quoted"));
            let name = parameter.clone().expect("an AllowedPattern under a parameter");
            found.insert(name, unescape(inner));
        }
    }
    found
}

/// A YAML double-quoted string's escapes as the template uses them: `\\` and `\"`.
fn unescape(quoted: &str) -> String {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(escaped @ ('\\' | '"')) => out.push(escaped),
                other => panic!("an escape the test does not read: \\{other:?} in {quoted}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the functions also get, as the template sets it (the limits table, an access mode) or
/// as the variable under test needs it to be read at all (the other price of a pair, the
/// fallback's key, the provider of ACCESS=jwt).
fn base(variable: &str) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![("OPENAI_API_KEY_SECRET_ID", "openai"), ("LIMITS_TABLE", "limits"), ("ACCESS", "public")];
    let fallback = [("FALLBACK_BASE_URL", "https://fallback.example/v1"), ("FALLBACK_API_KEY", "fallback-key")];
    let prices = [("OPENAI_PRICE_INPUT_PER_MTOK", "1"), ("OPENAI_PRICE_OUTPUT_PER_MTOK", "1")];
    match variable {
        "JWT_ISSUER" | "JWT_AUDIENCE" | "JWT_JWKS_URL" | "JWT_PLAN_LIMITS" => {
            env.extend([("ACCESS", "jwt"), ("JWT_ISSUER", "https://id.example"), ("JWT_AUDIENCE", "app")]);
            // A plan's dollars need the model's price: given, so no list price's date matters.
            env.extend(prices);
        }
        "DAILY_BUDGET_USD" | "CALLER_USD_PER_DAY" => env.extend(prices),
        "FALLBACK_BASE_URL" => env.push(("FALLBACK_API_KEY", "fallback-key")),
        "FALLBACK_PRICE_INPUT_PER_MTOK" => {
            env.extend([fallback[0], fallback[1], ("FALLBACK_PRICE_OUTPUT_PER_MTOK", "1")])
        }
        "FALLBACK_PRICE_OUTPUT_PER_MTOK" => {
            env.extend([fallback[0], fallback[1], ("FALLBACK_PRICE_INPUT_PER_MTOK", "1")])
        }
        "OPENAI_PRICE_INPUT_PER_MTOK" => env.push(("OPENAI_PRICE_OUTPUT_PER_MTOK", "1")),
        "OPENAI_PRICE_OUTPUT_PER_MTOK" => env.push(("OPENAI_PRICE_INPUT_PER_MTOK", "1")),
        "OPENAI_PRICE_CACHED_INPUT_PER_MTOK" | "OPENAI_PRICE_CACHE_WRITE_PER_MTOK" => {
            env.extend([("OPENAI_PRICE_INPUT_PER_MTOK", "1"), ("OPENAI_PRICE_OUTPUT_PER_MTOK", "1")]);
        }
        _ => {}
    }
    env
}

/// Whether the functions start with `variable=value` (the last setting of a name wins).
fn code_takes(variable: &str, value: &str) -> bool {
    let mut env: Vec<(&str, &str)> = base(variable);
    env.push((variable, value));
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    Config::from_lookup(lookup).is_ok()
}

fn values(case: &Value, key: &str) -> Vec<String> {
    case[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is a list"))
        .iter()
        .map(|v| v.as_str().expect("each value a string").to_owned())
        .collect()
}

#[test]
fn every_pattern_takes_what_the_functions_take() {
    let patterns = patterns();
    let cases: BTreeMap<String, Value> = serde_json::from_str(CASES).expect("pattern_cases.json is JSON");
    let cases: BTreeMap<_, _> = cases.into_iter().filter(|(name, _)| !name.starts_with('_')).collect();
    assert_eq!(
        patterns.keys().collect::<Vec<_>>(),
        cases.keys().collect::<Vec<_>>(),
        "every parameter with an AllowedPattern has its cases in pattern_cases.json, and only those"
    );
    assert!(patterns.contains_key("JwtPlanLimits") && patterns.contains_key("DailyBudgetUSD"), "{patterns:?}");

    let mut wrong = Vec::new();
    for (parameter, case) in &cases {
        let pattern = Regex::new(&patterns[parameter]).unwrap_or_else(|e| panic!("{parameter}'s pattern: {e}"));
        // AppOrigins and DailySpendAlarmUSD are read by CloudFormation (CORS, an alarm), not by
        // the functions' configuration.
        let variable = case["variable"].as_str();
        for value in values(case, "accepted") {
            if !pattern.is_match(&value) {
                wrong.push(format!("{parameter}: the template refuses {value:?}"));
            }
            // Empty, the template leaves the variable out: the functions' default.
            if let Some(variable) = variable.filter(|_| !value.is_empty())
                && !code_takes(variable, &value)
            {
                wrong.push(format!("{parameter}: the template takes {value:?}, which {variable} refuses at init"));
            }
        }
        for value in values(case, "refused") {
            if pattern.is_match(&value) {
                wrong.push(format!("{parameter}: the template takes {value:?}"));
            }
            if let Some(variable) = variable
                && code_takes(variable, &value)
            {
                wrong.push(format!("{parameter}: the template refuses {value:?}, which {variable} takes"));
            }
        }
        for value in values(case, "code_only") {
            if pattern.is_match(&value) {
                wrong.push(format!("{parameter}: the template takes {value:?}, listed as refused on purpose"));
            }
            if let Some(variable) = variable
                && !code_takes(variable, &value)
            {
                wrong.push(format!("{parameter}: {variable} refuses {value:?}, listed as a value it takes"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The example of the issue: a plan's dollars, which the parser reads and the pattern refused.
#[test]
fn a_plan_with_dollars_deploys_and_starts() {
    let pattern = Regex::new(&patterns()["JwtPlanLimits"]).expect("JwtPlanLimits' pattern");
    assert!(pattern.is_match("pro=60/1000000/$2.50"));
    assert!(code_takes("JWT_PLAN_LIMITS", "pro=60/1000000/$2.50"));
    let zero = Regex::new(&patterns()["DailyBudgetUSD"]).expect("DailyBudgetUSD's pattern");
    assert!(!zero.is_match("0") && !code_takes("DAILY_BUDGET_USD", "0"), "a budget of 0 is refused by both");
}

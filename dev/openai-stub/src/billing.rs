//! What OpenAI would bill the owner for the answers the stand-in gave, in dollars, by class:
//! fresh input, cached input, cache writes and output at the price list's rates for the model
//! (read from the same data file the functions use, computed here on its own, so tests can hold
//! the functions' accounting against it), long context past 272,000 input tokens, and the tier.

use serde_json::Value;

const PRICE_LIST: &str = include_str!("../../../shared/core/data/prices.json");
const LONG_CONTEXT_TOKENS: f64 = 272_000.0;

/// The bill in dollars of one answer: its request's `model` and `service_tier`, and the `usage`
/// its final response reported, billed today (UTC) as OpenAI bills. Zero for a model the list
/// does not price.
pub fn dollars(model: &str, service_tier: Option<&str>, usage: &Value) -> f64 {
    let today = time::OffsetDateTime::now_utc().date();
    let day = format!("{:04}-{:02}-{:02}", today.year(), u8::from(today.month()), today.day());
    dollars_on(model, service_tier, usage, &day)
}

/// [`dollars`] on `day` (`YYYY-MM-DD`): the tier's multiple in effect then.
pub fn dollars_on(model: &str, service_tier: Option<&str>, usage: &Value, day: &str) -> f64 {
    let Some(row) = row(model) else { return 0.0 };
    let number = |value: &Value| value.as_f64().unwrap_or(0.0);
    let input = number(&usage["input_tokens"]);
    let cached = number(&usage["input_tokens_details"]["cached_tokens"]).min(input);
    let written = number(&usage["input_tokens_details"]["cache_write_tokens"]).min(input - cached);
    let output = number(&usage["output_tokens"]);
    let rate = |name: &str| number(&row[name]) / 1e6;
    let long = row["long_context"].as_bool() == Some(true) && input > LONG_CONTEXT_TOKENS;
    let (input_times, output_times) = if long { (2.0, 1.5) } else { (1.0, 1.0) };
    let tier = service_tier.and_then(|tier| tier_times(tier, day)).unwrap_or(1.0);
    let input_cost =
        (input - cached - written) * rate("input") + cached * rate("cached_input") + written * rate("cache_write");
    (input_cost * input_times + output * rate("output") * output_times) * tier
}

/// The multiple of the list price `tier` bills at on `day`: its latest row in effect.
fn tier_times(tier: &str, day: &str) -> Option<f64> {
    let list: Value = serde_json::from_str(PRICE_LIST).ok()?;
    let rows = list["tiers"].as_array()?.iter().filter(|row| row["tier"] == tier);
    let in_effect = rows.filter(|row| row["from"].as_str().is_some_and(|from| from <= day));
    in_effect.max_by_key(|row| row["from"].as_str().unwrap_or("").to_owned()).and_then(|row| row["times"].as_f64())
}

/// What `calls` web searches are billed today: the list's per-call fee, read on its own.
pub fn search_fees(calls: usize) -> f64 {
    let Some(list) = serde_json::from_str::<Value>(PRICE_LIST).ok() else { return 0.0 };
    let rows = list["tools"].as_array().cloned().unwrap_or_default();
    let fee = rows.iter().find(|row| row["tool"] == "web_search").and_then(|row| row["per_call"].as_f64());
    calls as f64 * fee.unwrap_or(0.0)
}

/// The list's row for `model`'s family: the longest name it starts with, the latest price.
fn row(model: &str) -> Option<Value> {
    let list: Value = serde_json::from_str(PRICE_LIST).ok()?;
    let family = |name: &str| model == name || model.strip_prefix(name).is_some_and(|rest| rest.starts_with('-'));
    let rows = list["models"].as_array()?.iter().filter(|row| row["model"].as_str().is_some_and(family));
    rows.max_by_key(|row| (row["model"].as_str().map_or(0, str::len), row["from"].as_str().unwrap_or("").to_owned()))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bill_is_priced_by_class_long_context_and_tier() {
        let usage = json!({"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 300}, "output_tokens": 500});
        let luna = (100.0 * 0.10 + 600.0 * 0.01 + 300.0 * 0.125 + 500.0 * 0.50) / 1e6;
        assert!((dollars("gpt-6-luna", None, &usage) - luna).abs() < 1e-15);
        assert!((dollars("gpt-6-luna-2026-09-15", Some("flex"), &usage) - luna / 2.0).abs() < 1e-15);
        let long = json!({"input_tokens": 300_000, "output_tokens": 10});
        let expected = (300_000.0 * 2.0 * 2.0 + 10.0 * 10.0 * 1.5) / 1e6 * 2.0;
        assert!((dollars("gpt-6-sol", Some("priority"), &long) - expected).abs() < 1e-12);
        assert_eq!(dollars("my-local-model", None, &usage), 0.0);
        // Ultrafast: 3x, then 6x from 2027-03-01.
        let sol = (1000.0 * 2.0 + 500.0 * 10.0) / 1e6;
        let plain = json!({"input_tokens": 1000, "output_tokens": 500});
        assert!((dollars_on("gpt-6.2-sol", Some("ultrafast"), &plain, "2027-02-28") - sol * 3.0).abs() < 1e-15);
        assert!((dollars_on("gpt-6.2-sol", Some("ultrafast"), &plain, "2027-03-01") - sol * 6.0).abs() < 1e-15);
    }
}

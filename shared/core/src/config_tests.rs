//! The configuration read from the environment: defaults, refusals named, limits and fallback.

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
}

#[test]
fn defaults_follow_the_contract() {
    let config = config(&[]).unwrap();
    assert_eq!(config.base_url, "https://api.openai.com/v1");
    assert_eq!(config.model, "gpt-6-luna");
    assert_eq!(config.reasoning.effort, Some("low"), "the default model reasons at low effort");
    let chosen = self::config(&[("OPENAI_MODEL", "gpt-4o-mini")]).unwrap();
    assert_eq!((chosen.reasoning.effort, chosen.compact_threshold), (None, None), "a chosen model keeps its own");
    let compacting = self::config(&[("OPENAI_COMPACT_THRESHOLD", "200000")]).unwrap();
    assert_eq!(compacting.compact_threshold, Some(200_000));
    assert!(self::config(&[("OPENAI_COMPACT_THRESHOLD", "0")]).is_err());
    assert_eq!(self::config(&[("OPENAI_SERVICE_TIER", "Flex")]).unwrap().service_tier, Some("flex"));
    assert!(self::config(&[("OPENAI_SERVICE_TIER", "cheap")]).unwrap_err().to_string().contains("OPENAI_SERVICE_TIER"));
    assert_eq!(config.key, KeyConfig::Missing);
    assert_eq!(config.timeouts, Timeouts::default());
    assert!(config.resumable);
    assert!(!self::config(&[("RESUMABLE_STREAMS", "FALSE")]).unwrap().resumable);
    assert!(self::config(&[("RESUMABLE_STREAMS", "no")]).unwrap_err().to_string().contains("RESUMABLE_STREAMS"));
}

#[test]
fn secret_id_wins_over_plain_key() {
    let config = config(&[("OPENAI_API_KEY", "sk-plain"), ("OPENAI_API_KEY_SECRET_ID", "prod/openai")]).unwrap();
    assert_eq!(config.key, KeyConfig::Secret("prod/openai".into()));
    assert!(!format!("{:?}", KeyConfig::Plain("sk-plain".into())).contains("sk-plain"));
}

#[test]
fn invalid_numbers_are_named_in_the_error() {
    let error = config(&[("OPENAI_IDLE_TIMEOUT_MS", "soon")]).unwrap_err().to_string();
    assert!(error.contains("OPENAI_IDLE_TIMEOUT_MS"), "{error}");
    assert!(config(&[("OPENAI_BASE_URL", "ftp://x")]).is_err());
    assert_eq!(config(&[("OPENAI_BASE_URL", "https://h/v1/")]).unwrap().base_url, "https://h/v1");
}

#[test]
fn prices_are_overridden_together_or_not_at_all() {
    let prices = config(&[("OPENAI_PRICE_INPUT_PER_MTOK", "1.5"), ("OPENAI_PRICE_OUTPUT_PER_MTOK", "6")])
        .unwrap()
        .prices
        .unwrap();
    assert_eq!((prices.input_per_million, prices.cached_input_per_million, prices.output_per_million), (1.5, 1.5, 6.0));
    let cached = [
        ("OPENAI_PRICE_INPUT_PER_MTOK", "1.5"),
        ("OPENAI_PRICE_OUTPUT_PER_MTOK", "6"),
        ("OPENAI_PRICE_CACHED_INPUT_PER_MTOK", "0.15"),
    ];
    assert_eq!(config(&cached).unwrap().prices.unwrap().cached_input_per_million, 0.15);
    assert_eq!(config(&cached).unwrap().prices.unwrap().cache_write_per_million, 1.875, "1.25x input unset");
    let written = [
        ("OPENAI_PRICE_INPUT_PER_MTOK", "1.5"),
        ("OPENAI_PRICE_OUTPUT_PER_MTOK", "6"),
        ("OPENAI_PRICE_CACHE_WRITE_PER_MTOK", "2"),
    ];
    assert_eq!(config(&written).unwrap().prices.unwrap().cache_write_per_million, 2.0);
    assert!(
        config(&[("OPENAI_PRICE_INPUT_PER_MTOK", "1.5")])
            .unwrap_err()
            .to_string()
            .contains("OPENAI_PRICE_OUTPUT_PER_MTOK")
    );
    assert!(config(&[("OPENAI_PRICE_INPUT_PER_MTOK", "-1"), ("OPENAI_PRICE_OUTPUT_PER_MTOK", "1")]).is_err());
    assert_eq!(config(&[]).unwrap().prices, None);
}

#[test]
fn plain_http_only_to_loopback_or_by_explicit_opt_in() {
    for local in ["http://127.0.0.1:8010/v1", "http://localhost:4000", "http://[::1]:8010/v1", "http://127.8.9.10/v1"] {
        assert!(config(&[("OPENAI_BASE_URL", local)]).is_ok(), "{local}");
    }
    for remote in ["http://api.openai.com/v1", "http://10.0.0.5:4000", "http://localhost.evil.example/v1", "http://"] {
        let error = config(&[("OPENAI_BASE_URL", remote)]).unwrap_err().to_string();
        assert!(error.contains("OPENAI_BASE_URL"), "{remote}: {error}");
    }
    let opted_in =
        config(&[("OPENAI_BASE_URL", "http://litellm.internal:4000"), ("OPENAI_ALLOW_INSECURE_HTTP", "true")]);
    assert_eq!(opted_in.unwrap().base_url, "http://litellm.internal:4000");
}

#[test]
fn dollar_limits_are_read_exactly_and_fail_closed_without_a_price_or_a_table() {
    let table = ("LIMITS_TABLE", "limits");
    let config = self::config(&[table, ("DAILY_BUDGET_USD", "5"), ("CALLER_USD_PER_DAY", "$0.25")]).unwrap();
    assert_eq!(
        (config.limits.daily_budget_usd, config.limits.caller_usd_per_day),
        (Some(5_000_000_000), Some(250_000_000))
    );
    for bad in ["0", "-1", "five", "1.0000000001"] {
        let refused = self::config(&[table, ("DAILY_BUDGET_USD", bad)]).unwrap_err().to_string();
        assert!(refused.contains("DAILY_BUDGET_USD"), "{refused}");
    }
    let no_table = self::config(&[("CALLER_USD_PER_DAY", "1")]).unwrap_err().to_string();
    assert!(no_table.contains("LIMITS_TABLE"), "{no_table}");
    let unpriced = [table, ("DAILY_BUDGET_USD", "5"), ("OPENAI_MODEL", "my-local-model")];
    let refused = self::config(&unpriced).unwrap_err().to_string();
    assert!(refused.contains("OPENAI_PRICE_INPUT_PER_MTOK") && refused.contains("my-local-model"), "{refused}");
    let priced =
        [unpriced.as_slice(), &[("OPENAI_PRICE_INPUT_PER_MTOK", "1"), ("OPENAI_PRICE_OUTPUT_PER_MTOK", "2")]].concat();
    assert!(self::config(&priced).is_ok());
    // Token limits alone need no price.
    assert!(self::config(&[table, ("OPENAI_MODEL", "my-local-model")]).is_ok());
    // The fallback's answers are counted at its price: unpriced, a dollar limit cannot be kept.
    let fallback = [table, ("DAILY_BUDGET_USD", "5"), ("FALLBACK_BASE_URL", "https://fb.example/v1")];
    let fallback = [fallback.as_slice(), &[("FALLBACK_API_KEY", "sk-fb")]].concat();
    let unpriced = [fallback.as_slice(), &[("FALLBACK_MODEL", "my-local-model")]].concat();
    let refused = self::config(&unpriced).unwrap_err().to_string();
    assert!(refused.contains("FALLBACK_MODEL") && refused.contains("my-local-model"), "{refused}");
    assert!(self::config(&[fallback.as_slice(), &[("FALLBACK_MODEL", "gpt-6-sol")]].concat()).is_ok());
    // Its own rates (Bedrock's ids are in no list) price it, and only it.
    let rates = [("FALLBACK_PRICE_INPUT_PER_MTOK", "3"), ("FALLBACK_PRICE_OUTPUT_PER_MTOK", "12")];
    let config = self::config(&[unpriced.as_slice(), &rates].concat()).unwrap();
    let fallback_price = config.fallback_price().unwrap();
    assert_eq!((fallback_price.input_per_million, fallback_price.output_per_million), (3.0, 12.0));
    assert_eq!(fallback_price.cache_write_per_million, 3.75, "cache writes at 1.25x input, unless set");
    assert_ne!(config.price(), Some(fallback_price));
    let half = self::config(&[unpriced.as_slice(), &rates[..1]].concat()).unwrap_err().to_string();
    assert!(half.contains("FALLBACK_PRICE_OUTPUT_PER_MTOK"), "{half}");
    // The same model as the primary's takes the primary's override.
    let same = [priced.as_slice(), &fallback[2..], &[("FALLBACK_MODEL", "my-local-model")]].concat();
    let config = self::config(&same).unwrap();
    assert_eq!(config.fallback_price(), config.price());
    assert!(config.price().is_some());
}

fn fallback_of(vars: &[(&str, &str)]) -> Result<Option<crate::fallback::FallbackConfig>, ConfigError> {
    config(vars).map(|c| c.fallback)
}

#[test]
fn a_fallback_is_read_whole_or_refused_by_name() {
    assert_eq!(fallback_of(&[]).unwrap(), None, "unset: no failover");
    let azure = [
        ("FALLBACK_BASE_URL", "https://res.openai.azure.com/openai/v1/"),
        ("FALLBACK_AUTH", "Azure"),
        ("FALLBACK_API_KEY_SECRET_ID", "fallback-key"),
    ];
    let read = fallback_of(&azure).unwrap().unwrap();
    assert_eq!(read.base_url, "https://res.openai.azure.com/openai/v1");
    assert_eq!((read.auth, read.model.as_str()), (crate::fallback::FallbackAuth::Azure, Config::DEFAULT_MODEL));
    assert_eq!(read.key, KeyConfig::Secret("fallback-key".into()));
    let refused = |vars: &[(&str, &str)], name: &str| {
        let error = fallback_of(vars).unwrap_err().to_string();
        assert!(error.contains(name), "{error}");
    };
    refused(&[("FALLBACK_BASE_URL", "https://x.example/v1")], "FALLBACK_API_KEY_SECRET_ID");
    refused(&[("FALLBACK_BASE_URL", "http://x.example/v1"), ("FALLBACK_API_KEY", "k")], "FALLBACK_BASE_URL");
    let odd = [("FALLBACK_BASE_URL", "https://x.example/v1"), ("FALLBACK_API_KEY", "k"), ("FALLBACK_AUTH", "basic")];
    refused(&odd, "FALLBACK_AUTH");
}

#[test]
fn bedrock_mints_for_the_region_its_url_names_and_refuses_a_key_it_would_not_use() {
    let mantle = [
        ("FALLBACK_BASE_URL", "https://bedrock-mantle.us-east-1.api.aws/v1"),
        ("FALLBACK_AUTH", "bedrock"),
        ("FALLBACK_MODEL", "us.openai.gpt-5.6-sol"),
        ("AWS_REGION", "eu-west-1"),
    ];
    let read = fallback_of(&mantle).unwrap().unwrap();
    assert_eq!(read.auth, crate::fallback::FallbackAuth::Bedrock);
    assert_eq!(read.key, KeyConfig::Bedrock { region: "us-east-1".into() }, "a key works only in its own region");
    // A URL that names no region (a stand-in): the function's own.
    let unnamed = fallback_of(&mantle[..2]).unwrap_err().to_string();
    assert!(unnamed.contains("FALLBACK_MODEL"), "OpenAI's model name is no Bedrock id: {unnamed}");
    let local =
        [("FALLBACK_BASE_URL", "https://localhost:8443/v1"), ("FALLBACK_AUTH", "BEDROCK"), ("FALLBACK_MODEL", "m")];
    let read = fallback_of(&[local.as_slice(), &[("AWS_REGION", "us-west-2")]].concat()).unwrap().unwrap();
    assert_eq!(read.key, KeyConfig::Bedrock { region: "us-west-2".into() });
    let error = fallback_of(&local).unwrap_err().to_string();
    assert!(error.contains("AWS_REGION"), "{error}");
    // A key beside bedrock is refused, not silently ignored, and the refusal never shows it.
    for given in ["FALLBACK_API_KEY", "FALLBACK_API_KEY_SECRET_ID"] {
        let error = fallback_of(&[mantle.as_slice(), &[(given, "sk-given-9f3a")]].concat()).unwrap_err().to_string();
        assert!(error.contains(given) && error.contains("FALLBACK_AUTH=bearer"), "{error}");
        assert!(!error.contains("sk-given-9f3a"), "{error}");
    }
}

#[test]
fn the_default_model_s_dated_snapshots_get_its_low_effort() {
    use crate::config::is_snapshot_of;
    assert!(is_snapshot_of("gpt-6-luna", "gpt-6-luna"));
    assert!(is_snapshot_of("gpt-6-luna-2026-09-15", "gpt-6-luna"));
    for other in ["gpt-6-luna-mini", "gpt-6-lunar", "gpt-6-luna-2026-13-45", "gpt-6-luna-"] {
        assert!(!is_snapshot_of(other, "gpt-6-luna"), "{other}");
    }
    let snapshot = config(&[("OPENAI_MODEL", "gpt-6-luna-2026-09-15")]).unwrap();
    assert_eq!(snapshot.reasoning.effort, Some("low"));
}

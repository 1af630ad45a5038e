use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
}

#[test]
fn every_row_has_a_source_and_the_catalogue_matches_the_price_list() {
    let catalogue: Catalogue = serde_json::from_str(CATALOGUE_JSON).expect("models.json parses");
    assert!(catalogue.families.len() >= 15);
    for facts in &catalogue.families {
        assert!(facts.source.trim().len() > 10, "{} names no source", facts.family);
    }
    let prices: serde_json::Value = serde_json::from_str(crate::prices::CATALOGUE_JSON).unwrap();
    let priced: std::collections::BTreeSet<&str> =
        prices["models"].as_array().unwrap().iter().map(|row| row["model"].as_str().unwrap()).collect();
    for model in &priced {
        let facts = catalogue.families.iter().find(|f| f.family == *model);
        assert!(facts.is_some_and(|f| !f.unpriced), "{model} is priced but not described");
    }
    for facts in &catalogue.families {
        assert_eq!(
            priced.contains(facts.family.as_str()),
            !facts.unpriced,
            "{}: priced, or marked unpriced",
            facts.family
        );
    }
}

#[test]
fn a_row_without_a_source_is_refused_by_the_check() {
    let without: Result<Catalogue, _> = serde_json::from_str(r#"{"families": [{"family": "x", "efforts": []}]}"#);
    assert!(without.is_err(), "source is required");
}

#[test]
fn an_effort_the_model_refuses_stops_init_naming_what_it_takes() {
    let refused = config(&[("OPENAI_MODEL", "gpt-6.2-sol"), ("OPENAI_REASONING_EFFORT", "none")]).unwrap_err();
    let said = refused.to_string();
    assert!(said.contains("OPENAI_REASONING_EFFORT") && said.contains("low, medium, high, xhigh, max"), "{said}");
    assert!(said.contains("gpt-6.2-sol"), "{said}");
    for model in ["gpt-6.1-sol", "gpt-6.2-astra-2026-11-17"] {
        assert!(config(&[("OPENAI_MODEL", model), ("OPENAI_REASONING_EFFORT", "none")]).is_err(), "{model}");
    }
    assert!(config(&[("OPENAI_MODEL", "gpt-6.1-terra"), ("OPENAI_REASONING_EFFORT", "none")]).is_ok());
    assert!(config(&[("OPENAI_MODEL", "gpt-6-luna"), ("OPENAI_REASONING_EFFORT", "minimal")]).is_err());
    let plain = config(&[("OPENAI_MODEL", "gpt-4o-mini"), ("OPENAI_REASONING_CONTEXT", "all_turns")]).unwrap_err();
    assert!(plain.to_string().contains("takes no reasoning"), "{plain}");
    // A model the catalogue does not know runs: OpenAI decides.
    assert!(config(&[("OPENAI_MODEL", "ft:gpt-4o-mini:acme::x1"), ("OPENAI_REASONING_EFFORT", "high")]).is_ok());
}

#[test]
fn the_fallback_s_model_is_checked_with_what_it_is_sent() {
    let base = [("FALLBACK_BASE_URL", "https://fallback.example/v1"), ("FALLBACK_API_KEY", "sk-f")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
        config(&vars)
    };
    // Sent low (portable) to a model without reasoning: refused, naming FALLBACK_MODEL.
    let refused = with(&[("FALLBACK_MODEL", "gpt-4o"), ("OPENAI_REASONING_EFFORT", "low")]).unwrap_err();
    assert!(refused.to_string().contains("FALLBACK_MODEL=gpt-4o"), "{refused}");
    // An effort past high is not sent to the fallback: nothing to refuse.
    assert!(with(&[("FALLBACK_MODEL", "gpt-6.2-sol"), ("OPENAI_REASONING_EFFORT", "max")]).is_ok());
}

#[test]
fn ultrafast_is_taken_only_by_a_family_that_lists_it() {
    let refused = config(&[("OPENAI_SERVICE_TIER", "ultrafast")]).unwrap_err().to_string();
    assert!(refused.contains("OPENAI_SERVICE_TIER") && refused.contains("gpt-6-luna"), "{refused}");
    assert!(refused.contains("auto, default, flex, priority") && !refused.contains("ultrafast,"), "{refused}");
    let sol = config(&[("OPENAI_MODEL", "gpt-6.2-sol"), ("OPENAI_SERVICE_TIER", "Ultrafast")]).unwrap();
    assert_eq!(sol.service_tier, Some("ultrafast"));
    // Priced today: a dollar limit keeps it.
    let limited = [("OPENAI_MODEL", "gpt-6.2-astra"), ("OPENAI_SERVICE_TIER", "ultrafast")];
    let limited = [limited.as_slice(), &[("LIMITS_TABLE", "limits"), ("DAILY_BUDGET_USD", "5")]].concat();
    assert!(config(&limited).is_ok());
    // A model the catalogue does not know: OpenAI decides.
    assert!(config(&[("OPENAI_MODEL", "my-gateway-model"), ("OPENAI_SERVICE_TIER", "ultrafast")]).is_ok());
    assert!(config(&[("OPENAI_SERVICE_TIER", "turbo")]).is_err());
}

#[test]
fn a_compaction_threshold_past_the_model_s_window_stops_init() {
    let refused = config(&[("OPENAI_MODEL", "gpt-6.2-sol"), ("OPENAI_COMPACT_THRESHOLD", "1050000")]).unwrap_err();
    assert!(refused.to_string().contains("1050000") && refused.to_string().contains("context window"), "{refused}");
    assert!(config(&[("OPENAI_MODEL", "gpt-6.2-sol"), ("OPENAI_COMPACT_THRESHOLD", "200000")]).is_ok());
    // A window the catalogue does not know: OpenAI decides.
    assert!(config(&[("OPENAI_MODEL", "my-gateway-model"), ("OPENAI_COMPACT_THRESHOLD", "9000000")]).is_ok());
}

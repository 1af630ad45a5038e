use super::*;

fn billed(input: u64, cached: u64, cache_write: u64, output: u64) -> Billed {
    Billed { input, cached, cache_write, output, ..Billed::default() }
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
    let today =
        ["gpt-6-luna", "gpt-6-sol", "gpt-6-astra", "gpt-6.1-sol", "gpt-6.1-terra", "gpt-6.2-sol", "gpt-6.2-astra"];
    for model in today.iter().chain(&["gpt-5.6-terra", "gpt-5.6-luna"]) {
        assert!(Prices::listed(model, "2026-12-06").is_some(), "{model}");
    }
    // gpt-6.1-sol's cached input is half gpt-6-sol's, from its first day.
    assert_eq!(Prices::listed("gpt-6.1-sol", "2026-09-29").map(|p| p.cached_input_per_million), Some(0.1));
    let sol = Prices::listed("gpt-6.2-sol-2026-11-17", "2026-12-07").unwrap();
    assert_eq!((sol.input_per_million, sol.cached_input_per_million, sol.output_per_million), (2.0, 0.1, 10.0));
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
    // A model the list does not have takes the rule from its owner's settings.
    assert!(!Prices::for_model("us.openai.gpt-6-sol-v1", Some(custom)).unwrap().long_context);
    let said = |value: &str| {
        let vars = [
            ("FALLBACK_PRICE_INPUT_PER_MTOK", "2"),
            ("FALLBACK_PRICE_OUTPUT_PER_MTOK", "10"),
            ("FALLBACK_PRICE_LONG_CONTEXT", value),
        ];
        from_settings(&|n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()), &FALLBACK_PRICES)
    };
    let long = said("true").unwrap();
    assert!(Prices::for_model("us.openai.gpt-6-sol-v1", long).unwrap().long_context);
    assert!(said("yes").unwrap_err().to_string().contains("FALLBACK_PRICE_LONG_CONTEXT"));
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

#[test]
fn ultrafast_is_priced_by_its_day_and_reserved_at_the_dearest_of_today_and_tomorrow() {
    let sol = Prices::listed("gpt-6.2-sol", "2026-12-07").unwrap();
    let bill = Billed { tier: Tier::named(Some("ultrafast")), ..billed(1_000, 0, 0, 1_000) };
    let list = 1_000 * 2_000 + 1_000 * 10_000;
    assert_eq!(sol.cost_nanos_on(bill, "2026-12-07"), list * 3);
    assert_eq!(sol.cost_nanos_on(bill, "2027-02-28"), list * 3);
    assert_eq!(sol.cost_nanos_on(bill, "2027-03-01"), list * 6);
    // Before the tier had a price it is unpriced (a dollar limit refuses it at init).
    assert_eq!(Tier::Ultrafast.halves_on("2026-11-16"), None);
    assert_eq!((Tier::Flex.halves_on("2026-12-07"), Tier::Priority.halves_on("2026-12-07")), (Some(1), Some(4)));
    // A request asked on the last 3x day may end on the first 6x day: it reserves 6x.
    let day = |text| crate::date::parse_day(text).unwrap();
    let worst = |on| sol.worst_case_nanos_from(1_000, 1_000, Some("ultrafast"), day(on));
    assert_eq!(worst("2026-12-07"), (1_000 * 2_500 + 1_000 * 10_000) * 3);
    assert_eq!(worst("2027-02-28"), (1_000 * 2_500 + 1_000 * 10_000) * 6);
    // Every bill the tier can come to on those days is within its reservation.
    for on in ["2027-02-28", "2027-03-01"] {
        assert!(sol.cost_nanos_on(bill, on) <= worst("2027-02-28"));
    }
    // auto may be priority, never ultrafast (only asked for by name).
    assert_eq!(sol.worst_case_nanos_from(1_000, 1_000, None, day("2027-03-05")), (1_000 * 2_500 + 1_000 * 10_000) * 2);
}

#[test]
fn every_tier_row_is_a_multiple_of_a_half_with_a_source() {
    let list: serde_json::Value = serde_json::from_str(CATALOGUE_JSON).unwrap();
    let rows = list["tiers"].as_array().unwrap();
    assert_eq!(rows.len(), tier_rows().len());
    for row in rows {
        let times = row["times"].as_f64().unwrap();
        assert!(times > 0.0 && (times * 2.0).fract() == 0.0, "{row}: the bill is exact in halves");
        assert!(row["source"].as_str().is_some_and(|s| s.len() > 10), "{row} names no source");
        assert!(crate::date::parse_day(row["from"].as_str().unwrap()).is_some(), "{row}");
        assert_ne!(Tier::named(row["tier"].as_str()), Tier::Default, "{row}: a tier the code knows");
    }
}

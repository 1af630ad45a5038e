//! The spend guarantee through the handler: what a follow-up continues is reserved and only its
//! owner may continue it, cross-site requests without an allowed `Origin` are refused, a
//! reservation is settled on its own day and at most once, and a create that may have reached
//! OpenAI is neither sent again nor given back. Against dynalite and the stand-in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lambda_http::Body;
use spend::{Gate, LimitsConfig, Store};
use test_harness::{Dynalite, LosingProxy, TestUpstream, encode, request_from};

use crate::handler::handle;

const DAY: u64 = 86_400;

async fn ask(
    upstream: &TestUpstream,
    gate: &Gate,
    ip: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = handle(&upstream.client, gate, request_from(ip, query, headers)).await.expect("handled");
    let Body::Text(text) = response.body() else { panic!("a text body") };
    (response.status().as_u16(), serde_json::from_str(text).expect("JSON"))
}

fn message(text: &str) -> String {
    format!("message={}", encode(text))
}

fn follow_up(text: &str, previous: &serde_json::Value) -> String {
    format!("message={}&previous_response_id={}", encode(text), previous["response_id"].as_str().expect("an id"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_follow_up_reserves_the_conversation_it_continues_and_the_budget_holds() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("conversation").await;
    let upstream =
        TestUpstream::start_with(&[("LIMITS_TABLE", "conversation"), ("OPENAI_MAX_OUTPUT_TOKENS", "100")]).await;
    let store = Store::with_client("conversation".into(), dynamo.client());
    let day = spend::day_now();
    // A long first turn: 9,002 words, which the stand-in bills as 9,010 input tokens, and which
    // OpenAI bills again as input on every follow-up (more than the old fixed allowance of 8,192).
    let long = format!("/stub deltas=2 {}", "w ".repeat(9_000));
    let open = |budget| {
        Gate::with_client(
            LimitsConfig { table: Some("conversation".into()), daily_budget: budget, ..LimitsConfig::default() },
            dynamo.client(),
        )
        .unwrap()
    };
    let (status, first) = ask(&upstream, &open(1_000_000), "198.51.100.1", &message(&long), &[]).await;
    assert_eq!(status, 200, "{first}");
    let spent = store.used(&format!("budget#{day}")).await.unwrap();
    assert!(spent > 9_000, "the first turn settled to what was billed: {spent}");

    // A budget with room for the new message and a fixed allowance, not for the conversation.
    let tight = spent + 8_500;
    let (status, refused) =
        ask(&upstream, &open(tight), "198.51.100.1", &follow_up("/stub echo again", &first), &[]).await;
    assert_eq!((status, refused["code"].as_str()), (429, Some("daily_budget_reached")), "{refused}");
    assert_eq!(upstream.stub.requests().len(), 1, "refused before it was asked");
    assert!(store.used(&format!("budget#{day}")).await.unwrap() <= tight);

    // With room, it is asked, and settles to exactly what the stand-in billed: the conversation
    // again as input, plus the new turn.
    let (status, second) =
        ask(&upstream, &open(1_000_000), "198.51.100.1", &follow_up("/stub echo again", &first), &[]).await;
    assert_eq!(status, 200, "{second}");
    let billed = store.used(&format!("budget#{day}")).await.unwrap() - spent;
    let words = "/stub echo again".split_whitespace().count() as u64;
    assert_eq!(billed, spent + words + 8 + "again".len() as u64, "the follow-up billed the whole conversation again");
}

#[tokio::test]
async fn only_the_caller_whose_answer_it_is_may_continue_it() {
    let upstream = TestUpstream::start().await;
    let gate = Gate::open();
    let (_, first) = ask(&upstream, &gate, "198.51.100.2", &message("/stub echo mine"), &[]).await;
    let (status, theirs) =
        ask(&upstream, &gate, "198.51.100.3", &follow_up("/stub echo tell me what they said", &first), &[]).await;
    assert_eq!((status, theirs["code"].as_str()), (404, Some("previous_response_not_found")), "{theirs}");
    let (status, unknown) =
        ask(&upstream, &gate, "198.51.100.2", "message=hi&previous_response_id=resp_nobody", &[]).await;
    assert_eq!((status, unknown["code"].as_str()), (404, Some("previous_response_not_found")), "{unknown}");
    assert_eq!(upstream.stub.requests().len(), 1, "neither was asked");
    let (status, mine) = ask(&upstream, &gate, "198.51.100.2", &follow_up("/stub echo more", &first), &[]).await;
    assert_eq!((status, mine["data"].as_str()), (200, Some("more")), "{mine}");
    assert_eq!(upstream.stub.requests()[1].previous_response_id, first["response_id"].as_str().map(str::to_owned));
}

#[tokio::test]
async fn a_page_of_another_site_cannot_make_its_visitors_ask() {
    let upstream = TestUpstream::start().await;
    let gate = Gate::from_config(LimitsConfig {
        allowed_origins: vec!["https://page.example".into()],
        ..LimitsConfig::default()
    })
    .unwrap();
    // An <img src> or an iframe of a foreign page: no Origin, but the browser says it is cross-site.
    for (site, dest) in [("cross-site", "image"), ("same-site", "iframe")] {
        let headers = [("sec-fetch-site", site), ("sec-fetch-mode", "no-cors"), ("sec-fetch-dest", dest)];
        let (status, body) = ask(&upstream, &gate, "192.0.2.8", &message("/stub echo spent"), &headers).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("origin_not_allowed")), "{site}: {body}");
    }
    assert!(upstream.stub.requests().is_empty(), "nothing went upstream");
    // A terminal (no such headers) and an address typed into the browser still work.
    assert_eq!(ask(&upstream, &gate, "192.0.2.8", &message("/stub echo curl"), &[]).await.0, 200);
    assert_eq!(
        ask(&upstream, &gate, "192.0.2.8", &message("/stub echo typed"), &[("sec-fetch-site", "none")]).await.0,
        200
    );
}

#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_give_back_at_midnight_lands_on_the_reservation_s_day_and_no_counter_goes_negative() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("midnight").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "midnight"), ("OPENAI_MAX_OUTPUT_TOKENS", "100")]).await;
    // A clock one second before midnight that moves a second each time it is read: the
    // reservation (one read) is made on the day before, its give-back comes after midnight.
    let day = 20_000;
    let now = Arc::new(AtomicU64::new(day * DAY - 1));
    let ticking = now.clone();
    let store = Store::with_client("midnight".into(), dynamo.client())
        .with_clock(Arc::new(move || ticking.fetch_add(1, Ordering::SeqCst)));
    let gate =
        Gate::with_store(LimitsConfig { table: Some("midnight".into()), ..LimitsConfig::default() }, store.clone())
            .unwrap();
    // OpenAI refuses it (a 400 never reaches the model), so the reservation is given back.
    let (status, _) = ask(&upstream, &gate, "192.0.2.9", &message("/stub status=400"), &[]).await;
    assert_eq!(status, 502);
    assert!(now.load(Ordering::SeqCst) >= day * DAY, "the clock passed midnight during the request");
    let reserved_on = (day - 1).to_string();
    for pk in [
        format!("budget#{reserved_on}"),
        format!("tokens#ip:192.0.2.9#{reserved_on}"),
        format!("budget#{day}"),
        format!("tokens#ip:192.0.2.9#{day}"),
    ] {
        assert_eq!(store.used(&pk).await.unwrap(), 0, "{pk}: given back where it was taken, nothing minted elsewhere");
    }
    // A give-back can never take a counter below zero, so no budget can be minted at all.
    store.adjust("ip:192.0.2.9", day + 1, spend::Change::tokens(-500)).await;
    let raw = dynamo
        .client()
        .get_item()
        .table_name("midnight")
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("budget#{}", day + 1)))
        .send()
        .await
        .unwrap();
    assert!(raw.item().and_then(|i| i.get("used")).is_none(), "{raw:?}");
}

#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_give_back_whose_answer_is_lost_is_not_applied_twice() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("lost").await;
    let direct = Store::with_client("lost".into(), dynamo.client());
    let day = direct
        .reserve(
            "ip:192.0.2.10",
            spend::Amount::tokens(500),
            spend::DayLimit::tokens(100_000),
            spend::DayLimit::tokens(1_000_000),
        )
        .await
        .unwrap();
    direct
        .reserve(
            "ip:192.0.2.10",
            spend::Amount::tokens(500),
            spend::DayLimit::tokens(100_000),
            spend::DayLimit::tokens(1_000_000),
        )
        .await
        .unwrap();
    // The give-back arrives and is applied; its answer is lost, as on a reset connection.
    let is_give_back = |request: &[u8]| String::from_utf8_lossy(request).contains(r#"{"N":"-500"}"#);
    let proxy = LosingProxy::start(dynamo.addr(), is_give_back, 1).await;
    let through_proxy = Store::with_client("lost".into(), Dynalite::client_at(&proxy.url()));
    through_proxy.adjust("ip:192.0.2.10", day, spend::Change::tokens(-500)).await;
    assert_eq!(proxy.lost(), 1, "the answer was lost");
    for pk in [format!("budget#{day}"), format!("tokens#ip:192.0.2.10#{day}")] {
        assert!(
            direct.used(&pk).await.unwrap() >= 500,
            "{pk}: the other reservation is still counted, not given back by a retry"
        );
    }
}

#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_create_that_may_have_reached_openai_is_not_sent_again_and_keeps_its_reservation() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("maybe").await;
    let stub = openai_stub::StubServer::start().await.expect("stand-in");
    let is_create = |request: &[u8]| request.starts_with(b"POST /v1/responses ");
    let proxy = LosingProxy::start(stub.addr, is_create, 1).await;
    let client = test_harness::client_for(
        &stub,
        &[
            ("OPENAI_BASE_URL", &format!("{}/v1", proxy.url())),
            ("LIMITS_TABLE", "maybe"),
            ("OPENAI_MAX_OUTPUT_TOKENS", "100"),
        ],
    );
    let upstream = TestUpstream { stub, client, gate: Gate::open() };
    let gate =
        Gate::with_client(LimitsConfig { table: Some("maybe".into()), ..LimitsConfig::default() }, dynamo.client())
            .unwrap();
    let (status, body) = ask(&upstream, &gate, "192.0.2.11", &message("/stub echo billed"), &[]).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("upstream_unreachable")), "{body}");
    let started = Instant::now();
    while upstream.stub.requests().is_empty() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((proxy.lost(), upstream.stub.requests().len()), (1, 1), "it arrived once and was not sent again");
    let store = Store::with_client("maybe".into(), dynamo.client());
    let held = store.used(&format!("budget#{}", spend::day_now())).await.unwrap();
    assert!(held > 100, "the reservation stands for an answer OpenAI may be billing: {held}");
}

#[tokio::test]
async fn a_slow_store_means_503_within_its_deadline_and_nothing_upstream() {
    // A store that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "slow")]).await;
    let gate = Gate::with_client(
        LimitsConfig { table: Some("slow".into()), ..LimitsConfig::default() },
        Dynalite::client_at(&format!("http://{addr}")),
    )
    .unwrap();
    let started = Instant::now();
    let (status, body) = ask(&upstream, &gate, "192.0.2.12", &message("/stub echo slow"), &[]).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("limits_unavailable")), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3), "bounded by the store's deadline: {:?}", started.elapsed());
    assert!(upstream.stub.requests().is_empty(), "fail closed");
    held.abort();
}

/// A create answered 5xx is sent again (it may have been a passing fault); when the last attempt
/// fails too, an earlier one may be running and billed at OpenAI, so the reservation is kept
/// (too much, never too little) rather than given back whole. A 4xx generated nothing: given back.
#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_create_that_failed_after_server_errors_keeps_its_reservation_and_a_4xx_gives_it_back() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("retried").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "retried"), ("OPENAI_MAX_OUTPUT_TOKENS", "100")]).await;
    let gate =
        Gate::with_client(LimitsConfig { table: Some("retried".into()), ..LimitsConfig::default() }, dynamo.client())
            .unwrap();
    let store = Store::with_client("retried".into(), dynamo.client());
    let budget = || async { store.used(&format!("budget#{}", spend::day_now())).await.unwrap() };
    let (status, body) = ask(&upstream, &gate, "192.0.2.21", &message("/stub status=400"), &[]).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("upstream_rejected")), "{body}");
    assert_eq!(budget().await, 0, "a 4xx generated nothing: the reservation is given back");
    let (status, body) = ask(&upstream, &gate, "192.0.2.21", &message("/stub status=500"), &[]).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("upstream_error")), "{body}");
    assert_eq!(upstream.stub.requests().len(), 4, "one 400, then a 500 sent three times");
    assert!(budget().await > 100, "the reservation stands for attempts OpenAI may be billing");
}

/// A question that could never fit in a day (here a plan of 1,000 tokens a day against a 4,096
/// token answer cap) is 413 `question_too_large`, not a 429 that says to come back tomorrow;
/// nothing goes upstream and nothing is counted.
#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_question_that_can_never_fit_a_day_is_too_large_not_too_early() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("small").await;
    let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "small")]).await;
    let limits = LimitsConfig { table: Some("small".into()), caller_tokens_per_day: 1000, ..LimitsConfig::default() };
    let gate = Gate::with_client(limits, dynamo.client()).unwrap();
    let (status, body) = ask(&upstream, &gate, "192.0.2.31", &message("hello"), &[]).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("question_too_large")), "{body}");
    assert!(body["detail"].as_str().unwrap().contains("1000 tokens a day"), "{body}");
    assert!(upstream.stub.requests().is_empty(), "nothing upstream");
    let store = Store::with_client("small".into(), dynamo.client());
    assert_eq!(store.used(&format!("budget#{}", spend::day_now())).await.unwrap(), 0, "nothing reserved");
}

//! A question's admission writes on dynalite: its request of the minute and its tokens are one
//! conditional write (both or neither, whichever execution environment counts the caller), an
//! environment new to the caller sends both ways at once and each request counts once, a first
//! question is one round trip that reads nothing, and with the item returned on a failed
//! condition (as DynamoDB does) a moved window or a refusal reads nothing either.

use std::sync::Arc;

use spend::Store;
use test_harness::Dynalite;
/// The caller's item of the day: (minute, count, used).
async fn caller_item(dynamo: &Dynalite, table: &str, pk: &str) -> (Option<u64>, Option<u64>, Option<u64>) {
    let item = dynamo
        .client()
        .get_item()
        .table_name(table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = item.item().cloned().unwrap_or_default();
    let number = |name: &str| item.get(name).map(|v| v.as_n().unwrap().parse::<u64>().unwrap());
    (number("minute"), number("count"), number("used"))
}

#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_question_s_request_and_tokens_are_one_write_both_or_neither_whichever_environment_counts() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("window").await;
    let minute = 20_000 * 1440 + 7;
    let at = |seconds: u64| -> spend::Clock { Arc::new(move || seconds) };
    let here = Store::with_client("window".into(), dynamo.client()).with_clock(at(minute * 60 + 5));
    let (day, pk) = (minute / 1440, format!("tokens#ip:192.0.2.40#{}", minute / 1440));
    let ask = |store: &Store, tokens: u64| {
        let store = store.clone();
        async move {
            store
                .take_slot_and_reserve(
                    "ip:192.0.2.40",
                    3,
                    spend::Amount::tokens(tokens),
                    spend::DayLimit::tokens(1_000),
                    spend::DayLimit::tokens(1_000_000),
                )
                .await
        }
    };
    assert_eq!(ask(&here, 100).await.unwrap(), day);
    assert_eq!(ask(&here, 100).await.unwrap(), day);
    assert_eq!(caller_item(&dynamo, "window", &pk).await, (Some(minute), Some(2), Some(200)));
    // Another environment, which has never seen this caller, guesses a new window: wrong, and
    // counted in the open one all the same.
    let there = Store::with_client("window".into(), dynamo.client()).with_clock(at(minute * 60 + 30));
    ask(&there, 100).await.unwrap();
    assert_eq!(caller_item(&dynamo, "window", &pk).await, (Some(minute), Some(3), Some(300)));
    // The fourth of the minute is refused for the rate and holds nothing.
    let refused = ask(&here, 100).await.unwrap_err();
    assert!(refused.to_string().contains("3 requests per minute"), "{refused}");
    assert_eq!(caller_item(&dynamo, "window", &pk).await, (Some(minute), Some(3), Some(300)));
    assert_eq!(
        here.used(&format!("budget#{day}")).await.unwrap(),
        300,
        "the budget it held for a moment was given back"
    );
    // The next minute opens a window of its own; a question over the day's tokens is neither
    // counted nor reserved.
    let later = here.clone().with_clock(at((minute + 1) * 60 + 1));
    ask(&later, 100).await.unwrap();
    assert_eq!(caller_item(&dynamo, "window", &pk).await, (Some(minute + 1), Some(1), Some(400)));
    let too_big = ask(&later, 700).await.unwrap_err();
    assert!(too_big.to_string().contains("1000 tokens per day"), "{too_big}");
    assert_eq!(caller_item(&dynamo, "window", &pk).await, (Some(minute + 1), Some(1), Some(400)));
    // An environment whose clock is a minute behind counts in the window it finds.
    let behind = Store::with_client("window".into(), dynamo.client()).with_clock(at(minute * 60 + 50));
    ask(&behind, 100).await.unwrap();
    assert_eq!(caller_item(&dynamo, "window", &pk).await, (Some(minute + 1), Some(2), Some(500)));
    // The budget refuses: the caller's tokens are given back, the request stays counted.
    let broke = later
        .take_slot_and_reserve(
            "ip:192.0.2.40",
            3,
            spend::Amount::tokens(100),
            spend::DayLimit::tokens(1_000),
            spend::DayLimit::tokens(550),
        )
        .await
        .unwrap_err();
    assert!(broke.to_string().contains("budget"), "{broke}");
    assert_eq!(caller_item(&dynamo, "window", &pk).await, (Some(minute + 1), Some(3), Some(500)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn new_environments_asking_at_once_send_both_ways_and_each_request_counts_once() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("pairs").await;
    let minute = 20_000 * 1440 + 11;
    let (day, pk) = (minute / 1440, format!("tokens#ip:192.0.2.41#{}", minute / 1440));
    // Twenty execution environments, none of which has seen the caller: each sends both ways.
    let asks = (0..20).map(|i| {
        let store = Store::with_client("pairs".into(), dynamo.client()).with_clock(Arc::new(move || minute * 60 + i));
        async move {
            store
                .take_slot_and_reserve(
                    "ip:192.0.2.41",
                    7,
                    spend::Amount::tokens(10),
                    spend::DayLimit::tokens(1_000),
                    spend::DayLimit::tokens(1_000_000),
                )
                .await
        }
    });
    let outcomes = futures_util::future::join_all(asks).await;
    let admitted = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(admitted, 7, "{outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(refused.to_string().contains("7 requests per minute"), "{refused}");
    }
    assert_eq!(
        caller_item(&dynamo, "pairs", &pk).await,
        (Some(minute), Some(7), Some(70)),
        "counted once each, tokens of the admitted only"
    );
    let store = Store::with_client("pairs".into(), dynamo.client());
    assert_eq!(store.used(&format!("budget#{day}")).await.unwrap(), 70);
}

/// The operations a client sends, by name, as they leave it (`x-amz-target`).
#[derive(Debug, Default, Clone)]
struct SentOperations(Arc<std::sync::Mutex<Vec<String>>>);

impl SentOperations {
    fn take(&self) -> Vec<String> {
        let mut sent = std::mem::take(&mut *self.0.lock().unwrap());
        sent.sort();
        sent
    }
}

impl aws_sdk_dynamodb::config::Intercept for SentOperations {
    fn name(&self) -> &'static str {
        "SentOperations"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        self.0.lock().unwrap().push(target.rsplit('.').next().unwrap_or_default().to_owned());
        Ok(())
    }
}

#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn a_new_environment_s_first_question_is_one_round_trip_of_writes_and_reads_nothing() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("trips").await;
    let minute = 20_000 * 1440 + 13;
    let environment = |sent: &SentOperations| {
        let config = dynamo.client().config().to_builder().interceptor(sent.clone()).build();
        Store::with_client("trips".into(), aws_sdk_dynamodb::Client::from_conf(config))
            .with_clock(Arc::new(move || minute * 60 + 1))
    };
    let ask = |store: Store| async move {
        store
            .take_slot_and_reserve(
                "ip:192.0.2.42",
                10,
                spend::Amount::tokens(10),
                spend::DayLimit::tokens(1_000),
                spend::DayLimit::tokens(1_000_000),
            )
            .await
            .unwrap()
    };
    let updates = |n: usize| vec!["UpdateItem".to_owned(); n];
    // The caller's first request anywhere (opening applies), then its first in another
    // environment (counting applies): each the request both ways and the budget, all at once,
    // and no read, though dynalite returns no item with a failed condition.
    let (first, second) = (SentOperations::default(), SentOperations::default());
    let here = environment(&first);
    ask(here.clone()).await;
    assert_eq!(first.take(), updates(3));
    ask(environment(&second)).await;
    assert_eq!(second.take(), updates(3));
    // An environment that has counted the caller in this minute counts: two writes.
    ask(here).await;
    assert_eq!(first.take(), updates(2));
    let pk = format!("tokens#ip:192.0.2.42#{}", minute / 1440);
    assert_eq!(caller_item(&dynamo, "trips", &pk).await, (Some(minute), Some(3), Some(30)));
}

/// The path the real DynamoDB takes: it returns the item with a failed condition
/// (`ReturnValuesOnConditionCheckFailure`), so a window another environment's clock moved, and a
/// refusal from an environment new to the caller, are told from that item with no read. Through
/// `ReturningProxy`, which answers as DynamoDB does in front of dynalite (which returns none).
#[tokio::test]
#[cfg_attr(not(feature = "e2e"), ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it")]
async fn with_the_item_returned_as_dynamodb_does_a_moved_window_and_a_refusal_read_nothing() {
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("real").await;
    let proxy = test_harness::ReturningProxy::start(dynamo.endpoint()).await;
    let minute = 20_000 * 1440 + 7;
    let environment = |sent: &SentOperations, at_minute: u64| {
        let config = Dynalite::client_at(&proxy.endpoint()).config().to_builder().interceptor(sent.clone()).build();
        Store::with_client("real".into(), aws_sdk_dynamodb::Client::from_conf(config))
            .with_clock(Arc::new(move || at_minute * 60 + 1))
    };
    let ask = |store: Store| async move {
        store
            .take_slot_and_reserve(
                "ip:192.0.2.50",
                2,
                spend::Amount::tokens(10),
                spend::DayLimit::tokens(1_000),
                spend::DayLimit::tokens(1_000_000),
            )
            .await
    };
    let (behind, ahead, new) = (SentOperations::default(), SentOperations::default(), SentOperations::default());
    // An environment counts the caller at minute m, another whose clock is ahead opens m+1.
    let late = environment(&behind, minute);
    ask(late.clone()).await.unwrap();
    ask(environment(&ahead, minute + 1)).await.unwrap();
    behind.take();
    // The late one counts in m, finds the window moved in the item returned, counts in m+1.
    ask(late).await.unwrap();
    let sent = behind.take();
    assert!(!sent.contains(&"GetItem".to_owned()), "the item came with the failure: {sent:?}");
    let pk = format!("tokens#ip:192.0.2.50#{}", minute / 1440);
    assert_eq!(caller_item(&dynamo, "real", &pk).await, (Some(minute + 1), Some(2), Some(30)));
    // A third environment, new to the caller, over the limit of 2: both ways fail, the items
    // say why, and nothing is read.
    let refused = ask(environment(&new, minute + 1)).await.unwrap_err();
    assert_eq!(refused.code(), "caller_limit_reached");
    let sent = new.take();
    assert!(!sent.contains(&"GetItem".to_owned()), "{sent:?}");
}

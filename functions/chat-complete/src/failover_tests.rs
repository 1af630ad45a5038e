//! Failover through the handler: two stand-ins, the primary down in the ways another provider
//! could answer, and the fallback answering, by a bearer key, Azure's `api-key` or a Bedrock key
//! minted from the function's role; the circuit that spares the primary during an outage; and
//! what never fails over.

use lambda_http::Body;
use openai_client::ResponsesClient;
use openai_stub::StubServer;
use spend::Gate;
use test_harness::{TEST_KEY, bedrock_key, client_for, encode, request_from};

use crate::handler::handle;

const FALLBACK_KEY: &str = "sk-fallback-2b7c9d";

struct Pair {
    primary: StubServer,
    fallback: StubServer,
    client: ResponsesClient,
}

async fn pair(auth: &str) -> Pair {
    let (primary, fallback) = (StubServer::start().await.unwrap(), StubServer::start().await.unwrap());
    fallback.state.expected_key.write().unwrap().replace(FALLBACK_KEY.to_owned());
    primary.state.expected_key.write().unwrap().replace(TEST_KEY.to_owned());
    let url = fallback.base_url();
    let vars = [
        ("FALLBACK_BASE_URL", url.as_str()),
        ("FALLBACK_API_KEY", FALLBACK_KEY),
        ("FALLBACK_MODEL", "gpt-6-sol"),
        ("FALLBACK_AUTH", auth),
    ];
    let client = client_for(&primary, &vars);
    Pair { primary, fallback, client }
}

async fn ask(client: &ResponsesClient, query: &str) -> (u16, serde_json::Value) {
    let response = handle(client, &Gate::open(), request_from("192.0.2.60", query, &[])).await.unwrap();
    let Body::Text(text) = response.body() else { panic!("a text body") };
    (response.status().as_u16(), serde_json::from_str(text).unwrap())
}

fn message(text: &str) -> String {
    format!("message={}", encode(text))
}

#[tokio::test]
async fn a_primary_that_fails_sends_the_answer_to_the_fallback_which_says_it_answered() {
    for (status, code) in [(500, None), (503, None), (429, Some("insufficient_quota")), (429, None)] {
        let p = pair("bearer").await;
        p.primary.fail_every_create(Some((status, code)));
        let (answered, body) = ask(&p.client, &message("/stub echo hello")).await;
        assert_eq!(answered, 200, "{status} {code:?}: {body}");
        assert_eq!((body["data"].as_str(), body["model"].as_str()), (Some("hello"), Some("gpt-6-sol")), "{body}");
        assert!(body["response_id"].as_str().is_some_and(|id| id.starts_with("fb-resp_")), "{body}");
        assert_eq!(p.fallback.requests().len(), 1);
        assert_eq!(p.fallback.requests()[0].model, "gpt-6-sol");
        // Quota is no passing trouble: asked once; the rest after the primary's retries.
        let tries = if code.is_some() { 1 } else { 3 };
        assert_eq!(p.primary.requests().len(), tries, "{status} {code:?}");
    }
}

#[tokio::test]
async fn while_the_primary_is_down_it_sees_one_probe_at_a_time_and_takes_answers_again_once_up() {
    let p = pair("bearer").await;
    p.primary.fail_every_create(Some((500, None)));
    assert_eq!(ask(&p.client, &message("first")).await.0, 200);
    assert_eq!(p.primary.requests().len(), 3, "the first answer tries the primary with its retries");
    // The circuit is open: straight to the fallback, the primary not asked.
    for _ in 0..3 {
        assert_eq!(ask(&p.client, &message("meanwhile")).await.0, 200);
    }
    assert_eq!((p.primary.requests().len(), p.fallback.requests().len()), (3, 4));
    // After PROBE_EVERY one request tries the primary once, fails over, and the circuit stays open.
    tokio::time::sleep(openai_client::PROBE_EVERY).await;
    assert_eq!(ask(&p.client, &message("probe")).await.0, 200);
    assert_eq!((p.primary.requests().len(), p.fallback.requests().len()), (4, 5));
    // The primary is back: the next probe (twice as late, after a failed one) answers, and the
    // answers after it are the primary's.
    p.primary.fail_every_create(None);
    tokio::time::sleep(openai_client::PROBE_EVERY).await;
    assert_eq!(ask(&p.client, &message("too early")).await.0, 200);
    assert_eq!(p.primary.requests().len(), 4, "a failed probe doubles the wait before the next");
    tokio::time::sleep(openai_client::PROBE_EVERY).await;
    let (_, probe) = ask(&p.client, &message("/stub echo back")).await;
    assert_eq!((probe["model"].as_str(), p.fallback.requests().len()), (Some("gpt-6-luna"), 6), "{probe}");
    let (_, next) = ask(&p.client, &message("/stub echo again")).await;
    assert!(next["response_id"].as_str().is_some_and(|id| id.starts_with("resp_")), "{next}");
}

/// Milliseconds between the primary's attempts, as it saw them.
fn gaps(stub: &StubServer) -> Vec<u64> {
    let started: Vec<u64> = stub.requests().iter().map(|r| r.started_ms).collect();
    started.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after_or_a_backoff_never_in_a_tight_loop_then_fails_over() {
    // (the settings, the least gap between two attempts in ms)
    for (settings, least) in
        [("status=429 retry_after_ms=400", 400), ("status=429 retry_after=0", 100), ("status=429", 250)]
    {
        let p = pair("bearer").await;
        p.primary.every_answer(Some(settings));
        let (status, body) = ask(&p.client, &message("/stub echo served")).await;
        assert_eq!((status, body["model"].as_str()), (200, Some("gpt-6-sol")), "{settings}: {body}");
        let gaps = gaps(&p.primary);
        assert_eq!(gaps.len(), 2, "{settings}: the primary's three attempts, then the fallback");
        assert!(gaps.iter().all(|gap| *gap >= least), "{settings}: {gaps:?}");
        // The outage goes on: each new answer goes straight to the fallback, none to the primary.
        for _ in 0..5 {
            assert_eq!(ask(&p.client, &message("/stub echo meanwhile")).await.0, 200);
        }
        assert_eq!((p.primary.requests().len(), p.fallback.requests().len()), (3, 6), "{settings}");
    }
}

#[tokio::test]
async fn the_caller_s_own_errors_never_fail_over() {
    let p = pair("bearer").await;
    for (question, status, code) in [
        ("/stub status=400 code=context_length_exceeded", 400, "context_length_exceeded"),
        // A question refused for its content is the caller's to rephrase: a 400 of its own.
        ("/stub status=400 code=invalid_prompt", 400, "question_refused"),
        ("/stub status=400 code=content_policy_violation", 400, "question_refused"),
        ("/stub status=400", 502, "upstream_rejected"),
    ] {
        let (answered, body) = ask(&p.client, &message(question)).await;
        assert_eq!((answered, body["code"].as_str()), (status, Some(code)), "{body}");
    }
    assert!(p.fallback.requests().is_empty(), "the fallback would refuse them the same");
}

#[tokio::test]
async fn azure_takes_its_key_as_api_key_and_a_follow_up_stays_with_the_provider_that_holds_it() {
    let p = pair("azure").await;
    p.fallback.take_keys_as_azure();
    p.primary.fail_every_create(Some((502, None)));
    let (status, first) = ask(&p.client, &message("/stub echo one")).await;
    assert_eq!((status, first["model"].as_str()), (200, Some("gpt-6-sol")), "{first}");
    // The primary is back, but the conversation lives at the fallback: the follow-up goes there,
    // by the id the fallback knows.
    p.primary.fail_every_create(None);
    let previous = first["response_id"].as_str().unwrap();
    let (status, second) =
        ask(&p.client, &format!("{}&previous_response_id={previous}", message("/stub echo two"))).await;
    assert_eq!((status, second["model"].as_str()), (200, Some("gpt-6-sol")), "{second}");
    let followed = p.fallback.requests();
    assert_eq!(followed.len(), 2);
    assert_eq!(followed[1].previous_response_id.as_deref(), previous.strip_prefix("fb-"));
    assert_eq!(
        p.primary.requests().len(),
        1,
        "only the first answer's attempt (a 502 may leave it generating: not sent again)"
    );
}

const BEDROCK_MODEL: &str = "us.openai.gpt-5.6-sol";

/// The primary, and a stand-in playing Bedrock whose key the client mints with `secret`.
async fn bedrock_pair(secret: &str) -> Pair {
    let primary = StubServer::start().await.unwrap();
    primary.state.expected_key.write().unwrap().replace(TEST_KEY.to_owned());
    let fallback = StubServer::start_as_bedrock("us-east-1").await.unwrap();
    let url = fallback.base_url();
    let vars = [
        ("FALLBACK_BASE_URL", url.as_str()),
        ("FALLBACK_MODEL", BEDROCK_MODEL),
        ("FALLBACK_AUTH", "bedrock"),
        ("AWS_REGION", "us-east-1"),
    ];
    let client = client_for(&primary, &vars).with_fallback_key(bedrock_key("us-east-1", secret));
    Pair { primary, fallback, client }
}

#[tokio::test]
async fn bedrock_answers_with_a_key_minted_from_the_role_whose_signature_it_verified() {
    let p = bedrock_pair(openai_stub::bedrock::TEST_SECRET_ACCESS_KEY).await;
    p.primary.fail_every_create(Some((503, None)));
    for question in ["/stub echo from bedrock", "/stub echo again"] {
        let (status, body) = ask(&p.client, &message(question)).await;
        assert_eq!((status, body["model"].as_str()), (200, Some(BEDROCK_MODEL)), "{body}");
        assert!(body["response_id"].as_str().is_some_and(|id| id.starts_with("fb-resp_")), "{body}");
    }
    // The stand-in records a request only once the key's signature, region and expiry held.
    let answered = p.fallback.requests();
    assert_eq!((answered.len(), answered[0].model.as_str()), (2, BEDROCK_MODEL));
}

#[tokio::test]
async fn a_key_signed_with_the_wrong_secret_is_refused_and_the_caller_told_plainly() {
    let wrong = "not/the+role's/secret/EXAMPLEKEY0123456789";
    let p = bedrock_pair(wrong).await;
    p.primary.fail_every_create(Some((500, None)));
    let response = handle(&p.client, &Gate::open(), request_from("192.0.2.61", &message("hello"), &[])).await.unwrap();
    let Body::Text(text) = response.body() else { panic!("a text body") };
    let body: serde_json::Value = serde_json::from_str(text).unwrap();
    // The deployment's fault, said as such (500), naming where to look; never a panic.
    assert_eq!((response.status().as_u16(), body["code"].as_str()), (500, Some("upstream_unauthorized")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("the role a Bedrock key is minted from")), "{body}");
    assert!(p.fallback.requests().is_empty(), "refused before any answer");
    for secret_part in ["bedrock-api-key-", wrong, "stand-in-session-token", "X-Amz-Signature"] {
        assert!(!text.contains(secret_part), "{text}");
    }
}

//! `ACCESS=jwt` as it ships: the release binaries behind the Runtime API stand-in, a local
//! OpenID provider (tests/oidc/provider.py, tokens signed by PyJWT) and the OpenAI stand-in.
//! Every refusal is its own test and proves nothing reached OpenAI and no token reached the log.

use serde_json::{Value, json};

use openai_stub::StubServer;
use test_harness::oidc::AUDIENCE;
use test_harness::runtime_api::{Invocation, RuntimeApi, function_url_event};
use test_harness::{Dynalite, OidcProvider, browser_events, encode, message_data};

/// One at a time: each test starts a provider and a function on two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Setup {
    stub: StubServer,
    provider: OidcProvider,
}

impl Setup {
    async fn start() -> Self {
        let stub = StubServer::start().await.expect("start the OpenAI stand-in");
        Self { stub, provider: OidcProvider::start() }
    }

    /// `function`'s release binary with `ACCESS=jwt` on this provider, and `extra`.
    async fn launch(&self, function: &str, extra: &[(&str, &str)]) -> RuntimeApi {
        let env = [&[("ACCESS", "jwt"), ("JWT_ISSUER", self.provider.issuer()), ("JWT_AUDIENCE", AUDIENCE)][..], extra]
            .concat();
        RuntimeApi::launch_release(function, &self.stub.base_url(), &env).await
    }
}

fn ask(message: &str, token: Option<&str>) -> Value {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
    function_url_event("GET", "/", &format!("message={}", encode(message)), &headers, None)
}

/// What a refused request must be: a 401 (or `status`) with `code`, the challenge header,
/// nothing upstream, and the token nowhere in the answer or the log.
async fn assert_refused(setup: &Setup, token: Option<&str>, status: u16, code: &str) {
    let function = setup.launch("chat-complete", &[]).await;
    let answer = function.invoke(ask("hello", token)).await;
    let body = answer.json().unwrap_or_default();
    assert_eq!(answer.status, Some(status), "{body}\n{}", function.log());
    assert_eq!(body["code"], code, "{body}");
    if status == 401 {
        let challenge = answer.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{challenge:?}");
    }
    assert!(setup.stub.requests().is_empty(), "a refused request reached OpenAI");
    assert_nothing_of(token, &answer, &function);
}

/// Each token `requests` asks the provider for (see provider.py's `/mint`) is refused so.
async fn refuses(requests: &[Value], status: u16, code: &str) {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    for request in requests {
        let token = setup.provider.mint_with(request.clone()).await;
        assert_refused(&setup, Some(&token), status, code).await;
    }
}

/// No token, nor its signature, in the answer or the log.
fn assert_nothing_of(token: Option<&str>, answer: &Invocation, function: &RuntimeApi) {
    let Some(token) = token else { return };
    let (text, log) = (answer.text(), function.log());
    for part in token.split('.').filter(|p| p.len() >= 16).chain([token]) {
        assert!(!text.contains(part) && !log.contains(part), "a part of the token was repeated: {part}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_token_missing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    assert_refused(&setup, None, 401, "token_missing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_token_alg_none_is_refused() {
    refuses(&[json!({ "alg": "none" })], 401, "token_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_signed_with_the_public_key_is_refused() {
    refuses(&[json!({ "alg": "HS256" })], 401, "token_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kid_naming_another_key_or_an_algorithm_its_key_does_not_allow_is_refused() {
    // Signed by the RSA key, naming the published EC key; then PS256 by the key published as RS256.
    refuses(
        &[json!({ "family": "rsa", "kid": "ec-1" }), json!({ "family": "rsa", "alg": "PS256" })],
        401,
        "token_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_issuer_does_not_publish_is_refused() {
    refuses(&[json!({ "unpublished": true })], 401, "token_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_location_headers_jku_x5u_and_an_embedded_jwk_are_refused() {
    let embedded = json!({ "kty": "oct", "k": "c2VjcmV0" });
    let headers = [
        json!({ "jku": "https://evil.example/jwks" }),
        json!({ "x5u": "https://evil.example/cert" }),
        json!({ "jwk": embedded }),
    ];
    refuses(&headers.map(|headers| json!({ "headers": headers })), 401, "token_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_token_expired() {
    let now = now();
    refuses(&[json!({ "claims": { "iat": now - 7200, "exp": now - 3600 } })], 401, "token_expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_exp_is_refused() {
    refuses(&[json!({ "claims": { "exp": null } })], 401, "token_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_not_yet_valid_nbf_or_iat_in_the_future_is_refused() {
    let later = now() + 600;
    refuses(
        &[json!({ "claims": { "nbf": later } }), json!({ "claims": { "iat": later, "exp": later + 600 } })],
        401,
        "token_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_issuer_is_refused() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    // The issuer's own URL with a path, and a look-alike with a trailing slash.
    for issuer in [format!("{}/other", setup.provider.issuer()), format!("{}/", setup.provider.issuer())] {
        let token = setup.provider.mint(json!({ "iss": issuer })).await;
        assert_refused(&setup, Some(&token), 401, "token_invalid").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_audience_is_refused() {
    let audiences = [
        json!({ "aud": "another-app" }),
        json!({ "aud": ["a", "b"] }),
        json!({ "aud": null }),
        json!({ "aud": null, "client_id": "another-app" }),
    ];
    refuses(&audiences.map(|claims| json!({ "claims": claims })), 401, "token_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_empty_subject_is_refused() {
    refuses(&[json!({ "claims": { "sub": null } }), json!({ "claims": { "sub": "" } })], 401, "token_invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_signature_or_payload_is_refused() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let token = setup.provider.mint(json!({ "sub": "alice" })).await;
    let other = setup.provider.mint(json!({ "sub": "mallory" })).await;
    let parts: Vec<&str> = token.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    // Mallory's claims under Alice's signature.
    let swapped = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
    assert_refused(&setup, Some(&swapped), 401, "token_invalid").await;
}

/// EventSource's way, refused: the token in the query is not repeated, inline or as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_in_the_query_is_never_echoed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let function = setup.launch("chat-stream", &[]).await;
    let now = now();
    let token = setup.provider.mint(json!({ "iat": now - 7200, "exp": now - 3600 })).await;
    for errors in ["", "&errors=inline"] {
        let event = function_url_event("GET", "/", &format!("message=hi&access_token={token}{errors}"), &[], None);
        let answer = function.invoke(event).await;
        let expected = if errors.is_empty() { 401 } else { 200 };
        assert_eq!(answer.status, Some(expected), "{}", answer.text());
        assert!(answer.text().contains("token_expired"), "{}", answer.text());
        assert_nothing_of(Some(&token), &answer, &function);
    }
    assert!(setup.stub.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_token_is_refused_before_it_is_read() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let token = setup.provider.mint(json!({ "padding": "x".repeat(identity::MAX_TOKEN_BYTES) })).await;
    assert_refused(&setup, Some(&token), 401, "token_invalid").await;
    // Nothing needed a key to refuse it: the one fetch is the function's own, during init.
    assert_eq!(setup.provider.jwks_hits().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_down_is_503_and_nothing_goes_upstream() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let token = setup.provider.mint(json!({})).await;
    setup.provider.set_down(true).await;
    assert_refused(&setup, Some(&token), 503, "auth_unavailable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_algorithm_family_and_cognito_access_tokens_are_accepted_through_both_functions() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let complete = setup.launch("chat-complete", &[]).await;
    let cases = [
        json!({ "family": "rsa" }),
        json!({ "family": "ec" }),
        json!({ "family": "ed" }),
        json!({ "claims": { "aud": ["someone-else", AUDIENCE] } }),
        // A Cognito access token: no `aud`, the app client in `client_id`.
        json!({ "claims": { "aud": null, "client_id": AUDIENCE, "token_use": "access" } }),
    ];
    for case in &cases {
        let token = setup.provider.mint_with(case.clone()).await;
        let answer = complete.invoke(ask("/stub echo signed in", Some(&token))).await;
        assert_eq!(answer.status, Some(200), "{case}: {}", answer.text());
        assert_eq!(answer.json().unwrap_or_default()["data"], "signed in");
        assert_nothing_of(Some(&token), &answer, &complete);
    }
    // EventSource's way: the token in the query.
    let stream = setup.launch("chat-stream", &[]).await;
    let token = setup.provider.mint(json!({})).await;
    let event = function_url_event(
        "GET",
        "/",
        &format!("message={}&access_token={token}", encode("/stub echo via query")),
        &[],
        None,
    );
    let answer = stream.invoke(event).await;
    assert_eq!(answer.status, Some(200), "{}", answer.text());
    assert_eq!(message_data(&browser_events(&answer.body).await).concat(), "via query");
    assert_nothing_of(Some(&token), &answer, &stream);
    assert_eq!(setup.stub.requests().len(), cases.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_in_key_works_without_a_restart_and_unknown_kids_cannot_hammer_the_provider() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let function = setup.launch("chat-complete", &[]).await;
    let before = setup.provider.mint(json!({})).await;
    assert_eq!(function.invoke(ask("/stub echo a", Some(&before))).await.status, Some(200));
    assert_eq!(setup.provider.jwks_hits().await, 1);

    setup.provider.rotate("rsa", true).await;
    let after = setup.provider.mint(json!({})).await;
    let answer = function.invoke(ask("/stub echo b", Some(&after))).await;
    assert_eq!(answer.status, Some(200), "the rotated-in key: {}", answer.text());
    assert_eq!(setup.provider.jwks_hits().await, 2, "one fetch for the new kid");

    // A flood of made-up kids, each signed by a key nobody publishes: refused, and the keys
    // are not fetched again within the minute.
    for n in 0..40 {
        let token = setup.provider.mint_with(json!({ "unpublished": true, "kid": format!("random-{n}") })).await;
        let answer = function.invoke(ask("hello", Some(&token))).await;
        assert_eq!(answer.status, Some(401), "{}", answer.text());
    }
    assert_eq!(setup.provider.jwks_hits().await, 2, "unknown kids made the function fetch the keys again");
    // The provider going down now changes nothing for keys already held.
    setup.provider.set_down(true).await;
    assert_eq!(function.invoke(ask("/stub echo c", Some(&after))).await.status, Some(200));
    assert_eq!(setup.stub.requests().len(), 3);
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_limited_apart_and_a_plan_claim_picks_its_limits() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table("limits").await;
    let plans = [("RATE_LIMIT_PER_MINUTE", "2"), ("JWT_LIMITS_CLAIM", "plan"), ("JWT_PLAN_LIMITS", "pro=4/100000")];
    let limits = [&dynamo.limits_env("limits")[..], &plans].concat();
    let function = setup.launch("chat-complete", &limits).await;
    let statuses = |sub: &'static str, plan: Option<&'static str>, times: usize| {
        let (function, provider) = (&function, &setup.provider);
        async move {
            let token = provider.mint(json!({ "sub": sub, "plan": plan })).await;
            let mut statuses = Vec::new();
            for _ in 0..times {
                statuses.push(function.invoke(ask("/stub echo hi", Some(&token))).await.status.unwrap_or_default());
            }
            statuses
        }
    };
    assert_eq!(statuses("alice", None, 3).await, [200, 200, 429], "alice: two a minute");
    assert_eq!(statuses("bob", None, 2).await, [200, 200], "bob is not alice");
    assert_eq!(statuses("carol", Some("pro"), 5).await, [200, 200, 200, 200, 429], "carol's plan: four a minute");
    let identifiers: std::collections::BTreeSet<String> =
        setup.stub.requests().iter().filter_map(|r| r.safety_identifier.clone()).collect();
    assert_eq!(identifiers.len(), 3, "one safety_identifier per user: {identifiers:?}");
    assert!(
        identifiers.iter().all(|id| !id.contains("alice") && !id.contains("bob") && !id.contains("127.0.0.1")),
        "{identifiers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_cannot_resume_or_stop_another_user_s_answer() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let function = setup.launch("chat-stream", &[]).await;
    let alice = setup.provider.mint(json!({ "sub": "alice" })).await;
    let mallory = setup.provider.mint(json!({ "sub": "mallory" })).await;
    let answer = function.invoke(ask("/stub deltas=6", Some(&alice))).await;
    let events = browser_events(&answer.body).await;
    let id = events.iter().find(|e| e.event == "message").map(|e| e.id.clone()).unwrap_or_default();
    let response_id = events
        .iter()
        .find(|e| e.event == "response")
        .and_then(|e| serde_json::from_str::<Value>(&e.data).ok())
        .and_then(|r| r["id"].as_str().map(str::to_owned));
    let (false, Some(response_id)) = (id.is_empty(), response_id) else {
        panic!("no resume token or response id: {events:?}")
    };

    let resume = |token: &str| {
        let bearer = format!("Bearer {token}");
        function_url_event("GET", "/", "", &[("authorization", bearer.as_str()), ("last-event-id", id.as_str())], None)
    };
    let refused = function.invoke(resume(&mallory)).await;
    let code = refused.json().unwrap_or_default()["code"].clone();
    assert_eq!((refused.status, code.as_str()), (Some(403), Some("resume_token_invalid")), "{}", refused.text());
    let resumed = function.invoke(resume(&alice)).await;
    assert_eq!(resumed.status, Some(200), "alice resumes her own answer: {}", resumed.text());
    assert!(!message_data(&browser_events(&resumed.body).await).is_empty());

    let stop = |token: &str| {
        let bearer = format!("Bearer {token}");
        let body = json!({ "response_id": response_id }).to_string();
        function_url_event(
            "POST",
            "/stop",
            "",
            &[("authorization", bearer.as_str()), ("content-type", "application/json")],
            Some(&body),
        )
    };
    let refused = function.invoke(stop(&mallory)).await;
    assert_eq!(refused.status, Some(404), "mallory stops alice's answer: {}", refused.text());
    assert_eq!(refused.json().unwrap_or_default()["code"], "response_not_found");
    assert!(setup.stub.cancels().is_empty(), "nothing was cancelled for mallory");
    assert_nothing_of(Some(&mallory), &refused, &function);
}

/// The rest of an answer already admitted reaches its reader after their sign-in expired: an
/// EventSource reconnect carries the URL's token from when the question was asked. The resume
/// token (bound to that user) proves the answer is theirs; a new question still needs a valid
/// token, and another user's expired token gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_continues_after_the_user_s_token_expired_but_a_new_question_does_not() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let setup = Setup::start().await;
    let function = setup.launch("chat-stream", &[]).await;
    let fresh = setup.provider.mint(json!({})).await;
    let answer = function.invoke(ask("/stub deltas=6", Some(&fresh))).await;
    assert_eq!(answer.status, Some(200), "{}", answer.text());
    let events = browser_events(&answer.body).await;
    let texts: Vec<_> = events.iter().filter(|e| e.event == "message").collect();
    let whole: String = texts.iter().map(|e| e.data.as_str()).collect();
    let had: String = texts[..2].iter().map(|e| e.data.as_str()).collect();
    let now = now();
    let resume = |token: String| {
        let query = format!("message=ignored&access_token={token}");
        function_url_event("GET", "/", &query, &[("last-event-id", texts[1].id.as_str())], None)
    };
    let expired = setup.provider.mint(json!({ "iat": now - 7200, "exp": now - 3600 })).await;
    let rest = function.invoke(resume(expired.clone())).await;
    assert_eq!(rest.status, Some(200), "{}\n{}", rest.text(), function.log());
    let rest = browser_events(&rest.body).await;
    assert_eq!(format!("{had}{}", message_data(&rest).concat()), whole, "the rest, exactly");
    assert_eq!(rest.last().map(|e| e.event.as_str()), Some("end"));
    // Another user, expired or not, gets none of it.
    let other = setup.provider.mint(json!({ "sub": "user-2", "iat": now - 7200, "exp": now - 3600 })).await;
    let refused = function.invoke(resume(other)).await;
    assert_eq!(refused.status, Some(403), "{}", refused.text());
    // A new question with the expired token is refused as before.
    let asked = function.invoke(ask("hello", Some(&expired))).await;
    assert_eq!((asked.status, asked.json().unwrap_or_default()["code"].clone()), (Some(401), json!("token_expired")));
    assert_eq!(setup.stub.requests().len(), 1, "one model call");
}

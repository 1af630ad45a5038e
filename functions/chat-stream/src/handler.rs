use chat_core::ApiError;
use lambda_http::{Error, Request, Response};
use openai_client::ResponsesClient;
use shared::{RequestSummary, StreamAction};
use spend::Gate;

use crate::chats::ChatRun;
use crate::dialect::{Dialect, EventSource, UiMessageStream};
use crate::relay::{Start, relay};
use crate::response::{SseBody, failure, sse_response};
use crate::settlement::Holding;

/// Answers `GET ?message=` with `start`, one unnamed event per text delta, and `end`; a
/// reconnect carrying `Last-Event-ID` with the rest of that answer; `POST /stop` by stopping one;
/// the AI SDK's `POST {"messages"}` in its UI message stream.
///
/// Failures before the first byte are JSON errors with a status, unless the caller asked for
/// `errors=inline`; failures after it are `event: error`, and `end` always closes the stream.
pub async fn handle(client: &ResponsesClient, gate: &Gate, request: Request) -> Result<Response<SseBody>, Error> {
    match StreamAction::of(&request) {
        StreamAction::Ask => Ok(ask(client, gate, request, Box::new(EventSource)).await),
        StreamAction::AskUiChat => {
            let dialect = match shared::ui_chat::follows_hand_overs(&request) {
                true => UiMessageStream::following(0),
                false => UiMessageStream::default(),
            };
            Ok(ask(client, gate, request, Box::new(dialect)).await)
        }
        StreamAction::Resume(token) => Ok(resume(client, gate, request, &token).await),
        StreamAction::Stop => Ok(crate::stop::handle(client, gate, request).await),
        StreamAction::StreamAgain { id, start_index } => {
            Ok(crate::workflow::stream_again(client, gate, request, &id, start_index.as_deref()).await)
        }
    }
}

/// A new answer: admit, ask, relay (which settles).
async fn ask(
    client: &ResponsesClient,
    gate: &Gate,
    request: Request,
    mut dialect: Box<dyn Dialect>,
) -> Response<SseBody> {
    let mut summary = RequestSummary::start("chat-stream", shared::request_id(&request), client.config());
    summary.protocol = dialect.protocol();
    let inline = shared::request::wants_inline_errors(&request);
    let mut chat = match dialect.chat_request(&request, client.config().max_message_bytes) {
        Ok(chat) => chat,
        Err(error) => return failure(error, inline.then_some(dialect.as_mut()), summary),
    };
    let deadline = client.deadline(shared::lambda_deadline(&request));
    // An AI SDK chat goes on from its last answer on OpenAI's side when its history allows.
    let conversation =
        dialect.protocol().and_then(|_| shared::chain::Conversation::of(shared::ui_chat::chat_id(&request), &chat));
    let admitted = shared::admit::admit(gate, client, &request, &mut chat, conversation.as_ref(), deadline).await;
    let mut admission = match admitted {
        Ok(admission) => {
            summary.admitted();
            admission
        }
        Err(error) => return failure(error, inline.then_some(dialect.as_mut()), summary),
    };
    match client.stream_within(&chat, deadline, &mut admission).await {
        Ok(mut upstream) => {
            summary.retries = upstream.retries;
            summary.upstream_status = Some(200);
            let caller = admission.caller.clone();
            // The AI SDK's answer names its run (`x-workflow-run-id`) before the first byte.
            let named = match dialect.protocol().is_some() && client.config().resumable {
                true => Some(crate::workflow::named(client, &caller, &mut upstream).await),
                false => None,
            };
            let (first, run_id) = named.map_or((None, None), |(first, run_id)| (Some(first), run_id));
            // A run already named is followed by its id: it cannot move to the fallback.
            let question = run_id.is_none().then_some(chat);
            // The chat's running answer, for `resume: true`: recorded at its first word.
            let chat = match dialect.protocol() {
                Some(_) => ChatRun::new(gate, &caller, shared::ui_chat::chat_id(&request), run_id.as_deref()),
                None => None,
            };
            let answer = crate::chats::ChatAnswer::new(gate, &caller, conversation);
            let start = Start {
                upstream,
                caller,
                signer: None,
                sequence: None,
                offset: 0,
                heard: None,
                first,
                question,
                chat,
                answer,
            };
            let headers = dialect.headers();
            let events = relay(client, start, summary, Holding::Reservation(admission), deadline, dialect);
            crate::workflow::with_run_id(sse_response(events, headers), run_id.as_deref())
        }
        Err(error) => {
            if error.before_the_model() {
                admission.release().await;
            }
            failure(error, inline.then_some(dialect.as_mut()), summary)
        }
    }
}

/// The rest of an answer after the event whose id the reader presents: no new model call, and
/// nothing streamed unless the token is this caller's and the answer still exists.
async fn resume(client: &ResponsesClient, gate: &Gate, request: Request, token: &str) -> Response<SseBody> {
    let mut summary = RequestSummary::start("chat-stream", shared::request_id(&request), client.config());
    summary.resumed = true;
    let mut dialect = EventSource;
    let inline = shared::request::wants_inline_errors(&request).then_some(&mut dialect as &mut dyn Dialect);
    if !client.config().resumable {
        let error = ApiError::ResumeTokenInvalid("this deployment does not resume answers (RESUMABLE_STREAMS=false)");
        return failure(error, inline, summary);
    }
    // A resume spends no tokens but takes a request slot: it holds an invocation and polls OpenAI.
    // A sign-in that expired since the question still gets the rest: the resume token proves it.
    let caller = match gate.enter_to_resume(&request).await {
        Ok(pass) => pass.caller,
        Err(error) => return failure(error, inline, summary),
    };
    let position = match client.verify_token(&caller, token).await {
        Ok(position) => position,
        Err(error) => return failure(error, inline, summary),
    };
    summary.response_id = Some(position.response_id.clone());
    let deadline = client.deadline(shared::lambda_deadline(&request));
    let upstream = match client.continue_after(&position, deadline).await {
        Ok(upstream) => upstream,
        Err(error) => return failure(error, inline, summary),
    };
    summary.upstream_status = Some(200);
    let signer = match client.signer(&caller, &position.response_id).await {
        Ok(signer) => signer,
        Err(error) => return failure(error, inline, summary),
    };
    let holding = Holding::taken_over(gate, &position.response_id).await;
    summary.settles_answer = matches!(holding, Holding::Reservation(_));
    let start = Start {
        upstream,
        caller,
        signer: Some(signer),
        sequence: Some(position.sequence),
        offset: position.offset,
        heard: position.heard,
        first: None,
        question: None,
        chat: None,
        answer: None,
    };
    sse_response(relay(client, start, summary, holding, deadline, Box::new(EventSource)), &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use lambda_http::http::header;
    use test_harness::{BrowserEvent, TestUpstream, as_browser_sees, browser_events, get_request, message_data};

    async fn call(upstream: &TestUpstream, request: Request) -> (u16, String, Vec<BrowserEvent>, Vec<u8>) {
        let response = handle(&upstream.client, &upstream.gate, request).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes().to_vec();
        let events = browser_events(&body).await;
        (status, content_type, events, body)
    }

    fn names(events: &[BrowserEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event.as_str()).collect()
    }

    #[tokio::test]
    async fn streams_start_each_delta_and_end() {
        let upstream = TestUpstream::start().await;
        let (status, content_type, events, _) = call(&upstream, get_request("/stub reasoning echo Hi!")).await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/event-stream"));
        assert_eq!(names(&events), ["start", "response", "message", "message", "message", "usage", "end"]);
        assert_eq!(message_data(&events), ["H", "i", "!"]);
        assert_eq!((events[0].data.as_str(), events[6].data.as_str()), ("[START]", "[END]"));
    }

    #[tokio::test]
    async fn tricky_text_reaches_the_browser_exactly() {
        let upstream = TestUpstream::start().await;
        let (_, _, events, _) = call(&upstream, get_request("/stub text=tricky done")).await;
        let expected: Vec<String> = openai_stub::reply::TRICKY_DELTAS.iter().map(|d| as_browser_sees(d)).collect();
        assert_eq!(message_data(&events), expected);
        assert_eq!(names(&events).last(), Some(&"end"));
        assert_eq!(names(&events).iter().filter(|n| **n == "end").count(), 1);
    }

    #[tokio::test]
    async fn failures_after_start_send_error_then_end_and_keep_the_text() {
        let upstream = TestUpstream::start().await;
        for scenario in ["error=flat", "error=nested", "failed", "incomplete"] {
            let (status, _, events, _) =
                call(&upstream, get_request(&format!("/stub {scenario} after=2 echo abcd"))).await;
            assert_eq!(status, 200, "{scenario}");
            assert_eq!(message_data(&events), ["a", "b"], "{scenario}");
            let error = events
                .iter()
                .find(|e| e.event == "error")
                .unwrap_or_else(|| panic!("{scenario}: no error in {events:?}"));
            assert!(!error.data.is_empty());
            assert_eq!(names(&events).last(), Some(&"end"), "{scenario}");
        }
        let (_, _, events, _) = call(&upstream, get_request("/stub incomplete after=1 echo ab")).await;
        assert!(events.iter().any(|e| e.event == "error" && e.data.contains("max_output_tokens")), "{events:?}");
        // One event that cannot be read is skipped; the answer goes on to its end.
        let (_, _, events, _) = call(&upstream, get_request("/stub malformed after=2 echo abcd")).await;
        assert_eq!(message_data(&events).concat(), "abcd");
        assert_eq!(names(&events)[names(&events).len() - 2..], ["usage", "end"], "{events:?}");
        // Complete at `response.completed`, whatever the connection does next.
        let (_, _, events, _) = call(&upstream, get_request("/stub close_badly echo abcd")).await;
        assert_eq!(message_data(&events).concat(), "abcd");
        assert_eq!(names(&events)[names(&events).len() - 2..], ["usage", "end"], "{events:?}");
    }

    #[tokio::test]
    async fn pings_keep_a_silent_stream_open() {
        let upstream = TestUpstream::start_with(&[("HEARTBEAT_INTERVAL_MS", "100")]).await;
        let (status, _, events, body) = call(&upstream, get_request("/stub first_delay_ms=450 echo ok")).await;
        assert_eq!(status, 200);
        let body = String::from_utf8(body).unwrap();
        let pings = body.matches(": ping\n\n").count();
        assert!(pings >= 3, "expected pings while the model was silent: {body}");
        assert!(body.find(": ping").unwrap() < body.find("data: o").unwrap());
        assert_eq!(message_data(&events), ["o", "k"], "pings are invisible to the page");
    }

    #[tokio::test]
    async fn bad_input_never_reaches_upstream() {
        let upstream = TestUpstream::start_with(&[("MAX_MESSAGE_BYTES", "16")]).await;
        let requests = [
            test_harness::get_raw_request(""),
            test_harness::get_raw_request("message=%20"),
            test_harness::get_raw_request("message=%E0%A4%A"),
            test_harness::get_raw_request("message=a%07b"),
            test_harness::get_raw_request(&format!("message={}", "x".repeat(17))),
            test_harness::post_request("{not json"),
            test_harness::post_request(r#"{"message": 7}"#),
            lambda_http::http::Request::put("https://x/?message=hi").body(lambda_http::Body::Empty).unwrap(),
        ];
        for request in requests {
            let (status, _, _, body) = call(&upstream, request).await;
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!((400..500).contains(&status), "{status} {body}");
            assert!(!body["detail"].as_str().unwrap().is_empty());
        }
        assert!(upstream.stub.requests().is_empty());
    }

    #[tokio::test]
    async fn errors_before_start_are_json_or_inline_on_request() {
        let upstream = TestUpstream::start().await;
        let (status, content_type, _, body) = call(&upstream, test_harness::get_raw_request("message=")).await;
        assert_eq!((status, content_type.as_str()), (400, "application/json"));
        assert!(String::from_utf8(body).unwrap().contains("detail"));
        let (status, _, events, _) = call(&upstream, test_harness::get_raw_request("message=&errors=inline")).await;
        assert_eq!(status, 200);
        assert_eq!(names(&events), ["start", "problem", "error", "end"]);
        let problem: serde_json::Value = serde_json::from_str(&events[1].data).unwrap();
        assert_eq!((problem["status"].as_u64(), problem["code"].as_str()), (Some(400), Some("blank_message")));
        assert!(events[2].data.contains("blank"), "{events:?}");
        // Broken encoding elsewhere in the query does not hide `errors=inline`.
        let (status, _, events, _) =
            call(&upstream, test_harness::get_raw_request("message=%E0%A4%A&errors=inline")).await;
        assert_eq!((status, names(&events)), (200, vec!["start", "problem", "error", "end"]));
        let (status, _, _, _) = call(&upstream, get_request("/stub status=500")).await;
        assert_eq!(status, 502);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(feature = "e2e"),
        ignore = "needs Node (dynalite): cargo test --all-features, as scripts/test runs it"
    )]
    async fn limits_refuse_before_start_and_a_finished_stream_settles_its_reservation() {
        let dynamo = test_harness::Dynalite::start().await;
        dynamo.create_limits_table("stream").await;
        let upstream = TestUpstream::start_with(&[("LIMITS_TABLE", "stream")]).await;
        let limits = spend::LimitsConfig { table: Some("stream".into()), rate_per_minute: 1, ..Default::default() };
        // Both requests in one minute whenever the test runs.
        let store =
            spend::Store::with_client("stream".into(), dynamo.client()).with_clock(test_harness::mid_minute_clock());
        let gate = spend::Gate::with_store(limits, store).unwrap();
        let ask = |query: &str| test_harness::request_from("203.0.113.50", query, &[]);
        let response =
            handle(&upstream.client, &gate, ask(&format!("message={}", test_harness::encode("/stub echo ok"))))
                .await
                .unwrap();
        let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        assert_eq!(message_data(&browser_events(&body).await).concat(), "ok");
        // The settled usage is what the upstream reported (input words + 8, one token a delta).
        let store = spend::Store::with_client("stream".into(), dynamo.client());
        let used = store.used(&format!("tokens#ip:203.0.113.50#{}", spend::day_now())).await.unwrap();
        assert_eq!(used, 3 + 8 + 2);
        // Over the limit, as an EventSource page asks: words and a code before any model call.
        let response = handle(&upstream.client, &gate, ask("message=again&errors=inline")).await.unwrap();
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let events = browser_events(&BodyExt::collect(response.into_body()).await.unwrap().to_bytes()).await;
        assert_eq!(names(&events), ["start", "problem", "error", "end"]);
        assert!(
            events[1].data.contains("caller_limit_reached") && events[2].data.contains("1 requests per minute"),
            "{events:?}"
        );
        assert_eq!(upstream.stub.requests().len(), 1);
    }

    #[tokio::test]
    async fn inline_errors_keep_retry_after_and_conversation_errors_are_4xx() {
        let upstream = TestUpstream::start_with(&[("OPENAI_MAX_RETRIES", "0")]).await;
        let inline = |message: &str| {
            test_harness::get_raw_request(&format!("message={}&errors=inline", test_harness::encode(message)))
        };
        let response =
            handle(&upstream.client, &upstream.gate, inline("/stub status=429 retry_after=7")).await.unwrap();
        assert_eq!((response.status().as_u16(), response.headers()[header::RETRY_AFTER].to_str().unwrap()), (200, "7"));
        for (code, status) in [("context_length_exceeded", 400), ("previous_response_not_found", 404)] {
            let (got, content_type, _, body) =
                call(&upstream, get_request(&format!("/stub status=400 code={code}"))).await;
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (got, content_type.as_str(), body["code"].as_str()),
                (status, "application/json", Some(code)),
                "{body}"
            );
            assert!(body["detail"].as_str().unwrap().contains("new chat"), "{body}");
            let (_, _, events, _) = call(&upstream, inline(&format!("/stub status=400 code={code}"))).await;
            let problem: serde_json::Value = serde_json::from_str(&events[1].data).unwrap();
            assert_eq!(problem["code"].as_str(), Some(code), "{events:?}");
        }
    }
}

//! Property tests (proptest) of the two places that take arbitrary input: the SSE writer, whose
//! output a browser must read back exactly, and request parsing (the AI SDK's too), which must
//! never panic.

// Test code: a failed unwrap is a failed test, which is the point of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use lambda_http::Body;
use proptest::prelude::*;
use shared::SseEncoder;

/// Reads SSE bytes the way a browser's EventSource does, chunked at arbitrary points.
fn browser_read(bytes: Vec<u8>, chunk: usize) -> Vec<(String, String)> {
    let chunks: Vec<Result<bytes::Bytes, std::convert::Infallible>> =
        bytes.chunks(chunk.max(1)).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let events = futures_util::stream::iter(chunks).eventsource().map(|e| {
        let e = e.expect("valid SSE");
        (e.event, e.data)
    });
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(events.collect())
}

fn text_strategy() -> impl Strategy<Value = String> {
    // Plenty of line breaks and SSE syntax among arbitrary Unicode.
    let piece = prop_oneof![
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("\r\n".to_owned()),
        Just("data: ".to_owned()),
        Just("event: end".to_owned()),
        Just(": ".to_owned()),
        Just("id: 1".to_owned()),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

/// Messages worth trying: plain words, blanks, controls, multi-byte text, query syntax.
fn message_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z]{1,6}",
        Just(" ".to_owned()),
        Just("&=+%#?".to_owned()),
        Just("\n\t".to_owned()),
        Just("\u{7}".to_owned()),
        Just("café 日本".to_owned()),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
}

/// `application/x-www-form-urlencoded`, as `URLSearchParams` writes it.
fn form_encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string().replace("%20", "+")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_delta_reaches_the_browser_exactly(deltas in prop::collection::vec(text_strategy(), 0..6), chunk in 1usize..64) {
        let sse = SseEncoder;
        let mut bytes = sse.start().to_vec();
        for delta in &deltas {
            bytes.extend_from_slice(&sse.text(delta));
            bytes.extend_from_slice(&sse.ping());
        }
        bytes.extend_from_slice(&sse.named("error", "x\ny"));
        bytes.extend_from_slice(&sse.end());
        let events = browser_read(bytes, chunk);
        let mut expected = vec![("start".to_owned(), "[START]".to_owned())];
        expected.extend(deltas.iter().map(|d| ("message".to_owned(), d.replace("\r\n", "\n").replace('\r', "\n"))));
        expected.push(("error".to_owned(), "x\ny".to_owned()));
        expected.push(("end".to_owned(), "[END]".to_owned()));
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn an_encoded_query_gives_back_its_message_or_the_right_refusal(
        message in prop::option::weighted(0.9, message_strategy()),
        others in prop::collection::vec((prop_oneof![Just("errors"), Just("x"), Just("message")], message_strategy()), 0..3),
        message_first in any::<bool>(),
    ) {
        // Valid URIs with interesting values, encoded as a browser's URLSearchParams would
        // (spaces as `+`), so the one real property, "the message comes back exactly", runs.
        let mut pairs: Vec<(&str, String)> = others.clone();
        if let Some(message) = &message {
            pairs.insert(if message_first { 0 } else { pairs.len() }, ("message", message.clone()));
        }
        let query: Vec<String> = pairs.iter().map(|(name, value)| format!("{name}={}", form_encode(value))).collect();
        let request = lambda_http::http::Request::get(format!("https://x/?{}", query.join("&"))).body(Body::Empty).expect("a valid URI");
        let first = pairs.iter().find(|(name, _)| *name == "message").map(|(_, value)| value.clone());
        match (shared::request::chat_request(&request, 32), first) {
            (Ok(chat), Some(expected)) => prop_assert_eq!(chat.message, expected),
            (Err(error), Some(expected)) => {
                let refused = expected.len() > 32 || expected.trim().is_empty()
                    || expected.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
                prop_assert!(refused, "{expected:?} refused: {error}");
                prop_assert!(error.status().is_client_error());
            }
            (outcome, None) => prop_assert_eq!(outcome.map(|c| c.message), Err(chat_core::ApiError::MissingMessage)),
        }
    }

    #[test]
    fn a_raw_query_as_curl_sends_it_never_panics(raw in "[a-z=&%+ \"<>\t\u{7f}\u{0}{|}^`é\\#]{0,40}") {
        // The production path: the Function URL event, made URI-safe, turned into a request by
        // lambda_http (which panics on a URI it cannot build), then validated.
        let event = serde_json::json!({
            "version": "2.0", "rawPath": "/", "rawQueryString": format!("message={raw}"), "headers": {"host": "x.lambda-url.us-east-1.on.aws"},
            "requestContext": {"http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "curl"},
                "accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws", "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0},
            "isBase64Encoded": false,
        }).to_string();
        let safe = shared::runtime::event_with_safe_uri(event.as_bytes()).map_or(event.clone(), |b| String::from_utf8(b.to_vec()).expect("UTF-8"));
        let request = lambda_http::request::from_str(&safe).expect("a Function URL event");
        match shared::request::chat_request(&request, 32) {
            Ok(chat) => {
                prop_assert!(!chat.message.trim().is_empty() && chat.message.len() <= 32);
                if !raw.contains(['%', '+', '&', '#']) {
                    prop_assert_eq!(chat.message, raw, "the raw text comes back as sent");
                }
            }
            Err(error) => prop_assert!(error.status().is_client_error(), "{error}"),
        }
    }

    #[test]
    fn any_post_body_is_parsed_or_refused_without_panicking(body in prop::collection::vec(any::<u8>(), 0..96), json in "\\{\"message\": ?(\"[^\"]{0,20}\"|[0-9]+|null|\\[\\]|\\{\\})\\}") {
        let sent_message = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|value| value["message"].as_str().map(str::to_owned))
            .filter(|m| !m.trim().is_empty() && m.len() <= 32 && !m.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')));
        for (body, is_json) in [(Body::Binary(body), false), (Body::Text(json), true)] {
            let request = lambda_http::http::Request::post("https://x/").body(body).expect("request");
            match shared::request::chat_request(&request, 32) {
                Ok(chat) => {
                    prop_assert!(!chat.message.trim().is_empty() && chat.message.len() <= 32, "{:?}", chat.message);
                    if is_json {
                        prop_assert_eq!(Some(chat.message), sent_message.clone(), "a JSON message comes back as sent");
                    }
                }
                Err(error) => {
                    prop_assert!(error.status().is_client_error(), "{error}");
                    prop_assert!(!is_json || sent_message.is_none(), "{:?} refused: {error}", sent_message);
                }
            }
        }
    }

    #[test]
    fn any_ai_sdk_body_is_parsed_or_refused_with_a_4xx(
        roles in prop::collection::vec("(user|assistant|user|assistant|system|tool|)", 0..7),
        texts in prop::collection::vec("[a-z \u{0}\u{7}\n\u{a0}é]{0,16}", 0..7),
        kinds in prop::collection::vec("(text|text|text|file|reasoning|step-start|data-x)", 0..7),
        previous in "(resp_1|../x| |)",
    ) {
        let messages: Vec<serde_json::Value> = roles.iter().zip(texts.iter().chain(std::iter::repeat(&String::new())))
            .zip(kinds.iter().chain(std::iter::repeat(&"text".to_owned())))
            .map(|((role, text), kind)| serde_json::json!({ "role": role, "parts": [{ "type": kind, "text": text }] }))
            .collect();
        let body = serde_json::json!({ "messages": messages, "previous_response_id": previous }).to_string();
        let request = lambda_http::http::Request::post("https://x/").body(Body::Text(body)).expect("request");
        prop_assert!(shared::ui_chat::asks(&request));
        // A message of at most 4 bytes and a history of at most 32: bounds these bodies often pass.
        match shared::ui_chat::chat_request(&request, 4) {
            Ok(chat) => {
                prop_assert!(!chat.message.trim().is_empty() && chat.message.len() <= 4);
                prop_assert!(chat.earlier.iter().map(|t| t.text.len()).sum::<usize>() <= 4 * shared::ui_chat::HISTORY_MESSAGES);
            }
            Err(error) => prop_assert!(error.status().is_client_error(), "{error}"),
        }
    }
}

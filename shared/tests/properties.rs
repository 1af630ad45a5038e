//! Property tests (proptest) of the two places that take arbitrary input: the SSE writer, whose
//! output a browser must read back exactly, and request parsing, which must never panic.

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use lambda_http::Body;
use proptest::prelude::*;
use shared::{ChatRequest, SseEncoder};

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
    fn any_query_string_is_parsed_or_refused_without_panicking(query in "[a-z=&%0-9A-F+\\PC]{0,64}") {
        let request = lambda_http::http::Request::get(format!("https://x/?{}", query.replace(' ', "%20").replace('#', "%23")));
        if let Ok(request) = request.body(Body::Empty) {
            if let Ok(chat) = ChatRequest::from_http(&request, 32) {
                prop_assert!(!chat.message.trim().is_empty() && chat.message.len() <= 32);
            }
        }
    }

    #[test]
    fn any_post_body_is_parsed_or_refused_without_panicking(body in prop::collection::vec(any::<u8>(), 0..96), json in "\\{\"message\": ?(\"[^\"]{0,20}\"|[0-9]+|null|\\[\\]|\\{\\})\\}") {
        for body in [Body::Binary(body), Body::Text(json)] {
            let request = lambda_http::http::Request::post("https://x/").body(body).expect("request");
            let _ = ChatRequest::from_http(&request, 32);
        }
    }
}

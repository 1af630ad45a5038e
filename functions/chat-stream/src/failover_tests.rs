//! Failover on a stream: the primary down before anything reached the reader, the fallback
//! answers and says so in `event: response`; a resume and a stop of that answer reach the
//! fallback, and only it.

use bytes::Bytes;
use e2e::{BrowserEvent, TEST_KEY, browser_events, client_for, message_data};
use http_body_util::BodyExt;
use lambda_http::{Body, Request, http};
use openai_client::ResponsesClient;
use openai_stub::StubServer;
use spend::Gate;

use crate::handler::handle;

async fn whole(client: &ResponsesClient, request: Request) -> (u16, Vec<BrowserEvent>, Bytes) {
    let response = handle(client, &Gate::open(), request).await.unwrap();
    let status = response.status().as_u16();
    let body = BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, browser_events(&body).await, body)
}

#[tokio::test]
async fn a_stream_the_primary_cannot_take_is_answered_resumed_and_stopped_at_the_fallback() {
    let (primary, fallback) = (StubServer::start().await.unwrap(), StubServer::start().await.unwrap());
    primary.state.expected_key.write().unwrap().replace(TEST_KEY.to_owned());
    let url = fallback.base_url();
    let vars =
        [("FALLBACK_BASE_URL", url.as_str()), ("FALLBACK_API_KEY", "sk-fb-7e1d"), ("FALLBACK_MODEL", "gpt-6-sol")];
    let client = client_for(&primary, &vars);
    primary.fail_every_create(Some((503, None)));

    let ask = e2e::request_from("192.0.2.61", &format!("message={}", e2e::encode("/stub text=tricky done")), &[]);
    let (status, events, _) = whole(&client, ask).await;
    assert_eq!(status, 200);
    let response = events.iter().find(|e| e.event == "response").expect("a response event");
    let data: serde_json::Value = serde_json::from_str(&response.data).unwrap();
    assert_eq!(data["model"], "gpt-6-sol", "{data}");
    let id = data["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("fb-resp_"), "{id}");
    assert!(events.iter().any(|e| e.event == "end"));
    let answer = message_data(&events).concat();

    // A reconnect from the third delta gets the rest from the fallback; the primary is not asked.
    let primary_calls = primary.requests().len();
    let messages: Vec<&BrowserEvent> = events.iter().filter(|e| e.event == "message").collect();
    let resume = e2e::request_from("192.0.2.61", "", &[("last-event-id", messages[2].id.as_str())]);
    let (status, resumed, _) = whole(&client, resume).await;
    assert_eq!(status, 200);
    let before: String = messages[..=2].iter().map(|e| e.data.as_str()).collect();
    assert_eq!(format!("{before}{}", message_data(&resumed).concat()), answer);
    assert!(fallback.retrieves().iter().all(|r| !r.id.starts_with("fb-")), "the fallback hears its own ids");
    assert!(!fallback.retrieves().is_empty() && primary.retrieves().is_empty());

    // A stop by that id asks the fallback only (the answer has finished: nothing to cancel).
    let fallback_reads = fallback.retrieves().len();
    let stop = http::Request::post("https://lambda-url.local/stop")
        .header("content-type", "application/json")
        .body(Body::Text(format!(r#"{{"response_id":"{id}"}}"#)))
        .unwrap();
    let (status, _, body) = whole(&client, stop).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let read = fallback.retrieves();
    assert_eq!(read.len(), fallback_reads + 1);
    assert_eq!(Some(read[fallback_reads].id.as_str()), id.strip_prefix("fb-"));
    assert!(
        primary.retrieves().is_empty() && primary.cancels().is_empty() && primary.requests().len() == primary_calls
    );
}

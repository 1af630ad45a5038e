//! Resuming and stopping background answers through `cargo lambda watch`, over real sockets,
//! with limits on against dynalite so what each answer really used is checked where it is kept.
//!
//! One watch for the whole file (starting it is slow), so the parts run in order inside one
//! test, each bounded in time: a reader whose connection is reset mid-answer and reconnects
//! with `Last-Event-ID`; a Stop mid-answer; forged and stale tokens.

use std::time::{Duration, Instant};

use openai_stub::scenario::Scenario;
use openai_stub::{StubServer, StubState};
use serde_json::Value;
use test_harness::{BrowserEvent, Dynalite, LambdaWatch, TEST_KEY, browser_events, encode, message_data};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The caller `cargo lambda watch` reports for a loopback client (its `sourceIp`).
const CALLER: &str = "ip:127.0.0.1";
const TABLE: &str = "limits";
/// Every part of the test, and every read inside one, ends within this.
const PART_LIMIT: Duration = Duration::from_secs(90);
const READ_LIMIT: Duration = Duration::from_secs(20);

struct Setup {
    stub: StubServer,
    dynamo: Dynalite,
    watch: LambdaWatch,
    http: reqwest::Client,
}

impl Setup {
    fn stream_url(&self) -> String {
        self.watch.url("chat-stream")
    }

    /// The caller's tokens today, as the limits table holds them.
    async fn tokens_used(&self) -> u64 {
        let store = spend::Store::with_client(TABLE.into(), self.dynamo.client());
        store.used(&format!("tokens#{CALLER}#{}", spend::day_now())).await.expect("read the limits table")
    }

    /// Waits (bounded) until the caller's tokens are `expected`: a settlement may land just
    /// after the stream that carried it ended. Returns what was last read.
    async fn tokens_become(&self, expected: u64) -> u64 {
        let started = Instant::now();
        loop {
            let used = self.tokens_used().await;
            if used == expected || started.elapsed() > Duration::from_secs(15) {
                return used;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The stand-in's answer to `prompt`, exactly.
fn expected_text(prompt: &str) -> String {
    openai_stub::reply::deltas(prompt, &Scenario::parse(prompt)).concat()
}

fn names(events: &[BrowserEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

fn response_id(events: &[BrowserEvent]) -> String {
    let response =
        events.iter().find(|e| e.event == "response").unwrap_or_else(|| panic!("no response event: {events:?}"));
    serde_json::from_str::<Value>(&response.data).expect("response JSON")["id"].as_str().expect("an id").to_owned()
}

/// An HTTP/1.1 GET over a bare socket, so the test decides how the connection ends.
struct RawGet {
    socket: TcpStream,
    raw: Vec<u8>,
}

impl RawGet {
    async fn open(base_url: &str, path: &str) -> Self {
        let host = base_url.trim_start_matches("http://");
        let mut socket = TcpStream::connect(host).await.expect("connect to the watch");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.expect("send the request");
        Self { socket, raw: Vec::new() }
    }

    /// The events received so far: the body after the head, de-chunked, up to the last
    /// complete event (a browser dispatches nothing of an event cut in half).
    async fn events(&self) -> Vec<BrowserEvent> {
        let Some(head_end) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else { return Vec::new() };
        let head = String::from_utf8_lossy(&self.raw[..head_end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        let body = &self.raw[head_end + 4..];
        let body = if head.contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_vec() };
        let complete = body.windows(2).rposition(|w| w == b"\n\n").map_or(0, |at| at + 2);
        browser_events(&body[..complete]).await
    }

    /// Reads until `enough` holds for the events so far; panics after READ_LIMIT or at EOF.
    async fn read_until(&mut self, enough: impl Fn(&[BrowserEvent]) -> bool) -> Vec<BrowserEvent> {
        let started = Instant::now();
        let mut buffer = [0u8; 8192];
        loop {
            let events = self.events().await;
            if enough(&events) {
                return events;
            }
            let left = READ_LIMIT
                .checked_sub(started.elapsed())
                .unwrap_or_else(|| panic!("not enough events in time: {events:?}"));
            let n = timeout(left, self.socket.read(&mut buffer)).await.expect("read in time").expect("read");
            assert!(n > 0, "the stream ended early: {events:?}");
            self.raw.extend_from_slice(&buffer[..n]);
        }
    }

    /// Aborts the connection: SO_LINGER 0, then close, sends RST instead of FIN.
    fn reset(self) {
        self.socket.set_zero_linger().expect("SO_LINGER 0");
        drop(self.socket);
    }
}

/// The payload of the complete chunks of a chunked body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else { break };
        let start = line_end + 2;
        if size == 0 || body.len() < start + size + 2 {
            break;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// A reader of a live answer, and what the limits table and the stand-in held before it asked.
struct Asked {
    reader: RawGet,
    events: Vec<BrowserEvent>,
    prompt: &'static str,
    creates_before: usize,
    tokens_before: u64,
}

/// Asks and reads until `messages` deltas arrived while the answer still streams. The emulator
/// sends the first answer of a fresh instance whole, at its end; when that happens, the next
/// prompt is asked (on an instance that now streams), so the cut is always mid-answer.
async fn ask_mid_answer(setup: &Setup, prompts: [&'static str; 2], messages: usize) -> Asked {
    for prompt in prompts {
        let total = openai_stub::reply::deltas(prompt, &Scenario::parse(prompt)).len();
        let (creates_before, tokens_before) = (setup.stub.requests().len(), setup.tokens_used().await);
        let mut reader =
            RawGet::open(&setup.watch.base_url, &format!("/lambda-url/chat-stream?message={}", encode(prompt))).await;
        let events = reader.read_until(|events| message_data(events).len() >= messages).await;
        if message_data(&events).len() < total / 2 && !names(&events).contains(&"end") {
            return Asked { reader, events, prompt, creates_before, tokens_before };
        }
        println!("{prompt}: the emulator sent the answer whole (a fresh instance); asking again");
        reader.read_until(|events| names(events).contains(&"end")).await;
    }
    panic!("every answer came whole: the emulator did not stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_and_stop_under_cargo_lambda_watch() {
    let stub = StubServer::start_with(StubState::new(Duration::from_millis(15), None), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in");
    let dynamo = Dynalite::start().await;
    dynamo.create_limits_table(TABLE).await;
    let base_url = stub.base_url();
    let env = [("OPENAI_BASE_URL", base_url.as_str()), ("OPENAI_API_KEY", TEST_KEY), ("RATE_LIMIT_PER_MINUTE", "100")];
    let watch = LambdaWatch::start_with_limits(&env, &dynamo, TABLE).await;
    watch.warm_up().await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let setup = Setup { stub, dynamo, watch, http };
    assert_eq!(setup.tokens_used().await, 0);

    let started = Instant::now();
    let token =
        timeout(PART_LIMIT, a_reader_reset_mid_answer_gets_exactly_the_rest(&setup)).await.expect("part a in time");
    println!("part a (reset, resume): {:?}", started.elapsed());
    let started = Instant::now();
    timeout(PART_LIMIT, stop_mid_answer_cancels_upstream_and_settles_what_was_used(&setup))
        .await
        .expect("part b in time");
    println!("part b (stop): {:?}", started.elapsed());
    let started = Instant::now();
    timeout(PART_LIMIT, forged_and_stale_tokens_are_refused_before_anything_streams(&setup, &token))
        .await
        .expect("part c in time");
    println!("part c (forged, stale): {:?}", started.elapsed());
    let log = setup.watch.log();
    assert!(!log.contains(TEST_KEY), "the key leaked into the log");
}

/// (a) The connection is reset, not closed, after ~10 deltas; a reconnect with the last id
/// gets exactly the rest, from the answer already running: one model call in all, settled once
/// to its real usage. Returns a token of that answer.
async fn a_reader_reset_mid_answer_gets_exactly_the_rest(setup: &Setup) -> String {
    let Asked { reader, events, prompt, creates_before, tokens_before } =
        ask_mid_answer(setup, ["/stub deltas=80 delay_ms=15", "/stub deltas=81 delay_ms=15"], 10).await;
    reader.reset();
    let expected = expected_text(prompt);
    let id = response_id(&events);
    let last = events.iter().rposition(|e| e.event == "message").expect("a message");
    let had = message_data(&events[..=last]).concat();
    let token = events[last].id.clone();
    assert!(!token.is_empty() && had.len() < expected.len() / 2, "cut mid-answer, after {had:?}");

    let response = setup.http.get(setup.stream_url()).header("Last-Event-ID", &token).send().await.expect("resume");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = timeout(READ_LIMIT, response.bytes()).await.expect("the rest in time").expect("body");
    let resumed = browser_events(&body).await;
    assert_eq!((names(&resumed).first(), names(&resumed).last()), (Some(&"start"), Some(&"end")), "{resumed:?}");
    assert!(!names(&resumed).contains(&"error") && !names(&resumed).contains(&"response"), "{resumed:?}");
    assert_eq!(had + &message_data(&resumed).concat(), expected, "before + after is the answer, byte for byte");
    assert_eq!(setup.stub.requests().len(), creates_before + 1, "exactly one create: the resume asked no model");
    assert!(
        setup.stub.retrieves().iter().any(|r| r.id == id && r.stream),
        "the rest was streamed again from the answer: {:?}",
        setup.stub.retrieves()
    );
    let usage: Value =
        serde_json::from_str(&resumed.iter().find(|e| e.event == "usage").expect("usage").data).expect("usage JSON");
    let total = usage["total_tokens"].as_u64().expect("total_tokens");
    // The reset invocation's reservation settles to what the answer really used, once.
    let settled = tokens_before + total;
    assert_eq!(setup.tokens_become(settled).await, settled, "the reader that left settled its answer's usage");
    token
}

/// (b) `POST /stop` mid-answer: 200 with the usage, the reader's stream ends `stopped`, `end`,
/// the stand-in was cancelled and generates nothing more, and the counter holds that usage.
async fn stop_mid_answer_cancels_upstream_and_settles_what_was_used(setup: &Setup) {
    assert_eq!(setup.stub.cancels(), Vec::<String>::new());
    let Asked { mut reader, events, tokens_before, .. } =
        ask_mid_answer(setup, ["/stub deltas=400 delay_ms=15", "/stub deltas=401 delay_ms=15"], 5).await;
    let id = response_id(&events);

    let stop = setup
        .http
        .post(format!("{}/stop", setup.stream_url()))
        .json(&serde_json::json!({ "response_id": id }))
        .send()
        .await
        .expect("stop");
    assert_eq!(stop.status(), 200);
    let stopped: Value = stop.json().await.expect("stop JSON");
    assert_eq!(stopped["stopped"].as_str(), Some(id.as_str()), "{stopped}");
    let total = stopped["usage"]["total_tokens"].as_u64().unwrap_or_else(|| panic!("no usage: {stopped}"));

    // The reader's stream ends soon after the stop (read_until is bounded in time).
    let all = reader.read_until(|events| names(events).contains(&"end")).await;
    assert_eq!(names(&all)[names(&all).len() - 2..], ["stopped", "end"], "{:?}", names(&all));
    let event: Value = serde_json::from_str(&all[all.len() - 2].data).expect("stopped JSON");
    assert_eq!(event["response_id"].as_str(), Some(id.as_str()), "{event}");
    assert_eq!(event["usage"]["total_tokens"].as_u64(), Some(total), "{event}");

    let generated = setup.stub.deltas_generated(&id).expect("the stand-in kept the answer");
    assert!(
        generated < 200 && message_data(&all).len() <= generated,
        "{generated} generated, {} read",
        message_data(&all).len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(setup.stub.deltas_generated(&id), Some(generated), "nothing is generated after the stop");
    assert_eq!(setup.stub.status(&id).as_deref(), Some("cancelled"));
    assert_eq!(setup.stub.cancels(), vec![id.clone()]);
    let settled = tokens_before + total;
    assert_eq!(setup.tokens_become(settled).await, settled, "the stopped answer settled its real usage");
}

/// (c) A forged token is 403, a well-signed one for an answer OpenAI does not have is 404:
/// JSON with a detail, whether sent as `Last-Event-ID` or `?last_event_id=`, and no model call.
async fn forged_and_stale_tokens_are_refused_before_anything_streams(setup: &Setup, token: &str) {
    let creates = setup.stub.requests().len();
    let last = token.chars().last().expect("a token");
    let forged = format!("{}{}", &token[..token.len() - last.len_utf8()], if last == 'x' { 'y' } else { 'x' });
    let signer = test_harness::client_for(&setup.stub, &[])
        .signer(CALLER, "resp_unknown")
        .await
        .expect("a signer with the functions' key");
    let stale = signer.token(3, 1);
    for (token, status, code) in
        [(forged.as_str(), 403, "resume_token_invalid"), (stale.as_str(), 404, "response_not_found")]
    {
        let as_header = setup.http.get(setup.stream_url()).header("Last-Event-ID", token);
        let as_query = setup.http.get(format!("{}?last_event_id={}", setup.stream_url(), encode(token)));
        for request in [as_header, as_query] {
            let response = request.send().await.expect("resume");
            assert_eq!(response.status(), status, "{token}");
            assert_eq!(response.headers()["content-type"], "application/json", "nothing streamed for {token}");
            let body: Value = timeout(READ_LIMIT, response.json()).await.expect("in time").expect("a JSON error");
            assert_eq!(body["code"].as_str(), Some(code), "{body}");
            assert!(!body["detail"].as_str().unwrap_or_default().is_empty(), "{body}");
        }
    }
    assert_eq!(setup.stub.requests().len(), creates, "no refused resume asked the model");
}

//! The HTTP side of the stand-in: the routes a Rust Lambda runtime (lambda_runtime 1.5) calls,
//! answered as AWS answers them, and what each invocation's answer was, recorded as it arrived.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

use super::{Chunk, Invocation, InvocationError};

/// The deadline each invocation is given, as `Lambda-Runtime-Deadline-Ms` (the template's
/// chat functions run for up to 300 s).
const DEADLINE: Duration = Duration::from_secs(300);

/// What separates the JSON prelude of a streamed answer from its body (lambda_runtime's
/// `requests.rs`: `"\u{0}".repeat(8)`).
const PRELUDE_END: &[u8] = &[0; 8];

/// lambda_runtime 1.5 reports an error in the middle of a stream as a body chunk holding these
/// "trailer" lines (`types.rs`, `to_tailer`), not as real HTTP trailers.
const IN_BAND_ERROR: &[u8] = b"Lambda-Runtime-Function-Error-Type:";

/// One event waiting for the function's next poll.
pub(super) struct Queued {
    pub id: String,
    pub event: Value,
}

/// An invocation handed out and not yet answered.
struct Pending {
    invoked_at: Instant,
    handed_out_at: Option<Instant>,
    reply: oneshot::Sender<Invocation>,
}

/// State shared by the routes and the [`super::RuntimeApi`] that owns them.
pub(super) struct Shared {
    pub function_name: Mutex<String>,
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    pending: Mutex<HashMap<String, Pending>>,
    /// The first `next` poll since the last spawn: the end of the function's init.
    pub first_poll: Mutex<Option<Instant>>,
    pub polled: Notify,
    pub init_error: Mutex<Option<String>>,
    counter: AtomicU64,
    /// How long each invocation may run (`Lambda-Runtime-Deadline-Ms`).
    pub deadline: Mutex<Duration>,
}

/// A poisoned lock only means a test assertion failed elsewhere; the data is still usable.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            function_name: Mutex::new("function".into()),
            queue: Mutex::default(),
            queued: Notify::new(),
            pending: Mutex::default(),
            first_poll: Mutex::default(),
            deadline: Mutex::new(DEADLINE),
            polled: Notify::new(),
            init_error: Mutex::default(),
            counter: AtomicU64::new(1),
        })
    }

    /// Queues `event` for the next poll; the receiver gets the answer once it is complete.
    pub fn enqueue(&self, event: Value) -> (String, oneshot::Receiver<Invocation>) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // Shaped like AWS's request ids (a UUID), unique within the test process.
        let id = format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n);
        let (reply, receiver) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), Pending { invoked_at: Instant::now(), handed_out_at: None, reply });
        lock(&self.queue).push_back(Queued { id: id.clone(), event });
        self.queued.notify_waiters();
        (id, receiver)
    }

    /// Forgets an invocation the caller gave up on, so a later process is not handed it.
    pub fn cancel(&self, id: &str) -> Option<(Instant, Option<Instant>)> {
        lock(&self.queue).retain(|q| q.id != id);
        lock(&self.pending).remove(id).map(|p| (p.invoked_at, p.handed_out_at))
    }

    /// Waits for the next queued event (the long poll of `GET .../invocation/next`).
    async fn next_event(&self) -> Queued {
        loop {
            // Registered before looking at the queue, so a push in between still wakes us.
            let notified = self.queued.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(queued) = lock(&self.queue).pop_front() {
                return queued;
            }
            notified.await;
        }
    }

    /// Delivers the recorded answer to whoever invoked.
    fn finish(&self, id: &str, fill: impl FnOnce(&mut Invocation)) -> bool {
        let Some(pending) = lock(&self.pending).remove(id) else { return false };
        let mut invocation = Invocation::empty(id, pending.invoked_at);
        invocation.handed_out_at = pending.handed_out_at;
        fill(&mut invocation);
        invocation.finished_at = Instant::now();
        let _ = pending.reply.send(invocation);
        true
    }
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared)
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let polled_at = Instant::now();
    lock(&shared.first_poll).get_or_insert(polled_at);
    shared.polled.notify_waiters();
    let queued = shared.next_event().await;
    if let Some(pending) = lock(&shared.pending).get_mut(&queued.id) {
        pending.handed_out_at = Some(Instant::now());
    }
    let name = lock(&shared.function_name).clone();
    let deadline = (SystemTime::now() + *lock(&shared.deadline))
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut response = Response::new(Body::from(queued.event.to_string()));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", queued.id.clone());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set("lambda-runtime-invoked-function-arn", format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"));
    let trace = queued.id.replace('-', "");
    set("lambda-runtime-trace-id", format!("Root=1-{}-{};Parent={};Sampled=0", &trace[..8], &trace[8..], &trace[16..]));
    response
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("streaming"));
    let filled = if streaming {
        let answer = read_streamed(body).await;
        shared.finish(&id, |inv| answer.fill(inv))
    } else {
        let bytes = body.collect().await.map(|b| b.to_bytes());
        shared.finish(&id, |inv| fill_buffered(inv, bytes))
    };
    accepted(filled)
}

async fn error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let kind = headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let diagnostic: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let error_type = diagnostic["errorType"].as_str().map(str::to_owned).unwrap_or(kind);
    let message = diagnostic["errorMessage"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    let filled = shared.finish(&id, |inv| inv.error = Some(InvocationError::Reported { error_type, message }));
    accepted(filled)
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    *lock(&shared.init_error) = Some(String::from_utf8_lossy(&body).into_owned());
    accepted(true)
}

/// AWS answers 202 `{"status":"OK"}`, or 400 for a request id it does not know.
fn accepted(known: bool) -> Response {
    if known {
        (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
    } else {
        let body = json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"});
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    }
}

/// A streamed answer as it came in: the prelude, then each body chunk with its arrival time.
#[derive(Default)]
struct Streamed {
    prelude: Option<Value>,
    prelude_at: Option<Instant>,
    chunks: Vec<Chunk>,
    error: Option<InvocationError>,
}

impl Streamed {
    fn fill(self, invocation: &mut Invocation) {
        invocation.streaming = true;
        invocation.prelude_at = self.prelude_at;
        if let Some(prelude) = &self.prelude {
            invocation.status = prelude["statusCode"].as_u64().map(|s| s as u16);
            invocation.headers = headers_from_json(&prelude["headers"]);
            invocation.cookies = strings(&prelude["cookies"]);
        }
        invocation.body = self.chunks.iter().flat_map(|c| c.bytes.iter().copied()).collect();
        invocation.chunks = self.chunks;
        invocation.error = self.error.or_else(|| {
            self.prelude
                .is_none()
                .then(|| InvocationError::Malformed("a streamed answer without its prelude and 8 NUL bytes".into()))
        });
    }
}

/// Reads a `Lambda-Runtime-Function-Response-Mode: streaming` body frame by frame, noting when
/// each frame arrived: this is where the tests see a delta held back by the sender.
async fn read_streamed(mut body: Body) -> Streamed {
    let mut answer = Streamed::default();
    let mut head = Vec::new();
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                answer.error = Some(InvocationError::Incomplete(format!("the streamed answer broke off: {e}")));
                break;
            }
        };
        let at = Instant::now();
        let frame = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Some(trailers) = frame.trailers_ref() {
                    answer.error = answer.error.take().or_else(|| error_from_trailers(trailers));
                }
                continue;
            }
        };
        let data = if answer.prelude.is_some() {
            frame
        } else {
            head.extend_from_slice(&frame);
            let Some(end) = head.windows(PRELUDE_END.len()).position(|w| w == PRELUDE_END) else { continue };
            match serde_json::from_slice(&head[..end]) {
                Ok(prelude) => answer.prelude = Some(prelude),
                Err(e) => answer.error = Some(InvocationError::Malformed(format!("the prelude is not JSON: {e}"))),
            }
            answer.prelude_at = Some(at);
            let rest = Bytes::copy_from_slice(&head[end + PRELUDE_END.len()..]);
            answer.prelude.get_or_insert(Value::Null);
            rest
        };
        if data.starts_with(IN_BAND_ERROR) {
            answer.error = Some(in_band_error(&data));
        } else if !data.is_empty() {
            answer.chunks.push(Chunk { at, bytes: data });
        }
    }
    answer
}

fn error_from_trailers(trailers: &HeaderMap) -> Option<InvocationError> {
    let error_type = trailers.get("lambda-runtime-function-error-type")?.to_str().ok()?.to_owned();
    let body = trailers.get("lambda-runtime-function-error-body").and_then(|v| v.to_str().ok()).unwrap_or("");
    let message =
        base64_decode(body).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_else(|| body.to_owned());
    Some(InvocationError::StreamError { error_type, message })
}

fn in_band_error(data: &[u8]) -> InvocationError {
    let mut trailers = HeaderMap::new();
    for line in String::from_utf8_lossy(data).split("\r\n") {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) =
                (name.trim().to_ascii_lowercase().parse::<http::HeaderName>(), HeaderValue::from_str(value.trim()))
        {
            trailers.insert(name, value);
        }
    }
    error_from_trailers(&trailers)
        .unwrap_or_else(|| InvocationError::Malformed(String::from_utf8_lossy(data).into_owned()))
}

/// A buffered answer: API Gateway v2 / Function URL JSON, as lambda_http serialises it.
fn fill_buffered(invocation: &mut Invocation, bytes: Result<Bytes, axum::Error>) {
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(e) => return invocation.error = Some(InvocationError::Incomplete(format!("the answer broke off: {e}"))),
    };
    let json: Value = match serde_json::from_slice(&bytes) {
        Ok(json) => json,
        Err(e) => return invocation.error = Some(InvocationError::Malformed(format!("the answer is not JSON: {e}"))),
    };
    // A function may return any JSON; only an HTTP-shaped answer has a status.
    invocation.status = json["statusCode"].as_u64().map(|s| s as u16);
    let mut headers = headers_from_json(&json["multiValueHeaders"]);
    headers.extend(headers_from_json(&json["headers"]));
    invocation.headers = headers;
    invocation.cookies = strings(&json["cookies"]);
    let body = json["body"].as_str().unwrap_or_default();
    invocation.body = if json["isBase64Encoded"].as_bool() == Some(true) {
        base64_decode(body).unwrap_or_else(|| {
            invocation.error = Some(InvocationError::Malformed("isBase64Encoded but the body is not base64".into()));
            Vec::new()
        })
    } else {
        body.as_bytes().to_vec()
    };
}

/// `{"name": "value"}` or `{"name": ["v1", "v2"]}` (http_serde's header map) as a header map.
fn headers_from_json(value: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, values) in value.as_object().into_iter().flatten() {
        let Ok(name) = name.parse::<http::HeaderName>() else { continue };
        let values = match values {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect::<Vec<_>>(),
        };
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(name.clone(), value);
            }
        }
    }
    headers
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

/// Standard base64 with padding, as lambda_http and lambda_runtime write it.
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let text = text.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for c in text.bytes() {
        bits = (bits << 6) | u32::from(value(c)?);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ=").as_deref(), Some(&b"hello world"[..]));
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn in_band_errors_are_read() {
        let chunk = b"Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\nLambda-Runtime-Function-Error-Body: Ym9vbQ==\r\n";
        match in_band_error(chunk) {
            InvocationError::StreamError { error_type, message } => {
                assert_eq!(error_type, "Runtime.StreamError");
                assert_eq!(message, "boom");
            }
            other => panic!("{other:?}"),
        }
    }
}

//! Sending a request: retries with jittered exponential backoff (from `backon`) on connection
//! errors, 408, 409, 429 (not `insufficient_quota`) and 5xx (a create: not after 408, 502 or 504,
//! which may leave the model generating), honouring `retry-after-ms` and
//! `retry-after`, always inside the deadline. Nothing has reached the client while this runs.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use reqwest::{StatusCode, header::HeaderMap};
use tokio::time::Instant;

use crate::client::ResponsesClient;
use crate::types::{ErrorBody, ResponseObject};

/// One request to OpenAI: a create, or a call about an existing response (retrieve, cancel).
pub(crate) struct Call {
    pub method: reqwest::Method,
    pub url: String,
    pub body: Option<Bytes>,
    /// Its URL names a response: a 404 then means that response is gone.
    pub names_a_response: bool,
}

impl Call {
    /// `POST /responses`: each one that arrives is an answer, generated and billed.
    fn creates_an_answer(&self) -> bool {
        self.method == reqwest::Method::POST && !self.names_a_response
    }
}
use chat_core::{ApiError, redact};

/// The longest wait a `retry-after` header may impose on us.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);
/// The shortest wait before a retry, whatever a `retry-after` says (`0` is no call for a tight loop).
pub(crate) const MIN_RETRY_WAIT: Duration = Duration::from_millis(100);

enum Outcome {
    Retry { error: ApiError, wait: Option<Duration> },
    Fail(ApiError),
}

impl ResponsesClient {
    /// Sends `body` until an attempt is accepted. Each attempt has its own `window` for the
    /// response headers (all of them within `deadline`), so a retry late in the request is not
    /// cut short by a window that closed before it began.
    pub(crate) async fn send(
        &self,
        call: &Call,
        deadline: Instant,
        window: Option<Duration>,
    ) -> Result<Sent, ApiError> {
        let mut backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(8))
            .with_max_times(self.config.max_retries as usize)
            .build();
        let mut key = self.key.get().await?;
        let mut refreshed_key = false;
        let mut retries = 0;
        loop {
            let sent_at = Instant::now();
            let headers_by = window.map_or(deadline, |window| (sent_at + window).min(deadline));
            let outcome = match self.attempt(call, &key, headers_by).await {
                Ok(response) => return Ok(Sent { response, key, retries, sent_at }),
                Err(outcome) => outcome,
            };
            let (error, hinted) = match outcome {
                Outcome::Fail(ApiError::UpstreamUnauthorized) if !refreshed_key => {
                    refreshed_key = true;
                    // A failed re-read is Secrets Manager's failure, and is reported as such.
                    match self.key.refresh(&key).await? {
                        Some(fresh) => {
                            tracing::warn!(
                                "the provider rejected the API key; retrying once with a fresh one (secret read again, or minted again)"
                            );
                            key = fresh;
                            continue;
                        }
                        None => return Err(ApiError::UpstreamUnauthorized),
                    }
                }
                Outcome::Fail(error) => return Err(error),
                Outcome::Retry { error, wait } => (error, wait),
            };
            let Some(delay) = backoff.next() else { return Err(error) };
            let wait = hinted.map_or(delay, |hint| hint.clamp(MIN_RETRY_WAIT, MAX_RETRY_AFTER));
            if Instant::now() + wait >= deadline {
                return Err(error);
            }
            retries += 1;
            tracing::info!(retry = retries, wait_ms = wait.as_millis() as u64, error = %error, "retrying the OpenAI request");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, call: &Call, key: &Arc<str>, headers_by: Instant) -> Result<reqwest::Response, Outcome> {
        let http = self.http.clone().await.map_err(Outcome::Fail)?;
        let mut request = http.request(call.method.clone(), &call.url);
        request = match self.auth {
            chat_core::fallback::FallbackAuth::Bearer | chat_core::fallback::FallbackAuth::Bedrock => {
                request.bearer_auth(key)
            }
            chat_core::fallback::FallbackAuth::Azure => {
                let Ok(mut value) = reqwest::header::HeaderValue::from_str(key) else {
                    return Err(Outcome::Fail(ApiError::UpstreamUnauthorized));
                };
                // Kept out of any debug output, as bearer_auth does.
                value.set_sensitive(true);
                request.header("api-key", value)
            }
        };
        if let Some(body) = &call.body {
            // A reference-counted clone: each attempt sends the same bytes without copying them.
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        let request = request.send();
        let response = match tokio::time::timeout_at(headers_by, request).await {
            Err(_) => return Err(Outcome::Fail(ApiError::UpstreamTimeout(chat_core::Wait::Headers))),
            Ok(Err(error)) => {
                tracing::warn!(error = %redact(&error.to_string(), key), "OpenAI request failed to send");
                // A create that may have arrived is not sent again: OpenAI may be generating (and
                // billing) that answer, which a second one would not settle. Its reservation stands.
                if call.creates_an_answer() && !error.is_connect() {
                    return Err(Outcome::Fail(ApiError::UpstreamLost));
                }
                return Err(Outcome::Retry { error: ApiError::UpstreamUnreachable, wait: None });
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let wait = retry_after(response.headers());
        let body = read_capped(response, headers_by).await.ok();
        let error = body
            .as_deref()
            .and_then(|b| serde_json::from_slice::<ErrorBody>(b).ok())
            .map(|b| b.error)
            .unwrap_or_default();
        let code = error.code.as_deref().or(error.kind.as_deref()).unwrap_or("");
        let message = redact(error.message.as_deref().unwrap_or("no details"), key);
        // A 401's message quotes part of the key: it is never logged.
        let logged = if status == StatusCode::UNAUTHORIZED { "(not logged)" } else { message.as_str() };
        tracing::warn!(upstream_status = status.as_u16(), code, message = logged, "OpenAI answered with an error");
        if status == StatusCode::BAD_REQUEST
            && let Some(refused) = self.refused_setting(error.param.as_deref())
        {
            return Err(Outcome::Fail(refused));
        }
        Err(match status {
            StatusCode::UNAUTHORIZED => Outcome::Fail(ApiError::UpstreamUnauthorized),
            // The model is gone (shut down) or not this project's: no retry brings it back.
            _ if code == "model_not_found" && !call.names_a_response => {
                Outcome::Fail(ApiError::ModelUnavailable(self.config.model.clone()))
            }
            StatusCode::NOT_FOUND if call.names_a_response => Outcome::Fail(ApiError::ResponseNotFound),
            StatusCode::TOO_MANY_REQUESTS if code == "insufficient_quota" => Outcome::Fail(ApiError::QuotaExceeded),
            StatusCode::TOO_MANY_REQUESTS => {
                Outcome::Retry { error: ApiError::RateLimited { retry_after: wait }, wait }
            }
            // The conversation itself is the problem: the caller can act on it (a new chat).
            _ if code == "context_length_exceeded" => Outcome::Fail(ApiError::ContextTooLong),
            _ if code == "previous_response_not_found" => Outcome::Fail(ApiError::PreviousResponseNotFound),
            // The question itself, refused for its content: the caller's to rephrase.
            StatusCode::BAD_REQUEST if crate::event::REFUSALS.contains(&code) => {
                Outcome::Fail(ApiError::QuestionRefused)
            }
            // A gateway or server that gave up waiting on a create: the model may still be
            // generating (and billing) it, so it is not sent again.
            s if call.creates_an_answer() && chat_core::attempt::may_still_generate(s.as_u16()) => {
                Outcome::Fail(ApiError::UpstreamServerError(s.as_u16()))
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::CONFLICT => {
                Outcome::Retry { error: ApiError::UpstreamServerError(status.as_u16()), wait }
            }
            s if s.is_server_error() => Outcome::Retry { error: ApiError::UpstreamServerError(s.as_u16()), wait },
            _ if error.param.as_deref() == Some("reasoning.summary") => {
                Outcome::Fail(ApiError::UpstreamRejected(format!("{SUMMARY_REFUSED}{}", truncate(message, 300))))
            }
            _ => Outcome::Fail(ApiError::UpstreamRejected(truncate(message, 300))),
        })
    }
}

impl ResponsesClient {
    /// The deployment's own setting behind a refused request parameter, named with its value:
    /// a reasoning effort or context the model does not take is the owner's to change.
    fn refused_setting(&self, param: Option<&str>) -> Option<ApiError> {
        let reasoning = &self.config.reasoning;
        let (name, value) = match param? {
            "reasoning.effort" => ("OPENAI_REASONING_EFFORT", reasoning.effort?),
            "reasoning.context" => ("OPENAI_REASONING_CONTEXT", reasoning.context?),
            _ => return None,
        };
        Some(ApiError::SettingRefused { name, value: value.to_owned(), model: self.config.model.clone() })
    }
}

/// How a rejection of `reasoning.summary` starts, so that a create can be sent again without it.
pub(crate) const SUMMARY_REFUSED: &str = "reasoning.summary refused: ";

/// `retry-after-ms` (OpenAI's own) or `retry-after` in seconds, capped before it becomes a
/// `Duration`: any server at `OPENAI_BASE_URL` may send `1e20`, which would not fit in one.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
    };
    let seconds = number("retry-after-ms").map(|ms| ms / 1000.0).or_else(|| number("retry-after"))?;
    Some(Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let cut = (0..=max).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Reads a response object from a JSON answer, within the deadline.
pub(crate) async fn read_object(response: reqwest::Response, deadline: Instant) -> Result<ResponseObject, ApiError> {
    read_json(response, deadline).await
}

/// Reads a JSON answer, within the deadline and [`MAX_REPLY_BYTES`].
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    deadline: Instant,
) -> Result<T, ApiError> {
    let bytes = read_capped(response, deadline).await?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::MalformedUpstream)
}

/// The most a reply read whole may hold: a stored answer at the largest `max_output_tokens` is
/// far smaller. A server at `OPENAI_BASE_URL` that sends more is not read to the end.
pub(crate) const MAX_REPLY_BYTES: usize = 8 << 20;

/// A reply's body, within the deadline and [`MAX_REPLY_BYTES`].
pub(crate) async fn read_capped(mut response: reqwest::Response, deadline: Instant) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| ApiError::UpstreamTimeout(chat_core::Wait::Overall))?
            .map_err(|_| ApiError::UpstreamLost)?;
        let Some(chunk) = chunk else { return Ok(body) };
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            tracing::warn!(
                limit = MAX_REPLY_BYTES,
                "OpenAI's reply is larger than any answer can be; not read further"
            );
            return Err(ApiError::MalformedUpstream);
        }
        body.extend_from_slice(&chunk);
    }
}

pub(crate) struct Sent {
    pub response: reqwest::Response,
    pub key: Arc<str>,
    pub retries: u32,
    /// When the accepted attempt went out.
    pub sent_at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds_and_is_capped() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", "9999999".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&HeaderMap::new()), None);
        for huge in ["1e20", "1e300", "18446744073709551616"] {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", huge.parse().unwrap());
            assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER), "{huge}");
            headers.insert("retry-after-ms", huge.parse().unwrap());
            assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER), "{huge} ms");
        }
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "NaN".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), "h…");
        assert_eq!(truncate("short".into(), 10), "short");
    }
}

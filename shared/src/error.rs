use std::time::Duration;

use http::StatusCode;

/// Everything that can go wrong while answering a chat request.
///
/// Each variant knows the HTTP status to answer with and a message a user can act on.
/// Messages never contain the API key: upstream text passes through [`crate::redact`] first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("`message` is required: pass it as ?message=... or as JSON {{\"message\": \"...\"}}")]
    MissingMessage,
    #[error("`message` must not be blank")]
    BlankMessage,
    #[error("`message` is {actual} bytes long; the limit is {limit} bytes")]
    MessageTooLong { actual: usize, limit: usize },
    #[error("`message` contains a control character (U+{0:04X}); only tabs and line breaks are allowed")]
    ControlCharacter(u32),
    #[error("the request is malformed: {0}")]
    BadRequest(String),
    #[error("method {0} is not allowed: use GET ?message=... or POST with a JSON body")]
    MethodNotAllowed(String),
    #[error("unsupported Content-Type {0:?}: send application/json")]
    UnsupportedMediaType(String),
    #[error("this deployment is misconfigured: {0}")]
    Misconfigured(String),
    #[error("the OpenAI API key could not be read from secret {secret_id:?}: {reason}")]
    SecretUnavailable { secret_id: String, reason: String },
    #[error("OpenAI rejected this deployment's API key; check the key or the secret that holds it")]
    UpstreamUnauthorized,
    #[error("OpenAI is rate limiting this deployment; try again in a moment")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the OpenAI account behind this deployment has run out of quota; check its plan and billing")]
    QuotaExceeded,
    #[error("OpenAI rejected the request: {0}")]
    UpstreamRejected(String),
    #[error("OpenAI failed to answer (HTTP {0}); try again")]
    UpstreamServerError(u16),
    #[error("could not reach OpenAI; try again")]
    UpstreamUnreachable,
    #[error("OpenAI took too long to answer ({0}); try again")]
    UpstreamTimeout(&'static str),
    #[error("the answer failed part way: {0}")]
    StreamFailed(String),
    #[error("the answer was cut short ({0})")]
    Incomplete(String),
    #[error("OpenAI sent a reply that could not be understood")]
    MalformedUpstream,
}

impl ApiError {
    /// The HTTP status that says whose fault this is.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingMessage
            | Self::BlankMessage
            | Self::ControlCharacter(_)
            | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::MessageTooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Misconfigured(_) | Self::SecretUnavailable { .. } | Self::UpstreamUnauthorized => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::QuotaExceeded => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamRejected(_)
            | Self::UpstreamServerError(_)
            | Self::UpstreamUnreachable
            | Self::StreamFailed(_)
            | Self::Incomplete(_)
            | Self::MalformedUpstream => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The message shown to the user (the `detail` of a JSON error, the data of `event: error`).
    pub fn detail(&self) -> String {
        let mut text = self.to_string();
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        text
    }

    /// The HTTP status OpenAI answered with, when this error is one.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            Self::UpstreamUnauthorized => Some(401),
            Self::RateLimited { .. } | Self::QuotaExceeded => Some(429),
            Self::UpstreamServerError(status) => Some(*status),
            _ => None,
        }
    }

    /// How long the client should wait before trying again, when upstream said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The JSON body `{"detail": "..."}` of an error answered before any text.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "detail": self.detail() }).to_string()
    }

    /// Builds the full HTTP error response (status, JSON body, `Retry-After`).
    pub fn to_response<B: From<String>>(&self) -> http::Response<B> {
        let mut builder = http::Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "no-store");
        if let Some(wait) = self.retry_after() {
            builder = builder.header(http::header::RETRY_AFTER, wait.as_millis().div_ceil(1000).max(1).to_string());
        }
        if let Self::MethodNotAllowed(_) = self {
            builder = builder.header(http::header::ALLOW, "GET, POST");
        }
        builder
            .body(B::from(self.to_json()))
            .unwrap_or_else(|_| http::Response::new(B::from(self.to_json())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_say_whose_fault_it_is() {
        assert_eq!(ApiError::BlankMessage.status(), 400);
        assert_eq!(ApiError::MessageTooLong { actual: 9, limit: 8 }.status(), 413);
        assert_eq!(ApiError::UpstreamTimeout("first event").status(), 504);
        assert_eq!(ApiError::RateLimited { retry_after: None }.status(), 429);
        assert_eq!(ApiError::UpstreamServerError(503).status(), 502);
        assert_eq!(ApiError::Misconfigured("x".into()).status(), 500);
    }

    #[test]
    fn error_response_is_json_with_detail_and_retry_after() {
        let error = ApiError::RateLimited { retry_after: Some(Duration::from_millis(1500)) };
        let response: http::Response<String> = error.to_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "2");
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(
            body["detail"],
            "OpenAI is rate limiting this deployment; try again in a moment"
        );
    }
}

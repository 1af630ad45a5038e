use std::time::Duration;

use http::StatusCode;

pub use crate::interruption::{Cut, Wait};

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
    /// The earlier turns of a conversation sent whole (the AI SDK's `messages`).
    #[error(
        "the conversation before this message is {actual} bytes long; the limit is {limit} bytes: send `previous_response_id` instead of the whole history, or start a new chat"
    )]
    ConversationTooLong { actual: usize, limit: usize },
    #[error("`message` contains a control character (U+{0:04X}); only tabs and line breaks are allowed")]
    ControlCharacter(u32),
    #[error("the request is malformed: {0}")]
    BadRequest(String),
    /// The caller's `tools`: only function tools, bounded (the reason names what is wrong).
    #[error("`tools` is not accepted: {0}")]
    InvalidTools(String),
    #[error(
        "this deployment does not take the caller's own tools (its owner turned them off): send the request without `tools` or `tool_outputs`"
    )]
    CallerToolsOff,
    /// `tool_outputs` malformed, too large, or not answering each call of the answer they follow once.
    #[error("`tool_outputs` is not accepted: {0}")]
    InvalidToolOutputs(String),
    /// `attachments` (or an AI SDK `file` part) that cannot be read: not base64, no data.
    #[error("an attachment could not be read: {0}")]
    InvalidAttachment(String),
    /// An attachment whose bytes are none of the kinds taken, whatever its claimed type.
    #[error("this attachment is not taken: {0}; send PNG, JPEG, WebP or GIF images, or PDF files")]
    UnsupportedAttachment(String),
    /// More than [`crate::attachments::MAX_ATTACHMENTS`], or more than `MAX_ATTACHMENT_BYTES` decoded.
    #[error(
        "the attachments are too large: {count} of them, {actual} bytes decoded; the limits are {} attachments and {limit} bytes together",
        crate::attachments::MAX_ATTACHMENTS
    )]
    AttachmentTooLarge { count: usize, actual: usize, limit: usize },
    /// The model's catalogue row says it takes no such input.
    #[error("this deployment's model ({model}) does not take {what}: send text only")]
    AttachmentNotTaken { model: String, what: &'static str },
    /// `approvals` malformed, or naming a request the answer they follow did not make.
    #[error("`approvals` is not accepted: {0}")]
    InvalidApprovals(String),
    /// `allow` is what the path answers: [`ApiError::ALLOW_ASK`], or `POST` alone on `/stop`.
    #[error("method {method} is not allowed here: use {}", if *allow == Self::ALLOW_ASK { "GET ?message=... or POST with a JSON body" } else { allow })]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("unsupported Content-Type {0:?}: send application/json")]
    UnsupportedMediaType(String),
    /// The cause is for the log only: it may name variables, ARNs or SDK errors.
    #[error("this deployment is misconfigured: {0}")]
    Misconfigured(String),
    /// The secret's id and Secrets Manager's words are for the log only.
    #[error("the OpenAI API key could not be read from secret {secret_id:?}: {reason}")]
    SecretUnavailable { secret_id: String, reason: String },
    #[error("this page's origin may not use this chat service")]
    OriginNotAllowed,
    /// `limit` names the limit in words, e.g. "10 requests per minute".
    #[error("you have reached this service's limit of {limit}; try again in {}", wait_words(*retry_after))]
    OverLimit { limit: String, retry_after: Duration },
    /// `budget` names the budget in words: "2000000 tokens" or "$5".
    #[error("this service has used its daily budget of {budget}; it resets at 00:00 UTC, in {}", wait_words(*retry_after))]
    BudgetExhausted { budget: String, retry_after: Duration },
    /// The question's worst case (its conversation, message and longest answer) is more than a
    /// whole day allows: waiting would not help, so it is no 429.
    #[error(
        "this question can use up to {worst} (the conversation it continues, the message and the longest answer), more than the {limit} a day allows; start a new chat, or ask the service's owner for a larger limit"
    )]
    QuestionTooLarge { worst: String, limit: String },
    #[error("an access key is required: send it as `Authorization: Bearer <key>` or `?key=<key>`")]
    AccessKeyMissing,
    #[error("this access key is not known; check it, or ask the service's owner for one")]
    AccessKeyUnknown,
    #[error("this access key has been revoked; ask the service's owner for a new one")]
    AccessKeyRevoked,
    #[error("this service cannot check its usage limits right now; try again in a moment")]
    LimitsUnavailable,
    #[error("sign-in required: send the user's token as `Authorization: Bearer <token>` or `?access_token=<token>`")]
    TokenMissing,
    /// The reason is a fixed sentence: nothing of the token is echoed.
    #[error("this sign-in token is not accepted: {0}; sign in again")]
    TokenInvalid(&'static str),
    #[error("this sign-in token has expired; sign in again")]
    TokenExpired,
    #[error(
        "this service cannot check sign-ins right now (the identity provider cannot be reached); try again in a moment"
    )]
    AuthUnavailable,
    /// The primary's or the fallback's key (a Bedrock one is minted from the function's role).
    #[error(
        "the model provider rejected this deployment's API key; check the key, the secret that holds it, or the role a Bedrock key is minted from"
    )]
    UpstreamUnauthorized,
    /// OpenAI answered `404 model_not_found`: the model was shut down, or this project has no
    /// access to it. The name is the deployment's own setting, not a secret.
    #[error(
        "this deployment's model ({0}) is not available at OpenAI (shut down, or not open to its project); its owner must set another in OPENAI_MODEL"
    )]
    ModelUnavailable(String),
    /// The model refuses a reasoning setting of the deployment's (a value it does not take):
    /// named, never silently dropped.
    #[error(
        "this deployment's {name}={value} is not accepted by its model {model}; its owner must change or unset {name}"
    )]
    SettingRefused { name: &'static str, value: String, model: String },
    #[error("OpenAI is rate limiting this deployment; try again in a moment")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the OpenAI account behind this deployment has run out of quota; check its plan and billing")]
    QuotaExceeded,
    /// OpenAI's message is for the log only.
    #[error("OpenAI rejected the request: {0}")]
    UpstreamRejected(String),
    #[error("the conversation is too long for the model; start a new chat")]
    ContextTooLong,
    /// The provider refused the question under its content policy before answering (a 400
    /// `invalid_prompt`, `content_policy_violation` or `content_filter`): the caller's to change.
    #[error("the model's provider refused to answer this question under its content policy; rephrase it")]
    QuestionRefused,
    #[error("the conversation this message continues is no longer available; start a new chat")]
    PreviousResponseNotFound,
    /// A follow-up stays with the provider that holds its conversation (`fallback`: the
    /// fallback, else OpenAI), which cannot answer it now: never a silent new conversation.
    #[error(
        "the provider that holds this conversation ({}) cannot answer right now; try again in a moment, or start a new chat, which another provider can answer",
        if *fallback { "the fallback" } else { "OpenAI" }
    )]
    HolderUnavailable { fallback: bool },
    #[error("OpenAI failed to answer (HTTP {0}); try again")]
    UpstreamServerError(u16),
    #[error("could not reach OpenAI; try again")]
    UpstreamUnreachable,
    /// The connection broke after the question was sent, before the answer's headers or body
    /// arrived: OpenAI may be generating (and billing) it, so it is told apart from
    /// [`ApiError::UpstreamUnreachable`], whose question never left.
    #[error("the connection to OpenAI was lost; try again")]
    UpstreamLost,
    #[error("OpenAI took too long to answer ({0}); try again")]
    UpstreamTimeout(Wait),
    /// OpenAI's message is for the log only.
    #[error("the answer failed part way: {0}")]
    StreamFailed(String),
    /// The connection to OpenAI `closed`, `broke` or `ended` mid-answer: in background mode the
    /// answer itself may be fine, and is read again from where it was.
    #[error("the answer failed part way: the connection to OpenAI {0} before the answer was complete")]
    StreamCut(Cut),
    /// A resume's place does not fall inside the stored answer (past its end, or inside a
    /// character): the rest cannot be told, and is not made up.
    #[error("the rest of this answer could not be found from where this reader stopped; ask again")]
    ResumeLost,
    #[error("that answer is no longer available (answers can be resumed or stopped for a limited time); ask again")]
    ResponseNotFound,
    #[error("this resume token is not valid: {0}")]
    ResumeTokenInvalid(&'static str),
    #[error(
        "this deployment streams without background mode (RESUMABLE_STREAMS=false): an answer stops when its stream is closed, and cannot be stopped by id"
    )]
    StopUnavailable,
    #[error("the answer was cut short ({0})")]
    Incomplete(String),
    #[error("OpenAI sent a reply that could not be understood")]
    MalformedUpstream,
}

impl ApiError {
    /// The methods a question may be asked with.
    pub const ALLOW_ASK: &'static str = "GET, POST";
    /// The one method that stops an answer (`POST /stop`).
    pub const ALLOW_STOP: &'static str = "POST";
    /// The one method that streams an answer again (`GET /{id}/stream`).
    pub const ALLOW_STREAM_AGAIN: &'static str = "GET";
    /// What the page's routes (`index`) answer.
    pub const ALLOW_PAGE: &'static str = "GET, HEAD";

    /// The HTTP status that says whose fault this is.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingMessage
            | Self::BlankMessage
            | Self::ControlCharacter(_)
            | Self::BadRequest(_)
            | Self::InvalidTools(_)
            | Self::CallerToolsOff
            | Self::InvalidToolOutputs(_)
            | Self::InvalidApprovals(_)
            | Self::InvalidAttachment(_)
            | Self::AttachmentNotTaken { .. }
            | Self::StopUnavailable => StatusCode::BAD_REQUEST,
            Self::ResponseNotFound => StatusCode::NOT_FOUND,
            Self::ResumeTokenInvalid(_) => StatusCode::FORBIDDEN,
            Self::MessageTooLong { .. }
            | Self::ConversationTooLong { .. }
            | Self::QuestionTooLarge { .. }
            | Self::AttachmentTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::AccessKeyMissing | Self::AccessKeyUnknown | Self::AccessKeyRevoked => StatusCode::UNAUTHORIZED,
            Self::TokenMissing | Self::TokenInvalid(_) | Self::TokenExpired => StatusCode::UNAUTHORIZED,
            Self::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::OverLimit { .. } | Self::BudgetExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::LimitsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::ContextTooLong | Self::QuestionRefused => StatusCode::BAD_REQUEST,
            Self::PreviousResponseNotFound => StatusCode::NOT_FOUND,
            Self::UnsupportedMediaType(_) | Self::UnsupportedAttachment(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Misconfigured(_)
            | Self::SecretUnavailable { .. }
            | Self::UpstreamUnauthorized
            | Self::SettingRefused { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ModelUnavailable(_) | Self::HolderUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::QuotaExceeded => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamRejected(_)
            | Self::UpstreamServerError(_)
            | Self::UpstreamUnreachable
            | Self::UpstreamLost
            | Self::StreamFailed(_)
            | Self::StreamCut(_)
            | Self::ResumeLost
            | Self::Incomplete(_)
            | Self::MalformedUpstream => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The message shown to the caller (the `detail` of a JSON error, the data of `event:
    /// error`): what they can act on, and nothing internal to the deployment.
    pub fn detail(&self) -> String {
        let text = match self {
            Self::Misconfigured(_) => {
                "this deployment is misconfigured; its owner can find the cause in the logs".to_owned()
            }
            Self::SecretUnavailable { .. } => {
                "this deployment could not read its OpenAI API key; its owner can find the cause in the logs".to_owned()
            }
            // OpenAI's own words can say anything (a parameter, an account detail): the log keeps them.
            Self::UpstreamRejected(_) => {
                "OpenAI rejected the request; the deployment's owner can find the reason in the logs".to_owned()
            }
            Self::StreamFailed(_) => "the answer failed part way: OpenAI reported an error; try again".to_owned(),
            // A reason is one of OpenAI's names (`max_output_tokens`, `content_filter`), or is not passed on.
            Self::Incomplete(reason)
                if !(reason.len() <= 40 && reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')) =>
            {
                "the answer was cut short".to_owned()
            }
            other => other.to_string(),
        };
        capitalized(text)
    }

    /// The whole story, for the log line only (secret ids, SDK errors): never sent to a caller.
    pub fn log_detail(&self) -> String {
        capitalized(self.to_string())
    }

    /// A stable, machine-readable name for the error, so clients can act on it (for instance
    /// offer a new chat on `context_length_exceeded`) without parsing sentences.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingMessage => "missing_message",
            Self::BlankMessage => "blank_message",
            Self::MessageTooLong { .. } => "message_too_long",
            Self::ConversationTooLong { .. } => "conversation_too_long",
            Self::ControlCharacter(_) => "control_character",
            Self::BadRequest(_) => "bad_request",
            Self::InvalidTools(_) => "invalid_tools",
            Self::CallerToolsOff => "caller_tools_off",
            Self::InvalidToolOutputs(_) => "invalid_tool_outputs",
            Self::InvalidApprovals(_) => "invalid_approvals",
            Self::InvalidAttachment(_) => "invalid_attachment",
            Self::UnsupportedAttachment(_) => "unsupported_attachment",
            Self::AttachmentTooLarge { .. } => "attachment_too_large",
            Self::AttachmentNotTaken { .. } => "attachment_not_supported",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::AccessKeyMissing => "access_key_missing",
            Self::AccessKeyUnknown => "access_key_unknown",
            Self::AccessKeyRevoked => "access_key_revoked",
            Self::OverLimit { .. } => "caller_limit_reached",
            Self::BudgetExhausted { .. } => "daily_budget_reached",
            Self::QuestionTooLarge { .. } => "question_too_large",
            Self::LimitsUnavailable => "limits_unavailable",
            Self::TokenMissing => "token_missing",
            Self::TokenInvalid(_) => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::AuthUnavailable => "auth_unavailable",
            Self::Misconfigured(_) => "misconfigured",
            Self::SecretUnavailable { .. } => "key_unavailable",
            Self::UpstreamUnauthorized => "upstream_unauthorized",
            Self::ModelUnavailable(_) => "model_unavailable",
            Self::SettingRefused { .. } => "setting_refused",
            Self::RateLimited { .. } => "upstream_rate_limited",
            Self::QuotaExceeded => "upstream_quota_exceeded",
            Self::UpstreamRejected(_) => "upstream_rejected",
            Self::ContextTooLong => "context_length_exceeded",
            Self::QuestionRefused => "question_refused",
            Self::PreviousResponseNotFound => "previous_response_not_found",
            Self::HolderUnavailable { .. } => "conversation_provider_unavailable",
            Self::UpstreamServerError(_) => "upstream_error",
            Self::UpstreamUnreachable | Self::UpstreamLost => "upstream_unreachable",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::StreamFailed(_) | Self::StreamCut(_) | Self::ResumeLost => "stream_failed",
            Self::ResponseNotFound => "response_not_found",
            Self::ResumeTokenInvalid(_) => "resume_token_invalid",
            Self::StopUnavailable => "stop_unavailable",
            Self::Incomplete(_) => "incomplete",
            Self::MalformedUpstream => "upstream_malformed",
        }
    }

    /// Whether the caller caused it (a 4xx of their own making): logged below warn, so that
    /// callers cannot decide how loud the logs are.
    pub fn is_callers_fault(&self) -> bool {
        self.status().is_client_error() && self.upstream_status().is_none()
    }

    /// The HTTP status OpenAI answered with, when this error is one.
    pub fn upstream_status(&self) -> Option<u16> {
        match self {
            Self::UpstreamUnauthorized => Some(401),
            Self::ModelUnavailable(_) => Some(404),
            Self::SettingRefused { .. } => Some(400),
            Self::RateLimited { .. } | Self::QuotaExceeded => Some(429),
            Self::UpstreamServerError(status) => Some(*status),
            _ => None,
        }
    }

    /// How long the client should wait before trying again, when upstream said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            Self::OverLimit { retry_after, .. } | Self::BudgetExhausted { retry_after, .. } => Some(*retry_after),
            Self::AuthUnavailable => Some(Duration::from_secs(5)),
            _ => None,
        }
    }

    /// The JSON body `{"detail", "code", "request_id"}` of an error answered before any text.
    pub fn to_json(&self, request_id: &str) -> String {
        serde_json::json!({ "detail": self.detail(), "code": self.code(), "request_id": request_id }).to_string()
    }

    /// The `WWW-Authenticate` challenge of a refused sign-in token (RFC 6750), with the fixed
    /// detail as its description: never anything of the token itself.
    pub fn www_authenticate(&self) -> Option<String> {
        matches!(self, Self::TokenMissing | Self::TokenInvalid(_) | Self::TokenExpired).then(|| {
            format!("Bearer error=\"invalid_token\", error_description=\"{}\"", self.detail().replace(['"', '\\'], "'"))
        })
    }

    /// `Retry-After` in whole seconds, when there is a wait to announce.
    pub fn retry_after_header(&self) -> Option<String> {
        self.retry_after().map(|wait| wait.as_millis().div_ceil(1000).max(1).to_string())
    }

    /// Builds the full HTTP error response (status, JSON body, `Retry-After`).
    pub fn to_response<B: From<String>>(&self, request_id: &str) -> http::Response<B> {
        let mut builder = http::Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "no-store")
            .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if let Some(seconds) = self.retry_after_header() {
            builder = builder.header(http::header::RETRY_AFTER, seconds);
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            builder = builder.header(http::header::ALLOW, *allow);
        }
        if let Some(challenge) = self.www_authenticate() {
            builder = builder.header(http::header::WWW_AUTHENTICATE, challenge);
        }
        builder
            .body(B::from(self.to_json(request_id)))
            .unwrap_or_else(|_| http::Response::new(B::from(self.to_json(request_id))))
    }
}

/// "42 s", "3 min", "5 h": how long until a limit resets, in words.
fn wait_words(wait: Duration) -> String {
    match wait.as_secs() {
        s if s < 120 => format!("{} s", s.max(1)),
        s if s < 7200 => format!("{} min", s.div_ceil(60)),
        s => format!("{} h", s.div_ceil(3600)),
    }
}

fn capitalized(mut text: String) -> String {
    if let Some(first) = text.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    text
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;

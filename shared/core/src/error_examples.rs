//! One value of every [`ApiError`] variant, for checks that must cover them all.

use std::time::Duration;

use crate::ApiError;

impl ApiError {
    /// One value of every variant, for checks that must cover them all (the OpenAPI drift test
    /// in `index` checks each one's status, code and headers against `static/openapi.json`).
    /// Not for production code: the values are made up.
    #[doc(hidden)]
    pub fn examples() -> Vec<Self> {
        let wait = Duration::from_secs(42);
        let examples = vec![
            Self::MissingMessage,
            Self::BlankMessage,
            Self::MessageTooLong { actual: 40_000, limit: 32_768 },
            Self::ConversationTooLong { actual: 300_000, limit: 262_144 },
            Self::ControlCharacter(7),
            Self::BadRequest("the body is not valid JSON".into()),
            Self::InvalidTools("a tool of type web_search: send function tools only".into()),
            Self::CallerToolsOff,
            Self::InvalidApprovals("mcpr_9 is not one of its requests".into()),
            Self::InvalidAttachment("attachment 0 (\"a.png\") is not valid base64".into()),
            Self::UnsupportedAttachment("attachment 0 (\"notes.txt\") is none of PNG, JPEG, WebP, GIF or PDF".into()),
            Self::AttachmentTooLarge { count: 2, actual: 5_000_000, limit: 4_194_304 },
            Self::AttachmentNotTaken { model: "gpt-oss-120b".into(), what: "images" },
            Self::InvalidToolOutputs("call_9 is not one of its calls".into()),
            Self::MethodNotAllowed { method: "PUT".into(), allow: Self::ALLOW_ASK },
            Self::UnsupportedMediaType("text/plain".into()),
            Self::Misconfigured("no OpenAI API key".into()),
            Self::SecretUnavailable { secret_id: "openai".into(), reason: "AccessDenied".into() },
            Self::OriginNotAllowed,
            Self::OverLimit { limit: "10 requests per minute".into(), retry_after: wait },
            Self::BudgetExhausted { budget: "$5".into(), retry_after: wait },
            Self::QuestionTooLarge { worst: "24000 tokens".into(), limit: "20000 tokens".into() },
            Self::AccessKeyMissing,
            Self::AccessKeyUnknown,
            Self::AccessKeyRevoked,
            Self::LimitsUnavailable,
            Self::TokenMissing,
            Self::TokenInvalid("its signature does not match"),
            Self::TokenExpired,
            Self::AuthUnavailable,
            Self::UpstreamUnauthorized,
            Self::ModelUnavailable("gpt-5".into()),
            Self::SettingRefused {
                name: "OPENAI_REASONING_EFFORT",
                value: "minimal".into(),
                model: "gpt-6-luna".into(),
            },
            Self::RateLimited { retry_after: Some(wait) },
            Self::QuotaExceeded,
            Self::UpstreamRejected("Invalid value".into()),
            Self::ContextTooLong,
            Self::QuestionRefused,
            Self::PreviousResponseNotFound,
            Self::HolderUnavailable { fallback: true },
            Self::UpstreamServerError(500),
            Self::UpstreamUnreachable,
            Self::UpstreamLost,
            Self::UpstreamTimeout(crate::error::Wait::FirstText),
            Self::StreamFailed("the model failed".into()),
            Self::StreamCut(crate::error::Cut::Broke),
            Self::ResumeLost,
            Self::ResponseNotFound,
            Self::ResumeTokenInvalid("it was not issued to you"),
            Self::StopUnavailable,
            Self::Incomplete("max_output_tokens".into()),
            Self::MalformedUpstream,
        ];
        // No wildcard arm: a new variant does not compile until it is named here, right beside
        // the list it must join (the test below checks that each variant is listed once).
        for example in &examples {
            match example {
                Self::MissingMessage
                | Self::BlankMessage
                | Self::MessageTooLong { .. }
                | Self::ConversationTooLong { .. }
                | Self::ControlCharacter(_)
                | Self::BadRequest(_)
                | Self::InvalidTools(_)
                | Self::CallerToolsOff
                | Self::InvalidToolOutputs(_)
                | Self::InvalidApprovals(_)
                | Self::InvalidAttachment(_)
                | Self::UnsupportedAttachment(_)
                | Self::AttachmentTooLarge { .. }
                | Self::AttachmentNotTaken { .. }
                | Self::MethodNotAllowed { .. }
                | Self::UnsupportedMediaType(_)
                | Self::Misconfigured(_)
                | Self::SecretUnavailable { .. }
                | Self::OriginNotAllowed
                | Self::OverLimit { .. }
                | Self::BudgetExhausted { .. }
                | Self::QuestionTooLarge { .. }
                | Self::AccessKeyMissing
                | Self::AccessKeyUnknown
                | Self::AccessKeyRevoked
                | Self::LimitsUnavailable
                | Self::TokenMissing
                | Self::TokenInvalid(_)
                | Self::TokenExpired
                | Self::AuthUnavailable
                | Self::UpstreamUnauthorized
                | Self::ModelUnavailable(_)
                | Self::SettingRefused { .. }
                | Self::RateLimited { .. }
                | Self::QuotaExceeded
                | Self::UpstreamRejected(_)
                | Self::ContextTooLong
                | Self::QuestionRefused
                | Self::PreviousResponseNotFound
                | Self::HolderUnavailable { .. }
                | Self::UpstreamServerError(_)
                | Self::UpstreamUnreachable
                | Self::UpstreamLost
                | Self::UpstreamTimeout(_)
                | Self::StreamFailed(_)
                | Self::StreamCut(_)
                | Self::ResumeLost
                | Self::ResponseNotFound
                | Self::ResumeTokenInvalid(_)
                | Self::StopUnavailable
                | Self::Incomplete(_)
                | Self::MalformedUpstream => {}
            }
        }
        examples
    }
}

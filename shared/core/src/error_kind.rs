//! What kind of failure an [`ApiError`] is, for the metrics and alarms: decided by one
//! exhaustive match, so a new variant must say whose failure it is before it compiles.

use crate::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's request was at fault (a 4xx of their own making).
    BadInput,
    /// A caller's limit or the day's budget.
    OverLimit,
    /// An origin, access key or sign-in refused.
    Unauthorized,
    /// The limits table out of reach (fail closed).
    LimitsUnavailable,
    /// The identity provider's keys out of reach (fail closed).
    AuthUnavailable,
    /// OpenAI rate limiting, or the account out of quota.
    RateLimited,
    /// The deployment's own setup: no key, a secret unreadable, a key refused, a setting the
    /// model refuses.
    Misconfigured,
    /// OpenAI no longer serves the model.
    ModelUnavailable,
    /// OpenAI took too long.
    Timeout,
    /// The answer was cut short by OpenAI (`max_output_tokens`, a filter).
    Incomplete,
    /// OpenAI failed, refused or sent what could not be read.
    Upstream,
}

impl ErrorKind {
    /// Whether the deployment or OpenAI failed, not the caller: what the error-rate alarm counts.
    pub fn is_server_failure(self) -> bool {
        match self {
            Self::LimitsUnavailable
            | Self::AuthUnavailable
            | Self::RateLimited
            | Self::Misconfigured
            | Self::ModelUnavailable
            | Self::Timeout
            | Self::Upstream => true,
            Self::BadInput | Self::OverLimit | Self::Unauthorized | Self::Incomplete => false,
        }
    }
}

impl ApiError {
    /// Whether the model surely generated nothing for this request (refused before it, or
    /// OpenAI answered with a 4xx), so a reservation can be given back whole. A
    /// timeout, a broken connection or a failed answer may have used tokens nobody reports.
    pub fn before_the_model(&self) -> bool {
        // No wildcard: a new variant must say whether it gives its reservation back.
        match self {
            // A 5xx, 408 or 409 may come after an earlier attempt that OpenAI is running and
            // billing (the create was sent again): its reservation stands.
            Self::UpstreamTimeout(_)
            | Self::UpstreamUnreachable
            | Self::UpstreamLost
            | Self::UpstreamServerError(_)
            | Self::HolderUnavailable { .. }
            | Self::StreamFailed(_)
            | Self::StreamCut(_)
            | Self::ResumeLost
            | Self::Incomplete(_)
            | Self::MalformedUpstream => false,
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
            | Self::ResponseNotFound
            | Self::ResumeTokenInvalid(_)
            | Self::StopUnavailable => true,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
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
            | Self::ContextTooLong
            | Self::QuestionRefused
            | Self::PreviousResponseNotFound
            | Self::ResponseNotFound
            | Self::ResumeTokenInvalid(_)
            | Self::StopUnavailable => ErrorKind::BadInput,
            Self::OverLimit { .. } | Self::BudgetExhausted { .. } | Self::QuestionTooLarge { .. } => {
                ErrorKind::OverLimit
            }
            Self::OriginNotAllowed
            | Self::AccessKeyMissing
            | Self::AccessKeyUnknown
            | Self::AccessKeyRevoked
            | Self::TokenMissing
            | Self::TokenInvalid(_)
            | Self::TokenExpired => ErrorKind::Unauthorized,
            Self::LimitsUnavailable => ErrorKind::LimitsUnavailable,
            Self::AuthUnavailable => ErrorKind::AuthUnavailable,
            Self::RateLimited { .. } | Self::QuotaExceeded => ErrorKind::RateLimited,
            Self::Misconfigured(_)
            | Self::SecretUnavailable { .. }
            | Self::UpstreamUnauthorized
            | Self::SettingRefused { .. } => ErrorKind::Misconfigured,
            Self::ModelUnavailable(_) => ErrorKind::ModelUnavailable,
            Self::UpstreamTimeout(_) => ErrorKind::Timeout,
            Self::Incomplete(_) => ErrorKind::Incomplete,
            Self::UpstreamRejected(_)
            | Self::UpstreamServerError(_)
            | Self::UpstreamUnreachable
            | Self::UpstreamLost
            | Self::HolderUnavailable { .. }
            | Self::StreamFailed(_)
            | Self::StreamCut(_)
            | Self::ResumeLost
            | Self::MalformedUpstream => ErrorKind::Upstream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_s_own_errors_are_no_server_failure_and_the_rest_are() {
        for error in ApiError::examples() {
            let kind = error.kind();
            // A 4xx the caller caused is never counted against the deployment, and a 5xx is.
            if error.is_callers_fault() {
                assert!(!kind.is_server_failure(), "{error:?}");
            }
            if error.status().is_server_error() && kind != ErrorKind::Incomplete {
                assert!(kind.is_server_failure(), "{error:?}");
            }
        }
        assert_eq!(ApiError::TokenExpired.kind(), ErrorKind::Unauthorized, "an auth error is no upstream failure");
    }
}

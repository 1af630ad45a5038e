//! What an error says of the provider that was asked, decided by one exhaustive match (a new
//! variant must say before it compiles): whether another provider could answer in its place
//! (failover), whether the provider holding a conversation is down, and whether the abandoned
//! attempt may have generated, and so been billed (`attempt::Abandoned`).

use crate::ApiError;
use crate::attempt::may_still_generate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderFailure {
    /// Not the provider's doing: the caller's request, this deployment's access, limits or
    /// setup, or a state of ours (a resume, a stop, an answer cut short by its own cap).
    NotTheProvider,
    /// It answered by refusing the question itself, as any provider would (too long, refused,
    /// rejected, a conversation it does not have): it is up.
    RefusedTheQuestion,
    /// It refused this deployment, generating nothing: its rate or quota, the key, the model
    /// gone. Another provider could answer.
    RefusedTheDeployment,
    /// Down: unreachable, erring, timing out or sending what cannot be read; `may_have_generated`
    /// when the question may have reached the model (a connection lost after it was sent, a
    /// timeout, a 408, 502 or 504, a failed or unreadable stream).
    Down { may_have_generated: bool },
    /// An answer's stream cut after it began: the model was generating.
    CutMidAnswer,
}

impl ApiError {
    /// What this error says of the provider asked.
    pub fn provider_failure(&self) -> ProviderFailure {
        use ProviderFailure::*;
        match self {
            Self::UpstreamUnreachable => Down { may_have_generated: false },
            Self::UpstreamServerError(status) => Down { may_have_generated: may_still_generate(*status) },
            Self::UpstreamLost | Self::UpstreamTimeout(_) | Self::StreamFailed(_) | Self::MalformedUpstream => {
                Down { may_have_generated: true }
            }
            Self::StreamCut(_) => CutMidAnswer,
            Self::RateLimited { .. } | Self::QuotaExceeded | Self::UpstreamUnauthorized | Self::ModelUnavailable(_) => {
                RefusedTheDeployment
            }
            Self::ContextTooLong | Self::QuestionRefused | Self::UpstreamRejected(_) | Self::PreviousResponseNotFound => {
                RefusedTheQuestion
            }
            Self::MissingMessage
            | Self::BlankMessage
            | Self::MessageTooLong { .. }
            | Self::ConversationTooLong { .. }
            | Self::ControlCharacter(_)
            | Self::BadRequest(_)
            | Self::InvalidTools(_)
            | Self::CallerToolsOff
            | Self::InvalidToolOutputs(_)
            | Self::InvalidAttachment(_)
            | Self::UnsupportedAttachment(_)
            | Self::AttachmentTooLarge { .. }
            | Self::AttachmentNotTaken { .. }
            | Self::InvalidApprovals(_)
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
            // A setting the model refuses is the owner's to fix, wherever it is sent.
            | Self::SettingRefused { .. }
            | Self::HolderUnavailable { .. }
            | Self::ResumeLost
            | Self::ResponseNotFound
            | Self::ResumeTokenInvalid(_)
            | Self::StopUnavailable
            | Self::Incomplete(_) => NotTheProvider,
        }
    }

    /// Whether another provider could answer where the asked one failed this way: it was down, or
    /// refused this deployment. Never for what the question itself caused.
    pub fn another_provider_could_answer(&self) -> bool {
        matches!(self.provider_failure(), ProviderFailure::Down { .. } | ProviderFailure::RefusedTheDeployment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_down_or_refusing_provider_is_worth_another_and_only_a_reached_model_may_have_billed() {
        let caller_s_own = ApiError::examples().into_iter().filter(|e| e.status().is_client_error());
        for error in caller_s_own.filter(|e| !matches!(e, ApiError::RateLimited { .. })) {
            assert!(!error.another_provider_could_answer(), "a 4xx of the caller's making: {error:?}");
        }
        let down = |may_have_generated| ProviderFailure::Down { may_have_generated };
        assert_eq!(ApiError::UpstreamUnreachable.provider_failure(), down(false), "its question never left");
        assert_eq!(ApiError::UpstreamServerError(503).provider_failure(), down(false), "its own refusal");
        assert_eq!(ApiError::UpstreamServerError(504).provider_failure(), down(true), "stopped waiting for the model");
        assert_eq!(ApiError::UpstreamLost.provider_failure(), down(true));
        assert!(ApiError::QuotaExceeded.another_provider_could_answer());
        assert!(!ApiError::ContextTooLong.another_provider_could_answer(), "any provider would refuse it");
        assert!(!ApiError::StreamCut(crate::Cut::Broke).another_provider_could_answer(), "its text is out");
    }
}

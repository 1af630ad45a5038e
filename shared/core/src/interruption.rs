//! Why a wait for OpenAI ran out, and how a connection to it stopped: enums the relay matches
//! on, never strings it compares.

/// Which wait ran out: each a limit of its own, told apart by the relay (a silence in
/// background mode is asked about, the invocation's own deadline hands the answer over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// No response headers within the attempt's window.
    Headers,
    /// Headers, but no first text (or reasoning) within `OPENAI_FIRST_EVENT_TIMEOUT_MS`.
    FirstText,
    /// Silent between two events past `OPENAI_IDLE_TIMEOUT_MS`.
    Silence,
    /// The request's own deadline (`OPENAI_TOTAL_TIMEOUT_MS`, or the invocation's less its margin).
    Overall,
    /// A model OpenAI says is working, silent past `OPENAI_MAX_THINK_MS`.
    ThoughtTooLong,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Headers => "no answer in time",
            Self::FirstText => "no first token in time",
            Self::Silence => "silent for too long",
            Self::Overall => "the overall deadline",
            Self::ThoughtTooLong => "it thought for longer than this service waits",
        })
    }
}

/// How the connection to OpenAI stopped mid-answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The connection closed with no terminal event.
    Closed,
    /// Reading it failed (reset, a broken TLS record, a line past the cap).
    Broke,
    /// `data: [DONE]` with no terminal event.
    Ended,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Broke => "broke",
            Self::Ended => "ended",
        })
    }
}

//! Where one reader is in an answer: the position its resume token says, and when the model was
//! last heard (carried across invocations as epoch seconds).

use std::time::Duration;

use openai_client::resume::{Position, Signer};
use tokio::time::Instant;

/// Where the reader is in the answer: what its resume token says, and when the model last
/// showed it was working.
pub(crate) struct Cursor {
    pub(crate) signer: Option<Signer>,
    pub(crate) sequence: Option<u64>,
    /// Bytes of reasoning, then of text, the reader has had.
    pub(crate) offset: usize,
    pub(crate) heard_at: Instant,
}

impl Cursor {
    /// The `id:` of an event here, in background mode.
    pub(crate) fn token(&self) -> Option<String> {
        self.signer.as_ref().map(|s| s.token(self.sequence.unwrap_or(0), self.offset))
    }

    pub(crate) fn position(&self) -> Option<Position> {
        let signer = self.signer.as_ref()?;
        let (sequence, offset) = (self.sequence.unwrap_or(0), self.offset);
        Some(Position { response_id: signer.response_id().to_owned(), sequence, offset, heard: None })
    }
}

/// The `Instant` of an epoch second (now, when it is in the future or too far past).
pub(crate) fn instant_of(epoch: u64) -> Instant {
    let ago = Duration::from_secs(openai_client::resume::epoch_seconds().saturating_sub(epoch));
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// The epoch second of an `Instant` in the past.
pub(crate) fn epoch_of(at: Instant) -> u64 {
    openai_client::resume::epoch_seconds().saturating_sub(at.elapsed().as_secs())
}

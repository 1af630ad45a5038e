//! Resume tokens: the `id:` of every event after `response` in a background-mode stream.
//!
//! A token names the response, the position in it (the upstream `sequence_number` to resume
//! after, and how many bytes of text were relayed by then), when it expires, and carries a tag:
//! HMAC-SHA-256 under the deployment's signing secret (`TOKEN_SIGNING_SECRET_ID`; the API key
//! when there is none) over the response id, its owner and the expiry. Nobody without the secret
//! can make one, so a reconnecting browser can continue only an answer it was given; with access
//! keys the owner is the key, so even a token copied elsewhere is refused without that key; and
//! a token found later in a log or a history is useless after [`TOKEN_LIFETIME`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use chat_core::{ApiError, Config};

/// How long a stream's tokens can resume it: far longer than any answer streams (Lambda stops
/// an invocation after 15 minutes) and a reconnect takes, short enough that an old one is void.
pub const TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where a resumed stream continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub response_id: String,
    /// The last upstream event the reader got; a resumed stream starts after it.
    pub sequence: u64,
    /// Bytes the reader got of the reasoning summary and then of the text: where a stored
    /// answer is cut.
    pub offset: usize,
    /// When the model was last heard (epoch seconds), carried by a hand-over's token so that
    /// `OPENAI_MAX_THINK_MS` measures a silence across invocations; signed with the token.
    pub heard: Option<u64>,
}

/// Writes the tokens of one response for one owner; the tag is computed once per stream.
#[derive(Debug, Clone)]
pub struct Signer {
    response_id: String,
    /// Epoch seconds after which the tokens are refused.
    expires: u64,
    tag: String,
}

impl Signer {
    pub fn new(key: &str, owner: &str, response_id: &str, expires: u64) -> Self {
        Self { response_id: response_id.to_owned(), expires, tag: tag(key, owner, response_id, expires) }
    }

    pub fn response_id(&self) -> &str {
        &self.response_id
    }

    /// The `id:` of an event at this position: `<response id>.<sequence>.<offset>.<expires>.<tag>`.
    pub fn token(&self, sequence: u64, offset: usize) -> String {
        format!("{}.{sequence}.{offset}.{}.{}", self.response_id, self.expires, self.tag)
    }

    /// The `id:` of a hand-over, which also says when the model was last heard (`heard`, epoch
    /// seconds): `<response id>.<sequence>.<offset>.<heard>.<expires>.<tag>`, the tag covering
    /// `heard`, so a reader cannot reset the silence clock.
    pub fn handover_token(&self, key: &str, owner: &str, sequence: u64, offset: usize, heard: u64) -> String {
        let tag = tag(key, owner, &format!("{}\nheard {heard}", self.response_id), self.expires);
        format!("{}.{sequence}.{offset}.{heard}.{}.{tag}", self.response_id, self.expires)
    }
}

pub use chat_core::date::epoch_seconds;

/// The expiry of tokens signed now.
pub fn expiry_from_now() -> u64 {
    epoch_seconds() + TOKEN_LIFETIME.as_secs()
}

/// Whom a token is bound to: the key's or the user's caller with `ACCESS=keys` or `jwt`; in public mode nobody
/// in particular (addresses change when a phone changes network), so the token is the proof.
pub fn owner<'a>(config: &Config, caller: &'a str) -> &'a str {
    if config.limits.callers_are_identified() { caller } else { "" }
}

/// Reads a token presented as `Last-Event-ID` or `?last_event_id=`, for `owner`, at `now`
/// (epoch seconds).
pub fn verify(token: &str, key: &str, owner: &str, now: u64) -> Result<Position, ApiError> {
    let malformed = ApiError::ResumeTokenInvalid("it is not an event id this service wrote");
    let parts: Vec<&str> = token.trim().split('.').collect();
    let (response_id, sequence, offset, heard, expires, presented) = match parts.as_slice() {
        [id, sequence, offset, expires, tag] => (*id, *sequence, *offset, None, *expires, *tag),
        [id, sequence, offset, heard, expires, tag] => (*id, *sequence, *offset, Some(*heard), *expires, *tag),
        _ => return Err(malformed),
    };
    let heard = match heard.map(str::parse::<u64>) {
        None => None,
        Some(Ok(heard)) => Some(heard),
        Some(Err(_)) => return Err(malformed),
    };
    let id_ok = is_answer_id(response_id);
    let (Ok(sequence), Ok(offset), Ok(expires), true) =
        (sequence.parse::<u64>(), offset.parse::<usize>(), expires.parse::<u64>(), id_ok)
    else {
        return Err(malformed);
    };
    let signed = heard.map_or_else(|| response_id.to_owned(), |heard| format!("{response_id}\nheard {heard}"));
    let expected = tag(key, owner, &signed, expires);
    if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(ApiError::ResumeTokenInvalid("it was not issued to you"));
    }
    if now > expires {
        return Err(ApiError::ResumeTokenInvalid("it has expired: ask again"));
    }
    Ok(Position { response_id: response_id.to_owned(), sequence, offset, heard })
}

fn tag(key: &str, owner: &str, response_id: &str, expires: u64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    // Domain-separated from the safety identifier, which signs a bare caller id.
    let message = format!("resume\n{owner}\n{response_id}\n{expires}");
    let tag = ring::hmac::sign(&key, message.as_bytes());
    // 128 of SHA-256's 256 bits: as strong as the id needs, and half as long.
    URL_SAFE_NO_PAD.encode(tag.as_ref().get(..16).unwrap_or(tag.as_ref()))
}

/// The one rule for an answer's id as callers carry it (a resume token, a stop, a
/// `previous_response_id`): 1 to 128 letters, digits, `_` or `-`.
pub fn is_answer_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_token_round_trips_and_is_an_sse_safe_id() {
        let signer = Signer::new("sk-one", "", "resp_abc", NOW + 60);
        let token = signer.token(41, 1234);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{token}");
        let position = verify(&token, "sk-one", "", NOW).unwrap();
        assert_eq!(position, Position { response_id: "resp_abc".into(), sequence: 41, offset: 1234, heard: None });
    }

    #[test]
    fn a_hand_over_s_token_carries_when_the_model_was_heard_signed() {
        let signer = Signer::new("sk-one", "key:alice", "resp_abc", NOW + 60);
        let token = signer.handover_token("sk-one", "key:alice", 41, 12, NOW - 300);
        let position = verify(&token, "sk-one", "key:alice", NOW).unwrap();
        assert_eq!((position.sequence, position.offset, position.heard), (41, 12, Some(NOW - 300)));
        // The reader cannot reset the silence clock: the time is signed.
        let moved = token.replacen(&format!(".{}.", NOW - 300), &format!(".{NOW}."), 1);
        assert_ne!(moved, token);
        assert!(verify(&moved, "sk-one", "key:alice", NOW).is_err());
        assert!(verify(&token, "sk-one", "key:bob", NOW).is_err());
    }

    #[test]
    fn forged_copied_and_malformed_tokens_are_refused() {
        let token = Signer::new("sk-one", "key:alice", "resp_abc", NOW + 60).token(3, 9);
        // Another owner, another signing key, another response with the same tag.
        assert_eq!(verify(&token, "sk-one", "key:bob", NOW).unwrap_err().code(), "resume_token_invalid");
        assert!(verify(&token, "sk-two", "key:alice", NOW).is_err());
        let tag = token.rsplit('.').next().unwrap();
        let expires = NOW + 60;
        assert!(verify(&format!("resp_xyz.3.9.{expires}.{tag}"), "sk-one", "key:alice", NOW).is_err());
        // Moving the position within one's own answer is allowed: it only repeats or skips one's own text.
        assert!(verify(&format!("resp_abc.1.0.{expires}.{tag}"), "sk-one", "key:alice", NOW).is_ok());
        // Moving the expiry is not: it is signed.
        assert!(verify(&format!("resp_abc.3.9.{}.{tag}", expires + 3600), "sk-one", "key:alice", NOW).is_err());
        for bad in [
            "",
            "x",
            "resp.1.2",
            "resp_abc.-1.0.1.t",
            "resp_abc.1.x.1.t",
            "resp_abc.1.1.x.t",
            "../x.1.1.1.t",
            "resp abc.1.1.1.t",
            "resp_abc.3.9.t",
        ] {
            let error = verify(bad, "sk-one", "", NOW).unwrap_err();
            assert_eq!(error.status(), 403, "{bad}");
        }
    }

    #[test]
    fn a_token_expires() {
        let token = Signer::new("sk-one", "", "resp_abc", NOW + 60).token(3, 9);
        assert!(verify(&token, "sk-one", "", NOW + 60).is_ok());
        let expired = verify(&token, "sk-one", "", NOW + 61).unwrap_err();
        assert_eq!(expired.code(), "resume_token_invalid");
        assert!(expired.detail().contains("expired"), "{}", expired.detail());
        assert!(expiry_from_now() >= epoch_seconds() + TOKEN_LIFETIME.as_secs());
    }
}

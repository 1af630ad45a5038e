//! The caller's pseudonym: OpenAI's `safety_identifier`, which is also the `metadata.owner` of
//! every answer, the proof of whose answer it is.

/// OpenAI's `safety_identifier` for `caller`: a keyed hash (HMAC-SHA-256 under the deployment's
/// API key), stable across requests and execution environments, and never the address itself,
/// so one abuser can be told apart without the whole organisation being flagged.
pub fn safety_identifier(caller: &str, key: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let tag = ring::hmac::sign(&key, caller.as_bytes());
    tag.as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The `prompt_cache_key` of `caller`'s creates: a keyed hash under a name of its own, so it is
/// stable for the caller (every turn of every one of their chats), different for another, and
/// says nothing of them, nor matches their `safety_identifier`.
pub fn prompt_cache_key(caller: &str, key: &str) -> String {
    format!("chat-{}", safety_identifier(&format!("prompt-cache:{caller}"), key))
}

/// The tag every answer of this deployment carries (`metadata.deployment`): the same keyed hash
/// of a fixed name, so an answer another app made in the same OpenAI project is told apart.
pub fn deployment_tag(key: &str) -> String {
    safety_identifier("deployment:lambda-openai-chat", key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safety_identifier_is_stable_keyed_and_not_the_address() {
        let id = safety_identifier("ip:203.0.113.7", "sk-one");
        assert_eq!(id, safety_identifier("ip:203.0.113.7", "sk-one"));
        assert_ne!(id, safety_identifier("ip:203.0.113.8", "sk-one"));
        assert_ne!(id, safety_identifier("ip:203.0.113.7", "sk-two"));
        assert!(!id.contains("ip:") && id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }

    #[test]
    fn the_prompt_cache_key_is_the_caller_s_alone_and_reveals_nothing() {
        let key = prompt_cache_key("ip:203.0.113.7", "sk-one");
        assert_eq!(key, prompt_cache_key("ip:203.0.113.7", "sk-one"));
        assert_ne!(key, prompt_cache_key("ip:203.0.113.8", "sk-one"));
        assert_ne!(key, prompt_cache_key("ip:203.0.113.7", "sk-two"));
        assert!(!key.contains(&safety_identifier("ip:203.0.113.7", "sk-one")) && !key.contains("203.0"), "{key}");
        assert!(key.len() <= 64, "OpenAI takes keys of up to 64 characters: {key}");
    }
}

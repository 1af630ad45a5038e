//! Keeping secrets out of what leaves: the key, and anything shaped like an OpenAI key.

/// Removes the key, and anything shaped like an OpenAI key, from text bound for a user or a log.
pub fn redact(text: &str, key: &str) -> String {
    let mut out = if key.len() >= 4 { text.replace(key, "[redacted]") } else { text.to_owned() };
    let mut from = 0;
    while let Some(at) = out[from..].find("sk-").map(|i| i + from) {
        if out[..at].ends_with(|c: char| c.is_ascii_alphanumeric()) {
            from = at + 3;
            continue;
        }
        let end = out[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*'))
            .map_or(out.len(), |i| i + at);
        out.replace_range(at..end, "[redacted]");
        from = at + "[redacted]".len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_the_key_and_key_shaped_text() {
        let text = "Incorrect API key provided: sk-proj-abc***xyz. Key mykey-123456 was used";
        let redacted = redact(text, "mykey-123456");
        assert_eq!(redacted, "Incorrect API key provided: [redacted]. Key [redacted] was used");
        assert_eq!(redact("ask-me sk-", ""), "ask-me [redacted]");
    }
}

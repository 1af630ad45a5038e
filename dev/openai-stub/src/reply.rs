//! The text the stand-in answers with, split into deltas the way the model streams tokens.

use crate::scenario::{Scenario, Summary};

/// Text full of line breaks of every kind and of things that look like SSE framing.
pub const TRICKY_DELTAS: &[&str] = &[
    "Line one\nline two",
    "\r\n",
    "windows\r\nline",
    "lone\rcarriage",
    "",
    "event: end",
    "\ndata: [END]\n",
    ": comment",
    "\n\n",
    "id: 7\nretry: 1",
    "  leading spaces",
    "unicode ✓ 🎉 é",
    "trailing\n",
    "data:",
];

/// A reasoning summary of two parts, each in deltas, with line breaks of every kind, SSE
/// look-alikes, an empty delta and HTML that must be shown as text.
pub const TRICKY_SUMMARY: &[&[&str]] = &[
    &["**Reading", " the question**\n\nLine\r\nbreaks", "\rof every kind", ""],
    &[
        "event: end\ndata: [END]\n",
        "\n\n: comment",
        "id: 9\nretry: 1",
        " <img src=x onerror=alert(1)> <script>alert(2)</script> ✓",
    ],
];

/// The reasoning summary's parts under `scenario`, each as its deltas; empty when it has none.
pub fn summary_parts(scenario: &Scenario) -> Vec<Vec<String>> {
    match scenario.summary {
        None => Vec::new(),
        Some(Summary::Tricky) => {
            TRICKY_SUMMARY.iter().map(|part| part.iter().map(|d| (*d).to_owned()).collect()).collect()
        }
        Some(Summary::Parts(n)) => {
            (1..=n).map(|i| split_words(&format!("**Step {i}** Weighing the question, part {i}."))).collect()
        }
    }
}

/// Raw reasoning parts (`raw=N`), each as its deltas.
pub fn raw_parts(scenario: &Scenario) -> Vec<Vec<String>> {
    (1..=scenario.raw).map(|i| split_words(&format!("Thinking {i}: the user asks, so check what é ✓ means."))).collect()
}

/// The whole summary as a reader gets it: the parts, a blank line between two.
pub fn summary_text(scenario: &Scenario) -> String {
    summary_parts(scenario).iter().map(|part| part.concat()).collect::<Vec<_>>().join("\n\n")
}

const OPENERS: &[&str] = &["Good question.", "Here is a short answer.", "Happy to help with that."];

const BODIES: &[&str] = &[
    "The key idea is to start small, measure what matters, and change one thing at a time.",
    "In short, it depends on your constraints, but a simple approach usually works best at first.",
    "Most people find it easiest to try a small example first and build from there.",
];

/// The deltas of the answer to `prompt` under `scenario`.
pub fn deltas(prompt: &str, scenario: &Scenario) -> Vec<String> {
    if scenario.tricky {
        return TRICKY_DELTAS.iter().map(|d| (*d).to_owned()).collect();
    }
    if let Some(text) = &scenario.echo {
        return text.chars().map(String::from).collect();
    }
    if let Some(n) = scenario.deltas {
        return (0..n).map(|i| if i == 0 { "w0".to_owned() } else { format!(" w{i}") }).collect();
    }
    let seed = prompt.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    let topic: String = prompt.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
    let text = format!(
        "{} You asked: \"{}\". {} (This answer comes from the local stand-in for OpenAI.)",
        OPENERS[seed % OPENERS.len()],
        topic,
        BODIES[(seed / 7) % BODIES.len()]
    );
    split_words(&text)
}

/// Splits text into word-sized deltas, each keeping its leading space, as models stream.
pub fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c == ' ' && !current.trim().is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_spaces_and_join_back() {
        let words = split_words("Hello there,  world");
        assert_eq!(words, ["Hello", " there,", "  world"]);
        let answer = deltas("What is Rust?", &Scenario::default()).concat();
        assert!(answer.contains("You asked: \"What is Rust?\""), "{answer}");
    }
}

//! A Function URL event whose raw path or query holds bytes an `http::Uri` refuses (`"`, `<`,
//! space, controls, non-ASCII: curl sends them unencoded), rewritten with those bytes
//! percent-encoded. `lambda_http` builds the request's URI from these fields with `.expect`.

use std::borrow::Cow;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

/// What RFC 3986 allows in a path as is: unreserved, sub-delims, `:`, `@`, `/`, and `%` (an
/// escape already made, or a broken one that the query decoder reports as a clear 400).
const PATH_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/')
    .remove(b'%');
/// A query also allows `?`.
const QUERY_ESCAPED: &AsciiSet = &PATH_ESCAPED.remove(b'?');

#[derive(Deserialize)]
struct UriFields<'a> {
    #[serde(rename = "rawPath", borrow, default)]
    path: Option<Cow<'a, str>>,
    #[serde(rename = "rawQueryString", borrow, default)]
    query: Option<Cow<'a, str>>,
}

/// The event with a URI-safe `rawPath` and `rawQueryString`, or `None` when it already is
/// (the usual case: then nothing is copied) or is not a Function URL event.
pub fn event_with_safe_uri(event: &[u8]) -> Option<Bytes> {
    let fields: UriFields<'_> = serde_json::from_slice(event).ok()?;
    let unsafe_in = |value: &Option<Cow<'_, str>>, set: &'static AsciiSet| {
        value.as_deref().is_some_and(|v| matches!(utf8_percent_encode(v, set).into(), Cow::Owned(_)))
    };
    if !unsafe_in(&fields.path, PATH_ESCAPED) && !unsafe_in(&fields.query, QUERY_ESCAPED) {
        return None;
    }
    let mut event: serde_json::Value = serde_json::from_slice(event).ok()?;
    for (field, set) in [("rawPath", PATH_ESCAPED), ("rawQueryString", QUERY_ESCAPED)] {
        if let Some(serde_json::Value::String(value)) = event.get_mut(field) {
            *value = utf8_percent_encode(value, set).to_string();
        }
    }
    serde_json::to_vec(&event).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(path: &str, query: &str) -> Vec<u8> {
        serde_json::json!({"version": "2.0", "rawPath": path, "rawQueryString": query, "headers": {}})
            .to_string()
            .into_bytes()
    }

    fn fixed(path: &str, query: &str) -> (String, String) {
        let out = event_with_safe_uri(&event(path, query)).expect("rewritten");
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        (value["rawPath"].as_str().unwrap().to_owned(), value["rawQueryString"].as_str().unwrap().to_owned())
    }

    #[test]
    fn safe_events_are_left_alone() {
        assert!(event_with_safe_uri(&event("/", "message=caf%C3%A9+au%20lait&errors=inline")).is_none());
        assert!(event_with_safe_uri(&event("/stop", "a=b?c/d:e@f")).is_none());
        assert!(event_with_safe_uri(b"not json").is_none());
    }

    #[test]
    fn bytes_a_uri_refuses_are_percent_encoded() {
        assert_eq!(fixed("/", "message=a\"b <c>\td\u{7f}").1, "message=a%22b%20%3Cc%3E%09d%7F");
        assert_eq!(fixed("/", "message=café").1, "message=caf%C3%A9");
        assert_eq!(fixed("/a b", "").0, "/a%20b");
        // An escape already made stays as it is; a broken one is left for the decoder to refuse.
        assert_eq!(fixed("/", "message=%41 %zz").1, "message=%41%20%zz");
    }

    #[test]
    fn every_rewritten_event_gives_a_valid_uri() {
        for query in ["\"", "<>", " ", "\t", "\u{7f}", "{|}^`\\", "é", "\u{0}"] {
            let (path, query) = fixed("/", &format!("message={query}"));
            let uri = format!("https://x{path}?{query}");
            assert!(uri.parse::<http::Uri>().is_ok(), "{uri}");
        }
    }
}

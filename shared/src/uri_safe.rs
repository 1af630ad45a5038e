//! A Function URL event whose raw path or query holds bytes an `http::Uri` refuses (`"`, `<`,
//! space, controls, non-ASCII: curl sends them unencoded), rewritten with those bytes
//! percent-encoded; and one whose `Host` or `X-Forwarded-Proto` header would not make a URL
//! (a front that passes a caller's `X-Forwarded-Proto: ht tp` on), rewritten with `https` and the
//! function's own domain. `lambda_http` builds the request's URI from these fields with
//! `unwrap` and `.expect`, which the release profile turns into the end of the environment.

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
    #[serde(borrow, default)]
    headers: Option<UrlHeaders<'a>>,
    #[serde(rename = "requestContext", borrow, default)]
    context: Option<Context<'a>>,
}

/// The two headers `lambda_http` builds the URL from (Function URL events name them in lower case).
#[derive(Deserialize)]
struct UrlHeaders<'a> {
    #[serde(borrow, default)]
    host: Option<Cow<'a, str>>,
    #[serde(rename = "x-forwarded-proto", borrow, default)]
    proto: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Context<'a> {
    #[serde(rename = "domainName", borrow, default)]
    domain: Option<Cow<'a, str>>,
}

/// Whether `lambda_http` can build a request from this scheme and host: `url` parses the URL it
/// formats, and `http` the string `url` gives back.
fn builds(scheme: &str, host: &str) -> bool {
    url::Url::parse(&format!("{scheme}://{host}/")).is_ok_and(|url| url.as_str().parse::<http::Uri>().is_ok())
}

/// The header values to write instead of the event's, when those would not build a URL:
/// `(host, proto)`, each `None` when it is fine as it is.
fn safe_headers(fields: &UriFields<'_>) -> (Option<String>, Option<&'static str>) {
    let headers = fields.headers.as_ref();
    let domain = fields.context.as_ref().and_then(|c| c.domain.as_deref()).filter(|d| builds("https", d));
    let host = headers.and_then(|h| h.host.as_deref()).or(domain);
    let proto = headers.and_then(|h| h.proto.as_deref());
    let Some(host) = host else { return (None, None) };
    let new_host = (!builds("https", host)).then(|| domain.unwrap_or("localhost").to_owned());
    let host = new_host.as_deref().unwrap_or(host);
    let new_proto = proto.filter(|proto| !builds(proto, host)).map(|_| "https");
    (new_host, new_proto)
}

/// The event with a URI-safe `rawPath` and `rawQueryString`, or `None` when it already is
/// (the usual case: then nothing is copied) or is not a Function URL event.
pub fn event_with_safe_uri(event: &[u8]) -> Option<Bytes> {
    let fields: UriFields<'_> = serde_json::from_slice(event).ok()?;
    let unsafe_in = |value: &Option<Cow<'_, str>>, set: &'static AsciiSet| {
        value.as_deref().is_some_and(|v| matches!(utf8_percent_encode(v, set).into(), Cow::Owned(_)))
    };
    let (host, proto) = safe_headers(&fields);
    let headers_safe = host.is_none() && proto.is_none();
    if !unsafe_in(&fields.path, PATH_ESCAPED) && !unsafe_in(&fields.query, QUERY_ESCAPED) && headers_safe {
        return None;
    }
    let mut event: serde_json::Value = serde_json::from_slice(event).ok()?;
    for (field, set) in [("rawPath", PATH_ESCAPED), ("rawQueryString", QUERY_ESCAPED)] {
        if let Some(serde_json::Value::String(value)) = event.get_mut(field) {
            *value = utf8_percent_encode(value, set).to_string();
        }
    }
    if let Some(headers) = event.get_mut("headers").and_then(serde_json::Value::as_object_mut) {
        if let Some(host) = host {
            headers.insert("host".into(), host.into());
        }
        if let Some(proto) = proto {
            headers.insert("x-forwarded-proto".into(), proto.into());
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
    fn headers_that_would_not_make_a_url_are_replaced() {
        let with = |host: &str, proto: &str| {
            serde_json::json!({"rawPath": "/", "rawQueryString": "message=hi",
                "headers": {"host": host, "x-forwarded-proto": proto},
                "requestContext": {"domainName": "abc.lambda-url.us-east-1.on.aws"}})
            .to_string()
            .into_bytes()
        };
        assert!(event_with_safe_uri(&with("abc.lambda-url.us-east-1.on.aws", "https")).is_none());
        assert!(event_with_safe_uri(&with("example.com:8443", "HTTP")).is_none());
        for (host, proto) in
            [("h", "ht tp"), ("h", "1"), ("h", ""), ("exa mple", "https"), ("[::1", "https"), ("h", "-x")]
        {
            let out = event_with_safe_uri(&with(host, proto)).unwrap_or_else(|| panic!("{host:?} {proto:?}"));
            let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let (host, proto) =
                (value["headers"]["host"].as_str().unwrap(), value["headers"]["x-forwarded-proto"].as_str().unwrap());
            assert!(builds(proto, host), "{host:?} {proto:?}");
        }
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

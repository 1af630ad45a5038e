//! Reading a query string: each component decoded strictly (broken percent-encoding or invalid
//! UTF-8 is an error, never a silently mangled message), and a lenient reader of one parameter.

use std::borrow::Cow;

use percent_encoding::percent_decode;

use crate::ApiError;

/// Every value of the query parameter `name` in `raw_query`, read pair by pair, so that broken
/// encoding elsewhere in the query (which the strict parse of `message` refuses) cannot hide
/// it; a pair that does not decode is skipped.
pub fn values<'a>(raw_query: &'a str, name: &'a str) -> impl Iterator<Item = String> + 'a {
    raw_query.split('&').filter_map(move |pair| {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        decode_component(raw_name).ok().filter(|n| n == name)?;
        decode_component(raw_value).ok()
    })
}

/// One component (`+` as a space, then percent-decoded), strictly.
pub fn decode_component(raw: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::BadRequest("the query string has broken percent-encoding; encode it with encodeURIComponent".into())
    };
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(bad());
            }
        }
    }
    let plus_as_space: Cow<'_, str> =
        if raw.contains('+') { Cow::Owned(raw.replace('+', " ")) } else { Cow::Borrowed(raw) };
    percent_decode(plus_as_space.as_bytes())
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| ApiError::BadRequest("the query string is not valid UTF-8 once decoded".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parameter_is_read_past_broken_pairs() {
        assert_eq!(values("a=%zz&errors=inline&errors=x", "errors").collect::<Vec<_>>(), ["inline", "x"]);
        assert_eq!(decode_component("caf%C3%A9+au"), Ok("café au".to_owned()));
        assert!(decode_component("%E0%A4%A").is_err());
    }
}

//! Access keys (`ACCESS=keys`): sent as `Authorization: Bearer <key>` or `?key=<key>` (an
//! EventSource cannot set headers), stored only as SHA-256 hashes under `key#<hash>` in the
//! limits table, never logged. A key may carry its own limits, which override the per-caller
//! ones.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;

use chat_core::ApiError;

use crate::store::Store;

/// What the table holds of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The first 16 hex digits of the hash: how logs, counters and the keys tool name the key.
    pub id: String,
    pub name: String,
    pub revoked: bool,
    pub rate_per_minute: Option<u64>,
    pub tokens_per_day: Option<u64>,
}

/// `?key=`: the query parameter an access key may come in (an EventSource cannot set headers).
pub const KEY_PARAMETER: &str = "key";

/// The key the request presents, if any.
pub fn presented_key(request: &lambda_http::Request) -> Option<String> {
    bearer_or(request, KEY_PARAMETER)
}

/// `?access_token=`: where a signed-in user's token may come (`ACCESS=jwt`), for EventSource.
pub const TOKEN_PARAMETER: &str = "access_token";

/// The sign-in token the request presents, if any (`ACCESS=jwt`).
pub fn presented_token(request: &lambda_http::Request) -> Option<String> {
    bearer_or(request, TOKEN_PARAMETER)
}

/// `Authorization: Bearer <value>` (the scheme in any case, RFC 7235), else `?<parameter>=`.
fn bearer_or(request: &lambda_http::Request, parameter: &str) -> Option<String> {
    let bearer = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, value)| value.trim())
        .filter(|k| !k.is_empty());
    if let Some(key) = bearer {
        return Some(key.to_owned());
    }
    chat_core::query::values(request.uri().query().unwrap_or(""), parameter).find_map(|value| {
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    })
}

pub fn hash(key: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, key.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new key: 32 random bytes, URL-safe, recognisable by its prefix.
pub fn generate() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| ApiError::Misconfigured("no randomness for a new key".into()))?;
    Ok(format!("chat_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

impl Store {
    /// The record of the key whose hash is `hash`; `None` when the table holds no such key.
    pub async fn key(&self, hash: &str) -> Result<Option<KeyRecord>, ApiError> {
        let output = self.get(&format!("key#{hash}")).await?;
        let Some(item) = output else { return Ok(None) };
        // The lookup is by hash; the stored hash is compared again in constant time all the same.
        let stored = item.get("hash").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(stored.as_bytes(), hash.as_bytes())) {
            return Ok(None);
        }
        Ok(Some(record(&item)))
    }

    /// Stores a new key (its hash only) and returns its record.
    pub async fn put_key(&self, key: &str, name: &str) -> Result<KeyRecord, ApiError> {
        let hash = hash(key);
        let item = [
            ("pk", AttributeValue::S(format!("key#{hash}"))),
            ("hash", AttributeValue::S(hash.clone())),
            ("name", AttributeValue::S(name.to_owned())),
            ("revoked", AttributeValue::Bool(false)),
        ];
        self.put(item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).await?;
        Ok(KeyRecord {
            id: hash[..16].to_owned(),
            name: name.to_owned(),
            revoked: false,
            rate_per_minute: None,
            tokens_per_day: None,
        })
    }

    /// Every key in the table.
    pub async fn keys(&self) -> Result<Vec<KeyRecord>, ApiError> {
        Ok(self.scan_prefix("key#").await?.iter().map(record).collect())
    }

    /// Sets a key's own limits, or revokes it, by its id (hash prefix).
    pub async fn update_key(
        &self,
        id: &str,
        rate_per_minute: Option<u64>,
        tokens_per_day: Option<u64>,
        revoke: bool,
    ) -> Result<KeyRecord, ApiError> {
        let items = self.scan_prefix("key#").await?;
        let hash_of = |item: &Item| item.get("hash").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let mut matching = items.iter().filter(|item| hash_of(item).starts_with(id));
        let (Some(item), None) = (matching.next(), matching.next()) else {
            return Err(ApiError::BadRequest(format!("no single key has the id {id:?}")));
        };
        let (hash, mut record) = (hash_of(item), record(item));
        let mut changes = Vec::new();
        if let Some(rate) = rate_per_minute {
            changes.push(("rate_per_minute", AttributeValue::N(rate.to_string())));
            record.rate_per_minute = Some(rate);
        }
        if let Some(tokens) = tokens_per_day {
            changes.push(("tokens_per_day", AttributeValue::N(tokens.to_string())));
            record.tokens_per_day = Some(tokens);
        }
        if revoke {
            changes.push(("revoked", AttributeValue::Bool(true)));
            record.revoked = true;
        }
        self.set(&format!("key#{hash}"), changes).await?;
        Ok(record)
    }
}

type Item = std::collections::HashMap<String, AttributeValue>;

fn record(item: &Item) -> KeyRecord {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
    KeyRecord {
        id: text("hash").chars().take(16).collect(),
        name: text("name"),
        revoked: item.get("revoked").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        rate_per_minute: number("rate_per_minute"),
        tokens_per_day: number("tokens_per_day"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, authorization: Option<&str>) -> lambda_http::Request {
        let mut builder = http::Request::get(uri);
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        builder.body(lambda_http::Body::Empty).unwrap()
    }

    #[test]
    fn the_key_comes_from_the_header_or_the_query() {
        assert_eq!(
            presented_key(&request("https://x/?message=hi", Some("Bearer chat_abc"))).as_deref(),
            Some("chat_abc")
        );
        assert_eq!(presented_key(&request("https://x/?message=hi&key=chat_%41b", None)).as_deref(), Some("chat_Ab"));
        assert_eq!(presented_key(&request("https://x/?message=hi&key=", Some("Basic x"))), None);
        assert_eq!(presented_key(&request("https://x/?monkey=1", None)), None);
        assert_eq!(presented_token(&request("https://x/?access_token=a.b.c", None)).as_deref(), Some("a.b.c"));
        assert_eq!(presented_token(&request("https://x/?key=k", Some("bearer a.b.c"))).as_deref(), Some("a.b.c"));
        assert_eq!(presented_token(&request("https://x/?key=k", None)), None);
    }

    #[test]
    fn keys_are_random_and_stored_as_their_sha256() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert!(a.starts_with("chat_") && a.len() > 40 && a != b);
        // FIPS 180-2's test vector: the stored hash is SHA-256 itself, hex, and nothing of the key.
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(hash(&a), hash(&b));
        assert!(hash(&a).bytes().all(|c| c.is_ascii_hexdigit()) && hash(&a).len() == 64);
    }
}

//! The stand-in as Amazon Bedrock's `bedrock-mantle`: a short-term API key
//! (`bedrock-api-key-` + base64 of a SigV4 query-presigned `CallWithBearerToken` URL) is
//! decoded, and its signature recomputed with the test credentials (by the SDK's own signer,
//! as Bedrock would check it), with its action, region, service and expiry.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine;

/// The access key id of the test role the stand-in knows.
pub const TEST_ACCESS_KEY_ID: &str = "ASIASTANDINEXAMPLE01";
/// Its secret: a key signed with any other is refused.
pub const TEST_SECRET_ACCESS_KEY: &str = "stand-in/Bedrock+secret/EXAMPLEKEY0123456789";

const PREFIX: &str = "bedrock-api-key-";
const HOST: &str = "bedrock.amazonaws.com";
const VERSION: &str = "&Version=1";
const LONGEST: u64 = 43_200;
/// How far ahead of the stand-in's clock a key may be dated (clock skew).
const SKEW: Duration = Duration::from_secs(300);

/// What the stand-in checks a key against: its credentials and its region.
#[derive(Debug, Clone)]
pub struct BedrockCheck {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl BedrockCheck {
    /// The test role in `region`.
    pub fn test_role(region: &str) -> Self {
        Self {
            access_key_id: TEST_ACCESS_KEY_ID.to_owned(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.to_owned(),
            region: region.to_owned(),
        }
    }

    /// Whether `key` is a short-term Bedrock API key made with these credentials for this
    /// region, alive at `now`; otherwise why not (the stand-in's own words, for tests).
    pub fn verify(&self, key: &str, now: SystemTime) -> Result<(), String> {
        let encoded = key.strip_prefix(PREFIX).ok_or("not a Bedrock API key")?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| "not base64")?;
        let url = String::from_utf8(decoded).map_err(|_| "not UTF-8")?;
        let query = url
            .strip_suffix(VERSION)
            .and_then(|u| u.strip_prefix(&format!("{HOST}/?")))
            .ok_or("not a presigned bedrock.amazonaws.com URL ending in &Version=1")?;
        let params: Vec<(String, String)> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned()))
            .collect();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let need = |name: &'static str| param(name).ok_or(format!("no {name}"));
        if param("Action") != Some("CallWithBearerToken") || params.first().map(|(k, _)| k.as_str()) != Some("Action") {
            return Err("the action is not CallWithBearerToken".into());
        }
        if need("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" || need("X-Amz-SignedHeaders")? != "host" {
            return Err("not SigV4 over the host header".into());
        }
        let scope: Vec<&str> = need("X-Amz-Credential")?.split('/').collect();
        let [access, day, region, service, "aws4_request"] = scope.as_slice() else {
            return Err("a malformed credential scope".into());
        };
        if need("X-Amz-Date")?.get(..8) != Some(*day) {
            return Err("the credential scope's day is not the key's".into());
        }
        if *access != self.access_key_id {
            return Err("an unknown access key".into());
        }
        if (*region, *service) != (self.region.as_str(), "bedrock") {
            return Err(format!("signed for {region}/{service}, not {}/bedrock", self.region));
        }
        let signed_at = parse_amz_date(need("X-Amz-Date")?).ok_or("a malformed X-Amz-Date")?;
        let expires: u64 = need("X-Amz-Expires")?.parse().map_err(|_| "a malformed X-Amz-Expires")?;
        if expires == 0 || expires > LONGEST {
            return Err("X-Amz-Expires past 12 hours".into());
        }
        if now > signed_at + Duration::from_secs(expires) {
            return Err("the key has expired".into());
        }
        if signed_at > now + SKEW {
            return Err("the key is dated in the future".into());
        }
        let token = param("X-Amz-Security-Token").map(str::to_owned);
        let expected = self.signature(token, signed_at, Duration::from_secs(expires))?;
        if need("X-Amz-Signature")? != expected {
            return Err("the signature does not match".into());
        }
        Ok(())
    }

    /// The signature Bedrock computes for the request the key names, with the known secret.
    fn signature(&self, token: Option<String>, at: SystemTime, expires: Duration) -> Result<String, String> {
        let credentials = Credentials::new(&self.access_key_id, &self.secret_access_key, token, None, "stand-in");
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("bedrock")
            .time(at)
            .settings(settings)
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let url = format!("https://{HOST}/?Action=CallWithBearerToken");
        let request =
            SignableRequest::new("POST", url.as_str(), [("host", HOST)].into_iter(), SignableBody::Bytes(&[]))
                .map_err(|e| e.to_string())?;
        Ok(sign(request, &params).map_err(|e| e.to_string())?.signature().to_owned())
    }
}

/// `YYYYMMDDTHHMMSSZ`, in UTC.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let digits = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    if text.len() != 16 || text.get(8..9) != Some("T") || !text.ends_with('Z') {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(digits(0..4)?).ok()?, month, u8::try_from(digits(6..8)?).ok()?)
            .ok()?;
    let hms = [digits(9..11)?, digits(11..13)?, digits(13..15)?].map(|n| u8::try_from(n).unwrap_or(u8::MAX));
    let time = time::Time::from_hms(hms[0], hms[1], hms[2]).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_are_read_in_utc() {
        let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_558_400);
        assert_eq!(parse_amz_date("20261206T120000Z"), Some(noon));
        for bad in ["20261306T120000Z", "20261206 120000Z", "20261206T120000", "2026126T120000Z"] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}

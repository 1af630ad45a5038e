//! The event a Lambda function URL hands the function: API Gateway's payload format 2.0, shaped
//! like the example in AWS's "Invoking Lambda function URLs" guide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

const URL_ID: &str = "abcdefghijklmnopqrstuvwxyz012345";
const ACCOUNT: &str = "123456789012";
const USER_AGENT: &str = "curl/8.5.0";

/// A Function URL event. `raw_query_string` goes in exactly as given, raw characters and all,
/// as the URL service passes on what curl sent; `headers` are added to (and override) the ones
/// a plain curl request carries.
pub fn function_url_event(
    method: &str,
    raw_path: &str,
    raw_query_string: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Value {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let epoch_ms = now.as_millis() as u64;
    let request_id =
        format!("{:08x}-1111-4111-8111-{:012x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let domain = format!("{URL_ID}.lambda-url.us-east-1.on.aws");

    let mut header_map = Map::new();
    for (name, value) in [
        ("host", domain.as_str()),
        ("user-agent", USER_AGENT),
        ("accept", "*/*"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-for", "127.0.0.1"),
        ("x-amzn-trace-id", "Root=1-67891233-abcdef012345678912345678"),
    ] {
        header_map.insert(name.into(), value.into());
    }
    for (name, value) in headers {
        header_map.insert(name.to_ascii_lowercase(), (*value).into());
    }
    let user_agent = header_map.get("user-agent").and_then(Value::as_str).unwrap_or(USER_AGENT).to_owned();

    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query_string,
        "headers": header_map,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": URL_ID,
            "domainName": domain,
            "domainPrefix": URL_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_time(now.as_secs()),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": false,
        "pathParameters": null,
        "stageVariables": null,
    });
    // The URL service adds the decoded parameters (repeated names joined by commas) beside the raw string.
    let parameters = query_parameters(raw_query_string);
    if !parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(parameters);
    }
    if let Some(body) = body {
        event["body"] = body.into();
    }
    event
}

/// `GET /?<raw_query_string>` as curl sends it.
pub fn get_event(raw_query_string: &str) -> Value {
    function_url_event("GET", "/", raw_query_string, &[], None)
}

/// `GET /?message=<message>`: a question, as the page asks it.
pub fn question_event(message: &str) -> Value {
    get_event(&format!("message={}", crate::encode(message)))
}

/// `POST /` with a JSON body.
pub fn post_json_event(json: &str) -> Value {
    function_url_event("POST", "/", "", &[("content-type", "application/json")], Some(json))
}

fn query_parameters(raw: &str) -> Map<String, Value> {
    let mut parameters = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
        let (name, value) = (decode(name), decode(value));
        match parameters.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                parameters.insert(name, value.into());
            }
        }
    }
    parameters
}

/// `12/Mar/2020:19:03:58 +0000`, the request time format of the event.
fn clf_time(epoch_secs: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = (epoch_secs / 86_400) as i64;
    let secs = epoch_secs % 86_400;
    // Howard Hinnant's days-to-civil-date algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_parameters() {
        assert_eq!(clf_time(1_583_348_638), "04/Mar/2020:19:03:58 +0000");
        let event = get_event("message=a\"b&x=1&x=2");
        assert_eq!(event["rawQueryString"], "message=a\"b&x=1&x=2");
        assert_eq!(event["queryStringParameters"]["message"], "a\"b");
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(event["requestContext"]["http"]["method"], "GET");
        assert!(get_event("").get("queryStringParameters").is_none());
    }
}

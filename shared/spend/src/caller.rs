//! Who is asking: the address the Function URL saw (not a header the caller writes).

use std::net::IpAddr;

use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// `ip:<address>` from the Function URL's `requestContext.http.sourceIp`; an IPv6 address is
/// grouped by its /64, which one subscriber usually holds whole. `ip:unknown` outside Lambda.
pub fn caller_id(request: &lambda_http::Request) -> String {
    let source = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    match source.as_deref().map(str::trim).and_then(|ip| ip.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(ip)) => format!("ip:{ip}"),
        Some(IpAddr::V6(ip)) => {
            let segments = ip.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
        None => "ip:unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> lambda_http::Request {
        let event = serde_json::json!({
            "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {},
            "requestContext": {"http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": ip, "userAgent": "t"},
                "accountId": "a", "apiId": "x", "domainName": "x", "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0},
            "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn callers_are_told_apart_by_address_and_ipv6_by_its_64() {
        assert_eq!(caller_id(&from("203.0.113.7")), "ip:203.0.113.7");
        assert_eq!(caller_id(&from("2001:db8:1:2:aaaa::1")), caller_id(&from("2001:db8:1:2:bbbb::9")));
        assert_ne!(caller_id(&from("2001:db8:1:2::1")), caller_id(&from("2001:db8:1:3::1")));
        assert_eq!(caller_id(&from("not an ip")), "ip:unknown");
    }
}

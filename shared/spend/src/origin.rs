//! Which pages may make a browser ask: the `Origin` a browser sends on every CORS request and
//! POST, and, for the requests that carry none (`<img>`, an iframe or a link's navigation, a
//! `no-cors` GET), the `Sec-Fetch-Site` every current browser sends on every request.

use chat_core::ApiError;

/// Refuses a browser request made by a page that is not allowed; terminals and tools (which
/// send neither header) and an address typed or bookmarked (`Sec-Fetch-Site: none`) pass.
/// With no allowed origins configured there is no check at all.
pub fn check(request: &lambda_http::Request, allowed: &[String]) -> Result<(), ApiError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let header = |name: &str| request.headers().get(name).map(|v| v.to_str().unwrap_or_default().trim());
    if let Some(origin) = header("origin") {
        let origin = origin.trim_end_matches('/');
        return if allowed.iter().any(|o| o == origin) { Ok(()) } else { Err(ApiError::OriginNotAllowed) };
    }
    // No Origin: a page of another site (or of another Function URL of the same site) may still
    // have made the browser ask; only the user's own navigation or this URL itself may.
    match header("sec-fetch-site").map(str::to_ascii_lowercase).as_deref() {
        None | Some("none" | "same-origin") => Ok(()),
        Some(_) => Err(ApiError::OriginNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> lambda_http::Request {
        let mut builder = http::Request::get("https://x/?message=hi");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(lambda_http::Body::Empty).unwrap()
    }

    #[test]
    fn cross_site_requests_without_an_allowed_origin_are_refused() {
        let allowed = vec!["https://page.example".to_owned()];
        let passes = |headers: &[(&str, &str)]| check(&request(headers), &allowed).is_ok();
        assert!(passes(&[]), "a terminal sends neither header");
        assert!(passes(&[("sec-fetch-site", "none"), ("sec-fetch-mode", "navigate")]), "an address typed by the user");
        assert!(passes(&[("origin", "https://page.example/")]));
        assert!(
            passes(&[("origin", "https://page.example"), ("sec-fetch-site", "cross-site")]),
            "the page's own CORS request"
        );
        assert!(!passes(&[("origin", "https://evil.example")]));
        assert!(!passes(&[("origin", "null")]), "a sandboxed or file page");
        for site in ["cross-site", "same-site", "Cross-Site", "something-new"] {
            assert!(
                !passes(&[("sec-fetch-site", site), ("sec-fetch-dest", "image")]),
                "{site}: an <img> of another page"
            );
        }
        assert!(check(&request(&[("sec-fetch-site", "cross-site")]), &[]).is_ok(), "no origins configured: no check");
    }
}

use lambda_http::{Body, Error, Request, Response, http::header};
use tokio::sync::OnceCell;

use crate::docs::Asset;
use crate::html::{content_security_policy, html_response};
use crate::urls::{ChatUrls, Resolved};

const TEMPLATE: &str = include_str!("../../../static/index.html");
/// The page's scripts, a file a concern (`static/page/`), each inlined where its marker stands:
/// one document served, each script hashed by the policy.
const SCRIPTS: [(&str, &str); 6] = [
    ("/* page/access.js */", include_str!("../../../static/page/access.js")),
    ("/* page/transcript.js */", include_str!("../../../static/page/transcript.js")),
    ("/* page/attach.js */", include_str!("../../../static/page/attach.js")),
    ("/* page/chats.js */", include_str!("../../../static/page/chats.js")),
    ("/* page/ask.js */", include_str!("../../../static/page/ask.js")),
    ("/* page/main.js */", include_str!("../../../static/page/main.js")),
];

/// The page with its scripts in place, its config still the default.
fn whole_page() -> String {
    SCRIPTS.iter().fold(TEMPLATE.to_owned(), |html, (marker, script)| html.replacen(marker, script, 1))
}
const CONFIG_MARKER: &str = "{\"chatCompleteUrl\":\"/lambda-url/chat-complete\",\"chatStreamUrl\":\"/lambda-url/chat-stream\",\"access\":\"public\"}";

/// The page with the chat URLs filled in and its Content-Security-Policy, rendered once (a
/// failed look-up is tried again).
pub struct Page {
    urls: ChatUrls,
    /// `ACCESS`: in `keys` mode the page asks for an access key, in `jwt` mode it waits for a
    /// signed-in user's token.
    access: &'static str,
    /// `ACCESS=jwt`: the apps (`ALLOWED_ORIGINS`) that may frame the page and hand it a token.
    token_origins: Vec<String>,
    rendered: OnceCell<Rendered>,
}

struct Rendered {
    html: String,
    csp: String,
}

/// `ACCESS` as the chat functions read it: `public` (or unset), `keys` or `jwt`; anything else
/// stops init, as it stops theirs, instead of serving a page for a mode nobody chose.
pub fn access_mode(value: &str) -> Result<&'static str, String> {
    match value.trim() {
        "" | "public" => Ok("public"),
        "keys" => Ok("keys"),
        "jwt" => Ok("jwt"),
        other => Err(format!("environment variable ACCESS={other:?} is not valid: expected public, keys or jwt")),
    }
}

impl Page {
    /// `allowed_origins` is `ALLOWED_ORIGINS` as written; only well-formed origins are kept,
    /// since they go into the page's policy.
    pub fn new(urls: ChatUrls, access: &str, allowed_origins: &str) -> Self {
        let access = match access.trim() {
            "keys" => "keys",
            "jwt" => "jwt",
            _ => "public",
        };
        let token_origins = if access == "jwt" {
            allowed_origins.split(',').filter_map(well_formed_origin).collect()
        } else {
            Vec::new()
        };
        Self { urls, access, token_origins, rendered: OnceCell::new() }
    }

    async fn rendered(&self) -> Result<&Rendered, String> {
        self.rendered.get_or_try_init(|| async { self.urls.resolve().await.map(|urls| self.render(&urls)) }).await
    }

    fn render(&self, urls: &Resolved) -> Rendered {
        let mut config = serde_json::json!({ "chatCompleteUrl": urls.complete, "chatStreamUrl": urls.stream, "access": self.access });
        if let (Some(fields), "jwt") = (config.as_object_mut(), self.access) {
            fields.insert("tokenOrigins".into(), serde_json::json!(self.token_origins));
        }
        // Inside <script>, `<` could close the element: JSON allows escaping it.
        let config = config.to_string().replace('<', "\\u003c");
        let html = whole_page().replacen(CONFIG_MARKER, &config, 1);
        let csp = content_security_policy(&html, &[&urls.complete, &urls.stream], &self.token_origins);
        Rendered { html, csp }
    }
}

/// `scheme://host[:port]`, http(s) only, with nothing that could end a policy directive.
fn well_formed_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, authority) = origin.split_once("://")?;
    let safe = !authority.is_empty() && authority.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    (matches!(scheme, "http" | "https") && safe).then(|| origin.to_owned())
}

/// Serves the page on GET (and HEAD), or at `.../openapi.json` and `.../docs` the API's
/// description ([`crate::docs`]); any other method is 405.
pub async fn handle(page: &Page, request: Request) -> Result<Response<Body>, Error> {
    let request_id = shared::request_id(&request);
    let method = request.method().as_str();
    if method != "GET" && method != "HEAD" {
        // The same error, shape and headers as every other function's.
        let error =
            chat_core::ApiError::MethodNotAllowed { method: method.to_owned(), allow: chat_core::ApiError::ALLOW_PAGE };
        return Ok(error.to_response::<String>(&request_id).map(Body::Text));
    }
    if let Some(asset) = Asset::at(request.uri().path()) {
        return Ok(asset.response(method == "HEAD")?);
    }
    let rendered = match page.rendered().await {
        Ok(rendered) => rendered,
        Err(reason) => {
            // The reason names roles, functions and SDK errors: the log's, not the visitor's.
            tracing::error!(request_id, %reason, "the page's chat URLs could not be resolved");
            let detail = "This deployment is misconfigured; its owner can find the cause in the logs";
            let body = serde_json::json!({ "detail": detail, "code": "misconfigured", "request_id": request_id });
            return Ok(Response::builder()
                .status(500)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CACHE_CONTROL, "no-store")
                .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
                .body(Body::Text(body.to_string()))?);
        }
    };
    Ok(html_response(&rendered.html, &rendered.csp, method == "HEAD", !page.token_origins.is_empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(response: &Response<Body>) -> &str {
        match response.body() {
            Body::Text(text) => text,
            _ => "",
        }
    }

    #[tokio::test]
    async fn serves_the_page_with_the_urls_injected() {
        let page =
            Page::new(ChatUrls::fixed("https://a.lambda-url.aws/", "https://b.lambda-url.aws/</script>"), "public", "");
        let request = http::Request::get("/").body(Body::Empty).unwrap();
        let response = handle(&page, request).await.unwrap();
        assert_eq!(response.status(), 200);
        let html = html(&response);
        assert!(html.contains(r#""chatCompleteUrl":"https://a.lambda-url.aws/""#), "config not injected");
        assert!(html.contains(r#"https://b.lambda-url.aws/\u003c/script>"#));
        assert!(!html.contains("b.lambda-url.aws/</script>"));
    }

    #[test]
    fn the_template_holds_the_default_config_once_and_each_script_in_its_place() {
        let page = whole_page();
        assert_eq!(page.matches(CONFIG_MARKER).count(), 1);
        assert!(!page.contains("http://") && !page.contains("https://"), "the page loads nothing external");
        for (marker, script) in SCRIPTS {
            assert_eq!(TEMPLATE.matches(marker).count(), 1, "{marker}");
            assert!(!page.contains(marker), "{marker} left in the page");
            assert!(script.starts_with("\"use strict\";") && !script.contains("</script"), "{marker}");
        }
    }

    #[tokio::test]
    async fn the_policy_allows_only_this_page_s_script_and_style_and_the_chat_origins() {
        let page =
            Page::new(ChatUrls::fixed("https://a.lambda-url.aws/", "https://b.lambda-url.aws:443/x?y"), "public", "");
        let response = handle(&page, http::Request::get("/").body(Body::Empty).unwrap()).await.unwrap();
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(!csp.contains("unsafe-inline") && !csp.contains('*'), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("connect-src https://a.lambda-url.aws https://b.lambda-url.aws:443;"), "{csp}");
        // One hash each for the page's one script and one style; the browser test proves a
        // browser computes the same (the page would not run otherwise).
        for directive in ["script-src 'sha256-", "style-src 'sha256-"] {
            let hash = csp.split(directive).nth(1).and_then(|rest| rest.split('\'').next()).unwrap_or_default();
            assert_eq!(hash.len(), 44, "{directive} in {csp}");
        }
        let local = handle(
            &Page::new(ChatUrls::fixed("/lambda-url/chat-complete", "/lambda-url/chat-stream"), "public", ""),
            http::Request::get("/").body(Body::Empty).unwrap(),
        )
        .await
        .unwrap();
        assert!(local.headers()["content-security-policy"].to_str().unwrap().contains("connect-src 'self';"));
    }

    #[tokio::test]
    async fn in_keys_mode_the_page_is_told_to_ask_for_a_key() {
        for (access, expected) in
            [("keys", r#""access":"keys""#), ("public", r#""access":"public""#), ("bogus", r#""access":"public""#)]
        {
            let page = Page::new(ChatUrls::fixed("a", "b"), access, "");
            let response = handle(&page, http::Request::get("/").body(Body::Empty).unwrap()).await.unwrap();
            assert!(html(&response).contains(expected), "{access}");
        }
    }

    #[tokio::test]
    async fn in_jwt_mode_only_the_allowed_apps_may_frame_the_page_and_hand_it_a_token() {
        let origins = "https://app.example, http://127.0.0.1:5173/,javascript:alert(1),https://x; script-src *";
        let page = Page::new(ChatUrls::fixed("a", "b"), "jwt", origins);
        let response = handle(&page, http::Request::get("/").body(Body::Empty).unwrap()).await.unwrap();
        assert!(html(&response).contains(r#""access":"jwt""#));
        assert!(
            html(&response).contains(r#""tokenOrigins":["https://app.example","http://127.0.0.1:5173"]"#),
            "{}",
            html(&response)
        );
        let csp = response.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.ends_with("frame-ancestors https://app.example http://127.0.0.1:5173"), "{csp}");
        assert!(response.headers().get("x-frame-options").is_none());
        // Keys mode ignores ALLOWED_ORIGINS for framing: no token is handed over there.
        let keys = handle(
            &Page::new(ChatUrls::fixed("a", "b"), "keys", origins),
            http::Request::get("/").body(Body::Empty).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(keys.headers()["x-frame-options"], "DENY");
        assert!(keys.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert!(!html(&keys).contains(r#""tokenOrigins":"#));
    }

    #[tokio::test]
    async fn other_methods_are_405_shaped_as_every_other_error() {
        let request = http::Request::post("/").body(Body::Empty).unwrap();
        let refused = handle(&Page::new(ChatUrls::fixed("a", "b"), "public", ""), request).await.unwrap();
        assert_eq!(refused.status(), 405);
        assert_eq!(refused.headers()["cache-control"], "no-store");
        assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
        let body: serde_json::Value = serde_json::from_str(html(&refused)).unwrap();
        assert_eq!(body["code"], "method_not_allowed");
    }

    #[test]
    fn an_access_mode_nobody_chose_stops_init() {
        assert_eq!(access_mode(""), Ok("public"));
        assert_eq!(access_mode(" keys "), Ok("keys"));
        assert_eq!(access_mode("jwt"), Ok("jwt"));
        for typo in ["key", "JWT", "private"] {
            assert!(access_mode(typo).unwrap_err().contains("public, keys or jwt"), "{typo}");
        }
    }
}

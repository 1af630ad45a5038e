use lambda_http::{Body, Error, Request, Response, http::header};

const TEMPLATE: &str = include_str!("../../../static/index.html");
const CONFIG_MARKER: &str = "{\"chatCompleteUrl\":\"/lambda-url/chat-complete\",\"chatStreamUrl\":\"/lambda-url/chat-stream\"}";

/// The page with the chat URLs filled in, rendered once at init.
pub struct Page {
    html: String,
}

impl Page {
    pub fn from_env() -> Self {
        let url = |name: &str, default: &str| {
            std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
        };
        Self::new(
            &url("CHAT_COMPLETE_URL", "/lambda-url/chat-complete"),
            &url("CHAT_STREAM_URL", "/lambda-url/chat-stream"),
        )
    }

    pub fn new(chat_complete_url: &str, chat_stream_url: &str) -> Self {
        let config = serde_json::json!({ "chatCompleteUrl": chat_complete_url, "chatStreamUrl": chat_stream_url })
            .to_string()
            // Inside <script>, `<` could close the element: JSON allows escaping it.
            .replace('<', "\\u003c");
        Self { html: TEMPLATE.replacen(CONFIG_MARKER, &config, 1) }
    }
}

/// Serves the page on GET (and HEAD); anything else is 405.
pub async fn handle(page: &Page, request: Request) -> Result<Response<Body>, Error> {
    let method = request.method().as_str();
    if method != "GET" && method != "HEAD" {
        return Ok(Response::builder()
            .status(405)
            .header(header::ALLOW, "GET, HEAD")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(r#"{"detail":"Only GET is allowed here"}"#.into()))?);
    }
    let body = if method == "HEAD" { Body::Empty } else { Body::Text(page.html.clone()) };
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("content-security-policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src *; img-src data:; base-uri 'none'; form-action 'none'")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .body(body)?)
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
        let page = Page::new("https://a.lambda-url.aws/", "https://b.lambda-url.aws/</script>");
        let request = http::Request::get("/").body(Body::Empty).unwrap();
        let response = handle(&page, request).await.unwrap();
        assert_eq!(response.status(), 200);
        let html = html(&response);
        assert!(html.contains(r#""chatCompleteUrl":"https://a.lambda-url.aws/""#), "config not injected");
        assert!(html.contains(r#"https://b.lambda-url.aws/\u003c/script>"#));
        assert!(!html.contains("b.lambda-url.aws/</script>"));
    }

    #[test]
    fn the_template_holds_the_default_config_once() {
        assert_eq!(TEMPLATE.matches(CONFIG_MARKER).count(), 1);
        assert!(!TEMPLATE.contains("http://") && !TEMPLATE.contains("https://"), "the page loads nothing external");
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let request = http::Request::post("/").body(Body::Empty).unwrap();
        assert_eq!(handle(&Page::new("a", "b"), request).await.unwrap().status(), 405);
    }
}

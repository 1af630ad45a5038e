use lambda_http::{Body, Error, Request, Response, http::header};
use tokio::sync::OnceCell;

use crate::urls::{ChatUrls, Resolved};

const TEMPLATE: &str = include_str!("../../../static/index.html");
const CONFIG_MARKER: &str = "{\"chatCompleteUrl\":\"/lambda-url/chat-complete\",\"chatStreamUrl\":\"/lambda-url/chat-stream\"}";

/// The page with the chat URLs filled in, rendered once (a failed look-up is tried again).
pub struct Page {
    urls: ChatUrls,
    html: OnceCell<String>,
}

impl Page {
    pub fn new(urls: ChatUrls) -> Self {
        Self { urls, html: OnceCell::new() }
    }

    async fn html(&self) -> Result<&str, String> {
        let html = self.html.get_or_try_init(|| async { self.urls.resolve().await.map(|urls| render(&urls)) }).await?;
        Ok(html)
    }
}

fn render(urls: &Resolved) -> String {
    let config = serde_json::json!({ "chatCompleteUrl": urls.complete, "chatStreamUrl": urls.stream })
        .to_string()
        // Inside <script>, `<` could close the element: JSON allows escaping it.
        .replace('<', "\\u003c");
    TEMPLATE.replacen(CONFIG_MARKER, &config, 1)
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
    let html = match page.html().await {
        Ok(html) => html,
        Err(reason) => {
            tracing::error!(%reason, "the page's chat URLs could not be resolved");
            let detail = serde_json::json!({ "detail": format!("This deployment is misconfigured: {reason}") });
            return Ok(Response::builder()
                .status(500)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::Text(detail.to_string()))?);
        }
    };
    let body = if method == "HEAD" { Body::Empty } else { Body::Text(html.to_owned()) };
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
        let page = Page::new(ChatUrls::fixed("https://a.lambda-url.aws/", "https://b.lambda-url.aws/</script>"));
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
        assert_eq!(handle(&Page::new(ChatUrls::fixed("a", "b")), request).await.unwrap().status(), 405);
    }
}

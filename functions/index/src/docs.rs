//! The API's own description, served beside the page: `GET .../openapi.json` is the OpenAPI 3.1
//! document (`static/openapi.json`) and `GET .../docs` a page that renders it
//! (`static/docs.html`). Both are built into the binary like the page, so a deployment serves
//! exactly the document its code was tested against (tests/tests/openapi_document.rs), with nothing to upload.

use std::sync::LazyLock;

use lambda_http::{Body, Response, http::header};

/// The last path segment that names the document; the same under `cargo lambda watch`
/// (`/lambda-url/index/openapi.json`) and deployed (`/openapi.json`).
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The last path segment that names the docs page.
pub const DOCS_PATH: &str = "/docs";
pub const DOCUMENT: &str = include_str!("../../../static/openapi.json");
const DOCS_TEMPLATE: &str = include_str!("../../../static/docs.html");
/// Where the document goes in the docs page. A data block runs nothing and needs no hash in the
/// policy, and with the document inside it the page makes no request and works saved to disk.
const DOCUMENT_MARKER: &str = r#"<script type="application/json" id="openapi">{}</script>"#;

/// What index serves besides the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Document,
    Docs,
}

impl Asset {
    /// The asset a request's path names, if any: every other path is the page's, as before.
    pub fn at(path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        if path.ends_with(OPENAPI_PATH) {
            Some(Self::Document)
        } else if path.ends_with(DOCS_PATH) {
            Some(Self::Docs)
        } else {
            None
        }
    }

    /// The 200 answer (headers only for HEAD).
    pub fn response(self, head: bool) -> Result<Response<Body>, lambda_http::http::Error> {
        match self {
            Self::Document => Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CACHE_CONTROL, "no-cache")
                .header("x-content-type-options", "nosniff")
                .body(if head { Body::Empty } else { Body::Text(DOCUMENT.to_owned()) }),
            Self::Docs => crate::html::html_response(&DOCS_PAGE.html, &DOCS_PAGE.csp, head, false),
        }
    }
}

/// The docs page with the document inside it and its policy, computed once per execution
/// environment (and only if someone asks for it).
struct DocsPage {
    html: String,
    csp: String,
}

static DOCS_PAGE: LazyLock<DocsPage> = LazyLock::new(|| {
    // Inside <script>, `<` could close the element: JSON allows escaping it, and `<` only ever
    // occurs inside JSON strings.
    let data = DOCUMENT.trim().replace('<', "\\u003c");
    let block = DOCUMENT_MARKER.replacen("{}", &data, 1);
    let html = DOCS_TEMPLATE.replacen(DOCUMENT_MARKER, &block, 1);
    let csp = crate::html::content_security_policy(&html, &[], &[]);
    DocsPage { html, csp }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{Page, handle};
    use crate::urls::ChatUrls;

    async fn get(path: &str) -> Response<Body> {
        let page = Page::new(ChatUrls::fixed("https://a.lambda-url.aws/", "https://b.lambda-url.aws/"), "public", "");
        handle(&page, http::Request::get(path).body(Body::Empty).unwrap()).await.unwrap()
    }

    fn text(response: &Response<Body>) -> &str {
        match response.body() {
            Body::Text(text) => text,
            _ => "",
        }
    }

    fn content_type(response: &Response<Body>) -> &str {
        response.headers()[header::CONTENT_TYPE].to_str().unwrap()
    }

    #[tokio::test]
    async fn each_path_gets_its_asset_locally_and_deployed_and_every_other_path_the_page() {
        for prefix in ["", "/lambda-url/index"] {
            for suffix in ["", "/"] {
                let document = get(&format!("{prefix}/openapi.json{suffix}")).await;
                assert_eq!(
                    (document.status().as_u16(), content_type(&document)),
                    (200, "application/json"),
                    "{prefix}{suffix}"
                );
                assert_eq!(text(&document), DOCUMENT);
                let docs = get(&format!("{prefix}/docs{suffix}")).await;
                assert_eq!(content_type(&docs), "text/html; charset=utf-8");
                assert!(text(&docs).contains(r#"id="openapi">{"#), "{prefix}{suffix}");
            }
            for other in ["/", "/index.html", "/mydocs", "/docs/more", "/openapi.yaml"] {
                let page = get(&format!("{prefix}{other}")).await;
                assert!(text(&page).contains("chatCompleteUrl"), "{prefix}{other} is the page");
            }
        }
        let head = handle(
            &Page::new(ChatUrls::fixed("a", "b"), "public", ""),
            http::Request::head("/docs").body(Body::Empty).unwrap(),
        )
        .await
        .unwrap();
        assert!(matches!(head.body(), Body::Empty) && head.headers().contains_key("content-security-policy"));
        let post = handle(
            &Page::new(ChatUrls::fixed("a", "b"), "public", ""),
            http::Request::post("/openapi.json").body(Body::Empty).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(post.status(), 405);
    }

    #[test]
    fn the_docs_page_carries_the_document_intact() {
        assert_eq!(DOCS_TEMPLATE.matches(DOCUMENT_MARKER).count(), 1);
        let html = &DOCS_PAGE.html;
        let start = html.find(r#"id="openapi">"#).unwrap() + r#"id="openapi">"#.len();
        let embedded = &html[start..start + html[start..].find("</script>").unwrap()];
        assert!(!embedded.contains('<'), "nothing in the document can close its element");
        let parsed: serde_json::Value = serde_json::from_str(embedded).unwrap();
        assert_eq!(parsed, serde_json::from_str::<serde_json::Value>(DOCUMENT).unwrap());
    }

    #[test]
    fn the_docs_page_loads_nothing_and_runs_only_its_own_script_and_style() {
        for external in ["http://", "https://", "//cdn", "src=", "@import", "url("] {
            assert!(!DOCS_TEMPLATE.contains(external), "{external} in docs.html");
        }
        // The renderer builds elements and text nodes only: no HTML from the document.
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!DOCS_TEMPLATE.contains(sink), "{sink} in docs.html");
        }
        let csp = &DOCS_PAGE.csp;
        assert!(!csp.contains("unsafe-inline") && !csp.contains('*'), "{csp}");
        assert!(csp.contains("connect-src 'none';") && csp.contains("frame-ancestors 'none'"), "{csp}");
        // One hash each for the page's one script and one style (the data block needs none).
        for directive in ["script-src 'sha256-", "style-src 'sha256-"] {
            let hashes = csp.split(directive).nth(1).and_then(|rest| rest.split(';').next()).unwrap_or_default();
            assert_eq!(
                (hashes.matches("sha256-").count(), hashes.split('\'').next().unwrap_or_default().len()),
                (0, 44),
                "{directive} in {csp}"
            );
        }
    }
}

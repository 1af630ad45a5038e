//! HTML answers of ours: the page and the docs page, each with a Content-Security-Policy that
//! lets only its own inline script and style run and talk only to the chat functions.

use lambda_http::{Body, Response, http::header};

/// Only the page's own script and style run (allowed by hash, not `'unsafe-inline'`), it talks
/// only to the two chat functions (the docs page, given none, to nothing), and only the apps
/// in `frame_ancestors` (`ACCESS=jwt`, which hand it their users' tokens) may frame it.
pub fn content_security_policy(html: &str, chat_urls: &[&str], frame_ancestors: &[String]) -> String {
    let script = inline_hashes(html, "<script>", "</script>");
    let style = inline_hashes(html, "<style>", "</style>");
    let mut connect: Vec<String> = chat_urls.iter().map(|url| origin(url)).collect();
    connect.dedup();
    let connect = if connect.is_empty() { "'none'".to_owned() } else { connect.join(" ") };
    let ancestors = if frame_ancestors.is_empty() { "'none'".to_owned() } else { frame_ancestors.join(" ") };
    format!(
        "default-src 'none'; script-src {script}; style-src {style}; connect-src {connect}; img-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )
}

/// `'sha256-…'` of each inline element opened by `open` (exactly: data blocks such as
/// `<script type="application/json">` are not scripts and need no hash).
fn inline_hashes(html: &str, open: &str, close: &str) -> String {
    use base64::Engine;
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(open) {
        let body = rest.get(start + open.len()..).unwrap_or_default();
        let Some(end) = body.find(close) else { break };
        let (inline, after) = body.split_at(end);
        let digest = ring::digest::digest(&ring::digest::SHA256, inline.as_bytes());
        hashes.push(format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest.as_ref())));
        rest = after;
    }
    if hashes.is_empty() { "'none'".to_owned() } else { hashes.join(" ") }
}

/// The origin of an absolute URL; a relative one (local runs) is the page's own.
fn origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "'self'".to_owned() };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

/// A page of ours with its policy, never sniffed or told where it was linked from, and never
/// framed unless `framable` (its policy's `frame-ancestors` then says by whom).
pub fn html_response(
    html: &str,
    csp: &str,
    head: bool,
    framable: bool,
) -> Result<Response<Body>, lambda_http::http::Error> {
    let body = if head { Body::Empty } else { Body::Text(html.to_owned()) };
    let builder = Response::builder().status(200);
    // X-Frame-Options has no allow-list: with one, only frame-ancestors speaks.
    let builder = if framable { builder } else { builder.header("x-frame-options", "DENY") };
    builder
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("content-security-policy", csp)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .body(body)
}

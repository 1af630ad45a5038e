//! `index`: serves the chat page, wired to the two chat functions' URLs, and the API's
//! description (`openapi.json`, `docs`).

mod docs;
mod handler;
mod html;
mod urls;

use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init()?;
    let access = handler::access_mode(&std::env::var("ACCESS").unwrap_or_default())?;
    // Lives as long as the execution environment; the runtime wants handlers that are 'static.
    let page: &'static handler::Page = Box::leak(Box::new(handler::Page::new(
        urls::ChatUrls::from_env(),
        access,
        &std::env::var("ALLOWED_ORIGINS").unwrap_or_default(),
    )));
    shared::runtime::run(service_fn(move |request| handler::handle(page, request))).await
}

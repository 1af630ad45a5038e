//! `index`: serves the chat page, wired to the two chat functions' URLs.

mod handler;
mod urls;

use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let page = handler::Page::new(urls::ChatUrls::from_env());
    let page = &page;
    lambda_http::run(service_fn(move |request| handler::handle(page, request))).await
}

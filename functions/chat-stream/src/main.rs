//! `chat-stream`: asks the model and streams the answer as Server-Sent Events, in Lambda's
//! response streaming mode.

#[cfg(test)]
mod chat_resume_tests;
mod chats;
mod cursor;
mod dialect;
#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod functions_tests;
mod handler;
#[cfg(test)]
mod ownership_tests;
mod pings;
#[cfg(test)]
mod reasoning_tests;
mod relay;
mod response;
#[cfg(test)]
mod resume_tests;
mod settlement;
mod stop;
#[cfg(test)]
mod ui_chat_tests;
mod workflow;

use std::sync::Arc;

use chat_core::Config;
use lambda_http::{Error, service_fn};
use openai_client::{ApiKey, ResponsesClient};
use spend::Gate;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init()?;
    let config = Arc::new(Config::from_env()?);
    let key = ApiKey::from_config(&config.key);
    // Lives as long as the execution environment; the runtime wants handlers that are 'static.
    let gate: &'static Gate = Box::leak(Box::new(Gate::from_config(config.limits.clone())?));
    let client: &'static ResponsesClient = Box::leak(Box::new(ResponsesClient::new(config, key)?));
    shared::warm::open_connections(client, gate).await;
    shared::lifecycle::watch("chat-stream", client);
    shared::runtime::run_streaming(service_fn(move |request| handler::handle(client, gate, request))).await
}

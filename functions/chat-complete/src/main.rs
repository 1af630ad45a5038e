//! `chat-complete`: asks the model and answers with the whole text as JSON.

#[cfg(test)]
mod admission_tests;
#[cfg(test)]
mod attachments_tests;
#[cfg(test)]
mod failover_spend_tests;
#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod functions_tests;
mod handler;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod spend_tests;
#[cfg(test)]
mod tools_tests;

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
    shared::lifecycle::watch("chat-complete", client);
    shared::runtime::run(service_fn(move |request| handler::handle(client, gate, request))).await
}

//! One request to the limits table and what its answer means, for `store` and `window` alike:
//! the deadline, the failed condition told apart from the store being unavailable, and the
//! warning logged once. Never decides what is written.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;

use chat_core::ApiError;

/// The store unreachable or slow for this long: the request is refused (fail closed).
pub(crate) const DEADLINE: Duration = Duration::from_millis(1000);

pub(crate) type Item = HashMap<String, AttributeValue>;

/// What a conditional update did.
pub(crate) enum Updated {
    Applied,
    /// Its condition failed; with the item as it was when the request asked for it and the
    /// store returned it (an emulator may not).
    ConditionFailed(Option<Item>),
}

/// Sends an update within [`DEADLINE`]. The SDK's future is boxed before the one returned is
/// built, so each caller's future holds a pointer to it, not a copy (large in a debug build).
pub(crate) fn update<'a>(
    send: impl Future<Output = Result<UpdateItemOutput, SdkError<UpdateItemError>>> + Send + 'a,
) -> impl Future<Output = Result<Updated, ApiError>> + Send + 'a {
    let send = Box::pin(send);
    async move { outcome(tokio::time::timeout(DEADLINE, send).await) }
}

fn outcome(
    sent: Result<Result<UpdateItemOutput, SdkError<UpdateItemError>>, tokio::time::error::Elapsed>,
) -> Result<Updated, ApiError> {
    match sent {
        Ok(Ok(_)) => Ok(Updated::Applied),
        Ok(Err(error)) => match error.into_service_error() {
            UpdateItemError::ConditionalCheckFailedException(failed) => Ok(Updated::ConditionFailed(failed.item)),
            error => {
                tracing::warn!(error = %DisplayErrorContext(&error), "the limits table could not be updated");
                Err(ApiError::LimitsUnavailable)
            }
        },
        Err(_) => Err(timed_out()),
    }
}

/// The item under `pk` (strongly consistent), within [`DEADLINE`].
pub(crate) async fn read(client: &Client, table: &str, pk: &str) -> Result<Option<Item>, ApiError> {
    let request = client.get_item().table_name(table).key("pk", AttributeValue::S(pk.to_owned())).consistent_read(true);
    match tokio::time::timeout(DEADLINE, request.send()).await {
        Ok(Ok(output)) => Ok(output.item),
        Ok(Err(error)) => Err(unavailable(error)),
        Err(_) => Err(timed_out()),
    }
}

fn timed_out() -> ApiError {
    tracing::warn!("the limits table did not answer in time");
    ApiError::LimitsUnavailable
}

/// A request that failed for a reason other than its condition: logged, and 503.
pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(error: E) -> ApiError {
    tracing::warn!(error = %DisplayErrorContext(&error), "the limits table could not be read or written");
    ApiError::LimitsUnavailable
}

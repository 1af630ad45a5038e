//! Keep-alive as a stream adapter (as axum's SSE `KeepAlive`): a [`Tick::Ping`] each time the
//! wrapped stream is silent for `every`, so the relay reads as what happens to the answer.

use std::time::Duration;

use futures_util::{Stream, StreamExt};

/// An item of the wrapped stream, or a silence of one interval.
#[derive(Debug, PartialEq, Eq)]
pub enum Tick<T> {
    Ping,
    Item(T),
}

/// `stream`'s items, with a [`Tick::Ping`] after each `every` of silence; ends with it. The
/// item being waited for is not lost to a ping: the wrapped stream's `next` is cancel-safe.
pub fn with_pings<S: Stream + Unpin>(stream: S, every: Duration) -> impl Stream<Item = Tick<S::Item>> {
    futures_util::stream::unfold(stream, move |mut stream| async move {
        match tokio::time::timeout(every, stream.next()).await {
            Err(_) => Some((Tick::Ping, stream)),
            Ok(Some(item)) => Some((Tick::Item(item), stream)),
            Ok(None) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn silences_become_pings_and_items_pass_in_order() {
        let slow = futures_util::stream::iter([1, 2]).then(|n| async move {
            tokio::time::sleep(Duration::from_millis(if n == 2 { 250 } else { 0 })).await;
            n
        });
        let ticks: Vec<Tick<i32>> = with_pings(Box::pin(slow), Duration::from_millis(100)).collect().await;
        // 250 ms of silence: two pings, or more on a machine that is slow to wake.
        assert_eq!((ticks.first(), ticks.last()), (Some(&Tick::Item(1)), Some(&Tick::Item(2))), "{ticks:?}");
        let between = &ticks[1..ticks.len() - 1];
        assert!(between.len() >= 2 && between.iter().all(|t| *t == Tick::Ping), "{ticks:?}");
    }
}

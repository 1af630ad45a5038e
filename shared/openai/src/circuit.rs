//! The primary's circuit, per execution environment: after a failure that sent an answer to the
//! fallback, new answers go straight to the fallback, and one request at a time, every
//! [`PROBE_EVERY`], tries the primary first (a single attempt); its success closes the circuit.
//! So during an outage the primary sees about one attempt per probe, not three per request,
//! and takes answers again within seconds of recovering.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How often an open circuit lets one request try the primary.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct Circuit(Mutex<State>);

#[derive(Default)]
struct State {
    /// `Some` while open: when the next probe may go.
    next_probe: Option<Instant>,
    probing: bool,
}

/// Where one new answer is sent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Try {
    /// The primary, as usual (the circuit is closed).
    Primary,
    /// The primary once, as the open circuit's probe.
    Probe,
    /// Straight to the fallback.
    Fallback,
}

impl Circuit {
    pub(crate) fn next(&self) -> Try {
        let Ok(mut state) = self.0.lock() else { return Try::Primary };
        match state.next_probe {
            None => Try::Primary,
            Some(at) if !state.probing && Instant::now() >= at => {
                state.probing = true;
                Try::Probe
            }
            Some(_) => Try::Fallback,
        }
    }

    /// The primary failed an answer that went to the fallback (or a probe failed).
    pub(crate) fn failed(&self) {
        if let Ok(mut state) = self.0.lock() {
            if state.next_probe.is_none() {
                tracing::warn!(
                    probe_every_ms = PROBE_EVERY.as_millis() as u64,
                    "the primary failed: new answers go to the fallback until a probe succeeds (circuit open)"
                );
            }
            state.next_probe = Some(Instant::now() + PROBE_EVERY);
            state.probing = false;
        }
    }

    /// A try of the primary said nothing of its health: a probe's turn is free again.
    pub(crate) fn undecided(&self) {
        if let Ok(mut state) = self.0.lock() {
            state.probing = false;
        }
    }

    /// The primary answered.
    pub(crate) fn succeeded(&self) {
        if let Ok(mut state) = self.0.lock() {
            if state.next_probe.take().is_some() {
                tracing::warn!("the primary answers again: new answers go to it (circuit closed)");
            }
            state.probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_open_circuit_lets_one_probe_through_at_a_time_and_closes_on_its_success() {
        let circuit = Circuit::default();
        assert_eq!(circuit.next(), Try::Primary);
        circuit.failed();
        assert_eq!(circuit.next(), Try::Fallback, "no probe before PROBE_EVERY");
        tokio::time::advance(PROBE_EVERY).await;
        assert_eq!(circuit.next(), Try::Probe);
        assert_eq!(circuit.next(), Try::Fallback, "one probe at a time");
        circuit.failed();
        assert_eq!(circuit.next(), Try::Fallback);
        tokio::time::advance(PROBE_EVERY).await;
        assert_eq!(circuit.next(), Try::Probe);
        circuit.succeeded();
        assert_eq!(circuit.next(), Try::Primary);
        // A probe that ends neither way does not keep the primary shut out.
        circuit.failed();
        tokio::time::advance(PROBE_EVERY).await;
        assert_eq!(circuit.next(), Try::Probe);
        circuit.undecided();
        assert_eq!(circuit.next(), Try::Probe);
    }
}

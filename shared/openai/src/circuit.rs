//! The primary's circuit, per execution environment: after a failure that sent an answer to the
//! fallback, new answers go straight to the fallback, and one request at a time tries the
//! primary first (a single attempt): [`PROBE_EVERY`] after the failure, then twice as long after
//! each failed probe, up to [`LONGEST_PROBE_WAIT`]. Only what a user feels closes it: a
//! buffered answer, or a stream's first event (a primary that accepts answers and then stalls
//! stays open). So during an outage the primary sees a handful of probes, not one in front of
//! every question, and takes answers again soon after recovering.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long after the primary's first failure an open circuit lets one request try it.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);
/// The longest wait between probes, however long the outage.
pub const LONGEST_PROBE_WAIT: Duration = Duration::from_secs(64);

#[derive(Default)]
pub(crate) struct Circuit(Mutex<State>);

#[derive(Default)]
struct State {
    /// `Some` while open: when the next probe may go.
    next_probe: Option<Instant>,
    /// `Some` while a probe is out: when another may go all the same (its reader may have left
    /// before it showed anything).
    probing: Option<Instant>,
    /// The wait before the next probe, doubled by each failed one.
    wait: Duration,
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
    /// Where the next new answer goes; a probe given out holds its turn for `lease` at most.
    pub(crate) fn next(&self, lease: Duration) -> Try {
        let Ok(mut state) = self.0.lock() else { return Try::Primary };
        let now = Instant::now();
        let free = state.probing.is_none_or(|until| now >= until);
        match state.next_probe {
            None => Try::Primary,
            Some(at) if free && now >= at => {
                state.probing = Some(now + lease);
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
            // A failed probe doubles the wait; answers that were already on their way when the
            // circuit opened do not.
            state.wait = match (state.next_probe, state.probing) {
                (None, _) => PROBE_EVERY,
                (Some(_), Some(_)) => (state.wait * 2).clamp(PROBE_EVERY, LONGEST_PROBE_WAIT),
                (Some(_), None) => state.wait,
            };
            state.next_probe = Some(Instant::now() + state.wait);
            state.probing = None;
        }
    }

    /// Whether new answers go to the fallback for now (a probe's turn aside).
    pub(crate) fn is_open(&self) -> bool {
        self.0.lock().is_ok_and(|state| state.next_probe.is_some())
    }

    /// A try of the primary said nothing of its health: a probe's turn is free again.
    pub(crate) fn undecided(&self) {
        if let Ok(mut state) = self.0.lock() {
            state.probing = None;
        }
    }

    /// The primary answered.
    pub(crate) fn succeeded(&self) {
        if let Ok(mut state) = self.0.lock() {
            if state.next_probe.take().is_some() {
                tracing::warn!("the primary answers again: new answers go to it (circuit closed)");
            }
            state.probing = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn an_open_circuit_lets_one_probe_through_at_a_time_and_closes_on_its_success() {
        let circuit = Circuit::default();
        assert_eq!(circuit.next(LEASE), Try::Primary);
        circuit.failed();
        assert_eq!(circuit.next(LEASE), Try::Fallback, "no probe before PROBE_EVERY");
        tokio::time::advance(PROBE_EVERY).await;
        assert_eq!(circuit.next(LEASE), Try::Probe);
        assert_eq!(circuit.next(LEASE), Try::Fallback, "one probe at a time");
        circuit.failed();
        assert_eq!(circuit.next(LEASE), Try::Fallback);
        tokio::time::advance(PROBE_EVERY).await;
        assert_eq!(circuit.next(LEASE), Try::Fallback, "a failed probe doubles the wait");
        tokio::time::advance(PROBE_EVERY).await;
        assert_eq!(circuit.next(LEASE), Try::Probe);
        circuit.succeeded();
        assert_eq!(circuit.next(LEASE), Try::Primary);
        // A probe that ends neither way does not keep the primary shut out.
        circuit.failed();
        tokio::time::advance(PROBE_EVERY).await;
        assert_eq!(circuit.next(LEASE), Try::Probe);
        circuit.undecided();
        assert_eq!(circuit.next(LEASE), Try::Probe);
    }

    #[tokio::test(start_paused = true)]
    async fn probes_back_off_to_a_ceiling_and_a_silent_probe_s_turn_lapses() {
        let circuit = Circuit::default();
        circuit.failed();
        let mut probes = 0;
        // A primary down for ten minutes, a question every second.
        for _ in 0..600 {
            tokio::time::advance(Duration::from_secs(1)).await;
            if circuit.next(LEASE) == Try::Probe {
                probes += 1;
                circuit.failed();
            }
        }
        assert!((9..=14).contains(&probes), "{probes} probes in ten minutes");
        // A probe whose reader left says nothing: another may go once its lease ends.
        tokio::time::advance(LONGEST_PROBE_WAIT).await;
        assert_eq!(circuit.next(LEASE), Try::Probe);
        assert_eq!(circuit.next(LEASE), Try::Fallback);
        tokio::time::advance(LEASE).await;
        assert_eq!(circuit.next(LEASE), Try::Probe);
    }
}

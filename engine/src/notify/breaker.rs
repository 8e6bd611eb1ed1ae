//! A circuit breaker per channel: after `failures` failed attempts in a row the channel is
//! left alone for `cooldown` (open); then one trial attempt is let through (half-open): its
//! success closes the circuit, its failure opens it again.

use std::time::{Duration, Instant};

/// Where a circuit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Attempts go through; counts consecutive failures.
    Closed {
        /// Failed attempts in a row.
        failures: u32,
    },
    /// No attempt until `until`.
    Open {
        /// End of the cooldown.
        until: Instant,
    },
    /// One trial attempt is in flight; others wait.
    HalfOpen,
}

/// One channel's circuit.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: BreakerState,
}

impl CircuitBreaker {
    /// A closed circuit.
    pub fn new(threshold: u32, cooldown: Duration) -> CircuitBreaker {
        CircuitBreaker {
            threshold: threshold.max(1),
            cooldown,
            state: BreakerState::Closed { failures: 0 },
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether an attempt may go now; an open circuit past its cooldown lets one trial go.
    /// `Err(until)` when it may not: when to look again.
    pub fn allow(&mut self, now: Instant) -> Result<(), Instant> {
        match self.state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                Ok(())
            }
            BreakerState::Open { until } => Err(until),
            BreakerState::HalfOpen => Err(now + self.cooldown.min(Duration::from_secs(1))),
        }
    }

    /// The attempt succeeded: the circuit closes.
    pub fn success(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    /// The attempt failed. Returns true when this opened the circuit.
    pub fn failure(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { failures } if failures + 1 < self.threshold => {
                self.state = BreakerState::Closed {
                    failures: failures + 1,
                };
                false
            }
            _ => {
                self.state = BreakerState::Open {
                    until: now + self.cooldown,
                };
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_lets_one_trial_through() {
        let start = Instant::now();
        let mut b = CircuitBreaker::new(2, Duration::from_secs(10));
        assert!(b.allow(start).is_ok());
        assert!(!b.failure(start));
        assert!(b.failure(start), "second failure opens");
        assert!(b.allow(start + Duration::from_secs(5)).is_err());
        let later = start + Duration::from_secs(11);
        assert!(b.allow(later).is_ok(), "one trial after the cooldown");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.allow(later).is_err(), "only one trial at a time");
        assert!(b.failure(later), "a failed trial opens again");
        assert!(b.allow(later + Duration::from_secs(1)).is_err());
        let again = later + Duration::from_secs(11);
        assert!(b.allow(again).is_ok());
        b.success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert!(b.allow(again).is_ok());
    }
}

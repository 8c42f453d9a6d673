//! [`RuntimeSettings`]: attempts, backoff, concurrency, prefetch and the shutdown deadline.

use crate::InvalidSetting;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Backoff;

/// How the runtime drives handlers. Deserialises from the `[runtime]` table of the config
/// file; every field has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Attempts per message, counted across broker redeliveries, before it is dead-lettered.
    pub max_attempts: u32,
    /// Backoff before the second attempt, in milliseconds.
    pub backoff_initial_ms: u64,
    /// Upper bound of the backoff, in milliseconds.
    pub backoff_max_ms: u64,
    /// Factor by which the backoff grows per attempt.
    pub backoff_multiplier: f64,
    /// Randomise each backoff between half and all of its value.
    pub jitter: bool,
    /// Handlers running at once per subscription. Messages of one key always run one at a
    /// time, in order.
    pub concurrency: usize,
    /// Unacked deliveries a consumer may hold.
    pub prefetch: usize,
    /// How long shutdown waits for handlers in flight, in milliseconds.
    pub shutdown_deadline_ms: u64,
    /// How long a dead-letter send may wait for the broker's confirm, in milliseconds; then
    /// the delivery is requeued after a backoff and counted
    /// (`courier_dead_letter_failures_total`).
    pub dead_letter_timeout_ms: u64,
    /// Retry a transient failure through the broker where the backend has
    /// [`Capability::DelayedDelivery`](crate::Capability::DelayedDelivery): the message goes
    /// back to the broker for its backoff and the lane moves on to the next message, so a
    /// retry never blocks the stream (a retried message may then come after later messages
    /// of its key). `false`, or a handler registered with
    /// [`Runtime::ordered`](crate::Runtime::ordered): the lane waits out the backoff itself,
    /// which keeps each key's order.
    pub delayed_retries: bool,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff_initial_ms: 100,
            backoff_max_ms: 10_000,
            backoff_multiplier: 2.0,
            jitter: true,
            concurrency: 16,
            prefetch: 256,
            shutdown_deadline_ms: 30_000,
            dead_letter_timeout_ms: 10_000,
            delayed_retries: true,
        }
    }
}

impl RuntimeSettings {
    /// [`dead_letter_timeout_ms`](Self::dead_letter_timeout_ms) as a duration.
    pub fn dead_letter_timeout(&self) -> Duration {
        Duration::from_millis(self.dead_letter_timeout_ms)
    }

    /// The first setting that is out of range, as an [`InvalidSetting`].
    ///
    /// # Errors
    /// `max_attempts`, `concurrency` or `prefetch` of 0, a multiplier below 1, or an initial
    /// backoff above the maximum.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let positive = [
            ("max_attempts", self.max_attempts as usize),
            ("concurrency", self.concurrency),
            ("prefetch", self.prefetch),
            (
                "dead_letter_timeout_ms",
                self.dead_letter_timeout_ms as usize,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(InvalidSetting::new(*key, "must be at least 1"));
        }
        if !(self.backoff_multiplier >= 1.0 && self.backoff_multiplier.is_finite()) {
            return Err(InvalidSetting::new(
                "backoff_multiplier",
                "must be a number of at least 1.0",
            ));
        }
        if self.backoff_initial_ms > self.backoff_max_ms {
            return Err(InvalidSetting::new(
                "backoff_initial_ms",
                format!("must not exceed backoff_max_ms ({})", self.backoff_max_ms),
            ));
        }
        Ok(())
    }

    /// The wait after failed attempt `attempt` (1-based): exponential, capped, with jitter
    /// when enabled.
    pub fn backoff(&self, attempt: u32) -> Duration {
        Backoff {
            initial: Duration::from_millis(self.backoff_initial_ms),
            max: Duration::from_millis(self.backoff_max_ms),
            multiplier: self.backoff_multiplier,
            jitter: self.jitter,
        }
        .delay(attempt)
    }

    /// The shutdown deadline as a duration.
    pub fn shutdown_deadline(&self) -> Duration {
        Duration::from_millis(self.shutdown_deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let s = RuntimeSettings {
            jitter: false,
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            ..Default::default()
        };
        assert_eq!(s.backoff(1), Duration::from_millis(100));
        assert_eq!(s.backoff(2), Duration::from_millis(200));
        assert_eq!(s.backoff(3), Duration::from_millis(400));
        assert_eq!(s.backoff(10), Duration::from_millis(1000));
        assert_eq!(s.backoff(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let s = RuntimeSettings {
            backoff_initial_ms: 1000,
            ..Default::default()
        };
        for _ in 0..100 {
            let d = s.backoff(1);
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_millis(1000),
                "{d:?}"
            );
        }
    }

    #[test]
    fn validate_names_the_key() {
        let s = RuntimeSettings {
            prefetch: 0,
            ..Default::default()
        };
        assert_eq!(s.validate().expect_err("invalid").key, "prefetch");
        assert!(RuntimeSettings::default().validate().is_ok());
    }
}

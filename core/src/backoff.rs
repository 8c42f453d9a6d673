//! [`Backoff`]: how long to wait before trying again, once for every retry in courier (the
//! runtime's redeliveries, a backend's reconnects).

use std::time::Duration;

/// Exponential backoff, capped, with optional jitter: the wait after failed attempt `n`
/// (1-based) is `initial * multiplier^(n-1)`, at most `max`, and with jitter a random
/// fraction between half and all of that (so that many clients that failed together do not
/// retry together).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Growth per failure (at least 1).
    pub multiplier: f64,
    /// Whether waits are spread between half and all of their value.
    pub jitter: bool,
}

impl Backoff {
    /// Doubling from `initial` up to `max`, with jitter.
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            multiplier: 2.0,
            jitter: true,
        }
    }

    /// The wait after failed attempt `attempt` (1-based; 0 counts as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1).min(63)).unwrap_or(63);
        let raw = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let capped = raw.min(self.max.as_secs_f64());
        let seconds = if self.jitter {
            capped * rand::random_range(0.5..=1.0)
        } else {
            capped
        };
        Duration::try_from_secs_f64(seconds).unwrap_or(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps_without_jitter() {
        let backoff = Backoff {
            jitter: false,
            ..Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1))
        };
        let waits: Vec<u128> = (0..7).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(waits, [100, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        let backoff = Backoff::exponential(Duration::from_millis(400), Duration::from_secs(10));
        for _ in 0..200 {
            let wait = backoff.delay(2);
            assert!(wait >= Duration::from_millis(400) && wait <= Duration::from_millis(800));
        }
    }
}

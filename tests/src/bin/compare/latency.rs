//! End-to-end latency: an HDR histogram per consumer, merged, read as percentiles.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::driver::Outcome;

/// Highest latency recorded, in microseconds (a minute); longer ones are clamped to it.
const MAX_US: u64 = 60_000_000;

/// Percentiles of one latency run, in microseconds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Messages timed.
    pub samples: u64,
}

/// Records latencies of one consumer; recorders of a run are merged.
pub struct Recorder(Histogram<u64>);

impl Recorder {
    /// An empty recorder with three significant digits from 1 µs to a minute.
    pub fn new() -> Self {
        Self(Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds are valid"))
    }

    /// Records one latency given in nanoseconds.
    pub fn record(&mut self, nanos: u64) {
        self.0.saturating_record((nanos / 1_000).clamp(1, MAX_US));
    }

    /// Adds `other`'s samples.
    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// The percentiles.
    ///
    /// # Errors
    /// When nothing was recorded.
    pub fn summary(&self) -> Outcome<Latency> {
        if self.0.is_empty() {
            return Err("no latency samples were recorded".into());
        }
        let at = |q: f64| self.0.value_at_quantile(q) as f64;
        Ok(Latency {
            p50_us: at(0.50),
            p99_us: at(0.99),
            p999_us: at(0.999),
            samples: self.0.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_merged_recorders() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for us in 1..=1_000u64 {
            if us % 2 == 0 { &mut a } else { &mut b }.record(us * 1_000);
        }
        a.merge(&b);
        let l = a.summary().expect("samples");
        assert_eq!(l.samples, 1_000);
        assert!((l.p50_us - 500.0).abs() <= 1.0, "{l:?}");
        assert!((l.p99_us - 990.0).abs() <= 1.0, "{l:?}");
        assert!(Recorder::new().summary().is_err());
    }
}

//! The results of a whole comparison, and the targets they are held to.

use crate::{latency::Latency, machine::Machine};

/// Courier must keep at least this fraction of the throughput of the raw client doing the
/// same work.
pub const RATIO_TARGET: f64 = 0.90;
/// Sides measured per backend and workload: courier, raw (equal work), bare.
pub const SIDES: usize = 3;
/// Memory backend throughput target, messages per second end-to-end with acks.
pub const MEMORY_TARGET: f64 = 1_000_000.0;

/// The median of several runs and their range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
}

impl Spread {
    /// The spread of `samples`; `None` when empty.
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Some(Self {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        })
    }
}

/// What one side measured on one backend and workload.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Throughput, messages per second.
    pub throughput: Spread,
    /// Latency at the row's fixed rate.
    pub latency: Option<Latency>,
    /// Heap allocations per message, payloads included, from one counted run.
    pub allocations: Option<f64>,
}

/// One backend and workload, through courier and through both raw sides.
#[derive(Clone, Debug)]
pub struct Row {
    /// Backend name.
    pub backend: &'static str,
    /// Workload name.
    pub workload: &'static str,
    /// Measured messages per run.
    pub messages: u64,
    /// Through courier.
    pub courier: Figures,
    /// Through the raw client doing the same work as courier: the ratio's baseline.
    pub raw: Figures,
    /// Through the bare raw client: only what the broker needs, in its simplest form.
    pub bare: Figures,
    /// Through another messaging library, where one is measured on this backend (the `peers`
    /// feature).
    pub peer: Option<Peer>,
    /// The rate of the latency runs, messages per second.
    pub latency_rate: f64,
    /// The saga's orders per second on this backend (the same for both workloads).
    pub orders_per_sec: Option<f64>,
}

impl Row {
    /// Courier's median throughput over the equal-work raw client's: the figure the target
    /// is held to.
    pub fn ratio(&self) -> f64 {
        self.courier.throughput.median / self.raw.throughput.median
    }

    /// Courier's median throughput over the bare client's.
    pub fn bare_ratio(&self) -> f64 {
        self.courier.throughput.median / self.bare.throughput.median
    }

    /// Courier's median throughput over the other library's, where one is measured.
    pub fn peer_ratio(&self) -> Option<f64> {
        self.peer
            .as_ref()
            .map(|peer| self.courier.throughput.median / peer.figures.throughput.median)
    }

    /// Whether courier keeps [`RATIO_TARGET`] of the equal-work raw throughput.
    pub fn meets_ratio(&self) -> bool {
        self.ratio() >= RATIO_TARGET
    }
}

/// Another messaging library measured on the same backend and workload.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Its line's label: the library and the crate version measured.
    pub title: &'static str,
    /// What it measured.
    pub figures: Figures,
}

/// A backend or workload that was not measured, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    /// Backend name.
    pub backend: &'static str,
    /// The workload, when only one was affected.
    pub workload: Option<&'static str>,
    /// Why.
    pub reason: String,
}

/// Everything the outputs are rendered from.
#[derive(Clone, Debug)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// The command line.
    pub command: String,
    /// Payload size in bytes.
    pub size: usize,
    /// Runs per figure.
    pub runs: u32,
    /// Measured rows.
    pub rows: Vec<Row>,
    /// The saga per backend and store.
    pub sagas: Vec<SagaRow>,
    /// What was not measured.
    pub skipped: Vec<Skipped>,
    /// Remarks per backend: what the raw client does, why the saga is missing, ...
    pub notes: Vec<String>,
}

/// The saga on one backend with one store.
#[derive(Clone, Debug)]
pub struct SagaRow {
    /// Backend name.
    pub backend: &'static str,
    /// `memory`, `sqlite` or `postgres`.
    pub store: String,
    /// Settled orders per second.
    pub orders_per_sec: f64,
    /// Outbox commit to broker confirm, median, ms.
    pub relay_p50_ms: f64,
    /// The same, 99th percentile, ms.
    pub relay_p99_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).expect("samples");
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]).expect("samples");
        assert_eq!(s.median, 2.5);
        assert!(Spread::of(&[]).is_none());
    }
}

//! The report as JSON: one entry per backend and workload.

use serde::Serialize;

use crate::{
    latency::Latency,
    report::{Figures, Report},
};

/// One backend and workload. `raw` is the raw client doing the same work as courier (the
/// baseline of `ratio`), `bare` the bare raw client (only what the broker needs, in its simplest form).
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Backend name.
    pub backend: &'static str,
    /// Workload name (`1p1c`, `4p4c`).
    pub workload: &'static str,
    /// Measured messages per run.
    pub messages: u64,
    /// Rate of the latency runs, messages per second.
    pub latency_rate: f64,
    /// The saga's orders per second on the backend.
    pub orders_per_sec: Option<f64>,
    /// Courier's median throughput over the equal-work raw client's.
    pub ratio: f64,
    /// Courier's median throughput over the bare client's.
    pub bare_ratio: f64,
    /// Through courier.
    pub courier: Side,
    /// Through the raw client doing the same work as courier.
    pub raw: Side,
    /// Through the bare raw client.
    pub bare: Side,
    /// Through another library, where one is measured (the `peers` feature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerSide>,
}

/// Another library's figures, with its title and courier's median over its median.
#[derive(Debug, Serialize)]
pub struct PeerSide {
    /// The library and the crate version measured.
    pub title: &'static str,
    /// Courier's median throughput over this side's.
    pub ratio: f64,
    /// What it measured.
    #[serde(flatten)]
    pub side: Side,
}

/// What one side measured. Throughput is the median of the runs, with their range.
#[derive(Debug, Serialize)]
pub struct Side {
    /// Median throughput, messages per second.
    pub msgs_per_sec: f64,
    /// Smallest run.
    pub msgs_per_sec_min: f64,
    /// Largest run.
    pub msgs_per_sec_max: f64,
    /// Latency percentiles at the entry's `latency_rate`, µs.
    pub latency: Option<Latency>,
    /// Heap allocations per message, payloads included.
    pub allocations_per_msg: Option<f64>,
}

impl From<&Figures> for Side {
    fn from(f: &Figures) -> Self {
        Self {
            msgs_per_sec: f.throughput.median,
            msgs_per_sec_min: f.throughput.min,
            msgs_per_sec_max: f.throughput.max,
            latency: f.latency,
            allocations_per_msg: f.allocations,
        }
    }
}

/// The entries of `report`, pretty-printed.
///
/// # Errors
/// Never in practice: the entries hold only numbers and strings.
pub fn render(report: &Report) -> serde_json::Result<String> {
    let entries: Vec<Entry> = report
        .rows
        .iter()
        .map(|r| Entry {
            backend: r.backend,
            workload: r.workload,
            messages: r.messages,
            latency_rate: r.latency_rate,
            orders_per_sec: r.orders_per_sec,
            ratio: r.ratio(),
            bare_ratio: r.bare_ratio(),
            courier: Side::from(&r.courier),
            raw: Side::from(&r.raw),
            bare: Side::from(&r.bare),
            peer: r
                .peer
                .as_ref()
                .zip(r.peer_ratio())
                .map(|(p, ratio)| PeerSide {
                    title: p.title,
                    ratio,
                    side: Side::from(&p.figures),
                }),
        })
        .collect();
    serde_json::to_string_pretty(&entries)
}

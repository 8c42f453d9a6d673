//! The report as JSON: one entry per backend and workload.

use serde::Serialize;

use crate::report::Report;

/// One backend and workload. Figures are medians; the `*_min`/`*_max` fields give the range
/// of the runs, the `raw_p*` fields the raw client's latency at the same rate.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Backend name.
    pub backend: &'static str,
    /// Workload name (`1p1c`, `4p4c`).
    pub workload: &'static str,
    /// Courier throughput, messages per second.
    pub courier_msgs_per_sec: f64,
    /// Raw client throughput, messages per second.
    pub raw_msgs_per_sec: f64,
    /// Courier over raw.
    pub ratio: f64,
    /// Courier latency median, µs.
    pub p50_us: Option<f64>,
    /// Courier latency 99th percentile, µs.
    pub p99_us: Option<f64>,
    /// Courier latency 99.9th percentile, µs.
    pub p999_us: Option<f64>,
    /// The saga's orders per second on the backend.
    pub orders_per_sec: Option<f64>,
    /// Smallest courier run.
    pub courier_msgs_per_sec_min: f64,
    /// Largest courier run.
    pub courier_msgs_per_sec_max: f64,
    /// Smallest raw run.
    pub raw_msgs_per_sec_min: f64,
    /// Largest raw run.
    pub raw_msgs_per_sec_max: f64,
    /// Raw latency median, µs.
    pub raw_p50_us: Option<f64>,
    /// Raw latency 99th percentile, µs.
    pub raw_p99_us: Option<f64>,
    /// Raw latency 99.9th percentile, µs.
    pub raw_p999_us: Option<f64>,
    /// Rate of the latency runs, messages per second.
    pub latency_rate: f64,
    /// Measured messages per run.
    pub messages: u64,
    /// Heap allocations per message through courier, payloads included.
    pub courier_allocations_per_msg: Option<f64>,
    /// Heap allocations per message through the raw client, payloads included.
    pub raw_allocations_per_msg: Option<f64>,
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
            courier_msgs_per_sec: r.courier.median,
            raw_msgs_per_sec: r.raw.median,
            ratio: r.ratio(),
            p50_us: r.latency.map(|l| l.p50_us),
            p99_us: r.latency.map(|l| l.p99_us),
            p999_us: r.latency.map(|l| l.p999_us),
            orders_per_sec: r.orders_per_sec,
            courier_msgs_per_sec_min: r.courier.min,
            courier_msgs_per_sec_max: r.courier.max,
            raw_msgs_per_sec_min: r.raw.min,
            raw_msgs_per_sec_max: r.raw.max,
            raw_p50_us: r.raw_latency.map(|l| l.p50_us),
            raw_p99_us: r.raw_latency.map(|l| l.p99_us),
            raw_p999_us: r.raw_latency.map(|l| l.p999_us),
            latency_rate: r.latency_rate,
            messages: r.messages,
            courier_allocations_per_msg: r.allocations.map(|a| a.0),
            raw_allocations_per_msg: r.allocations.map(|a| a.1),
        })
        .collect();
    serde_json::to_string_pretty(&entries)
}

//! [`Summary`]: what the demo reports.

use std::{fmt, time::Duration};

use serde::Serialize;

/// The outcome of a demo run. Serialises to the JSON of `shop demo --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Orders placed.
    pub orders: usize,
    /// Orders confirmed (paid).
    pub confirmed: usize,
    /// Orders cancelled because stock could not be reserved.
    pub cancelled_stock: usize,
    /// Orders cancelled because the payment was declined.
    pub cancelled_payment: usize,
    /// Orders neither confirmed nor cancelled when the wait ended.
    pub unsettled: usize,
    /// Settled orders per second, from the first placement to the last settlement.
    pub orders_per_sec: f64,
    /// Median time from placing an order to its settlement, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile of the same, in milliseconds.
    pub p99_ms: f64,
    /// Median time from an outbox commit to the broker's confirm, in milliseconds.
    pub relay_p50_ms: f64,
    /// 99th percentile of the same, in milliseconds.
    pub relay_p99_ms: f64,
    /// The store the services used: `memory`, `sqlite` or `postgres`.
    pub store: String,
    /// The backend the run used.
    #[serde(skip)]
    pub backend: &'static str,
    /// From the first placement to the last settlement (or the end of the wait).
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Summary {
    /// Whether every order settled.
    pub fn all_settled(&self) -> bool {
        self.unsettled == 0
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The `p`-th percentile (0 to 100) of sorted `latencies`, in milliseconds; 0 when empty.
pub(crate) fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    (sorted[index].as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backend              {}", self.backend)?;
        writeln!(f, "store                {}", self.store)?;
        writeln!(f, "orders               {}", self.orders)?;
        writeln!(f, "confirmed            {}", self.confirmed)?;
        writeln!(f, "cancelled (stock)    {}", self.cancelled_stock)?;
        writeln!(f, "cancelled (payment)  {}", self.cancelled_payment)?;
        writeln!(f, "unsettled            {}", self.unsettled)?;
        writeln!(
            f,
            "elapsed              {:.3} s",
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "orders per second    {:.0}", self.orders_per_sec)?;
        writeln!(f, "latency p50          {:.3} ms", self.p50_ms)?;
        writeln!(f, "latency p99          {:.3} ms", self.p99_ms)?;
        write!(
            f,
            "relay p50 / p99      {:.3} / {:.3} ms (outbox commit to broker confirm)",
            self.relay_p50_ms, self.relay_p99_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_by_rank() {
        let sorted: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&sorted, 50.0), 50.0);
        assert_eq!(percentile_ms(&sorted, 99.0), 99.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
        assert_eq!(percentile_ms(&sorted[..1], 99.0), 1.0);
    }
}

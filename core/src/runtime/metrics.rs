//! Counters per subscription and a handler-latency histogram, rendered as Prometheus text.

use std::{
    fmt::Write as _,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The counters of one subscription (topic and group). Updated without locks.
#[derive(Debug, Default)]
pub struct SubscriptionMetrics {
    received: AtomicU64,
    acked: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    panicked: AtomicU64,
    dead_letter_failed: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
}

/// A copy of one subscription's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Deliveries received.
    pub received: u64,
    /// Messages acked after their handler succeeded.
    pub acked: u64,
    /// Attempts retried after a transient failure.
    pub retried: u64,
    /// Messages sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Handler runs that panicked (each dead-lettered as a permanent failure).
    pub panicked: u64,
    /// Dead-letter sends that failed or timed out (the delivery was requeued).
    pub dead_letter_failed: u64,
    /// Handler runs timed.
    pub handled: u64,
}

impl SubscriptionMetrics {
    pub(crate) fn received(&self, n: u64) {
        self.received.fetch_add(n, Relaxed);
    }

    pub(crate) fn acked(&self) {
        self.acked.fetch_add(1, Relaxed);
    }

    pub(crate) fn retried(&self) {
        self.retried.fetch_add(1, Relaxed);
    }

    pub(crate) fn dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Relaxed);
    }

    pub(crate) fn panicked(&self) {
        self.panicked.fetch_add(1, Relaxed);
    }

    pub(crate) fn dead_letter_failed(&self) {
        self.dead_letter_failed.fetch_add(1, Relaxed);
    }

    pub(crate) fn observe_latency(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| secs <= b) {
            self.latency_buckets[i].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(nanos, Relaxed);
    }

    /// The current counts.
    pub fn counts(&self) -> Counts {
        Counts {
            received: self.received.load(Relaxed),
            acked: self.acked.load(Relaxed),
            retried: self.retried.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            panicked: self.panicked.load(Relaxed),
            dead_letter_failed: self.dead_letter_failed.load(Relaxed),
            handled: self.latency_count.load(Relaxed),
        }
    }
}

type Entry = (String, String, Arc<SubscriptionMetrics>);

/// A counter's name, help text and how to read it.
type Counter = (&'static str, &'static str, fn(&SubscriptionMetrics) -> u64);

/// The metrics of every subscription of a runtime. Cheap to clone and share.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    subscriptions: Arc<Mutex<Vec<Entry>>>,
}

impl Metrics {
    /// The counters of `topic` and `group`, created on first use. Callers keep the `Arc`, so
    /// the lock is taken once per subscription, not per message.
    pub fn subscription(&self, topic: &str, group: &str) -> Arc<SubscriptionMetrics> {
        let mut subs = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, m)) = subs.iter().find(|(t, g, _)| t == topic && g == group) {
            return m.clone();
        }
        let m = Arc::new(SubscriptionMetrics::default());
        subs.push((topic.to_owned(), group.to_owned(), m.clone()));
        m
    }

    /// The counts of `topic` and `group`, zero when unknown.
    pub fn counts(&self, topic: &str, group: &str) -> Counts {
        let subs = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subs.iter()
            .find(|(t, g, _)| t == topic && g == group)
            .map(|(_, _, m)| m.counts())
            .unwrap_or_default()
    }

    /// Every counter in the Prometheus text exposition format, labelled by topic and group.
    pub fn render_prometheus(&self) -> String {
        let subs = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        let counters: [Counter; 6] = [
            (
                "courier_messages_received_total",
                "Deliveries received.",
                |m| m.received.load(Relaxed),
            ),
            (
                "courier_messages_acked_total",
                "Messages acked after their handler succeeded.",
                |m| m.acked.load(Relaxed),
            ),
            (
                "courier_messages_retried_total",
                "Attempts retried after a transient failure.",
                |m| m.retried.load(Relaxed),
            ),
            (
                "courier_messages_dead_lettered_total",
                "Messages sent to the dead-letter topic.",
                |m| m.dead_lettered.load(Relaxed),
            ),
            (
                "courier_handler_panics_total",
                "Handler runs that panicked (dead-lettered as permanent failures).",
                |m| m.panicked.load(Relaxed),
            ),
            (
                "courier_dead_letter_failures_total",
                "Dead-letter sends that failed or timed out; the delivery was requeued.",
                |m| m.dead_letter_failed.load(Relaxed),
            ),
        ];
        for (name, help, read) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (topic, group, m) in subs.iter() {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(topic, group), read(m));
            }
        }
        let name = "courier_handler_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Handler latency per message.\n# TYPE {name} histogram"
        );
        for (topic, group, m) in subs.iter() {
            let labels = labels(topic, group);
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(&m.latency_buckets) {
                cumulative += count.load(Relaxed);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let total = m.latency_count.load(Relaxed);
            let sum = m.latency_sum_ns.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {total}");
            let _ = writeln!(
                out,
                "{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {total}"
            );
        }
        out
    }
}

fn labels(topic: &str, group: &str) -> String {
    format!("topic=\"{}\",group=\"{}\"", escape(topic), escape(group))
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let metrics = Metrics::default();
        let m = metrics.subscription("orders", "billing");
        m.received(3);
        m.acked();
        m.observe_latency(Duration::from_millis(3));
        assert!(Arc::ptr_eq(&m, &metrics.subscription("orders", "billing")));
        let text = metrics.render_prometheus();
        assert!(
            text.contains("courier_messages_received_total{topic=\"orders\",group=\"billing\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("courier_messages_acked_total{topic=\"orders\",group=\"billing\"} 1")
        );
        assert!(text.contains("le=\"0.0025\"} 0"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert_eq!(metrics.counts("orders", "billing").received, 3);
    }
}

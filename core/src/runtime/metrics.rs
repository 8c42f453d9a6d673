//! Counters per subscription and a handler-duration histogram, with the metrics a service
//! adds, rendered in the OpenMetrics text format by `prometheus-client`.
//!
//! Names and labels follow OpenTelemetry's messaging conventions where they define one
//! (`messaging.client.consumed.messages`, `messaging.client.sent.messages`,
//! `messaging.process.duration`, with the attributes `messaging.system`,
//! `messaging.destination.name` and `messaging.consumer.group.name`), written as Prometheus
//! names (dots become underscores); what they do not define is `courier_*` with the same
//! labels.

use crate::Health;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, NoLabelSet},
    metrics::{MetricType, counter::Counter, family::Family, gauge::Gauge},
    registry::{Metric, Registry, Unit},
};
use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicI64, AtomicU64, Ordering::Relaxed},
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
    /// Deliveries being handled (received by a lane, not settled yet).
    in_flight: AtomicI64,
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

impl Counts {
    /// The counts of two subscriptions added up.
    fn sum(&self, other: &Self) -> Self {
        Self {
            received: self.received + other.received,
            acked: self.acked + other.acked,
            retried: self.retried + other.retried,
            dead_lettered: self.dead_lettered + other.dead_lettered,
            panicked: self.panicked + other.panicked,
            dead_letter_failed: self.dead_letter_failed + other.dead_letter_failed,
            handled: self.handled + other.handled,
        }
    }
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

    /// Counts a delivery as in flight until the guard is dropped (settled, or the handling
    /// abandoned at shutdown).
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(&self.in_flight)
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

/// Keeps one delivery counted in [`SubscriptionMetrics`]' in-flight gauge while it lives.
pub(crate) struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// One subscription: its backend, topic, group and counters.
#[derive(Debug)]
struct Entry {
    system: &'static str,
    topic: String,
    group: String,
    metrics: Arc<SubscriptionMetrics>,
}

/// The labels of one destination: `messaging_system`, `messaging_destination_name`.
type DestinationLabels = [(&'static str, String); 2];

/// Messages sent, per backend and topic (`messaging_client_sent_messages_total`): a handle
/// that senders outside the runtime (an outbox relay) count with. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SentMessages {
    system: &'static str,
    family: Family<DestinationLabels, Counter>,
}

impl SentMessages {
    /// Counts `n` messages sent (confirmed by the broker) to `topic`: once per batch.
    pub fn add(&self, topic: &str, n: u64) {
        let labels = [
            ("messaging_system", self.system.to_owned()),
            ("messaging_destination_name", topic.to_owned()),
        ];
        self.family.get_or_create(&labels).inc_by(n);
    }
}

/// A counter's name (without `_total`), help text and how to read it.
type CounterSpec = (&'static str, &'static str, fn(&SubscriptionMetrics) -> u64);

/// The runtime's counters, rendered per subscription with the labels of [`labels`].
const COUNTERS: [CounterSpec; 6] = [
    (
        "messaging_client_consumed_messages",
        "Deliveries received (OpenTelemetry messaging.client.consumed.messages).",
        |m| m.received.load(Relaxed),
    ),
    (
        "courier_messages_acked",
        "Messages acked after their handler succeeded.",
        |m| m.acked.load(Relaxed),
    ),
    (
        "courier_messages_retried",
        "Attempts retried after a transient failure.",
        |m| m.retried.load(Relaxed),
    ),
    (
        "courier_messages_dead_lettered",
        "Messages sent to the dead-letter topic.",
        |m| m.dead_lettered.load(Relaxed),
    ),
    (
        "courier_handler_panics",
        "Handler runs that panicked (dead-lettered as permanent failures).",
        |m| m.panicked.load(Relaxed),
    ),
    (
        "courier_dead_letter_failures",
        "Dead-letter sends that failed or timed out; the delivery was requeued.",
        |m| m.dead_letter_failed.load(Relaxed),
    ),
];

/// The content type of [`Metrics::render`]'s text.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metrics of every subscription of a runtime, and those a service adds
/// ([`register`](Metrics::register)), in one `prometheus-client` registry. Cheap to clone
/// and share.
#[derive(Clone, Debug)]
pub struct Metrics {
    subscriptions: Arc<Mutex<Vec<Entry>>>,
    sent: Family<DestinationLabels, Counter>,
    unsent: Family<[(&'static str, String); 1], Gauge>,
    /// The health of each runtime recording here: the backlog its backends sample.
    healths: Arc<Mutex<Vec<Health>>>,
    registry: Arc<Mutex<Registry>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let subscriptions = Arc::new(Mutex::new(Vec::new()));
        let healths = Arc::new(Mutex::new(Vec::new()));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Subscriptions(subscriptions.clone())));
        registry.register_collector(Box::new(Backlog(healths.clone())));
        let sent = Family::<DestinationLabels, Counter>::default();
        registry.register(
            "messaging_client_sent_messages",
            "Messages sent and confirmed by the broker (OpenTelemetry \
             messaging.client.sent.messages).",
            sent.clone(),
        );
        let unsent = Family::<[(&'static str, String); 1], Gauge>::default();
        registry.register(
            "courier_outbox_unsent",
            "Outbox rows committed and not yet sent, per store, sampled by its relay.",
            unsent.clone(),
        );
        Self {
            subscriptions,
            sent,
            unsent,
            healths,
            registry: Arc::new(Mutex::new(registry)),
        }
    }
}

impl Metrics {
    /// Renders the backlog that the backends of `health`'s subscriptions sample (queue
    /// depth, partition lag) as gauges.
    pub(crate) fn watch_backlog(&self, health: Health) {
        self.healths
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(health);
    }

    /// The counters of `topic` and `group` on the `system` backend (`messaging.system`),
    /// created on first use. Callers keep the `Arc`, so the lock is taken once per
    /// subscription, not per message.
    pub fn subscription(
        &self,
        system: &'static str,
        topic: &str,
        group: &str,
    ) -> Arc<SubscriptionMetrics> {
        let mut subs = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = subs
            .iter()
            .find(|e| e.system == system && e.topic == topic && e.group == group)
        {
            return e.metrics.clone();
        }
        let metrics = Arc::new(SubscriptionMetrics::default());
        subs.push(Entry {
            system,
            topic: topic.to_owned(),
            group: group.to_owned(),
            metrics: metrics.clone(),
        });
        metrics
    }

    /// The gauge of the rows waiting in the outbox of `store` (`courier_outbox_unsent`),
    /// for its relay to set.
    pub fn outbox_unsent(&self, store: &str) -> Gauge {
        self.unsent
            .get_or_create(&[("store", store.to_owned())])
            .clone()
    }

    /// The counter of messages sent with the `system` backend, for a sender outside the
    /// runtime (the outbox relay) to count with.
    pub fn sent_messages(&self, system: &'static str) -> SentMessages {
        SentMessages {
            system,
            family: self.sent.clone(),
        }
    }

    /// The counts of `topic` and `group`, zero when unknown.
    pub fn counts(&self, topic: &str, group: &str) -> Counts {
        let subs = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subs.iter()
            .filter(|e| e.topic == topic && e.group == group)
            .map(|e| e.metrics.counts())
            .reduce(|a, b| a.sum(&b))
            .unwrap_or_default()
    }

    /// Adds a service's own metric (a [`Counter`](prometheus_client::metrics::counter::Counter),
    /// a [`Family`](prometheus_client::metrics::family::Family) of them by label, a gauge)
    /// to what [`render`](Metrics::render) shows. `name` follows the OpenMetrics rules
    /// (a counter's is written with `_total`). Keep the metric: updating it is a relaxed
    /// atomic add, without this registry's lock.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// Every metric in the OpenMetrics text format ([`METRICS_CONTENT_TYPE`]), which
    /// Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// Encodes the subscriptions' counters and latency histograms on each scrape.
#[derive(Debug)]
struct Subscriptions(Arc<Mutex<Vec<Entry>>>);

impl Collector for Subscriptions {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let subs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, help, read) in COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for e in subs.iter() {
                family
                    .encode_family(&labels(e))?
                    .encode_counter::<NoLabelSet, _, u64>(&read(&e.metrics), None)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "courier_messages_in_flight",
            "Deliveries being handled: received, not settled yet.",
            None,
            MetricType::Gauge,
        )?;
        for e in subs.iter() {
            family
                .encode_family(&labels(e))?
                .encode_gauge(&e.metrics.in_flight.load(Relaxed).max(0))?;
        }
        let mut family = encoder.encode_descriptor(
            "messaging_process_duration",
            "Handler time per delivery (OpenTelemetry messaging.process.duration).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for e in subs.iter() {
            let m = &e.metrics;
            // Per bucket, not cumulative: the encoder adds them up.
            let mut buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
                .iter()
                .zip(&m.latency_buckets)
                .map(|(bound, count)| (*bound, count.load(Relaxed)))
                .collect();
            let total = m.latency_count.load(Relaxed);
            let bucketed: u64 = buckets.iter().map(|(_, n)| n).sum();
            buckets.push((f64::INFINITY, total.saturating_sub(bucketed)));
            let sum = m.latency_sum_ns.load(Relaxed) as f64 / 1e9;
            family
                .encode_family(&labels(e))?
                .encode_histogram::<NoLabelSet>(sum, total, &buckets, None)?;
        }
        Ok(())
    }
}

/// Encodes, on each scrape, the backlog the backends sampled last: messages waiting in each
/// group's queue (RabbitMQ) and each owned partition's lag (Kafka).
#[derive(Debug)]
struct Backlog(Arc<Mutex<Vec<Health>>>);

impl Collector for Backlog {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let watched: Vec<_> = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .flat_map(|health| {
                let system = health.system();
                health.watched().into_iter().filter_map(move |w| {
                    let entry = Entry {
                        system,
                        topic: w.topic,
                        group: w.group,
                        metrics: Arc::default(),
                    };
                    w.backend.map(|status| (entry, status))
                })
            })
            .collect();
        let mut family = encoder.encode_descriptor(
            "courier_queue_depth",
            "Messages waiting in the group's queue, sampled by the consumer (RabbitMQ).",
            None,
            MetricType::Gauge,
        )?;
        for (entry, status) in &watched {
            if let Some(depth) = status.queue_depth() {
                let depth = i64::try_from(depth).unwrap_or(i64::MAX);
                family.encode_family(&labels(entry))?.encode_gauge(&depth)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "courier_consumer_lag",
            "Per owned partition, the high watermark minus the group's committed offset, \
             sampled by the consumer (Kafka).",
            None,
            MetricType::Gauge,
        )?;
        for (entry, status) in &watched {
            for (partition, lag) in status.partition_lag() {
                let partition = partition.to_string();
                let [system, topic, group] = labels(entry);
                let labels = [
                    system,
                    topic,
                    group,
                    ("messaging_destination_partition_id", partition.as_str()),
                ];
                family.encode_family(&labels)?.encode_gauge(&lag)?;
            }
        }
        Ok(())
    }
}

/// The labels of one subscription, after OpenTelemetry's attribute names.
fn labels(e: &Entry) -> [(&'static str, &str); 3] {
    [
        ("messaging_system", e.system),
        ("messaging_destination_name", e.topic.as_str()),
        ("messaging_consumer_group_name", e.group.as_str()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let metrics = Metrics::default();
        let m = metrics.subscription("memory", "orders", "billing");
        m.received(3);
        m.acked();
        m.observe_latency(Duration::from_millis(3));
        let held = m.in_flight();
        assert!(Arc::ptr_eq(
            &m,
            &metrics.subscription("memory", "orders", "billing")
        ));
        metrics.sent_messages("memory").add("orders.dlq", 2);
        metrics.outbox_unsent("order").set(4);
        let text = metrics.render();
        let labels = "messaging_system=\"memory\",messaging_destination_name=\"orders\",\
                      messaging_consumer_group_name=\"billing\"";
        assert!(
            text.contains(&format!(
                "messaging_client_consumed_messages_total{{{labels}}} 3"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("courier_messages_acked_total{{{labels}}} 1")));
        assert!(text.contains(&format!("courier_messages_in_flight{{{labels}}} 1")));
        drop(held);
        assert!(
            metrics
                .render()
                .contains(&format!("courier_messages_in_flight{{{labels}}} 0"))
        );
        assert!(
            text.contains(
                "messaging_client_sent_messages_total{messaging_system=\"memory\",\
                 messaging_destination_name=\"orders.dlq\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("courier_outbox_unsent{store=\"order\"} 4"),
            "{text}"
        );
        let bucket = |le: &str, n: u64| {
            format!("messaging_process_duration_seconds_bucket{{le=\"{le}\",{labels}}} {n}\n")
        };
        assert!(text.contains(&bucket("0.0025", 0)), "{text}");
        assert!(text.contains(&bucket("0.005", 1)), "{text}");
        assert!(text.contains(&bucket("+Inf", 1)), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(metrics.counts("orders", "billing").received, 3);
    }
}

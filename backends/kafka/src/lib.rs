//! # courier-kafka
//!
//! The Kafka backend of courier, on [rdkafka] (librdkafka). It works with Apache Kafka and
//! Kafka-compatible brokers such as tansu.
//!
//! ```no_run
//! # async fn demo() -> courier_core::Result<()> {
//! use courier_core::{Broker, Message, Subscription};
//! use courier_kafka::{KafkaBroker, KafkaConfig};
//!
//! let broker = KafkaBroker::connect(KafkaConfig::default()).await?;
//! let producer = broker.producer().await?;
//! producer.send("orders.placed", Message::new("{}").with_key("order-1001")).await?;
//! let mut consumer = broker.subscribe(Subscription::new("orders.placed", "inventory")).await?;
//! if let Some(mut delivery) = consumer.recv().await? {
//!     delivery.ack().await?;
//! }
//! # Ok(()) }
//! ```
//!
//! ## Mapping
//!
//! * A topic is a Kafka topic, created through the admin API with `partitions` partitions
//!   when missing (dead-letter topics `<topic>.dlq` included).
//! * A group is a consumer group, `group.id` `<topic>.<group>` by default (see
//!   [`KafkaConfig::group_id`]). A new group starts at the earliest offset, so a group
//!   declared (or first subscribed) after messages were sent still receives them, as long as
//!   the topic retains them. A [temporary](courier_core::Subscription::temporary) group
//!   without committed offsets starts at the end of the topic as it was when it subscribed,
//!   and reads what is sent from then on. Kafka keeps messages per topic, not per group, so
//!   a temporary group left behind holds no messages: only its committed offsets, which the
//!   broker expires (`offsets.retention.minutes`, 7 days by default).
//! * The key picks the partition (murmur2, as the Java client), so one key's messages keep
//!   their order, even with several consumers in the group. Consumers of one group share the
//!   partitions: at most `partitions` of them receive messages at once.
//! * The producer is idempotent with `acks=all`; `send` returns once the delivery report
//!   arrives, and concurrent sends are all in flight together.
//! * Offsets are committed only up to the lowest unacknowledged delivery of each partition;
//!   what a consumer leaves unacknowledged when it closes, crashes or loses its partitions is
//!   read again by the group.
//! * `nack(requeue = true)` publishes the message again to the same topic and key, with
//!   `courier-attempt` one higher and `courier-requeued-for` naming the group (courier
//!   consumers of the topic's other groups pass over the copy), and then counts the original
//!   as done. The retried message
//!   goes to the end of its partition: messages of the same key sent after it may be handled
//!   before it. A message read again after a crash or a rebalance carries the attempt number
//!   of its record (Kafka keeps no delivery count).
//! * A consumer takes records into a buffer of `prefetch` deliveries and hands the
//!   application at most `prefetch` unacknowledged ones; while the buffer stays full it pauses
//!   its partitions, still serving rebalances.
//!
//! ## Wire format
//!
//! * key: the message key, UTF-8, absent when the message has none;
//! * value: the payload, unchanged;
//! * headers: the message headers, plus `courier-id` (the id) and, on a message handed back
//!   by `nack(requeue)`, `courier-attempt` and `courier-requeued-for`.
//!
//! A record from a plain Kafka client is accepted: without `courier-id` its id is
//! `<topic>-<partition>-<offset>`, stable across redeliveries.
//!
//! [rdkafka]: https://docs.rs/rdkafka

#![forbid(unsafe_code)]

mod broker;
mod client;
mod config;
mod consumer;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod options;
mod producer;
mod registration;
mod topics;
mod wire;

pub use broker::{CAPABILITIES, KafkaBroker};
pub use config::KafkaConfig;
pub use consumer::KafkaConsumer;
pub use producer::KafkaProducer;
pub use wire::ID_HEADER;

/// The backend's name, as [`Broker::name`](courier_core::Broker::name) reports it.
pub const BACKEND: &str = "kafka";

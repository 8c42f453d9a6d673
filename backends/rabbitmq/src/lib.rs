//! # courier-rabbitmq
//!
//! The RabbitMQ backend of courier, built on [`lapin`].
//!
//! ## Topology
//!
//! * A **topic** `T` is a durable `fanout` exchange named `T`.
//! * A **group** `G` of `T` is a durable queue `T.G` bound to that exchange, so every group
//!   gets every message and the consumers of one group share its queue. The
//!   `[broker.rabbitmq.queues.T.G]` table can name another queue (and its durability and type):
//!   that is how a plain queue such as `order_queue`, filled by external producers through the
//!   default exchange, becomes the group `order` of topic `order_queue`.
//! * A [temporary](courier_core::Subscription::temporary) group's queue `T.G` is classic,
//!   non-durable and auto-delete: RabbitMQ deletes it when its consumer is gone (and after
//!   a minute when no consumer ever came).
//! * RabbitMQ drops a message that no queue takes: messages sent before a group exists are
//!   lost for it (Kafka, by contrast, keeps its log). Declare groups ahead with
//!   [`Broker::declare_group`](courier_core::Broker::declare_group) or the `groups` table.
//!
//! ## Wire format
//!
//! The payload is the body, unchanged; the id is `message_id`; the key is the header
//! `courier-key`; the `content-type` header is the `content_type` property; other headers are
//! AMQP headers with string values; messages are persistent. A requeued copy carries
//! `courier-attempt`. Plain AMQP messages with only a body are accepted and get a fresh id.
//!
//! ## Guarantees
//!
//! `send` returns once RabbitMQ confirmed the message (publisher confirms, a window of
//! `confirm_window` in flight). Consumers ack manually, with `basic.qos` as the prefetch.
//! After a dropped connection or a broker restart, producers and consumers reconnect with
//! backoff, declare their topology again and resume; unconfirmed sends are published again.
//! Deliveries received before the drop can no longer be acked (RabbitMQ delivers them again).

mod acker;
mod broker;
mod config;
mod connector;
mod consumer;
mod declared;
mod delay;
mod endpoint;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod naming;
mod producer;
mod publisher;
mod registration;
mod temporary;
mod topology;
mod wire;

pub use broker::{CAPABILITIES, RabbitMqBroker};
pub use config::RabbitMqConfig;
pub use consumer::RabbitMqConsumer;
pub use declared::DeclaredQueue;
pub use naming::{QueueOverride, QueueType};
pub use producer::RabbitMqProducer;
pub use wire::KEY_HEADER;

/// The backend's name, as in errors and `Broker::name`.
pub(crate) const BACKEND: &str = "rabbitmq";

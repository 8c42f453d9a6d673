//! # courier-memory
//!
//! The in-process backend of courier, and the reference every other backend is held to: it
//! gives every delivery semantic of courier except persistence across restarts.
//!
//! * A **topic** has **groups**; a group is created by
//!   [`declare_group`](courier_core::Broker::declare_group) or the first
//!   [`subscribe`](courier_core::Broker::subscribe) and lives as long as the broker, keeping
//!   messages while none of its consumers runs. A message sent to a topic with no group is
//!   dropped (as an exchange with no queue bound drops it). A group created by a
//!   [temporary](courier_core::Subscription::temporary) subscription is removed when its last
//!   consumer closes.
//! * **Fan-out**: `send` enqueues into every group of the topic. **Competing consumers**: within
//!   a group each message goes to one consumer.
//! * **Per-key order across consumers**: while a consumer holds an unacked delivery of key K,
//!   or has messages of K routed to it and not yet taken, further messages of K go to that
//!   consumer only, so one key's messages are handled in send order even with many consumers.
//!   Keyless messages go to whichever consumer asks first.
//! * **Prefetch**: a consumer never holds more than `prefetch` unacked deliveries.
//! * **ack** removes a message; **nack(requeue = true)** puts it back at the front of the group
//!   (or, while the same consumer still holds later messages of its key, at the front of that
//!   consumer's routed messages), with its attempt number raised; **nack(requeue = false)**
//!   drops it (the runtime has dead-lettered it already).
//! * A consumer closed or dropped gives its unacked deliveries and routed messages back to the
//!   front of the group in their original order; acks for its deliveries then fail with
//!   [`ErrorKind::Ack`](courier_core::ErrorKind::Ack).
//! * **Bounded memory**: a group holds at most [`MemoryConfig::capacity`] messages (ready,
//!   routed and unacked); when full, `send` waits or fails as [`Overflow`] says.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> courier_core::Result<()> {
//! use courier_core::{Broker, Message, Subscription};
//! use courier_memory::{MemoryBroker, MemoryConfig, Overflow};
//!
//! let broker = MemoryBroker::new(MemoryConfig { capacity: 10_000, overflow: Overflow::Fail });
//! broker.declare_group("payments.succeeded", "order").await?;
//! let producer = broker.producer().await?;
//! producer.send_batch("payments.succeeded", vec![Message::new("a"), Message::new("b")]).await?;
//!
//! let mut consumer = broker.subscribe(Subscription::new("payments.succeeded", "order")).await?;
//! for mut delivery in consumer.recv_batch(16).await? {
//!     delivery.ack().await?;
//! }
//! # Ok(())
//! # }
//! ```

mod ack;
mod broker;
mod config;
mod consumer;
mod group;
mod producer;
mod registration;
mod registry;
mod state;
mod temporary;

#[cfg(test)]
mod tests;

pub use broker::{CAPABILITIES, MemoryBroker};
pub use config::{MemoryConfig, Overflow};
pub use state::GroupStats;

/// The backend's name, as [`Broker::name`](courier_core::Broker::name) reports it.
pub const BACKEND: &str = "memory";

//! # courier-zeromq
//!
//! The ZeroMQ backend of courier, on the pure-Rust [`zeromq`] crate: brokerless, with acks
//! that mean something.
//!
//! ## Topology
//!
//! Each topic is served by one ROUTER socket, bound by one process: the **binding side** of
//! that endpoint ([`ZmqConfig::endpoint`] and [`ZmqConfig::bind`], or a topic's own table).
//! Topics not listed share the default endpoint; the topic travels in a frame. The binding
//! side keeps, for each group of each topic, a bounded **outbox** in memory (no storage, no
//! separate broker process): ZeroMQ's reliable request-reply pattern, with the producer side
//! holding each message until it is acked.
//!
//! * **Consumers** connect a DEALER socket each (always over TCP or IPC, also inside the
//!   binding process), announce `HELLO topic group prefetch`, receive `MSG`s, and settle them
//!   with `ACK`, `NACK` (requeue) or `REJECT`. The binding side gives each group's messages
//!   round-robin to the members that have credit (never more than `prefetch` unacked each),
//!   except that while a member holds messages of a key, further messages of that key go to
//!   it. It tracks what each member holds, and gives it back to the group, at the front and
//!   with a higher attempt number, when the member nacks it, says `BYE`, disconnects, or stays
//!   silent longer than the heartbeat timeout. A `RETRY` gives it back once a delay has
//!   passed ([`Delivery::retry_after`](courier_core::Delivery::retry_after)), and a
//!   `PUBLISH` with a delay frame ([`Producer::send_after`](courier_core::Producer::send_after))
//!   joins the groups once its delay has passed: both wait in the outboxes meanwhile, up to
//!   [`ZmqConfig::max_delay_ms`].
//! * **Producers** in the binding process queue into the outboxes directly; producers in
//!   other processes connect a DEALER and send `PUBLISH`, answered `OK` once queued.
//! * **Groups** exist once declared: in the binding side's configuration (`groups`), by
//!   [`Broker::declare_group`](courier_core::Broker::declare_group) (sent as `DECLARE` from
//!   other processes), or when a first member joins. From then on the group's outbox keeps
//!   every message, while no consumer runs too, up to `capacity`. A topic without any group
//!   drops what is sent to it, like an exchange without queues.
//!
//! ## Guarantees
//!
//! While the binding process lives, delivery is at-least-once: fan-out to every group,
//! competing consumers within a group, per-key order (also across the consumers of a group),
//! redelivery on nack and on disconnect with an attempt count, the prefetch bound, and
//! delayed delivery (retries and sends, timed by the binding side). `send` returns once the
//! message is in the outboxes, not when a consumer acked it, so
//! [`Capability::ConfirmedSend`](courier_core::Capability::ConfirmedSend) is not reported;
//! nothing is persisted, so [`Capability::Persistence`](courier_core::Capability::Persistence)
//! is not either, and what the outboxes hold is lost if the binding process ends.
//!
//! ## Wire format
//!
//! Every message is a multipart message starting with the frame `courier/1` and a command
//! frame (`HELLO`, `MSG`, `ACK`, `NACK`, `RETRY`, `REJECT`, `PING`/`PONG`, `BYE`,
//! `PUBLISH`, `DECLARE`, `OK`, `ERROR`); numbers are ASCII decimal; a message travels as the
//! four frames id, key, headers (a JSON object of strings) and payload. A courier consumer
//! asks for its deliveries packed (`RECORD`: a binary head and the payload) and batched, up to
//! 64 in one ZeroMQ message. `docs/zeromq.md` has the full table. Any ZeroMQ library (libzmq through pyzmq, for example) can consume or
//! produce with a DEALER socket.

mod auth;
mod broker;
mod config;
mod consumer;
mod delay;
#[doc(hidden)]
pub mod fuzzing;
mod hub;
mod link;
mod producer;
mod registration;
mod routes;
mod session;
mod socket;
mod topology;
mod wire;

pub use broker::{CAPABILITIES, ZmqBroker};
pub use config::{Overflow, TopicConfig, ZmqConfig};
pub use consumer::ZmqConsumer;
pub use producer::ZmqProducer;

/// The backend's name, as errors and logs show it.
pub(crate) const BACKEND: &str = "zeromq";

//! # courier-core
//!
//! The broker-neutral heart of courier: the [`Message`] and [`Delivery`] types, the traits
//! every backend implements ([`Broker`], [`Producer`], [`Consumer`], [`Ack`]), the
//! [`Capabilities`] a backend reports, one [`Error`] type, typed JSON events ([`codec`]), and
//! the [`Runtime`] that drives handlers with bounded concurrency, per-key order, retries with
//! backoff, dead-lettering and graceful shutdown.
//!
//! This crate depends on no broker client. Services are written against it alone; a binary
//! picks the backend. To add a broker, read [`writing_a_backend`].

pub mod backend;
mod backoff;
mod broker;
mod budget;
mod capability;
pub mod codec;
mod delivery;
mod error;
pub mod headers;
mod health;
pub mod key_routing;
mod message;
mod message_id;
mod overflow;
mod runtime;
mod secret;
mod settle;
mod shutdown;
pub mod token;
pub mod trace;

pub use backend::InvalidSetting;
pub use backoff::Backoff;
pub use broker::{Broker, Consumer, Producer, Subscription};
pub use budget::ByteBudget;
pub use capability::{Capabilities, Capability};
pub use delivery::{Ack, Delivery, Origin};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use health::{ConnectionState, Health, Readiness, SubscriptionState, SubscriptionStatus};
pub use message::{Headers, Message, new_id};
pub use message_id::MessageId;
pub use overflow::Overflow;
/// The metrics library behind [`Metrics`], for a service's own counters and gauges.
pub use prometheus_client;
pub use runtime::{
    Context, Counts, FnHandler, Handler, HandlerError, JsonHandler, METRICS_CONTENT_TYPE, Metrics,
    Running, Runtime, RuntimeSettings, SentMessages, SubscriptionMetrics,
};
pub use secret::{Secret, redact_url};
pub use settle::Settle;
pub use shutdown::shutdown_signal;

#[doc = include_str!("../docs/writing-a-backend.md")]
pub mod writing_a_backend {}

//! # order-service
//!
//! The order service of the saga: takes orders over HTTP ([`http::router`]) and from the
//! intake topic, stores each as pending and enqueues
//! [`OrderPlaced`](courier_contracts::OrderPlaced) in one transaction of its store (the
//! outbox of `courier-outbox` sends it), and settles each order when the
//! inventory or payment service answers: confirmed on
//! [`PaymentSucceeded`](courier_contracts::PaymentSucceeded), cancelled with its reason on
//! [`StockRejected`](courier_contracts::StockRejected) or
//! [`PaymentFailed`](courier_contracts::PaymentFailed).
//!
//! The library uses `courier-core` and `courier-outbox`; the binary picks the broker and the
//! store from the config file.

pub mod http;
mod model;
pub mod repository;
mod service;

pub use model::{CancelCause, Order, OrderStatus, OrderView};
pub use repository::{Inserted, MIGRATIONS, Settled};
pub use service::{OrderService, PlaceError, Placed, SettlementObserver, intake_id};

/// The prefix of the order service's tables.
pub const STORE_PREFIX: &str = "order";

use courier_core::Capability;

/// What the order service needs of the broker: [`Capability::FanOut`], because
/// `PaymentFailed` reaches both the order and the inventory group.
pub const NEEDS: &[Capability] = &[Capability::FanOut];

/// The events the order service publishes, by [`Event::NAME`](courier_contracts::Event::NAME):
/// `OrderPlaced`, for every order it stores.
pub const PUBLISHES: &[&str] =
    &[<courier_contracts::OrderPlaced as courier_contracts::Event>::NAME];

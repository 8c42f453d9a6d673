//! # order-service
//!
//! The order service of the saga: takes orders over HTTP ([`http::router`]) and from the
//! intake topic, stores them as pending ([`OrderRepository`]), publishes
//! [`OrderPlaced`](courier_contracts::OrderPlaced), and settles each order when the
//! inventory or payment service answers: confirmed on
//! [`PaymentSucceeded`](courier_contracts::PaymentSucceeded), cancelled with its reason on
//! [`StockRejected`](courier_contracts::StockRejected) or
//! [`PaymentFailed`](courier_contracts::PaymentFailed).
//!
//! The library uses `courier-core` only; the binary picks the broker from the config file.

pub mod http;
mod model;
mod repository;
mod service;

pub use model::{CancelCause, Order, OrderStatus, OrderView};
pub use repository::{Inserted, MemoryOrders, OrderRepository, Settled};
pub use service::{OrderService, PlaceError, Placed, SettlementObserver};

use courier_core::Capability;

/// What the order service needs of the broker: [`Capability::FanOut`], because
/// `PaymentFailed` reaches both the order and the inventory group.
pub const NEEDS: &[Capability] = &[Capability::FanOut];

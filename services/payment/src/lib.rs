//! # payment-service
//!
//! The payment service of the saga: on [`StockReserved`](courier_contracts::StockReserved) it
//! charges the order's total through a [`PaymentGateway`] and publishes
//! [`PaymentSucceeded`](courier_contracts::PaymentSucceeded) or
//! [`PaymentFailed`](courier_contracts::PaymentFailed).
//!
//! No order is charged twice: a delivery is claimed in the store's inbox, the charge, its
//! record and the outcome event commit in one transaction, and the gateway itself takes the
//! order id as its idempotency key. The default [`SimulatedGateway`] is deterministic (it
//! declines amounts above a limit) and keeps its charges in the service's database.
//!
//! The library uses `courier-core` and `courier-outbox`; the binary picks the broker and the
//! store from the config file.

mod gateway;
pub mod repository;
mod service;
mod simulated;

pub use gateway::{Charge, ChargeOutcome, GatewayError, PaymentGateway};
pub use repository::MIGRATIONS;

/// The prefix of the payment service's tables.
pub const STORE_PREFIX: &str = "payment";
pub use service::PaymentService;
pub use simulated::SimulatedGateway;

use courier_core::Capability;

/// What the payment service needs of the broker: nothing beyond plain delivery; it reads one
/// topic and publishes to two.
pub const NEEDS: &[Capability] = &[];

/// The events the payment service publishes, by
/// [`Event::NAME`](courier_contracts::Event::NAME): `PaymentSucceeded` or `PaymentFailed`,
/// once per reserved order.
pub const PUBLISHES: &[&str] = &[
    <courier_contracts::PaymentSucceeded as courier_contracts::Event>::NAME,
    <courier_contracts::PaymentFailed as courier_contracts::Event>::NAME,
];

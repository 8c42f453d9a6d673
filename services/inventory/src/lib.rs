//! # inventory-service
//!
//! The inventory service of the saga: on [`OrderPlaced`](courier_contracts::OrderPlaced) it
//! reserves stock for every line of the order or for none, and publishes
//! [`StockReserved`](courier_contracts::StockReserved) or
//! [`StockRejected`](courier_contracts::StockRejected); on
//! [`PaymentFailed`](courier_contracts::PaymentFailed) it releases the reservation (the
//! saga's compensation). Stock and reservations live in the service's store
//! ([`repository`]); each change commits with the event it causes.
//!
//! The library uses `courier-core` and `courier-outbox`; the binary picks the broker and the
//! store from the config file.

pub mod repository;
mod service;

pub use repository::{MIGRATIONS, Released, Reservation, Reserved, StockLevel};

/// The prefix of the inventory service's tables.
pub const STORE_PREFIX: &str = "inventory";
pub use service::InventoryService;

use courier_core::Capability;

/// What the inventory service needs of the broker: [`Capability::FanOut`], because
/// `PaymentFailed` reaches both the order and the inventory group.
pub const NEEDS: &[Capability] = &[Capability::FanOut];

/// The events the inventory service publishes, by
/// [`Event::NAME`](courier_contracts::Event::NAME): `StockReserved` or `StockRejected`, once
/// per placed order.
pub const PUBLISHES: &[&str] = &[
    <courier_contracts::StockReserved as courier_contracts::Event>::NAME,
    <courier_contracts::StockRejected as courier_contracts::Event>::NAME,
];

//! # inventory-service
//!
//! The inventory service of the saga: on [`OrderPlaced`](courier_contracts::OrderPlaced) it
//! reserves stock for every line of the order or for none, and publishes
//! [`StockReserved`](courier_contracts::StockReserved) or
//! [`StockRejected`](courier_contracts::StockRejected); on
//! [`PaymentFailed`](courier_contracts::PaymentFailed) it releases the reservation (the
//! saga's compensation). Stock lives behind [`StockRepository`].
//!
//! The library uses `courier-core` only; the binary picks the broker from the config file.

mod repository;
mod service;

pub use repository::{MemoryStock, Released, Reservation, Reserved, StockLevel, StockRepository};
pub use service::InventoryService;

use courier_core::Capability;

/// What the inventory service needs of the broker: [`Capability::FanOut`], because
/// `PaymentFailed` reaches both the order and the inventory group.
pub const NEEDS: &[Capability] = &[Capability::FanOut];

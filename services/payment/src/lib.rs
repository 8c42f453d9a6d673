//! # payment-service
//!
//! The payment service of the saga: on [`StockReserved`](courier_contracts::StockReserved) it
//! charges the order's total through a [`PaymentGateway`] and publishes
//! [`PaymentSucceeded`](courier_contracts::PaymentSucceeded) or
//! [`PaymentFailed`](courier_contracts::PaymentFailed).
//!
//! No order is charged twice: the service records each order's charge in a
//! [`PaymentRepository`] and answers a duplicate from it, and the gateway itself takes the
//! order id as its idempotency key. The default [`SimulatedGateway`] is deterministic
//! (it declines amounts above a limit) and, given a journal file, remembers its charges
//! across restarts of the process, as a real payment provider does.
//!
//! The library uses `courier-core` only; the binary picks the broker from the config file.

mod gateway;
mod repository;
mod service;
mod simulated;

pub use gateway::{Charge, ChargeOutcome, GatewayError, PaymentGateway};
pub use repository::{MemoryPayments, PaymentRepository};
pub use service::PaymentService;
pub use simulated::SimulatedGateway;

use courier_core::Capability;

/// What the payment service needs of the broker: nothing beyond plain delivery; it reads one
/// topic and publishes to two.
pub const NEEDS: &[Capability] = &[];

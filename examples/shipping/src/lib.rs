//! An example service written against courier's public API alone: when an order is paid,
//! it requests the order's shipment. `src/main.rs` makes it a binary; `tests/memory.rs`
//! tests it on the in-memory broker. The README shows both files.

use std::sync::Arc;

use courier_core::{Context, HandlerError, Producer, Runtime, codec};
use serde::{Deserialize, Serialize};

/// The topic the payment service publishes paid orders to.
pub const PAID: &str = "payments.succeeded";
/// The topic this service publishes to.
pub const SHIPMENTS: &str = "shipments.requested";
/// This service's consumer group.
pub const GROUP: &str = "shipping";

/// The part of the payment service's event this service reads.
#[derive(Debug, Deserialize)]
pub struct PaymentSucceeded {
    /// The order that was paid.
    pub order_id: String,
}

/// The event this service publishes, keyed by order id.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequested {
    /// Contract version.
    pub version: u16,
    /// The order to ship.
    pub order_id: String,
}

/// Registers the service's handler on `runtime`; it publishes with `producer`.
pub fn register(runtime: &mut Runtime, producer: Arc<dyn Producer>) {
    runtime.handle_json(PAID, GROUP, move |paid: PaymentSucceeded, cx: Context| {
        let producer = producer.clone();
        async move {
            let event = ShipmentRequested {
                version: 1,
                order_id: paid.order_id,
            };
            // One id per payment, the same on every retry and redelivery: a consumer that
            // remembers ids drops the duplicates at-least-once delivery brings.
            let message = codec::to_json(&event)?
                .with_id(format!("shipment-{}", cx.message_id))
                .with_key(event.order_id)
                .with_header(
                    "correlation-id",
                    cx.header("correlation-id").unwrap_or(&cx.message_id.text()),
                );
            // A send the broker did not confirm is transient: retried, then dead-lettered.
            producer.send(SHIPMENTS, message).await?;
            Ok::<(), HandlerError>(())
        }
    });
}

/// The README's code blocks, compiled as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

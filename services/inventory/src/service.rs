//! [`InventoryService`]: reserving stock for placed orders and releasing it when payment
//! fails.

use std::sync::Arc;

use courier_contracts::{
    Event, OrderPlaced, PaymentFailed, SagaTopics, StockRejected, StockReserved, groups, publish,
};
use courier_core::{HandlerError, Producer, Runtime};
use tracing::debug;

use crate::{Released, Reserved, StockRepository};

/// The inventory service: its stock, the producer it publishes with, and the topics.
pub struct InventoryService {
    stock: Arc<dyn StockRepository>,
    producer: Arc<dyn Producer>,
    topics: SagaTopics,
}

impl InventoryService {
    /// A service keeping stock in `stock` and publishing with `producer`.
    pub fn new(
        stock: Arc<dyn StockRepository>,
        producer: Arc<dyn Producer>,
        topics: SagaTopics,
    ) -> Self {
        Self {
            stock,
            producer,
            topics,
        }
    }

    /// The stock this service moves.
    pub fn stock(&self) -> &Arc<dyn StockRepository> {
        &self.stock
    }

    /// Reserves every line of the order or none, then publishes `StockReserved` or
    /// `StockRejected`. A duplicate publishes the outcome recorded the first time again
    /// (moving no stock), so a crash between reserving and publishing heals on redelivery;
    /// an order released before is left alone.
    ///
    /// # Errors
    /// Permanent for an invalid event; transient when the store or the broker fails.
    pub async fn on_order_placed(&self, event: OrderPlaced) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let order_id = event.order_id.as_str();
        match self.stock.reserve(order_id, &event.lines).await? {
            Reserved::Held { fresh } => {
                if fresh {
                    debug!(order_id, "stock reserved");
                }
                let reserved = StockReserved::for_order(&event);
                publish(
                    self.producer.as_ref(),
                    &self.topics.stock_reserved,
                    &reserved,
                )
                .await?;
            }
            Reserved::Rejected { reason, fresh } => {
                if fresh {
                    debug!(order_id, %reason, "stock rejected");
                }
                let rejected = StockRejected::new(order_id, reason);
                publish(
                    self.producer.as_ref(),
                    &self.topics.stock_rejected,
                    &rejected,
                )
                .await?;
            }
            Reserved::Released => debug!(order_id, "order released before; duplicate ignored"),
        }
        Ok(())
    }

    /// Releases what the order holds (the compensation of a failed payment).
    ///
    /// # Errors
    /// Permanent for an invalid event; transient when the store fails.
    pub async fn on_payment_failed(&self, event: PaymentFailed) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        match self.stock.release(&event.order_id).await? {
            Released::Now => debug!(order_id = %event.order_id, "reservation released"),
            Released::Nothing => debug!(order_id = %event.order_id, "nothing to release"),
        }
        Ok(())
    }

    /// Registers the service's handlers on `runtime`, in group [`groups::INVENTORY`]:
    /// `OrderPlaced` and `PaymentFailed`.
    pub fn register(self: &Arc<Self>, runtime: &mut Runtime) {
        let svc = self.clone();
        runtime.handle_json(
            &self.topics.order_placed,
            groups::INVENTORY,
            move |event, _ctx| {
                let svc = svc.clone();
                async move { svc.on_order_placed(event).await }
            },
        );
        let svc = self.clone();
        runtime.handle_json(
            &self.topics.payment_failed,
            groups::INVENTORY,
            move |event, _ctx| {
                let svc = svc.clone();
                async move { svc.on_payment_failed(event).await }
            },
        );
    }
}

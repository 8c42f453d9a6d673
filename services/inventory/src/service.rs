//! [`InventoryService`]: reserving stock for placed orders and releasing it when payment
//! fails, each in one transaction with the event it sends.

use std::sync::Arc;

use async_trait::async_trait;
use courier_contracts::{
    CatalogItem, Event, OrderPlaced, PaymentFailed, SagaTopics, StockRejected, StockReserved,
    groups,
};
use courier_core::{
    Context, HandlerError, Runtime,
    prometheus_client::metrics::{counter::Counter, family::Family},
};
use courier_outbox::{Json, Store, StoreError, Tx, TxHandler, TxRuntime};
use tracing::debug;

use crate::repository::{self, Released, Reservation, Reserved, StockLevel};

/// The inventory service: its store, the topics and its counters.
pub struct InventoryService {
    store: Store,
    topics: SagaTopics,
    /// `shop_stock_reservations_total{outcome}`: `reserved` or `rejected`, once per order.
    reservations: Family<[(&'static str, &'static str); 1], Counter>,
    /// `shop_stock_releases_total`: reservations released after a failed payment.
    releases: Counter,
}

impl InventoryService {
    /// A service keeping stock in `store` (see [`MIGRATIONS`](crate::MIGRATIONS)), with
    /// every product of `catalog` missing from it added at its catalog stock.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn new(
        store: Store,
        topics: SagaTopics,
        catalog: &[CatalogItem],
    ) -> Result<Self, StoreError> {
        let mut tx = store.begin().await?;
        repository::seed(tx.conn(), store.prefix(), catalog).await?;
        tx.commit().await?;
        Ok(Self {
            store,
            topics,
            reservations: Family::default(),
            releases: Counter::default(),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every product's free stock, in catalog order.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn levels(&self) -> Result<Vec<StockLevel>, StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        repository::levels(&mut conn, self.store.prefix()).await
    }

    /// What is remembered of `order_id`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        repository::reservation(&mut conn, self.store.prefix(), order_id).await
    }

    /// Registers the service's handlers on `runtime`, in group [`groups::INVENTORY`]:
    /// `OrderPlaced` and `PaymentFailed`, each in a transaction of the store.
    /// Its counters (`shop_stock_reservations_total{outcome}`, `shop_stock_releases_total`)
    /// join the runtime's metrics.
    pub fn register(self: &Arc<Self>, runtime: &mut Runtime) {
        let metrics = runtime.metrics();
        metrics.register(
            "shop_stock_reservations",
            "Orders whose stock was reserved or rejected, by outcome.",
            self.reservations.clone(),
        );
        metrics.register(
            "shop_stock_releases",
            "Reservations released after a failed payment.",
            self.releases.clone(),
        );
        let (t, store) = (&self.topics, &self.store);
        runtime
            .handle_tx::<Json<OrderPlaced>, _>(
                &t.order_placed,
                groups::INVENTORY,
                store,
                self.clone(),
            )
            .handle_tx::<Json<PaymentFailed>, _>(
                &t.payment_failed,
                groups::INVENTORY,
                store,
                self.clone(),
            );
    }
}

#[async_trait]
impl TxHandler<Json<OrderPlaced>> for InventoryService {
    /// Reserves every line of the order or none, and sends `StockReserved` or
    /// `StockRejected` in the same transaction; an order released before is left alone.
    async fn handle(
        &self,
        Json(event): Json<OrderPlaced>,
        tx: &mut Tx,
        _ctx: &Context,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let order_id = event.order_id.as_str();
        let prefix = self.store.prefix();
        match repository::reserve(tx.conn(), prefix, order_id, &event.lines).await? {
            Reserved::Held { fresh } => {
                debug!(order_id, fresh, "stock reserved");
                if fresh {
                    tx.count_after_commit(
                        &self.reservations.get_or_create(&[("outcome", "reserved")]),
                    );
                }
                let reserved = StockReserved::for_order(&event);
                tx.send(&self.topics.stock_reserved, reserved.to_message()?);
            }
            Reserved::Rejected { reason, fresh } => {
                debug!(order_id, fresh, %reason, "stock rejected");
                if fresh {
                    tx.count_after_commit(
                        &self.reservations.get_or_create(&[("outcome", "rejected")]),
                    );
                }
                let rejected = StockRejected::new(order_id, reason);
                tx.send(&self.topics.stock_rejected, rejected.to_message()?);
            }
            Reserved::Released => debug!(order_id, "order released before; nothing held"),
        }
        Ok(())
    }
}

#[async_trait]
impl TxHandler<Json<PaymentFailed>> for InventoryService {
    /// Releases what the order holds (the compensation of a failed payment).
    async fn handle(
        &self,
        Json(event): Json<PaymentFailed>,
        tx: &mut Tx,
        _ctx: &Context,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        match repository::release(tx.conn(), self.store.prefix(), &event.order_id).await? {
            Released::Now => {
                debug!(order_id = %event.order_id, "reservation released");
                tx.count_after_commit(&self.releases);
            }
            Released::Nothing => debug!(order_id = %event.order_id, "nothing to release"),
        }
        Ok(())
    }
}

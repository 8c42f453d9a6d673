//! [`PaymentService`]: charging reserved orders, each charge in one transaction with its
//! outcome event.

use std::sync::Arc;

use async_trait::async_trait;
use courier_contracts::{
    Event, PaymentFailed, PaymentSucceeded, SagaTopics, StockReserved, groups,
};
use courier_core::{
    Context, HandlerError, Runtime,
    prometheus_client::metrics::{counter::Counter, family::Family},
};
use courier_outbox::{Json, Store, StoreError, Tx, TxHandler, TxRuntime};
use tracing::debug;

use crate::{
    Charge, ChargeOutcome, PaymentGateway,
    repository::{self, Ledger},
};

/// The payment service: its gateway, its store, the topics and its counter.
pub struct PaymentService {
    gateway: Arc<dyn PaymentGateway>,
    store: Store,
    topics: SagaTopics,
    /// `shop_charges_total{outcome}`: `approved` or `declined`, once per order.
    charges: Family<[(&'static str, &'static str); 1], Counter>,
}

impl PaymentService {
    /// A service charging through `gateway`, recording charges in `store` (see
    /// [`MIGRATIONS`](crate::MIGRATIONS)).
    pub fn new(gateway: Arc<dyn PaymentGateway>, store: Store, topics: SagaTopics) -> Self {
        Self {
            gateway,
            store,
            topics,
            charges: Family::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The charge recorded for every order, by order id.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn charges(&self) -> Result<Vec<Charge>, StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        repository::all(&mut conn, self.store.prefix(), Ledger::Charges).await
    }

    /// Registers the service's handler on `runtime`, in group [`groups::PAYMENT`]:
    /// `StockReserved`, in a transaction of the store. Its counter
    /// (`shop_charges_total{outcome}`) joins the runtime's metrics.
    pub fn register(self: &Arc<Self>, runtime: &mut Runtime) {
        runtime.metrics().register(
            "shop_charges",
            "Orders charged, by outcome: approved or declined.",
            self.charges.clone(),
        );
        runtime.handle_tx::<Json<StockReserved>, _>(
            &self.topics.stock_reserved,
            groups::PAYMENT,
            &self.store,
            self.clone(),
        );
    }
}

#[async_trait]
impl TxHandler<Json<StockReserved>> for PaymentService {
    /// Charges the reserved order once, records the charge and sends `PaymentSucceeded` or
    /// `PaymentFailed`, all in one transaction. An order charged before is not charged again.
    async fn handle(
        &self,
        Json(event): Json<StockReserved>,
        tx: &mut Tx,
        _ctx: &Context,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let order_id = event.order_id.as_str();
        let prefix = self.store.prefix();
        if repository::get(tx.conn(), prefix, Ledger::Charges, order_id)
            .await?
            .is_some()
        {
            debug!(order_id, "charged before; nothing to do");
            return Ok(());
        }
        let charge = self.gateway.charge(tx, order_id, event.total_minor).await?;
        debug!(
            order_id,
            amount_minor = charge.amount_minor,
            approved = charge.is_approved(),
            "charge decided"
        );
        repository::insert(tx.conn(), prefix, Ledger::Charges, &charge).await?;
        let outcome = if charge.is_approved() {
            "approved"
        } else {
            "declined"
        };
        tx.count_after_commit(&self.charges.get_or_create(&[("outcome", outcome)]));
        match charge.outcome {
            ChargeOutcome::Approved { payment_id } => {
                let paid = PaymentSucceeded::new(order_id, payment_id, charge.amount_minor);
                tx.send(&self.topics.payment_succeeded, paid.to_message()?);
            }
            ChargeOutcome::Declined { reason } => {
                let failed = PaymentFailed::new(order_id, charge.amount_minor, reason);
                tx.send(&self.topics.payment_failed, failed.to_message()?);
            }
        }
        Ok(())
    }
}

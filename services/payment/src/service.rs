//! [`PaymentService`]: charging reserved orders.

use std::sync::Arc;

use courier_contracts::{
    Event, PaymentFailed, PaymentSucceeded, SagaTopics, StockReserved, groups, publish,
};
use courier_core::{HandlerError, Producer, Runtime};
use tracing::debug;

use crate::{ChargeOutcome, PaymentGateway, PaymentRepository};

/// The payment service: its gateway, its record of charges, the producer it publishes with,
/// and the topics.
pub struct PaymentService {
    gateway: Arc<dyn PaymentGateway>,
    payments: Arc<dyn PaymentRepository>,
    producer: Arc<dyn Producer>,
    topics: SagaTopics,
}

impl PaymentService {
    /// A service charging through `gateway`, recording charges in `payments`.
    pub fn new(
        gateway: Arc<dyn PaymentGateway>,
        payments: Arc<dyn PaymentRepository>,
        producer: Arc<dyn Producer>,
        topics: SagaTopics,
    ) -> Self {
        Self {
            gateway,
            payments,
            producer,
            topics,
        }
    }

    /// The record of charges.
    pub fn payments(&self) -> &Arc<dyn PaymentRepository> {
        &self.payments
    }

    /// Charges the reserved order once, then publishes `PaymentSucceeded` or `PaymentFailed`.
    /// A duplicate publishes the recorded outcome again without charging.
    ///
    /// # Errors
    /// Permanent for an invalid event (a negative amount, no lines); transient when the
    /// gateway, the store or the broker fails.
    pub async fn on_stock_reserved(&self, event: StockReserved) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let order_id = event.order_id.as_str();
        let charge = match self.payments.get(order_id).await? {
            Some(charge) => charge,
            None => {
                let charge = self.gateway.charge(order_id, event.total_minor).await?;
                debug!(
                    order_id,
                    amount_minor = charge.amount_minor,
                    approved = charge.is_approved(),
                    "charge decided"
                );
                self.payments.record(charge).await?
            }
        };
        let producer = self.producer.as_ref();
        match charge.outcome {
            ChargeOutcome::Approved { payment_id } => {
                let event = PaymentSucceeded::new(order_id, payment_id, charge.amount_minor);
                publish(producer, &self.topics.payment_succeeded, &event).await?;
            }
            ChargeOutcome::Declined { reason } => {
                let event = PaymentFailed::new(order_id, charge.amount_minor, reason);
                publish(producer, &self.topics.payment_failed, &event).await?;
            }
        }
        Ok(())
    }

    /// Registers the service's handler on `runtime`, in group [`groups::PAYMENT`]:
    /// `StockReserved`.
    pub fn register(self: &Arc<Self>, runtime: &mut Runtime) {
        let svc = self.clone();
        runtime.handle_json(
            &self.topics.stock_reserved,
            groups::PAYMENT,
            move |event, _ctx| {
                let svc = svc.clone();
                async move { svc.on_stock_reserved(event).await }
            },
        );
    }
}

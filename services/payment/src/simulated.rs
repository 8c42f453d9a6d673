//! [`SimulatedGateway`]: a deterministic gateway whose charges live in the service's
//! database.

use async_trait::async_trait;
use courier_outbox::{Store, StoreError, Tx};

use crate::{
    Charge, ChargeOutcome, GatewayError, PaymentGateway,
    repository::{self, Ledger},
};

/// A payment gateway that approves every amount up to `decline_above_minor` and declines the
/// rest, with payment ids `pay-<order id>`.
///
/// Idempotent by order id. Its charges are rows of the payment store's `gateway_charges`
/// table, written in the handler's transaction: a charge exists exactly when its outcome
/// event was committed with it, so a crash anywhere never charges an order twice.
#[derive(Clone, Copy, Debug)]
pub struct SimulatedGateway {
    decline_above_minor: i64,
}

impl SimulatedGateway {
    /// A gateway declining amounts above `decline_above_minor`.
    pub fn new(decline_above_minor: i64) -> Self {
        Self {
            decline_above_minor,
        }
    }

    /// Every charge the gateway made on `store`, in the order made, duplicates included
    /// (there are none unless an order was charged twice).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn journal(store: &Store) -> Result<Vec<Charge>, StoreError> {
        let mut conn = store.pool().acquire().await?;
        repository::all(&mut conn, store.prefix(), Ledger::Gateway).await
    }

    fn decide(&self, order_id: &str, amount_minor: i64) -> Charge {
        let outcome = if amount_minor > self.decline_above_minor {
            ChargeOutcome::Declined {
                reason: format!(
                    "payment declined: {amount_minor} exceeds the limit of {} (minor units)",
                    self.decline_above_minor
                ),
            }
        } else {
            ChargeOutcome::Approved {
                payment_id: format!("pay-{order_id}"),
            }
        };
        Charge {
            order_id: order_id.to_owned(),
            amount_minor,
            outcome,
        }
    }
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn charge(
        &self,
        tx: &mut Tx,
        order_id: &str,
        amount_minor: i64,
    ) -> Result<Charge, GatewayError> {
        let prefix = tx.store().prefix().to_owned();
        let failed = |e: StoreError| GatewayError(e.into());
        if let Some(charge) = repository::get(tx.conn(), &prefix, Ledger::Gateway, order_id)
            .await
            .map_err(failed)?
        {
            return Ok(charge);
        }
        let charge = self.decide(order_id, amount_minor);
        repository::insert(tx.conn(), &prefix, Ledger::Gateway, &charge)
            .await
            .map_err(failed)?;
        Ok(charge)
    }
}

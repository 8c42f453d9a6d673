//! The [`PaymentGateway`] trait and what a charge produces.

use async_trait::async_trait;
use courier_core::{BoxError, HandlerError};
use courier_outbox::Tx;
use serde::{Deserialize, Serialize};

/// The gateway's answer to a charge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum ChargeOutcome {
    /// The money was taken.
    Approved {
        /// The gateway's id of the charge.
        payment_id: String,
    },
    /// The charge was refused; no money moved.
    Declined {
        /// Why, for people.
        reason: String,
    },
}

/// One decided charge: an order, its amount and the gateway's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// The order, also the idempotency key.
    pub order_id: String,
    /// The amount asked for, in minor units.
    pub amount_minor: i64,
    /// What the gateway answered.
    #[serde(flatten)]
    pub outcome: ChargeOutcome,
}

impl Charge {
    /// Whether money was taken.
    pub fn is_approved(&self) -> bool {
        matches!(self.outcome, ChargeOutcome::Approved { .. })
    }
}

/// The gateway could not be reached or did not answer. Transient: the runtime retries the
/// message, and the gateway's idempotency key makes the retry safe.
#[derive(Debug, thiserror::Error)]
#[error("payment gateway failed: {0}")]
pub struct GatewayError(#[source] pub BoxError);

impl From<GatewayError> for HandlerError {
    fn from(error: GatewayError) -> Self {
        HandlerError::transient(error)
    }
}

/// Charges money for orders.
///
/// The order id is the idempotency key: charging an order that was charged (or declined)
/// before returns the first answer and moves no money. A gateway outside the database ignores
/// `tx`; the idempotency key is what makes a retry after a crash safe. The simulated gateway
/// keeps its charges in the service's database, in `tx`, so a charge and its outcome event
/// commit together.
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Charges `amount_minor` for `order_id`.
    ///
    /// # Errors
    /// [`GatewayError`] when the gateway cannot answer; nothing was charged then.
    async fn charge(
        &self,
        tx: &mut Tx,
        order_id: &str,
        amount_minor: i64,
    ) -> Result<Charge, GatewayError>;
}

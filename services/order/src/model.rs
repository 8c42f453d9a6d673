//! An [`Order`], its [`OrderStatus`], and the [`OrderView`] the HTTP API returns.

use courier_contracts::{OrderLine, OrderPlaced};
use serde::Serialize;

/// Why an order was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CancelCause {
    /// The inventory could not reserve its lines.
    Stock,
    /// The payment was declined or failed.
    Payment,
}

/// Where an order stands. Pending moves to confirmed or cancelled once, and never back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Placed, waiting for stock and payment.
    Pending,
    /// Paid.
    Confirmed {
        /// The gateway's id of the charge.
        payment_id: String,
    },
    /// Cancelled.
    Cancelled {
        /// Which step refused it.
        cause: CancelCause,
        /// Why, for people.
        reason: String,
    },
}

impl OrderStatus {
    /// `pending`, `confirmed` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed { .. } => "confirmed",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    /// Whether the order is confirmed or cancelled.
    pub fn is_settled(&self) -> bool {
        !matches!(self, Self::Pending)
    }
}

/// An order as the order service stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// The order's id.
    pub id: String,
    /// Who ordered, when known.
    pub customer_id: Option<String>,
    /// The priced lines.
    pub lines: Vec<OrderLine>,
    /// The sum of the lines, in minor units.
    pub total_minor: i64,
    /// Where it stands.
    pub status: OrderStatus,
}

impl Order {
    /// A pending order from the event that places it.
    pub fn pending(placed: &OrderPlaced) -> Self {
        Self {
            id: placed.order_id.clone(),
            customer_id: placed.customer_id.clone(),
            lines: placed.lines.clone(),
            total_minor: placed.total_minor,
            status: OrderStatus::Pending,
        }
    }

    /// The event that places this order.
    pub fn placed_event(&self) -> OrderPlaced {
        OrderPlaced::new(
            self.id.clone(),
            self.customer_id.clone(),
            self.lines.clone(),
        )
    }

    /// The order as the HTTP API shows it.
    pub fn view(&self) -> OrderView {
        let (reason, cause, payment_id) = match &self.status {
            OrderStatus::Pending => (None, None, None),
            OrderStatus::Confirmed { payment_id } => (None, None, Some(payment_id.clone())),
            OrderStatus::Cancelled { cause, reason } => (Some(reason.clone()), Some(*cause), None),
        };
        OrderView {
            id: self.id.clone(),
            status: self.status.name(),
            reason,
            cancelled_by: cause,
            payment_id,
            customer_id: self.customer_id.clone(),
            total_minor: self.total_minor,
            lines: self.lines.clone(),
        }
    }
}

/// The JSON body of `GET /orders/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrderView {
    /// The order's id.
    pub id: String,
    /// `pending`, `confirmed` or `cancelled`.
    pub status: &'static str,
    /// Why it was cancelled (only when cancelled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `stock` or `payment` (only when cancelled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<CancelCause>,
    /// The charge (only when confirmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// Who ordered, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The total, in minor units.
    pub total_minor: i64,
    /// The priced lines.
    pub lines: Vec<OrderLine>,
}

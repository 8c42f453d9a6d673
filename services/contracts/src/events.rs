//! The saga's events. Money is in integer minor units (cents), never floating point.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ContractError, Event, VERSION};

/// One priced line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    /// The product.
    #[schemars(length(min = 1, max = crate::MAX_ID_BYTES))]
    pub sku: String,
    /// How many, at least 1.
    #[schemars(range(min = 1))]
    pub quantity: u32,
    /// Price of one unit, in minor units.
    #[schemars(range(min = 0))]
    pub unit_price_minor: i64,
}

impl OrderLine {
    /// `quantity × unit price`, `None` on overflow.
    pub fn amount_minor(&self) -> Option<i64> {
        self.unit_price_minor.checked_mul(i64::from(self.quantity))
    }
}

/// Checks that `lines` is not empty, that quantities are positive, prices not negative, and
/// that `total_minor` is their sum.
fn check_lines(order_id: &str, lines: &[OrderLine], total_minor: i64) -> Result<(), ContractError> {
    if lines.is_empty() {
        return Err(ContractError::EmptyLines {
            order_id: order_id.into(),
        });
    }
    let mut sum: i64 = 0;
    for line in lines {
        if line.sku.trim().is_empty() {
            return Err(ContractError::Missing("lines[].sku"));
        }
        if line.quantity == 0 {
            return Err(ContractError::NonPositiveQuantity {
                order_id: order_id.into(),
                sku: line.sku.clone(),
                quantity: 0,
            });
        }
        if line.unit_price_minor < 0 {
            return Err(ContractError::NegativeAmount {
                order_id: order_id.into(),
                field: "unit_price_minor",
                value: line.unit_price_minor,
            });
        }
        sum = line
            .amount_minor()
            .and_then(|a| sum.checked_add(a))
            .ok_or_else(|| ContractError::InconsistentAmount {
                order_id: order_id.into(),
                problem: "the sum of the lines overflows".into(),
            })?;
    }
    check_amount(order_id, "total_minor", total_minor)?;
    if sum != total_minor {
        return Err(ContractError::InconsistentAmount {
            order_id: order_id.into(),
            problem: format!("total_minor is {total_minor} but the lines add up to {sum}"),
        });
    }
    Ok(())
}

fn check_amount(order_id: &str, field: &'static str, value: i64) -> Result<(), ContractError> {
    if value < 0 {
        return Err(ContractError::NegativeAmount {
            order_id: order_id.into(),
            field,
            value,
        });
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str) -> Result<(), ContractError> {
    if value.trim().is_empty() {
        return Err(ContractError::Missing(field));
    }
    Ok(())
}

/// An order was accepted and stored as pending. Published by the order service; the
/// inventory service reserves its lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderPlaced {
    /// Contract version, [`VERSION`].
    #[schemars(description = "Contract version.", extend("const" = VERSION))]
    pub version: u16,
    /// The order.
    #[schemars(length(min = 1, max = crate::MAX_ID_BYTES))]
    pub order_id: String,
    /// Who ordered, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The priced lines.
    #[schemars(length(min = 1))]
    pub lines: Vec<OrderLine>,
    /// The sum of the lines, in minor units.
    #[schemars(range(min = 0))]
    pub total_minor: i64,
}

impl OrderPlaced {
    /// The event for `order_id` with `lines`; the total is their sum (saturating).
    pub fn new(
        order_id: impl Into<String>,
        customer_id: Option<String>,
        lines: Vec<OrderLine>,
    ) -> Self {
        let total_minor = lines
            .iter()
            .map(|l| l.amount_minor().unwrap_or(i64::MAX))
            .fold(0i64, i64::saturating_add);
        Self {
            version: VERSION,
            order_id: order_id.into(),
            customer_id,
            lines,
            total_minor,
        }
    }
}

impl Event for OrderPlaced {
    const NAME: &'static str = "OrderPlaced";
    fn order_id(&self) -> &str {
        &self.order_id
    }
    fn version(&self) -> u16 {
        self.version
    }
    fn check(&self) -> Result<(), ContractError> {
        check_lines(&self.order_id, &self.lines, self.total_minor)
    }
}

/// Stock for every line of an order is reserved. Published by the inventory service; the
/// payment service charges `total_minor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockReserved {
    /// Contract version, [`VERSION`].
    #[schemars(description = "Contract version.", extend("const" = VERSION))]
    pub version: u16,
    /// The order.
    #[schemars(length(min = 1, max = crate::MAX_ID_BYTES))]
    pub order_id: String,
    /// The reserved lines.
    #[schemars(length(min = 1))]
    pub lines: Vec<OrderLine>,
    /// The amount to charge, in minor units.
    #[schemars(range(min = 0))]
    pub total_minor: i64,
}

impl StockReserved {
    /// The reservation of every line of `placed`.
    pub fn for_order(placed: &OrderPlaced) -> Self {
        Self {
            version: VERSION,
            order_id: placed.order_id.clone(),
            lines: placed.lines.clone(),
            total_minor: placed.total_minor,
        }
    }
}

impl Event for StockReserved {
    const NAME: &'static str = "StockReserved";
    fn order_id(&self) -> &str {
        &self.order_id
    }
    fn version(&self) -> u16 {
        self.version
    }
    fn check(&self) -> Result<(), ContractError> {
        check_lines(&self.order_id, &self.lines, self.total_minor)
    }
}

/// Stock for an order could not be reserved (nothing was reserved). Published by the
/// inventory service; the order service cancels the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockRejected {
    /// Contract version, [`VERSION`].
    #[schemars(description = "Contract version.", extend("const" = VERSION))]
    pub version: u16,
    /// The order.
    #[schemars(length(min = 1, max = crate::MAX_ID_BYTES))]
    pub order_id: String,
    /// Why, for people.
    #[schemars(length(min = 1))]
    pub reason: String,
}

impl StockRejected {
    /// The rejection of `order_id` for `reason`.
    pub fn new(order_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            version: VERSION,
            order_id: order_id.into(),
            reason: reason.into(),
        }
    }
}

impl Event for StockRejected {
    const NAME: &'static str = "StockRejected";
    fn order_id(&self) -> &str {
        &self.order_id
    }
    fn version(&self) -> u16 {
        self.version
    }
    fn check(&self) -> Result<(), ContractError> {
        check_text("reason", &self.reason)
    }
}

/// An order was charged. Published by the payment service; the order service confirms it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentSucceeded {
    /// Contract version, [`VERSION`].
    #[schemars(description = "Contract version.", extend("const" = VERSION))]
    pub version: u16,
    /// The order.
    #[schemars(length(min = 1, max = crate::MAX_ID_BYTES))]
    pub order_id: String,
    /// The gateway's id of the charge.
    #[schemars(length(min = 1))]
    pub payment_id: String,
    /// The amount charged, in minor units.
    #[schemars(range(min = 0))]
    pub amount_minor: i64,
}

impl PaymentSucceeded {
    /// The charge `payment_id` of `amount_minor` for `order_id`.
    pub fn new(
        order_id: impl Into<String>,
        payment_id: impl Into<String>,
        amount_minor: i64,
    ) -> Self {
        Self {
            version: VERSION,
            order_id: order_id.into(),
            payment_id: payment_id.into(),
            amount_minor,
        }
    }
}

impl Event for PaymentSucceeded {
    const NAME: &'static str = "PaymentSucceeded";
    fn order_id(&self) -> &str {
        &self.order_id
    }
    fn version(&self) -> u16 {
        self.version
    }
    fn check(&self) -> Result<(), ContractError> {
        check_text("payment_id", &self.payment_id)?;
        check_amount(&self.order_id, "amount_minor", self.amount_minor)
    }
}

/// Charging an order failed. Published by the payment service; the order service cancels the
/// order and the inventory service releases its reservation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentFailed {
    /// Contract version, [`VERSION`].
    #[schemars(description = "Contract version.", extend("const" = VERSION))]
    pub version: u16,
    /// The order.
    #[schemars(length(min = 1, max = crate::MAX_ID_BYTES))]
    pub order_id: String,
    /// The amount that was refused, in minor units.
    #[schemars(range(min = 0))]
    pub amount_minor: i64,
    /// Why, for people.
    #[schemars(length(min = 1))]
    pub reason: String,
}

impl PaymentFailed {
    /// The failed charge of `amount_minor` for `order_id`.
    pub fn new(order_id: impl Into<String>, amount_minor: i64, reason: impl Into<String>) -> Self {
        Self {
            version: VERSION,
            order_id: order_id.into(),
            amount_minor,
            reason: reason.into(),
        }
    }
}

impl Event for PaymentFailed {
    const NAME: &'static str = "PaymentFailed";
    fn order_id(&self) -> &str {
        &self.order_id
    }
    fn version(&self) -> u16 {
        self.version
    }
    fn check(&self) -> Result<(), ContractError> {
        check_text("reason", &self.reason)?;
        check_amount(&self.order_id, "amount_minor", self.amount_minor)
    }
}

#[cfg(test)]
mod tests {
    use courier_core::codec;

    use super::*;

    fn line(sku: &str, quantity: u32, price: i64) -> OrderLine {
        OrderLine {
            sku: sku.into(),
            quantity,
            unit_price_minor: price,
        }
    }

    #[test]
    fn order_placed_round_trips_with_version_and_key() {
        let placed = OrderPlaced::new("o-1", Some("c-9".into()), vec![line("1001", 2, 1250)]);
        assert_eq!(placed.total_minor, 2500);
        placed.validate().expect("valid");
        let msg = placed.to_message().expect("encodes");
        assert_eq!(msg.key.as_deref(), Some("o-1"));
        assert_eq!(msg.id, "o-1/OrderPlaced");
        assert_eq!(msg.header(crate::EVENT_HEADER), Some("OrderPlaced"));
        let json: serde_json::Value = serde_json::from_slice(&msg.payload).expect("json");
        assert_eq!(json["version"], 1);
        assert_eq!(json["lines"][0]["unit_price_minor"], 1250);
        let back: OrderPlaced = codec::from_json(&msg).expect("decodes");
        assert_eq!(back, placed);
    }

    #[test]
    fn rules_are_enforced() {
        let mut placed = OrderPlaced::new("o-1", None, vec![line("1001", 1, 100)]);
        placed.version = 2;
        assert!(matches!(
            placed.validate(),
            Err(ContractError::UnsupportedVersion { found: 2, .. })
        ));
        let empty = OrderPlaced::new("o-1", None, vec![]);
        assert!(matches!(
            empty.validate(),
            Err(ContractError::EmptyLines { .. })
        ));
        let zero = OrderPlaced::new("o-1", None, vec![line("a", 0, 100)]);
        assert!(matches!(
            zero.validate(),
            Err(ContractError::NonPositiveQuantity { .. })
        ));
        let negative = OrderPlaced::new("o-1", None, vec![line("a", 1, -5)]);
        assert!(matches!(
            negative.validate(),
            Err(ContractError::NegativeAmount { .. })
        ));
        let mut wrong_total = OrderPlaced::new("o-1", None, vec![line("a", 1, 5)]);
        wrong_total.total_minor = 6;
        assert!(matches!(
            wrong_total.validate(),
            Err(ContractError::InconsistentAmount { .. })
        ));
        let refund = PaymentFailed::new("o-1", -1, "no");
        assert!(matches!(
            refund.validate(),
            Err(ContractError::NegativeAmount { .. })
        ));
        let nameless = StockRejected::new("", "no stock");
        assert_eq!(nameless.validate(), Err(ContractError::Missing("order_id")));
    }
}

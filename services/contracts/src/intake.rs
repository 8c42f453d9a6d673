//! The shapes in which orders arrive from outside, and their validation.
//!
//! Two shapes are accepted, on the intake topic and over HTTP alike:
//!
//! ```json
//! {"order_id": "A-17", "customer_id": "c-4", "lines": [{"sku": "1001", "quantity": 2}]}
//! {"order_id": "1001", "product_id": "1001", "quantity": 2}
//! ```
//!
//! Ids may be JSON strings or integers. Unknown fields are ignored.

use std::collections::HashMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

use crate::ContractError;

/// The longest id accepted (order, customer, product), in bytes. RabbitMQ carries a message
/// id of at most 255 bytes, and ids end up in URLs and headers.
pub const MAX_ID_BYTES: usize = 128;

/// The most lines an order may have unless a service says otherwise.
pub const DEFAULT_MAX_LINES: usize = 100;

/// Checks that `value`, the id `field`, is 1 to [`MAX_ID_BYTES`] visible ASCII characters.
///
/// # Errors
/// [`ContractError::InvalidId`], without repeating the value.
pub fn check_id(field: &'static str, value: &str) -> Result<(), ContractError> {
    let problem = if value.is_empty() {
        "it is empty".to_owned()
    } else if value.len() > MAX_ID_BYTES {
        format!("it has {} bytes", value.len())
    } else if let Some(c) = value.chars().find(|c| !c.is_ascii_graphic()) {
        format!("it holds {:?}", c.escape_default().to_string())
    } else {
        return Ok(());
    };
    Err(ContractError::InvalidId { field, problem })
}

/// An order as an outside producer sends it, in either shape. Turn it into a validated
/// [`OrderRequest`] with [`into_request`](OrderIntake::into_request).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    description = "An order from an outside producer, in one of two shapes: a full order \
                   (`order_id`, `customer_id`, `lines`) or a single-line order \
                   (`order_id`, `product_id`, `quantity`). Ids may be JSON strings or \
                   integers; unknown fields are ignored. An order without `order_id` gets \
                   one derived from the message body."
)]
pub struct OrderIntake {
    /// The order's id; the same id twice is the same order.
    #[serde(
        default,
        deserialize_with = "optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "optional_id_schema")]
    pub order_id: Option<String>,
    /// Who orders, when known.
    #[serde(
        default,
        deserialize_with = "optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "optional_id_schema")]
    pub customer_id: Option<String>,
    /// The lines of a full order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub lines: Option<Vec<IntakeLine>>,
    /// The product of a single-line order (`sku` is accepted too).
    #[serde(
        default,
        alias = "sku",
        deserialize_with = "optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "optional_id_schema")]
    pub product_id: Option<String>,
    /// The quantity of a single-line order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = u32::MAX))]
    pub quantity: Option<i64>,
}

/// One line of a full intake order, before validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IntakeLine {
    /// The product (`product_id` is accepted too).
    #[serde(alias = "product_id", deserialize_with = "required_id")]
    #[schemars(schema_with = "id_schema")]
    pub sku: String,
    /// How many; must be positive.
    #[schemars(range(min = 1, max = u32::MAX))]
    pub quantity: i64,
}

/// A validated order request: an id, at least one line, positive quantities, one line per
/// product. Not yet priced (see [`Catalog::price`](crate::Catalog::price)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// The order's id.
    pub order_id: String,
    /// Who orders, when known.
    pub customer_id: Option<String>,
    /// The lines, one per product, in the order first given.
    pub lines: Vec<RequestedLine>,
}

/// One validated line of an [`OrderRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedLine {
    /// The product.
    pub sku: String,
    /// How many, at least 1.
    pub quantity: u32,
}

impl OrderIntake {
    /// A single-line order, the shape external producers send.
    pub fn single(
        order_id: impl Into<String>,
        product_id: impl Into<String>,
        quantity: i64,
    ) -> Self {
        Self {
            order_id: Some(order_id.into()),
            product_id: Some(product_id.into()),
            quantity: Some(quantity),
            ..Self::default()
        }
    }

    /// A full order with `lines` of `(sku, quantity)`.
    pub fn full<S: Into<String>>(
        order_id: impl Into<String>,
        customer_id: Option<String>,
        lines: impl IntoIterator<Item = (S, i64)>,
    ) -> Self {
        Self {
            order_id: Some(order_id.into()),
            customer_id,
            lines: Some(
                lines
                    .into_iter()
                    .map(|(sku, quantity)| IntakeLine {
                        sku: sku.into(),
                        quantity,
                    })
                    .collect(),
            ),
            ..Self::default()
        }
    }

    /// Validates the order. An order without an id takes `fallback_id()`; lines naming one
    /// product twice are merged.
    ///
    /// # Errors
    /// [`ContractError::EmptyLines`] for no lines, [`ContractError::NonPositiveQuantity`] or
    /// [`ContractError::QuantityTooLarge`] for a bad quantity, [`ContractError::Missing`] for
    /// an empty product, and [`ContractError::AmbiguousShape`] when both shapes are mixed.
    pub fn into_request(
        self,
        fallback_id: impl FnOnce() -> String,
    ) -> Result<OrderRequest, ContractError> {
        self.into_request_with(fallback_id, DEFAULT_MAX_LINES)
    }

    /// [`into_request`](OrderIntake::into_request) with at most `max_lines` lines (before
    /// merging). Every id is checked with [`check_id`]; an `order_id` given empty is an
    /// error, not a missing id.
    ///
    /// # Errors
    /// As for [`into_request`](OrderIntake::into_request), and
    /// [`ContractError::InvalidId`] or [`ContractError::TooManyLines`].
    pub fn into_request_with(
        self,
        fallback_id: impl FnOnce() -> String,
        max_lines: usize,
    ) -> Result<OrderRequest, ContractError> {
        let order_id = match self.order_id {
            Some(id) => id,
            None => fallback_id(),
        };
        check_id("order_id", &order_id)?;
        if let Some(customer) = &self.customer_id {
            check_id("customer_id", customer)?;
        }
        let raw: Vec<IntakeLine> = match (self.lines, self.product_id, self.quantity) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(ContractError::AmbiguousShape { order_id });
            }
            (Some(lines), None, None) => lines,
            (None, Some(sku), Some(quantity)) => vec![IntakeLine { sku, quantity }],
            (None, Some(_), None) => return Err(ContractError::Missing("quantity")),
            (None, None, Some(_)) => return Err(ContractError::Missing("product_id")),
            (None, None, None) => Vec::new(),
        };
        if raw.is_empty() {
            return Err(ContractError::EmptyLines { order_id });
        }
        if raw.len() > max_lines {
            return Err(ContractError::TooManyLines {
                order_id,
                count: raw.len(),
                max: max_lines,
            });
        }
        let mut lines: Vec<RequestedLine> = Vec::with_capacity(raw.len());
        let mut index: HashMap<String, usize> = HashMap::with_capacity(raw.len());
        for IntakeLine { sku, quantity } in raw {
            if sku.trim().is_empty() {
                return Err(ContractError::Missing("sku"));
            }
            check_id("sku", &sku)?;
            if quantity <= 0 {
                return Err(ContractError::NonPositiveQuantity {
                    order_id,
                    sku,
                    quantity,
                });
            }
            let too_large = || ContractError::QuantityTooLarge {
                order_id: order_id.clone(),
                sku: sku.clone(),
                quantity,
            };
            let quantity = u32::try_from(quantity).map_err(|_| too_large())?;
            match index.get(&sku) {
                Some(&i) => {
                    let line = &mut lines[i];
                    line.quantity = line.quantity.checked_add(quantity).ok_or_else(too_large)?;
                }
                None => {
                    index.insert(sku.clone(), lines.len());
                    lines.push(RequestedLine { sku, quantity });
                }
            }
        }
        Ok(OrderRequest {
            order_id,
            customer_id: self.customer_id,
            lines,
        })
    }
}

/// A JSON string or integer, as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Signed(i64),
    Unsigned(u64),
}

impl From<Id> for String {
    fn from(id: Id) -> Self {
        match id {
            Id::Text(s) => s,
            Id::Signed(n) => n.to_string(),
            Id::Unsigned(n) => n.to_string(),
        }
    }
}

/// The JSON Schema of an id: a string of 1 to [`MAX_ID_BYTES`] visible ASCII characters, or
/// an integer.
fn id_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_ID_BYTES, "pattern": "^[!-~]+$"},
            {"type": "integer"}
        ]
    })
}

/// [`id_schema`], or `null` (the same as absent).
fn optional_id_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut any = id_schema(generator);
    if let Some(serde_json::Value::Array(choices)) = any.get_mut("oneOf") {
        choices.push(serde_json::json!({"type": "null"}));
    }
    any
}

fn optional_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Id>::deserialize(d)?.map(String::from))
}

fn required_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Id::deserialize(d)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> OrderIntake {
        serde_json::from_str(json).expect("parses")
    }

    fn no_fallback() -> String {
        panic!("fallback id not expected")
    }

    #[test]
    fn single_line_shape_from_an_external_producer() {
        let req = parse(r#"{"order_id": "1001", "product_id": "1001", "quantity": 2}"#)
            .into_request(no_fallback)
            .expect("valid");
        assert_eq!(req.order_id, "1001");
        assert_eq!(
            req.lines,
            vec![RequestedLine {
                sku: "1001".into(),
                quantity: 2
            }]
        );
    }

    #[test]
    fn numeric_ids_and_full_shape_with_merged_lines() {
        let req = parse(
            r#"{"order_id": 7, "customer_id": "c", "lines": [{"sku": 1001, "quantity": 1},
                {"sku": "1002", "quantity": 3}, {"product_id": "1001", "quantity": 2}], "extra": true}"#,
        )
        .into_request(no_fallback)
        .expect("valid");
        assert_eq!(req.order_id, "7");
        assert_eq!(req.customer_id.as_deref(), Some("c"));
        assert_eq!(
            req.lines,
            vec![
                RequestedLine {
                    sku: "1001".into(),
                    quantity: 3
                },
                RequestedLine {
                    sku: "1002".into(),
                    quantity: 3
                },
            ]
        );
    }

    #[test]
    fn missing_id_takes_the_fallback() {
        let req = OrderIntake {
            order_id: None,
            ..OrderIntake::single("x", "1001", 1)
        }
        .into_request(|| "generated".into())
        .expect("valid");
        assert_eq!(req.order_id, "generated");
    }

    #[test]
    fn ids_are_capped_and_an_empty_id_is_an_error() {
        let with_id = |id: String| OrderIntake {
            order_id: Some(id),
            ..OrderIntake::single("x", "1001", 1)
        };
        let long = "x".repeat(100_000);
        let e = with_id(long.clone())
            .into_request(no_fallback)
            .expect_err("too long");
        assert!(
            matches!(
                e,
                ContractError::InvalidId {
                    field: "order_id",
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            !e.to_string().contains(&long[..200]),
            "the id is not echoed"
        );
        assert!(with_id(String::new()).into_request(no_fallback).is_err());
        assert!(with_id("a b".into()).into_request(no_fallback).is_err());
        assert!(with_id("x".repeat(128)).into_request(no_fallback).is_ok());
        let sku = OrderIntake::single("o", "s".repeat(129), 1);
        assert!(matches!(
            sku.into_request(no_fallback),
            Err(ContractError::InvalidId { field: "sku", .. })
        ));
    }

    #[test]
    fn lines_are_capped_and_merged_in_linear_time() {
        let many = |n: usize| {
            OrderIntake::full(
                "o",
                None,
                (0..n).map(|i| (format!("sku-{}", i % 50_000), 1)),
            )
        };
        assert!(matches!(
            many(101).into_request(no_fallback),
            Err(ContractError::TooManyLines {
                count: 101,
                max: 100,
                ..
            })
        ));
        let started = std::time::Instant::now();
        let req = many(100_000)
            .into_request_with(no_fallback, 100_000)
            .expect("valid");
        assert_eq!(req.lines.len(), 50_000);
        assert!(req.lines.iter().all(|l| l.quantity == 2));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "merging 100,000 lines took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn broken_rules_are_errors() {
        let err = |json: &str| {
            parse(json)
                .into_request(|| "f".into())
                .expect_err("invalid")
        };
        assert!(matches!(
            err(r#"{"order_id": "1", "product_id": "1001", "quantity": 0}"#),
            ContractError::NonPositiveQuantity { quantity: 0, .. }
        ));
        assert!(matches!(
            err(r#"{"order_id": "1", "product_id": "1001", "quantity": -3}"#),
            ContractError::NonPositiveQuantity { quantity: -3, .. }
        ));
        assert!(matches!(
            err(r#"{"order_id": "1", "lines": []}"#),
            ContractError::EmptyLines { .. }
        ));
        assert!(matches!(
            err(r#"{"order_id": "1"}"#),
            ContractError::EmptyLines { .. }
        ));
        assert!(matches!(
            err(r#"{"order_id": "1", "product_id": "1001"}"#),
            ContractError::Missing("quantity")
        ));
        assert!(matches!(
            err(r#"{"order_id": "1", "product_id": "1", "quantity": 1, "lines": []}"#),
            ContractError::AmbiguousShape { .. }
        ));
        assert!(matches!(
            err(r#"{"order_id": "1", "product_id": "1", "quantity": 99999999999}"#),
            ContractError::QuantityTooLarge { .. }
        ));
        assert!(serde_json::from_str::<OrderIntake>(r#"{"order_id": [1]}"#).is_err());
    }
}

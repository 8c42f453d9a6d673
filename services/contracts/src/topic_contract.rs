//! [`TopicContract`]: what each topic of the saga carries, with the JSON Schema of its payload
//! and examples built from real values, for documents that describe the saga (the AsyncAPI
//! document of `shop asyncapi`).

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use crate::{
    Event, OrderIntake, OrderLine, OrderPlaced, PaymentFailed, PaymentSucceeded, SagaTopics,
    StockRejected, StockReserved,
};

/// The message one topic of the saga carries.
#[derive(Clone, Debug)]
pub struct TopicContract {
    /// The topic's key in `[topics]`, which is also its field of [`SagaTopics`]
    /// (`order_placed`).
    pub logical: &'static str,
    /// The topic's name on the broker.
    pub topic: String,
    /// The message's name: the event's [`Event::NAME`], or `OrderIntake`.
    pub message: &'static str,
    /// Whether the message is a saga event: written by a service, keyed by its order id,
    /// with the [`EVENT_HEADER`](crate::EVENT_HEADER) header. The intake orders are not.
    pub event: bool,
    /// The JSON Schema of the payload: a reference whose definition (and those it refers
    /// to) `generator` keeps.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Examples of the message.
    pub examples: Vec<Example>,
}

/// An example of a message.
#[derive(Clone, Debug)]
pub struct Example {
    /// A short name (`confirmed-order`).
    pub name: &'static str,
    /// What it shows, for people.
    pub summary: &'static str,
    /// The message key, when the message has one.
    pub key: Option<String>,
    /// The payload, as JSON.
    pub payload: serde_json::Value,
}

impl Example {
    fn of(name: &'static str, summary: &'static str, payload: &impl Serialize) -> Self {
        Self {
            name,
            summary,
            key: None,
            payload: serde_json::to_value(payload).expect("a contract serialises to JSON"),
        }
    }

    fn event<E: Event>(name: &'static str, summary: &'static str, event: &E) -> Self {
        Self {
            key: Some(event.order_id().to_owned()),
            ..Self::of(name, summary, event)
        }
    }
}

impl TopicContract {
    fn intake(topic: &str, examples: Vec<Example>) -> Self {
        Self {
            logical: "order_intake",
            topic: topic.to_owned(),
            message: "OrderIntake",
            event: false,
            schema: |generator| generator.subschema_for::<OrderIntake>(),
            examples,
        }
    }

    fn event<E: Event + JsonSchema>(logical: &'static str, topic: &str, example: Example) -> Self {
        Self {
            logical,
            topic: topic.to_owned(),
            message: E::NAME,
            event: true,
            schema: |generator| generator.subschema_for::<E>(),
            examples: vec![example],
        }
    }
}

impl SagaTopics {
    /// What each topic carries, in the order of the `[topics]` table.
    pub fn contracts(&self) -> Vec<TopicContract> {
        let line = |sku: &str, quantity, unit_price_minor| OrderLine {
            sku: sku.into(),
            quantity,
            unit_price_minor,
        };
        let placed = OrderPlaced::new(
            "A-17",
            Some("c-4".into()),
            vec![line("1001", 2, 549), line("1004", 1, 2490)],
        );
        vec![
            TopicContract::intake(
                &self.order_intake,
                vec![
                    Example::of(
                        "full-order",
                        "A full order with a customer and its lines.",
                        &OrderIntake::full("A-17", Some("c-4".into()), [("1001", 2), ("1004", 1)]),
                    ),
                    Example::of(
                        "single-line-order",
                        "The single-line order an external producer sends.",
                        &OrderIntake::single("1001", "1001", 2),
                    ),
                ],
            ),
            TopicContract::event::<OrderPlaced>(
                "order_placed",
                &self.order_placed,
                Example::event("placed", "An order of two products, priced.", &placed),
            ),
            TopicContract::event::<StockReserved>(
                "stock_reserved",
                &self.stock_reserved,
                Example::event(
                    "reserved",
                    "Every line of the order is reserved.",
                    &StockReserved::for_order(&placed),
                ),
            ),
            TopicContract::event::<StockRejected>(
                "stock_rejected",
                &self.stock_rejected,
                Example::event(
                    "rejected",
                    "A product of the order is out of stock.",
                    &StockRejected::new("A-18", "not enough stock of 1009: 3 asked, 1 left"),
                ),
            ),
            TopicContract::event::<PaymentSucceeded>(
                "payment_succeeded",
                &self.payment_succeeded,
                Example::event(
                    "paid",
                    "The order's total was charged.",
                    &PaymentSucceeded::new("A-17", "pay-A-17", placed.total_minor),
                ),
            ),
            TopicContract::event::<PaymentFailed>(
                "payment_failed",
                &self.payment_failed,
                Example::event(
                    "declined",
                    "The gateway declined the charge.",
                    &PaymentFailed::new("A-19", 62_000, "declined: above 50000"),
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_has_one_contract_and_valid_examples() {
        let topics = SagaTopics::with_prefix("t");
        let contracts = topics.contracts();
        let mut named: Vec<&str> = contracts.iter().map(|c| c.topic.as_str()).collect();
        named.sort_unstable();
        let mut routed: Vec<&str> = topics.routes().iter().map(|(t, _)| *t).collect();
        routed.sort_unstable();
        routed.dedup();
        assert_eq!(named, routed, "one contract per topic the saga consumes");
        for contract in &contracts {
            assert_eq!(contract.event, contract.message != "OrderIntake");
            for example in &contract.examples {
                let payload = example.payload.to_string();
                if contract.message == "OrderIntake" {
                    let intake: OrderIntake = serde_json::from_str(&payload).expect("parses");
                    intake
                        .into_request(String::new)
                        .expect("a valid intake order");
                    continue;
                }
                let valid = match contract.message {
                    "OrderPlaced" => {
                        serde_json::from_str::<OrderPlaced>(&payload).map(|e| e.validate())
                    }
                    "StockReserved" => {
                        serde_json::from_str::<StockReserved>(&payload).map(|e| e.validate())
                    }
                    "StockRejected" => {
                        serde_json::from_str::<StockRejected>(&payload).map(|e| e.validate())
                    }
                    "PaymentSucceeded" => {
                        serde_json::from_str::<PaymentSucceeded>(&payload).map(|e| e.validate())
                    }
                    "PaymentFailed" => {
                        serde_json::from_str::<PaymentFailed>(&payload).map(|e| e.validate())
                    }
                    other => panic!("no contract named {other}"),
                };
                valid
                    .expect("parses")
                    .unwrap_or_else(|e| panic!("{}: {e}", example.name));
            }
        }
    }

    #[test]
    fn schemas_name_their_fields_and_bounds() {
        let mut generator = SchemaGenerator::default();
        let placed = (SagaTopics::default().contracts()[1].schema)(&mut generator);
        assert_eq!(
            placed.get("$ref").and_then(|r| r.as_str()),
            Some("#/$defs/OrderPlaced")
        );
        let defs = generator.definitions();
        let required = &defs["OrderPlaced"]["required"];
        for field in ["version", "order_id", "lines", "total_minor"] {
            assert!(
                required
                    .as_array()
                    .expect("a list")
                    .iter()
                    .any(|f| f == field),
                "{field} is required: {required}"
            );
        }
        assert_eq!(defs["OrderLine"]["properties"]["quantity"]["minimum"], 1);
    }
}

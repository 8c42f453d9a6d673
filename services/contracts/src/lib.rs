//! # courier-contracts
//!
//! What the order, inventory and payment services say to each other, and what outside
//! producers may send them:
//!
//! * the saga's events ([`OrderPlaced`], [`StockReserved`], [`StockRejected`],
//!   [`PaymentSucceeded`], [`PaymentFailed`]): JSON with a `version` field, money in integer
//!   minor units, keyed by order id (see [`Event::to_message`]);
//! * the intake shapes ([`OrderIntake`]): a full order
//!   `{"order_id", "customer_id"?, "lines": [{"sku", "quantity"}]}` or the single-line order
//!   an external producer sends, `{"order_id": "1001", "product_id": "1001", "quantity": 2}`;
//! * the [`Catalog`] that prices an order, and the saga's topic names ([`SagaTopics`]) and
//!   consumer groups ([`groups`]);
//! * what each topic carries ([`SagaTopics::contracts`]): the JSON Schema of its payload
//!   (derived with `schemars`) and examples, from which `shop asyncapi` writes the saga's
//!   AsyncAPI document.
//!
//! Every rule an event or an intake order can break is a [`ContractError`]; services turn it
//! into a permanent handler error, so the runtime dead-letters the message with the reason.

mod catalog;
mod error;
mod event;
mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod groups;
mod intake;
mod topic_contract;
mod topics;

pub use catalog::{Catalog, CatalogItem};
pub use error::ContractError;
pub use event::{EVENT_HEADER, Event, VERSION, publish};
pub use events::{
    OrderLine, OrderPlaced, PaymentFailed, PaymentSucceeded, StockRejected, StockReserved,
};
pub use intake::{
    DEFAULT_MAX_LINES, IntakeLine, MAX_ID_BYTES, OrderIntake, OrderRequest, RequestedLine, check_id,
};
pub use topic_contract::{Example, TopicContract};
pub use topics::SagaTopics;

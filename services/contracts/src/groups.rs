//! The consumer groups of the saga, one per service, plus the group that keeps dead letters.

/// The order service's group.
pub const ORDER: &str = "order";
/// The inventory service's group.
pub const INVENTORY: &str = "inventory";
/// The payment service's group.
pub const PAYMENT: &str = "payment";
/// The group declared on every dead-letter topic of the saga, so that dead letters are kept
/// for inspection on brokers that drop messages nobody subscribed to.
pub const DEAD_LETTERS: &str = courier_core::headers::DEAD_LETTER_GROUP;

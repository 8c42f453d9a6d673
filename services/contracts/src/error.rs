//! [`ContractError`]: the rules an order or an event can break.

/// A rule of the contracts that a message breaks. Retrying cannot fix it: services report it
/// as a permanent handler error, and the runtime dead-letters the message with this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The event's `version` is not one this build understands.
    #[error("unsupported {event} version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The event's name.
        event: &'static str,
        /// The version found.
        found: u16,
        /// The version understood.
        supported: u16,
    },
    /// A required field is missing or empty.
    #[error("{0} is missing or empty")]
    Missing(&'static str),
    /// An order without lines.
    #[error("order {order_id} has no lines")]
    EmptyLines {
        /// The order.
        order_id: String,
    },
    /// A line whose quantity is zero or negative.
    #[error("order {order_id}: quantity of {sku} must be positive, got {quantity}")]
    NonPositiveQuantity {
        /// The order.
        order_id: String,
        /// The line's product.
        sku: String,
        /// The quantity given.
        quantity: i64,
    },
    /// A quantity too large to handle.
    #[error("order {order_id}: quantity of {sku} is too large ({quantity})")]
    QuantityTooLarge {
        /// The order.
        order_id: String,
        /// The line's product.
        sku: String,
        /// The quantity given.
        quantity: i64,
    },
    /// A product the catalog does not know.
    #[error("order {order_id}: unknown sku {sku:?}")]
    UnknownSku {
        /// The order.
        order_id: String,
        /// The product.
        sku: String,
    },
    /// An amount below zero.
    #[error("{field} of order {order_id} must not be negative, got {value}")]
    NegativeAmount {
        /// The order.
        order_id: String,
        /// Which amount.
        field: &'static str,
        /// The amount, in minor units.
        value: i64,
    },
    /// A total that does not equal the sum of its lines, or that overflows.
    #[error("order {order_id}: {problem}")]
    InconsistentAmount {
        /// The order.
        order_id: String,
        /// What does not add up.
        problem: String,
    },
    /// An id that is empty, too long, or holds other than visible ASCII. The value is not
    /// repeated (it may be huge).
    #[error("{field} must be 1 to {max} visible ASCII characters: {problem}", max = crate::MAX_ID_BYTES)]
    InvalidId {
        /// Which id (`order_id`, `customer_id`, `sku`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An order with more lines than the service accepts.
    #[error("order {order_id} has {count} lines; at most {max} are accepted")]
    TooManyLines {
        /// The order.
        order_id: String,
        /// Lines given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An intake order mixing the full and the single-line shapes.
    #[error("order {order_id}: give either `lines` or `product_id` with `quantity`, not both")]
    AmbiguousShape {
        /// The order.
        order_id: String,
    },
}

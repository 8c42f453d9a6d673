//! The `[topics]` section: the name on the broker of each logical topic of the services.

use courier_core::InvalidSetting;
use serde::{Deserialize, Serialize};

/// The name on the broker of each logical topic. Each can be renamed, so that
/// `orders.placed` can be `order_queue` on a broker that already has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Topics {
    /// Orders from external producers (plain JSON). Default `order_queue`.
    pub order_intake: String,
    /// `OrderPlaced` events. Default `orders.placed`.
    pub order_placed: String,
    /// `StockReserved` events. Default `inventory.reserved`.
    pub stock_reserved: String,
    /// `StockRejected` events. Default `inventory.rejected`.
    pub stock_rejected: String,
    /// `PaymentSucceeded` events. Default `payments.succeeded`.
    pub payment_succeeded: String,
    /// `PaymentFailed` events. Default `payments.failed`.
    pub payment_failed: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            order_intake: "order_queue".into(),
            order_placed: "orders.placed".into(),
            stock_reserved: "inventory.reserved".into(),
            stock_rejected: "inventory.rejected".into(),
            payment_succeeded: "payments.succeeded".into(),
            payment_failed: "payments.failed".into(),
        }
    }
}

/// The suffix of a topic's dead-letter topic, `<topic>.dlq`.
const DLQ_SUFFIX: &str = ".dlq";

impl Topics {
    /// Every `(logical key, name on the broker)` pair, in declaration order:
    /// `("order_placed", "orders.placed")`, ...
    pub fn pairs(&self) -> [(&'static str, &str); 6] {
        [
            ("order_intake", &self.order_intake),
            ("order_placed", &self.order_placed),
            ("stock_reserved", &self.stock_reserved),
            ("stock_rejected", &self.stock_rejected),
            ("payment_succeeded", &self.payment_succeeded),
            ("payment_failed", &self.payment_failed),
        ]
    }

    /// The first bad name, as `(logical key, problem)`: an empty name, a name with spaces or
    /// control characters, two logical topics with one name, or a name that is another
    /// topic's dead-letter topic (`<name>.dlq`).
    ///
    /// # Errors
    /// The first bad name found.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.check(|_| false)
    }

    /// As [`validate`](Self::validate); of two logical topics with one name, the one for
    /// which `chosen` is true is reported (the one the user set rather than a default).
    pub(crate) fn check(&self, chosen: impl Fn(&str) -> bool) -> Result<(), InvalidSetting> {
        let pairs = self.pairs();
        for (i, (key, name)) in pairs.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(InvalidSetting::new(*key, "the topic name is empty"));
            }
            if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(InvalidSetting::new(
                    *key,
                    format!("the topic name {name:?} contains spaces or control characters"),
                ));
            }
            if let Some((other, _)) = pairs[..i].iter().find(|(_, n)| n == name) {
                let (key, other) = if chosen(other) && !chosen(key) {
                    (*other, *key)
                } else {
                    (*key, *other)
                };
                return Err(InvalidSetting::new(
                    key,
                    format!(
                        "the name {name:?} is also the name of topics.{other}; \
                         each logical topic needs its own name"
                    ),
                ));
            }
            if let Some((other, _)) = pairs
                .iter()
                .find(|(_, n)| name.strip_suffix(DLQ_SUFFIX) == Some(*n))
            {
                return Err(InvalidSetting::new(
                    *key,
                    format!(
                        "the name {name:?} is the dead-letter topic of topics.{other}; \
                         pick another name"
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_listed() {
        let topics = Topics::default();
        assert!(topics.validate().is_ok());
        assert_eq!(topics.pairs()[1], ("order_placed", "orders.placed"));
    }

    #[test]
    fn rejects_duplicates_empty_and_dlq_names() {
        let mut topics = Topics {
            payment_failed: "payments.succeeded".into(),
            ..Topics::default()
        };
        let InvalidSetting { key, problem } = topics.validate().expect_err("duplicate");
        assert_eq!(key, "payment_failed");
        assert!(problem.contains("topics.payment_succeeded"), "{problem}");
        topics.payment_failed = " ".into();
        assert_eq!(topics.validate().expect_err("empty").key, "payment_failed");
        topics.payment_failed = "orders.placed.dlq".into();
        assert!(
            topics
                .validate()
                .expect_err("dlq")
                .problem
                .contains("dead-letter")
        );
    }
}

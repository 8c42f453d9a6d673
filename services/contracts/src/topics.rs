//! [`SagaTopics`]: the topic names of the saga, and which group reads which.

use serde::{Deserialize, Serialize};

use crate::groups;

/// The topics the saga's services use. Binaries fill it from the `[topics]` table of the
/// config file; tests make fresh ones with [`with_prefix`](SagaTopics::with_prefix).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaTopics {
    /// Orders from outside producers (both intake shapes).
    pub order_intake: String,
    /// [`OrderPlaced`](crate::OrderPlaced) events.
    pub order_placed: String,
    /// [`StockReserved`](crate::StockReserved) events.
    pub stock_reserved: String,
    /// [`StockRejected`](crate::StockRejected) events.
    pub stock_rejected: String,
    /// [`PaymentSucceeded`](crate::PaymentSucceeded) events.
    pub payment_succeeded: String,
    /// [`PaymentFailed`](crate::PaymentFailed) events.
    pub payment_failed: String,
}

impl Default for SagaTopics {
    /// The names of the default configuration.
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

impl SagaTopics {
    /// The default names, each prefixed with `<prefix>.`: fresh topics for a test run.
    pub fn with_prefix(prefix: &str) -> Self {
        let d = Self::default();
        let p = |name: String| format!("{prefix}.{name}");
        Self {
            order_intake: p(d.order_intake),
            order_placed: p(d.order_placed),
            stock_reserved: p(d.stock_reserved),
            stock_rejected: p(d.stock_rejected),
            payment_succeeded: p(d.payment_succeeded),
            payment_failed: p(d.payment_failed),
        }
    }

    /// Every `(topic, group)` subscription of the saga. A service declares all of them at
    /// start (see [`Broker::declare_group`](courier_core::Broker::declare_group)), so no event
    /// is lost whichever service starts first.
    pub fn routes(&self) -> [(&str, &str); 7] {
        [
            (&self.order_intake, groups::ORDER),
            (&self.order_placed, groups::INVENTORY),
            (&self.stock_reserved, groups::PAYMENT),
            (&self.stock_rejected, groups::ORDER),
            (&self.payment_succeeded, groups::ORDER),
            (&self.payment_failed, groups::ORDER),
            (&self.payment_failed, groups::INVENTORY),
        ]
    }

    /// The dead-letter topic of every topic the saga consumes, each with the
    /// [`groups::DEAD_LETTERS`] group.
    pub fn dead_letter_routes(&self) -> Vec<(String, &'static str)> {
        let mut topics: Vec<&str> = self.routes().iter().map(|(t, _)| *t).collect();
        topics.dedup();
        topics
            .into_iter()
            .map(|t| (courier_core::headers::dlq_topic(t), groups::DEAD_LETTERS))
            .collect()
    }

    /// Declares every route and dead-letter route on `broker`.
    ///
    /// # Errors
    /// The broker's error when a group cannot be declared.
    pub async fn declare_all(&self, broker: &dyn courier_core::Broker) -> courier_core::Result<()> {
        let dead = self.dead_letter_routes();
        let all = self
            .routes()
            .into_iter()
            .chain(dead.iter().map(|(t, g)| (t.as_str(), *g)));
        futures::future::try_join_all(all.map(|(topic, group)| broker.declare_group(topic, group)))
            .await?;
        Ok(())
    }
}

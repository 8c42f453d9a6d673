//! The saga figure: orders per second of the shop demo (order, inventory and payment services
//! in one process) on a backend, on topics named afresh for the run.

use std::sync::Arc;

use courier_config::Config;
use courier_contracts::groups;

use crate::courier_side::Cleaner;

/// Every group the saga's services and its dead-letter keeping use.
const GROUPS: [&str; 4] = [
    groups::ORDER,
    groups::INVENTORY,
    groups::PAYMENT,
    groups::DEAD_LETTERS,
];

/// Orders per second of `orders` orders through `shop::run_demo` on `config`'s backend, with
/// every saga topic renamed `compare-saga-<uuid>-<name>`; `cleaner` deletes those topics (and
/// their dead-letter topics and group queues) afterwards.
///
/// Returns the figure and, when cleaning up failed, why.
///
/// # Errors
/// Why the figure is missing, as a sentence for the report: the demo failed, or some orders
/// did not settle.
pub async fn orders_per_sec(
    config: &Config,
    orders: u32,
    cleaner: Option<&Arc<dyn Cleaner>>,
) -> Result<(f64, Option<String>), String> {
    let mut config = config.clone();
    let prefix = courier_tests::support::unique_name("compare-saga");
    let topics = &mut config.topics;
    for name in [
        &mut topics.order_intake,
        &mut topics.order_placed,
        &mut topics.stock_reserved,
        &mut topics.stock_rejected,
        &mut topics.payment_succeeded,
        &mut topics.payment_failed,
    ] {
        *name = format!("{prefix}-{name}");
    }
    let outcome = shop::run_demo(&config, orders as usize).await;
    let mut leftover = None;
    if let Some(cleaner) = cleaner {
        for (_, topic) in config.topics.pairs() {
            for topic in [topic.to_owned(), format!("{topic}.dlq")] {
                if let Err(e) = cleaner.clean(&topic, &GROUPS).await {
                    leftover.get_or_insert(format!("cleaning up {topic}: {e}"));
                }
            }
        }
    }
    let summary = outcome.map_err(|e| format!("the demo failed: {e}"))?;
    if summary.unsettled > 0 {
        return Err(format!(
            "{} of {} orders did not settle within the demo's wait",
            summary.unsettled, summary.orders
        ));
    }
    Ok((summary.orders_per_sec, leftover))
}

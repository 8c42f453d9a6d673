//! The saga figure: orders per second of the shop demo (order, inventory and payment services
//! in one process) on a backend, on topics named afresh for the run.

use std::sync::Arc;

use courier_config::Config;
use courier_contracts::groups;
use courier_outbox::scratch::ScratchDatabase;
use shop::{DemoOptions, Summary};

use crate::courier_side::Cleaner;

/// Every group the saga's services and its dead-letter keeping use.
const GROUPS: [&str; 4] = [
    groups::ORDER,
    groups::INVENTORY,
    groups::PAYMENT,
    groups::DEAD_LETTERS,
];

/// `orders` orders through the shop demo on `config`'s backend with `store` (`memory`,
/// `sqlite`, or `postgres`: a fresh database dropped afterwards), with every saga topic
/// renamed `compare-saga-<uuid>-<name>`; `cleaner` deletes those topics (and their
/// dead-letter topics and group queues) afterwards.
///
/// Returns the demo's summary and, when cleaning up failed, why.
///
/// # Errors
/// Why the figure is missing, as a sentence for the report: the demo failed, or some orders
/// did not settle.
pub async fn run(
    config: &Config,
    orders: u32,
    cleaner: Option<&Arc<dyn Cleaner>>,
    store: &str,
) -> Result<(Summary, Option<String>), String> {
    let scratch = match store {
        "postgres" => Some(
            ScratchDatabase::create()
                .await
                .map_err(|e| format!("no PostgreSQL for the saga: {e}"))?,
        ),
        "memory" | "sqlite" => None,
        other => {
            return Err(format!(
                "unknown store {other:?} (memory, sqlite, postgres)"
            ));
        }
    };
    let store = scratch
        .as_ref()
        .map_or_else(|| store.to_owned(), ScratchDatabase::url);
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
    let options = DemoOptions {
        orders: orders as usize,
        store,
        ..DemoOptions::default()
    };
    let outcome = shop::run_demo_with(&config, options).await;
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
    Ok((summary, leftover))
}

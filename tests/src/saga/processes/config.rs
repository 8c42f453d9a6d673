//! The config file a cluster's processes share: its TOML, written from the broker section,
//! the topics, the order API's port, the store URL and the catalog; and the free ports the
//! order API listens on.

use std::fmt::Write as _;

use courier_contracts::{CatalogItem, SagaTopics};

use crate::saga::orders::DECLINE_ABOVE_MINOR;

pub(super) use crate::ports::free_port;

pub(super) fn config_toml(
    broker_section: &str,
    topics: &SagaTopics,
    port: u16,
    store_url: &str,
    catalog: &[CatalogItem],
) -> String {
    let mut toml = format!(
        "{broker_section}\n\n[store]\nurl = {store_url:?}\nrelay_poll_ms = 200\nmax_connections = 4\n\n[topics]\norder_intake = {:?}\norder_placed = {:?}\n\
         stock_reserved = {:?}\nstock_rejected = {:?}\npayment_succeeded = {:?}\n\
         payment_failed = {:?}\n\n[runtime]\nbackoff_initial_ms = 20\nbackoff_max_ms = 1000\n\
         shutdown_deadline_ms = 5000\n\n[services.order]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [services.payment]\ndecline_above_minor = {DECLINE_ABOVE_MINOR}\n",
        topics.order_intake,
        topics.order_placed,
        topics.stock_reserved,
        topics.stock_rejected,
        topics.payment_succeeded,
        topics.payment_failed,
    );
    for item in catalog {
        let _ = write!(
            toml,
            "\n[[services.inventory.catalog]]\nsku = {:?}\nname = {:?}\nprice_minor = {}\nstock = {}\n",
            item.sku, item.name, item.price_minor, item.stock
        );
    }
    toml
}

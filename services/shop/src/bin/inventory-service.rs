//! `inventory-service`: the inventory service on the broker the config file selects, with
//! the catalog of `[services.inventory]` as its initial stock.
//!
//! ```text
//! inventory-service [--config PATH]
//! ```
//!
//! Runs until SIGINT or SIGTERM, then finishes what is in flight and flushes. A bad
//! configuration exits with code 2 and one line on standard error.

use std::{process::ExitCode, sync::Arc};

use inventory_service::{InventoryService, MIGRATIONS, NEEDS, STORE_PREFIX};

#[tokio::main]
async fn main() -> ExitCode {
    let (config, stop) = courier_service::boot(
        "inventory-service",
        "The inventory service of the courier saga.",
    );
    let store = courier_service::open_store(
        &config,
        "inventory-service",
        STORE_PREFIX,
        MIGRATIONS,
        &stop,
    )
    .await;
    let catalog = shop::saga_config::catalog(&config);
    let service = match InventoryService::new(
        store.clone(),
        shop::saga_config::saga_topics(&config),
        catalog.items(),
    )
    .await
    {
        Ok(service) => Arc::new(service),
        Err(e) => {
            eprintln!("error: inventory-service: seeding the stock failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let metrics_listen = config.services.inventory.metrics_listen;
    shop::saga_config::connect_and_run(
        "inventory-service",
        &config,
        NEEDS,
        store,
        stop,
        metrics_listen,
        |runtime| service.register(runtime),
    )
    .await
}

//! `inventory-service`: the inventory service on the broker the config file selects, with
//! the catalog of `[services.inventory]` as its initial stock.
//!
//! ```text
//! inventory-service [--config PATH]
//! ```
//!
//! Runs until SIGINT or SIGTERM, then finishes what is in flight and flushes. A bad
//! configuration exits with code 2 and one line on standard error.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use inventory_service::{InventoryService, MIGRATIONS, NEEDS, STORE_PREFIX};

/// The inventory service of the courier saga.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The config file (else $COURIER_CONFIG, else config/courier.toml when present).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = courier_config::exit_on_error(courier_config::load(args.config.as_deref()));
    courier_service::init_tracing();
    let stop = courier_service::Stop::listen();
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
    let broker = courier_service::connect(
        &config,
        "inventory-service",
        NEEDS,
        &shop::saga_config::saga_groups(&config),
        &stop,
    )
    .await;
    courier_service::run_handlers(
        "inventory-service",
        &config,
        broker,
        store,
        stop,
        |runtime| {
            service.register(runtime);
        },
    )
    .await
}

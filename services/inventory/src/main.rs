//! `inventory-service`: the inventory service on the broker the config file selects, with
//! the catalog of `[services.inventory]` as its initial stock.
//!
//! ```text
//! inventory-service [--config PATH]
//! ```
//!
//! Runs until SIGINT or SIGTERM, then finishes what is in flight and flushes. A bad
//! configuration exits with code 2 and one line on standard error.

#[path = "../../boot.rs"]
mod boot;

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use courier_core::Runtime;
use inventory_service::{InventoryService, MemoryStock, NEEDS};

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
    boot::init_tracing();
    let stop = boot::Stop::listen();
    let broker = boot::connect(&config, "inventory-service", NEEDS, &stop).await;
    let service_broker = broker.clone();
    boot::run_service("inventory-service", service_broker, |producer| async move {
        let stock = MemoryStock::new(boot::catalog(&config).items());
        let service = Arc::new(InventoryService::new(
            Arc::new(stock),
            producer.clone(),
            boot::saga_topics(&config),
        ));
        let mut runtime = Runtime::new(broker.clone(), config.runtime.clone());
        service.register(&mut runtime);
        boot::run_until_stopped("inventory-service", broker.name(), runtime, stop).await
    })
    .await
}

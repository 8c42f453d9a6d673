//! `payment-service`: the payment service on the broker the config file selects, charging
//! through the simulated gateway (`[services.payment] decline_above_minor`).
//!
//! ```text
//! payment-service [--config PATH]
//! ```
//!
//! The gateway keeps its charges in the service's store, so a restarted process never
//! charges an order twice. Runs until SIGINT or
//! SIGTERM, then finishes what is in flight and flushes. A bad configuration exits with
//! code 2 and one line on standard error.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use payment_service::{MIGRATIONS, NEEDS, PaymentService, STORE_PREFIX, SimulatedGateway};

/// The payment service of the courier saga.
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
    let store =
        courier_service::open_store(&config, "payment-service", STORE_PREFIX, MIGRATIONS, &stop)
            .await;
    let gateway = SimulatedGateway::new(config.services.payment.decline_above_minor);
    let service = Arc::new(PaymentService::new(
        Arc::new(gateway),
        store.clone(),
        shop::saga_config::saga_topics(&config),
    ));
    let broker = courier_service::connect(
        &config,
        "payment-service",
        NEEDS,
        &shop::saga_config::saga_groups(&config),
        &stop,
    )
    .await;
    courier_service::run_handlers("payment-service", &config, broker, store, stop, |runtime| {
        service.register(runtime);
    })
    .await
}

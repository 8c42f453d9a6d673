//! `payment-service`: the payment service on the broker the config file selects, charging
//! through the simulated gateway (`[services.payment] decline_above_minor`).
//!
//! ```text
//! payment-service [--config PATH] [--journal PATH]
//! ```
//!
//! With `--journal`, the gateway appends each charge to that JSON-lines file and reads it
//! back at start, so a restarted process never charges an order twice. Runs until SIGINT or
//! SIGTERM, then finishes what is in flight and flushes. A bad configuration exits with
//! code 2 and one line on standard error.

#[path = "../../boot.rs"]
mod boot;

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use courier_core::Runtime;
use payment_service::{MemoryPayments, NEEDS, PaymentService, SimulatedGateway};

/// The payment service of the courier saga.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The config file (else $COURIER_CONFIG, else config/courier.toml when present).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Journal the simulated gateway's charges to this file (kept across restarts).
    #[arg(long, value_name = "PATH")]
    journal: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = courier_config::exit_on_error(courier_config::load(args.config.as_deref()));
    boot::init_tracing();
    let stop = boot::Stop::listen();
    let limit = config.services.payment.decline_above_minor;
    let gateway = match &args.journal {
        None => SimulatedGateway::new(limit),
        Some(path) => match SimulatedGateway::with_journal(limit, path) {
            Ok(g) => g,
            Err(e) => {
                eprintln!(
                    "error: payment-service: cannot open the journal {}: {e}",
                    path.display()
                );
                return ExitCode::from(2);
            }
        },
    };
    let broker = boot::connect(&config, "payment-service", NEEDS, &stop).await;
    let service_broker = broker.clone();
    boot::run_service("payment-service", service_broker, |producer| async move {
        let service = Arc::new(PaymentService::new(
            Arc::new(gateway),
            Arc::new(MemoryPayments::new()),
            producer.clone(),
            boot::saga_topics(&config),
        ));
        let mut runtime = Runtime::new(broker.clone(), config.runtime.clone());
        service.register(&mut runtime);
        boot::run_until_stopped("payment-service", broker.name(), runtime, stop).await
    })
    .await
}

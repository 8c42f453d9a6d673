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

use std::{process::ExitCode, sync::Arc};

use payment_service::{MIGRATIONS, NEEDS, PaymentService, STORE_PREFIX, SimulatedGateway};

#[tokio::main]
async fn main() -> ExitCode {
    let (config, stop) = courier_service::boot(
        "payment-service",
        "The payment service of the courier saga.",
    );
    let store =
        courier_service::open_store(&config, "payment-service", STORE_PREFIX, MIGRATIONS, &stop)
            .await;
    let gateway = SimulatedGateway::new(config.services.payment.decline_above_minor);
    let service = Arc::new(PaymentService::new(
        Arc::new(gateway),
        store.clone(),
        shop::saga_config::saga_topics(&config),
    ));
    let metrics_listen = config.services.payment.metrics_listen;
    shop::saga_config::connect_and_run(
        "payment-service",
        &config,
        NEEDS,
        store,
        stop,
        metrics_listen,
        |runtime| service.register(runtime),
    )
    .await
}

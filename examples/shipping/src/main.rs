//! `shipping-service [--config PATH]`: the shipping example as a service binary, on the
//! broker its config file selects, until SIGINT or SIGTERM.

use std::process::ExitCode;

use courier_core::Capability;
use courier_service::Service;

#[tokio::main]
async fn main() -> ExitCode {
    Service::new(
        "shipping-service",
        "Requests the shipment of every paid order.",
    )
    .needs(&[Capability::AtLeastOnce, Capability::ConfirmedSend])
    // Keep shipments for the warehouse even before it first runs.
    .declare(shipping::SHIPMENTS, "warehouse")
    .run(|runtime, parts| shipping::register(runtime, parts.producer.clone()))
    .await
}

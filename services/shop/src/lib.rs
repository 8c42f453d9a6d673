//! # shop
//!
//! The order, inventory and payment services in one process on the configured broker, and
//! the demo that drives them: [`run_demo`] places orders (generated from a fixed seed by
//! [`demo_orders`]) through the order service's place-order function, the path of
//! `POST /orders`, waits until each is confirmed or cancelled, and returns a [`Summary`]:
//! how many were confirmed or cancelled and why, orders per second, and latency
//! percentiles.
//!
//! ```no_run
//! # async fn demo() -> courier_core::Result<()> {
//! let config = courier_config::load(None)?;
//! let summary = shop::run_demo(&config, 1_000).await?;
//! println!("{summary}");
//! # Ok(())
//! # }
//! ```

pub mod asyncapi;
mod demo;
mod generator;
pub mod saga_config;
mod summary;

pub use demo::{DemoOptions, run_demo, run_demo_with};
pub use generator::{DEFAULT_SEED, demo_orders};
pub use summary::Summary;

/// What the three services need of the broker, per service.
pub fn needs() -> [(&'static str, &'static [courier_core::Capability]); 3] {
    [
        ("order-service", order_service::NEEDS),
        ("inventory-service", inventory_service::NEEDS),
        ("payment-service", payment_service::NEEDS),
    ]
}

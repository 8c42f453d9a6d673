//! The saga across the three services, on any broker: [`run_saga`] runs the order, inventory
//! and payment services as tasks on one broker, places orders through both ways in (the
//! place-order function behind `POST /orders`, and the intake topic), waits until every order
//! settles, re-sends events as duplicates, and checks that stock and payments reconcile and
//! that the duplicates changed nothing. [`run_dead_letters`] checks that bad messages reach
//! the dead-letter topic with their reason while the services keep running.
//! [`processes`] runs the three real binaries as processes on a broker named by its config
//! section.
//!
//! Backend runs call these with their broker and fresh topic names ([`fresh_topics`]):
//!
//! ```no_run
//! # async fn demo(broker: std::sync::Arc<dyn courier_core::Broker>) {
//! let report = courier_tests::saga::run_saga(broker, courier_tests::saga::fresh_topics(), 500).await;
//! assert!(report.confirmed > 0);
//! # }
//! ```

mod dead_letters;
mod orders;
pub mod processes;
mod reconcile;
mod services;
mod traced;

use std::{sync::Arc, time::Duration};

use courier_contracts::SagaTopics;
use courier_core::{Broker, RuntimeSettings};

pub use dead_letters::run_dead_letters;
pub use orders::{DECLINE_ABOVE_MINOR, saga_catalog};
pub use reconcile::SagaReport;
pub use traced::{TracedSaga, recorded_spans, run_traced_saga};

/// Fresh topic names for one run: the default names under a unique prefix.
pub fn fresh_topics() -> SagaTopics {
    SagaTopics::with_prefix(&crate::support::unique_name("saga"))
}

/// How [`run_saga_with`] runs.
#[derive(Clone, Debug)]
pub struct SagaOptions {
    /// Orders to place (half through the place-order function, half on the intake topic).
    pub orders: usize,
    /// Seed of the generated orders.
    pub seed: u64,
    /// Re-send the events of every n-th order once all have settled (0: none).
    pub duplicate_every: usize,
    /// How long every order may take to settle.
    pub settle_timeout: Duration,
    /// How long the counters must stand still to call the services idle.
    pub quiet_period: Duration,
    /// The services' runtime settings.
    pub runtime: RuntimeSettings,
    /// The services' stores (`{service}` is replaced by each name); `None`: an in-memory
    /// SQLite database each.
    pub store_url: Option<String>,
}

impl Default for SagaOptions {
    fn default() -> Self {
        Self {
            orders: 300,
            seed: 42,
            duplicate_every: 3,
            settle_timeout: Duration::from_secs(60),
            quiet_period: Duration::from_millis(500),
            runtime: RuntimeSettings {
                backoff_initial_ms: 10,
                backoff_max_ms: 500,
                shutdown_deadline_ms: 5_000,
                ..RuntimeSettings::default()
            },
            store_url: None,
        }
    }
}

/// Runs the saga with `orders` orders and the default options. See [`run_saga_with`].
///
/// # Panics
/// When an order does not settle in time, or stock, payments or duplicates do not reconcile.
pub async fn run_saga(broker: Arc<dyn Broker>, topics: SagaTopics, orders: usize) -> SagaReport {
    run_saga_with(
        broker,
        topics,
        SagaOptions {
            orders,
            ..SagaOptions::default()
        },
    )
    .await
}

/// Runs the three services on `broker` with `topics`, places the generated orders (some of
/// them twice, while they are in flight), waits until every order settles, checks that
/// stock moved equals the confirmed orders' lines and money charged equals the confirmed
/// orders' totals, re-sends the events of some orders, and checks that nothing changed.
///
/// # Panics
/// As for [`run_saga`].
pub async fn run_saga_with(
    broker: Arc<dyn Broker>,
    topics: SagaTopics,
    options: SagaOptions,
) -> SagaReport {
    let mut services = services::SagaServices::start(
        broker,
        topics,
        options.runtime.clone(),
        options.store_url.as_deref(),
    )
    .await
    .unwrap_or_else(|e| panic!("starting the saga's services failed: {e}"));
    let orders = orders::saga_orders(options.orders, options.seed);
    let started = std::time::Instant::now();
    services.place_all(&orders).await;
    let settled = services
        .wait_settled(orders.len(), options.settle_timeout)
        .await;
    let elapsed = started.elapsed();
    assert_eq!(
        settled,
        orders.len(),
        "{} of {} orders did not settle within {:?}",
        orders.len() - settled,
        orders.len(),
        options.settle_timeout
    );
    services.wait_idle(0, options.quiet_period).await;
    let before = reconcile::Snapshot::take(&services).await;
    let mut report = before.check(&orders);
    report.elapsed = elapsed;
    if options.duplicate_every > 0 {
        let baseline = services.received();
        let resent = services
            .resend_events(&before, options.duplicate_every)
            .await;
        services
            .wait_idle(baseline + resent, options.quiet_period)
            .await;
        let after = reconcile::Snapshot::take(&services).await;
        before.assert_same(&after);
        report.duplicates_sent = resent;
    }
    services.assert_no_dead_letters();
    services.shutdown().await;
    report
}

//! [`run_demo`]: the three services in one process, driven by generated orders.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use courier_config::Config;
use courier_core::{Result, Runtime};
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inventory_service::{InventoryService, MemoryStock};
use order_service::{CancelCause, MemoryOrders, Order, OrderService, OrderStatus};
use payment_service::{MemoryPayments, PaymentService, SimulatedGateway};
use tokio::sync::mpsc;
use tracing::warn;

use crate::{DEFAULT_SEED, Summary, boot, demo_orders, summary::percentile_ms};

/// How a demo runs.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Orders to place.
    pub orders: usize,
    /// Seed of the generated orders.
    pub seed: u64,
    /// How long to wait, from the first placement, for every order to settle.
    pub timeout: Duration,
    /// Orders being placed at once.
    pub in_flight: usize,
    /// Draw a progress bar of settled orders on standard error.
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            orders: 1_000,
            seed: DEFAULT_SEED,
            timeout: Duration::from_secs(120),
            in_flight: 256,
            progress: false,
        }
    }
}

/// How an order ended.
#[derive(Clone, Copy)]
enum Outcome {
    Confirmed,
    Stock,
    Payment,
}

impl Outcome {
    fn of(order: &Order) -> Self {
        match order.status {
            OrderStatus::Cancelled {
                cause: CancelCause::Stock,
                ..
            } => Self::Stock,
            OrderStatus::Cancelled {
                cause: CancelCause::Payment,
                ..
            } => Self::Payment,
            _ => Self::Confirmed,
        }
    }
}

/// Runs the demo with `orders` orders and the default options (no progress bar): connects
/// the configured broker, starts the order, inventory and payment services on it, places
/// the orders, waits until each settles (or two minutes pass), and stops the services.
///
/// # Errors
/// When the broker cannot be reached, the backend lacks a guarantee in strict mode, or the
/// services cannot subscribe.
pub async fn run_demo(config: &Config, orders: usize) -> Result<Summary> {
    run_demo_with(
        config,
        DemoOptions {
            orders,
            ..DemoOptions::default()
        },
    )
    .await
}

/// Runs the demo as `options` say. See [`run_demo`].
///
/// # Errors
/// As for [`run_demo`].
pub async fn run_demo_with(config: &Config, options: DemoOptions) -> Result<Summary> {
    let broker = courier_config::connect(config).await?;
    for (service, needs) in crate::needs() {
        for warning in courier_config::check_needs(config, broker.capabilities(), service, needs)? {
            warn!("{warning}");
        }
    }
    let topics = boot::saga_topics(config);
    topics.declare_all(broker.as_ref()).await?;
    let catalog = Arc::new(boot::catalog(config));
    let producer = broker.producer().await?;

    let (settled_tx, mut settled_rx) = mpsc::unbounded_channel();
    let order = Arc::new(
        OrderService::new(
            Arc::new(MemoryOrders::new()),
            producer.clone(),
            topics.clone(),
            catalog.clone(),
        )
        .with_observer(move |o: &Order| {
            let _ = settled_tx.send((o.id.clone(), Instant::now(), Outcome::of(o)));
        }),
    );
    let inventory = Arc::new(InventoryService::new(
        Arc::new(MemoryStock::new(catalog.items())),
        producer.clone(),
        topics.clone(),
    ));
    let gateway = SimulatedGateway::new(config.services.payment.decline_above_minor);
    let payment = Arc::new(PaymentService::new(
        Arc::new(gateway),
        Arc::new(MemoryPayments::new()),
        producer.clone(),
        topics.clone(),
    ));
    let mut runtime = Runtime::new(broker.clone(), config.runtime.clone());
    order.register(&mut runtime);
    inventory.register(&mut runtime);
    payment.register(&mut runtime);
    let running = runtime.start().await?;

    let new_id = courier_core::new_id();
    let run = &new_id[new_id.len() - 8..];
    let intakes = demo_orders(&catalog, options.orders, options.seed, run);
    let total = intakes.len();
    let bar = progress_bar(total, options.progress);
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + options.timeout);

    let place = async {
        let mut placed_at = HashMap::with_capacity(total);
        let mut placing = stream::iter(intakes)
            .map(|intake| {
                let order = order.clone();
                async move {
                    let at = Instant::now();
                    (order.place(intake).await, at)
                }
            })
            .buffer_unordered(options.in_flight.max(1));
        while let Some((placed, at)) = placing.next().await {
            match placed {
                Ok(p) => {
                    placed_at.insert(p.order_id, at);
                }
                Err(e) => warn!(error = %e, "placing a demo order failed"),
            }
        }
        placed_at
    };
    let collect = async {
        let mut settled = Vec::with_capacity(total);
        while settled.len() < total {
            match tokio::time::timeout_at(deadline, settled_rx.recv()).await {
                Ok(Some(s)) => {
                    bar.inc(1);
                    settled.push(s);
                }
                Ok(None) | Err(_) => break,
            }
        }
        settled
    };
    let (placed_at, settled) = tokio::join!(place, collect);
    let finished = settled.last().map_or_else(Instant::now, |(_, at, _)| *at);
    bar.finish_and_clear();

    running.shutdown().await?;
    producer.close().await?;
    broker.close().await?;

    let mut latencies = Vec::with_capacity(settled.len());
    let (mut confirmed, mut cancelled_stock, mut cancelled_payment) = (0, 0, 0);
    for (id, at, outcome) in &settled {
        match outcome {
            Outcome::Confirmed => confirmed += 1,
            Outcome::Stock => cancelled_stock += 1,
            Outcome::Payment => cancelled_payment += 1,
        }
        if let Some(placed) = placed_at.get(id) {
            latencies.push(at.saturating_duration_since(*placed));
        }
    }
    latencies.sort_unstable();
    let elapsed = finished.saturating_duration_since(started);
    let secs = elapsed.as_secs_f64();
    Ok(Summary {
        orders: total,
        confirmed,
        cancelled_stock,
        cancelled_payment,
        unsettled: total - settled.len(),
        orders_per_sec: if secs > 0.0 {
            (settled.len() as f64 / secs).round()
        } else {
            0.0
        },
        p50_ms: percentile_ms(&latencies, 50.0),
        p99_ms: percentile_ms(&latencies, 99.0),
        backend: broker.name(),
        elapsed,
    })
}

fn progress_bar(total: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} orders settled ({per_sec})",
    ) {
        bar.set_style(style);
    }
    bar
}

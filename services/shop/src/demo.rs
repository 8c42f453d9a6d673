//! [`run_demo`]: the three services in one process, driven by generated orders.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use courier_config::Config;
use courier_contracts::SagaTopics;
use courier_core::{Error, ErrorKind, Result, Runtime};
use courier_outbox::{Migration, Relay, RelayLatency, Store};
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inventory_service::InventoryService;
use order_service::{CancelCause, Order, OrderService, OrderStatus};
use payment_service::{PaymentService, SimulatedGateway};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::{DEFAULT_SEED, Summary, demo_orders, saga_config, summary::percentile_ms};

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
    /// Where the services keep their state: `memory` (an in-memory SQLite database per
    /// service, the default), `sqlite` (a SQLite file per service in a fresh temporary
    /// folder), or a store URL (`sqlite://...`, `postgres://...`; `{service}` is replaced by
    /// the service's name).
    pub store: String,
    /// Put before every configured topic name, so that the demo never consumes the events
    /// of services running on the same broker (default `demo.`; empty: the configured names).
    pub topic_prefix: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            orders: 1_000,
            seed: DEFAULT_SEED,
            timeout: Duration::from_secs(120),
            in_flight: 256,
            progress: false,
            store: "memory".to_owned(),
            topic_prefix: "demo.".to_owned(),
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
    let topics = prefixed(saga_config::saga_topics(config), &options.topic_prefix);
    topics.declare_all(broker.as_ref()).await?;
    let catalog = Arc::new(saga_config::catalog(config));
    let producer = broker.producer().await?;
    let stores = DemoStores::open(config, &options.store).await?;

    let (settled_tx, mut settled_rx) = mpsc::unbounded_channel();
    let order = Arc::new(
        OrderService::new(stores.order.clone(), topics.clone(), catalog.clone()).with_observer(
            move |o: &Order| {
                let _ = settled_tx.send((o.id.clone(), Instant::now(), Outcome::of(o)));
            },
        ),
    );
    let inventory = Arc::new(
        InventoryService::new(stores.inventory.clone(), topics.clone(), catalog.items())
            .await
            .map_err(store_error)?,
    );
    let gateway = SimulatedGateway::new(config.services.payment.decline_above_minor);
    let payment = Arc::new(PaymentService::new(
        Arc::new(gateway),
        stores.payment.clone(),
        topics.clone(),
    ));
    let relay_stop = CancellationToken::new();
    let relays: Vec<Arc<Relay>> = stores
        .all()
        .map(|store| Relay::new(store.clone(), producer.clone()))
        .collect();
    let relay_tasks: Vec<_> = relays.iter().map(|r| r.spawn(relay_stop.clone())).collect();
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
                    (order.place(intake, None).await, at)
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
    relay_stop.cancel();
    futures::future::join_all(relay_tasks).await;
    let relay = merged_latency(&relays);
    producer.close().await?;
    broker.close().await?;
    for store in stores.all() {
        store.close().await;
    }

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
        relay_p50_ms: relay.p50_us as f64 / 1000.0,
        relay_p99_ms: relay.p99_us as f64 / 1000.0,
        store: stores.describe(),
        backend: broker.name(),
        elapsed,
    })
}

/// The largest count's percentiles stand for all (each relay measured its own rows).
fn merged_latency(relays: &[Arc<Relay>]) -> RelayLatency {
    relays
        .iter()
        .map(|r| r.latency())
        .max_by_key(|l| l.count)
        .unwrap_or_default()
}

fn store_error(e: courier_outbox::StoreError) -> Error {
    Error::new("store", ErrorKind::Connection, e.to_string())
}

/// The three services' stores of one demo run.
struct DemoStores {
    order: Store,
    inventory: Store,
    payment: Store,
    kind: String,
    _dir: Option<tempfile::TempDir>,
}

impl DemoStores {
    async fn open(config: &Config, store: &str) -> Result<Self> {
        let (template, dir) = match store {
            "memory" => ("sqlite::memory:".to_owned(), None),
            "sqlite" => {
                let dir = tempfile::tempdir()
                    .map_err(|e| Error::new("store", ErrorKind::Config, e.to_string()))?;
                let url = format!("sqlite://{}/{{service}}.db", dir.path().display());
                (url, Some(dir))
            }
            url => (url.to_owned(), None),
        };
        let open = |service: &'static str, migrations: &'static [Migration]| {
            let settings = config.store.clone();
            let template = &template;
            async move {
                Store::open(template, service, migrations, settings)
                    .await
                    .map_err(store_error)
            }
        };
        Ok(Self {
            order: open(order_service::STORE_PREFIX, order_service::MIGRATIONS).await?,
            inventory: open(
                inventory_service::STORE_PREFIX,
                inventory_service::MIGRATIONS,
            )
            .await?,
            payment: open(payment_service::STORE_PREFIX, payment_service::MIGRATIONS).await?,
            kind: store.to_owned(),
            _dir: dir,
        })
    }

    fn all(&self) -> impl Iterator<Item = &Store> {
        [&self.order, &self.inventory, &self.payment].into_iter()
    }

    fn describe(&self) -> String {
        match self.kind.as_str() {
            "memory" | "sqlite" => self.kind.clone(),
            _ => self.order.dialect().name().to_owned(),
        }
    }
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

/// `topics` with `prefix` before every name.
fn prefixed(topics: SagaTopics, prefix: &str) -> SagaTopics {
    let p = |name: String| format!("{prefix}{name}");
    SagaTopics {
        order_intake: p(topics.order_intake),
        order_placed: p(topics.order_placed),
        stock_reserved: p(topics.stock_reserved),
        stock_rejected: p(topics.stock_rejected),
        payment_succeeded: p(topics.payment_succeeded),
        payment_failed: p(topics.payment_failed),
    }
}

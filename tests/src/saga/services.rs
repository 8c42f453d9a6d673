//! The three services as tasks on one broker, with handles on their state.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use courier_contracts::{
    Catalog, Event, PaymentFailed, PaymentSucceeded, SagaTopics, StockRejected, StockReserved,
};
use courier_core::{
    Broker, Message, Metrics, Producer, Result, Running, Runtime, RuntimeSettings, codec,
};
use courier_outbox::{Relay, Store, StoreSettings};
use futures::{StreamExt, stream};
use inventory_service::InventoryService;
use order_service::{CancelCause, Order, OrderService, OrderStatus};
use payment_service::{PaymentService, SimulatedGateway};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    orders::{DECLINE_ABOVE_MINOR, SagaOrder, saga_catalog},
    reconcile::Snapshot,
};

/// Every n-th order is placed a second time while it is in flight.
const PLACE_TWICE_EVERY: usize = 10;

/// What the subscriptions have done, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    received: u64,
    handled: u64,
    dead_lettered: u64,
}

/// The order, inventory and payment services, each with its own runtime, on one broker.
pub(crate) struct SagaServices {
    pub(crate) topics: SagaTopics,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) order: Arc<OrderService>,
    pub(crate) inventory: Arc<InventoryService>,
    pub(crate) payment: Arc<PaymentService>,
    producer: Arc<dyn Producer>,
    relay_stop: CancellationToken,
    relays: Vec<tokio::task::JoinHandle<()>>,
    metrics: Metrics,
    running: Vec<Running>,
    settled_rx: mpsc::UnboundedReceiver<String>,
    settled: HashSet<String>,
}

impl SagaServices {
    /// Declares the saga's groups and starts the three services on `broker`, each with an
    /// in-memory SQLite store (`store_url` `None`) or a store at `store_url` (`{service}`
    /// replaced by each service's name), and the relays of their outboxes.
    pub(crate) async fn start(
        broker: Arc<dyn Broker>,
        topics: SagaTopics,
        settings: RuntimeSettings,
        store_url: Option<&str>,
    ) -> Result<Self> {
        topics.declare_all(broker.as_ref()).await?;
        let producer = broker.producer().await?;
        let catalog = Arc::new(Catalog::new(saga_catalog()));
        let url = store_url.unwrap_or("sqlite::memory:");
        let open = |prefix: &'static str, migrations| async move {
            Store::open(url, prefix, migrations, StoreSettings::default())
                .await
                .unwrap_or_else(|e| panic!("opening the {prefix} store failed: {e}"))
        };
        let (settled_tx, settled_rx) = mpsc::unbounded_channel();
        let order = Arc::new(
            OrderService::new(
                open(order_service::STORE_PREFIX, order_service::MIGRATIONS).await,
                topics.clone(),
                catalog.clone(),
            )
            .with_observer(move |o: &Order| {
                let _ = settled_tx.send(o.id.clone());
            }),
        );
        let inventory = Arc::new(
            InventoryService::new(
                open(
                    inventory_service::STORE_PREFIX,
                    inventory_service::MIGRATIONS,
                )
                .await,
                topics.clone(),
                catalog.items(),
            )
            .await
            .unwrap_or_else(|e| panic!("seeding the stock failed: {e}")),
        );
        let payment = Arc::new(PaymentService::new(
            Arc::new(SimulatedGateway::new(DECLINE_ABOVE_MINOR)),
            open(payment_service::STORE_PREFIX, payment_service::MIGRATIONS).await,
            topics.clone(),
        ));
        let relay_stop = CancellationToken::new();
        let relays = [order.store(), inventory.store(), payment.store()]
            .into_iter()
            .map(|store| Relay::new(store.clone(), producer.clone()).spawn(relay_stop.clone()))
            .collect();
        let metrics = Metrics::default();
        let runtime =
            || Runtime::new(broker.clone(), settings.clone()).with_metrics(metrics.clone());
        let mut runtimes = [runtime(), runtime(), runtime()];
        order.register(&mut runtimes[0]);
        inventory.register(&mut runtimes[1]);
        payment.register(&mut runtimes[2]);
        let mut running = Vec::with_capacity(3);
        for runtime in runtimes {
            running.push(runtime.start().await?);
        }
        Ok(Self {
            topics,
            catalog,
            order,
            inventory,
            payment,
            producer,
            relay_stop,
            relays,
            metrics,
            running,
            settled_rx,
            settled: HashSet::new(),
        })
    }

    /// Places every order: those marked for the topic as JSON messages on the intake topic,
    /// the others through the place-order function; every tenth one twice.
    pub(crate) async fn place_all(&self, orders: &[SagaOrder]) {
        let mut messages: Vec<Message> = Vec::new();
        let mut direct = Vec::new();
        for (n, order) in orders.iter().enumerate() {
            let times = if n % PLACE_TWICE_EVERY == 0 { 2 } else { 1 };
            for _ in 0..times {
                if order.via_topic {
                    let message = codec::to_json(&order.intake)
                        .unwrap_or_else(|e| panic!("encoding an intake order failed: {e}"));
                    messages.push(message.with_key(order.id()));
                } else {
                    direct.push(order.intake.clone());
                }
            }
        }
        let by_topic = async {
            self.producer
                .send_batch(&self.topics.order_intake, messages)
                .await
                .unwrap_or_else(|e| panic!("sending intake orders failed: {e}"));
        };
        let by_function = stream::iter(direct)
            .map(|intake| {
                let order = self.order.clone();
                async move {
                    order
                        .place(intake, None)
                        .await
                        .unwrap_or_else(|e| panic!("placing an order failed: {e}"))
                }
            })
            .buffer_unordered(64)
            .for_each(|_| async {});
        tokio::join!(by_topic, by_function);
    }

    /// The producer the relays send with (on the broker itself, untraced).
    pub(crate) fn producer(&self) -> &Arc<dyn Producer> {
        &self.producer
    }

    /// Waits until `count` distinct orders have settled or `timeout` passes; how many did.
    pub(crate) async fn wait_settled(&mut self, count: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.settled.len() < count {
            match tokio::time::timeout_at(deadline, self.settled_rx.recv()).await {
                Ok(Some(id)) => {
                    self.settled.insert(id);
                }
                Ok(None) | Err(_) => break,
            }
        }
        self.settled.len()
    }

    fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for (topic, group) in self.topics.routes() {
            let c = self.metrics.counts(topic, group);
            totals.received += c.received;
            totals.handled += c.acked + c.dead_lettered;
            totals.dead_lettered += c.dead_lettered;
        }
        totals
    }

    /// Deliveries received so far by every subscription.
    pub(crate) fn received(&self) -> u64 {
        self.totals().received
    }

    /// Waits until at least `received` deliveries have arrived, every one is handled, and the
    /// counters stood still for `quiet`.
    ///
    /// # Panics
    /// After a minute without that.
    pub(crate) async fn wait_idle(&self, received: u64, quiet: Duration) {
        let give_up = Instant::now() + Duration::from_secs(60);
        let mut last = self.totals();
        let mut still_since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.totals();
            if now != last {
                last = now;
                still_since = Instant::now();
            } else if now.received >= received
                && now.handled >= now.received
                && still_since.elapsed() >= quiet
            {
                return;
            }
            assert!(
                Instant::now() < give_up,
                "the services did not become idle: {now:?}, waiting for {received} received"
            );
        }
    }

    /// Re-sends, for every `every`-th settled order of `snapshot`, each event the saga
    /// produced for it, rebuilt from the settled order. Returns the deliveries to expect
    /// (`PaymentFailed` reaches two groups).
    pub(crate) async fn resend_events(&self, snapshot: &Snapshot, every: usize) -> u64 {
        let t = &self.topics;
        let mut batches: Vec<(&str, Vec<Message>)> = vec![
            (&t.order_placed, Vec::new()),
            (&t.stock_reserved, Vec::new()),
            (&t.stock_rejected, Vec::new()),
            (&t.payment_succeeded, Vec::new()),
            (&t.payment_failed, Vec::new()),
        ];
        let message = |event: &dyn Fn() -> courier_core::Result<Message>| {
            event().unwrap_or_else(|e| panic!("encoding an event failed: {e}"))
        };
        for order in snapshot.orders.values().step_by(every) {
            let placed = order.placed_event();
            batches[0].1.push(message(&|| placed.to_message()));
            match &order.status {
                OrderStatus::Confirmed { payment_id } => {
                    batches[1]
                        .1
                        .push(message(&|| StockReserved::for_order(&placed).to_message()));
                    let paid = PaymentSucceeded::new(&order.id, payment_id, order.total_minor);
                    batches[3].1.push(message(&|| paid.to_message()));
                }
                OrderStatus::Cancelled {
                    cause: CancelCause::Stock,
                    reason,
                } => {
                    let rejected = StockRejected::new(&order.id, reason);
                    batches[2].1.push(message(&|| rejected.to_message()));
                }
                OrderStatus::Cancelled {
                    cause: CancelCause::Payment,
                    reason,
                } => {
                    batches[1]
                        .1
                        .push(message(&|| StockReserved::for_order(&placed).to_message()));
                    let failed = PaymentFailed::new(&order.id, order.total_minor, reason);
                    batches[4].1.push(message(&|| failed.to_message()));
                }
                OrderStatus::Pending => panic!("order {} is still pending", order.id),
            }
        }
        let expected: usize = batches
            .iter()
            .map(|(topic, msgs)| {
                if *topic == t.payment_failed {
                    2 * msgs.len()
                } else {
                    msgs.len()
                }
            })
            .sum();
        let sends = batches
            .into_iter()
            .map(|(topic, msgs)| self.producer.send_batch(topic, msgs));
        futures::future::try_join_all(sends)
            .await
            .unwrap_or_else(|e| panic!("re-sending events failed: {e}"));
        expected as u64
    }

    /// Panics when any subscription dead-lettered a message.
    pub(crate) fn assert_no_dead_letters(&self) {
        let dead: Vec<String> = self
            .topics
            .routes()
            .iter()
            .filter_map(|(topic, group)| {
                let n = self.metrics.counts(topic, group).dead_lettered;
                (n > 0).then(|| format!("{topic}/{group}: {n}"))
            })
            .collect();
        assert!(dead.is_empty(), "messages were dead-lettered: {dead:?}");
    }

    /// Stops the three runtimes and closes the producer; the broker stays open.
    pub(crate) async fn shutdown(self) {
        for running in self.running {
            if let Err(e) = running.shutdown().await {
                tracing::warn!(error = %e, "a saga service stopped with an error");
            }
        }
        self.relay_stop.cancel();
        futures::future::join_all(self.relays).await;
        if let Err(e) = self.producer.close().await {
            tracing::warn!(error = %e, "closing the saga's producer failed");
        }
    }
}

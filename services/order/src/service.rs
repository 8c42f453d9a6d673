//! [`OrderService`]: placing orders and settling them from the saga's events, each in one
//! transaction with the messages it sends.

use std::sync::Arc;

use async_trait::async_trait;
use courier_contracts::{
    Catalog, ContractError, Event, OrderIntake, PaymentFailed, PaymentSucceeded, SagaTopics,
    StockRejected, groups,
};
use courier_core::{
    Context, HandlerError, Message, Runtime, codec, new_id,
    prometheus_client::metrics::{counter::Counter, family::Family},
};
use courier_outbox::{Json, Store, StoreError, Tx, TxHandler, TxRuntime};
use tracing::debug;

use crate::{
    CancelCause, Order, OrderStatus,
    repository::{self, Inserted, Settled},
};

/// Told once per order, after the transaction that settled it committed.
pub trait SettlementObserver: Send + Sync + 'static {
    /// `order` has just been settled.
    fn settled(&self, order: &Order);
}

impl<F: Fn(&Order) + Send + Sync + 'static> SettlementObserver for F {
    fn settled(&self, order: &Order) {
        self(order);
    }
}

/// The outcome of [`OrderService::place`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The order's id.
    pub order_id: String,
    /// False when an order with this id existed already (the same order, not a new one).
    pub created: bool,
    /// Its status now: `pending`, or `confirmed`/`cancelled` for a repeated, settled order.
    pub status: &'static str,
}

/// Why an order could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The order breaks a rule (no lines, a bad quantity, an unknown product). Permanent.
    #[error("invalid order: {0}")]
    Invalid(#[from] ContractError),
    /// The order store failed; nothing was stored or sent. Transient.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `OrderPlaced` could not be encoded.
    #[error("encoding OrderPlaced failed: {0}")]
    Encode(#[from] courier_core::Error),
}

impl From<PlaceError> for HandlerError {
    fn from(error: PlaceError) -> Self {
        match error {
            PlaceError::Invalid(e) => HandlerError::permanent(e),
            PlaceError::Store(e) => e.into(),
            PlaceError::Encode(e) => e.into(),
        }
    }
}

/// The order service: its store, the topics and the catalog that prices orders.
pub struct OrderService {
    store: Store,
    topics: SagaTopics,
    catalog: Arc<Catalog>,
    max_lines: usize,
    observer: Option<Arc<dyn SettlementObserver>>,
    counters: OrderCounters,
}

/// Labels of `shop_orders_settled_total`: the status and why.
type SettledLabels = [(&'static str, &'static str); 2];

/// The order service's business counters, counted once a transaction has committed.
#[derive(Debug, Default)]
struct OrderCounters {
    /// `shop_orders_placed_total`: new orders (a repeated id counts once).
    placed: Counter,
    /// `shop_orders_settled_total{status, reason}`.
    settled: Family<SettledLabels, Counter>,
}

impl OrderCounters {
    /// The counter of orders settled as `status`.
    fn settled(&self, status: &OrderStatus) -> Counter {
        let labels = match status {
            OrderStatus::Pending => [("status", "pending"), ("reason", "")],
            OrderStatus::Confirmed { .. } => [("status", "confirmed"), ("reason", "paid")],
            OrderStatus::Cancelled {
                cause: CancelCause::Stock,
                ..
            } => [("status", "cancelled"), ("reason", "stock")],
            OrderStatus::Cancelled {
                cause: CancelCause::Payment,
                ..
            } => [("status", "cancelled"), ("reason", "payment")],
        };
        self.settled.get_or_create(&labels).clone()
    }
}

impl OrderService {
    /// A service keeping orders in `store` (see [`MIGRATIONS`](crate::MIGRATIONS)); what it
    /// sends goes through the store's outbox.
    pub fn new(store: Store, topics: SagaTopics, catalog: Arc<Catalog>) -> Self {
        Self {
            store,
            topics,
            catalog,
            max_lines: courier_contracts::DEFAULT_MAX_LINES,
            observer: None,
            counters: OrderCounters::default(),
        }
    }

    /// Accepts orders of at most `max_lines` lines (default
    /// [`DEFAULT_MAX_LINES`](courier_contracts::DEFAULT_MAX_LINES)).
    #[must_use]
    pub fn with_max_lines(mut self, max_lines: usize) -> Self {
        self.max_lines = max_lines;
        self
    }

    /// Tells `observer` of every order that settles.
    #[must_use]
    pub fn with_observer(mut self, observer: impl SettlementObserver) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The topics the service uses.
    pub fn topics(&self) -> &SagaTopics {
        &self.topics
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The order `id`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        repository::get(&mut conn, self.store.prefix(), id).await
    }

    /// Every order, by id.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn orders(&self) -> Result<Vec<Order>, StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        repository::all(&mut conn, self.store.prefix()).await
    }

    /// Places an order (the path of `POST /orders`): validates and prices it, then stores it
    /// as pending and enqueues `OrderPlaced` in one transaction. An order without an id gets
    /// `idempotency_key` as its id, or a fresh one. `Ok` means both are durable.
    ///
    /// # Errors
    /// As for [`place_in`](OrderService::place_in), and [`PlaceError::Store`] when the
    /// commit fails.
    pub async fn place(
        &self,
        intake: OrderIntake,
        idempotency_key: Option<String>,
    ) -> Result<Placed, PlaceError> {
        let mut tx = self.store.begin().await?;
        let placed = self
            .place_in(&mut tx, intake, || idempotency_key.unwrap_or_else(new_id))
            .await?;
        tx.commit().await?;
        Ok(placed)
    }

    /// Places an order inside `tx`, its id `fallback_id()` when it has none. An id seen
    /// before is the same order: nothing is stored or sent again.
    ///
    /// # Errors
    /// [`PlaceError::Invalid`] for an order that breaks a rule, [`PlaceError::Store`] when
    /// the store fails.
    pub async fn place_in(
        &self,
        tx: &mut Tx,
        intake: OrderIntake,
        fallback_id: impl FnOnce() -> String,
    ) -> Result<Placed, PlaceError> {
        let request = intake.into_request_with(fallback_id, self.max_lines)?;
        let placed = self.catalog.price(&request)?;
        let order = Order::pending(&placed);
        let prefix = self.store.prefix();
        let (created, status) =
            match repository::insert_if_absent(tx.conn(), prefix, &order).await? {
                Inserted::New => {
                    tx.send(&self.topics.order_placed, placed.to_message()?);
                    tx.count_after_commit(&self.counters.placed);
                    (true, OrderStatus::Pending.name())
                }
                Inserted::Existing(existing) => (false, existing.status.name()),
            };
        debug!(order_id = %request.order_id, created, status, "order placed");
        Ok(Placed {
            order_id: request.order_id,
            created,
            status,
        })
    }

    async fn settle(
        &self,
        tx: &mut Tx,
        order_id: &str,
        status: OrderStatus,
    ) -> Result<(), HandlerError> {
        match repository::settle(tx.conn(), self.store.prefix(), order_id, &status).await? {
            Settled::Now(order) => {
                debug!(order_id, status = order.status.name(), "order settled");
                tx.count_after_commit(&self.counters.settled(&order.status));
                if let Some(observer) = self.observer.clone() {
                    tx.after_commit(move || observer.settled(&order));
                }
                Ok(())
            }
            Settled::Already(order) => {
                debug!(
                    order_id,
                    status = order.status.name(),
                    "order already settled; nothing changes"
                );
                Ok(())
            }
            Settled::Unknown => Err(HandlerError::permanent(format!(
                "order {order_id} is not known to the order service"
            ))),
        }
    }

    /// Registers the service's handlers on `runtime`, in group [`groups::ORDER`], each in a
    /// transaction of the store: the intake topic (both shapes; an order without an id takes
    /// one derived from the message body, so a redelivery is the same order),
    /// `StockRejected`, `PaymentSucceeded` and `PaymentFailed`. Its counters
    /// (`shop_orders_placed_total`, `shop_orders_settled_total{status, reason}`) join the
    /// runtime's metrics.
    pub fn register(self: &Arc<Self>, runtime: &mut Runtime) {
        let metrics = runtime.metrics();
        metrics.register(
            "shop_orders_placed",
            "Orders placed (an order id seen before counts once).",
            self.counters.placed.clone(),
        );
        metrics.register(
            "shop_orders_settled",
            "Orders confirmed or cancelled, by status and reason (stock, payment).",
            self.counters.settled.clone(),
        );
        let t = &self.topics;
        let store = &self.store;
        runtime
            .handle_tx::<Message, _>(&t.order_intake, groups::ORDER, store, self.clone())
            .handle_tx::<Json<StockRejected>, _>(
                &t.stock_rejected,
                groups::ORDER,
                store,
                self.clone(),
            )
            .handle_tx::<Json<PaymentSucceeded>, _>(
                &t.payment_succeeded,
                groups::ORDER,
                store,
                self.clone(),
            )
            .handle_tx::<Json<PaymentFailed>, _>(
                &t.payment_failed,
                groups::ORDER,
                store,
                self.clone(),
            );
    }
}

/// The id of an intake order that carries none: derived from the message body, so every
/// delivery of one message (whatever id the broker gives it) is the same order.
pub fn intake_id(message: &Message) -> String {
    format!(
        "intake-{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, &message.payload).simple()
    )
}

#[async_trait]
impl TxHandler<Message> for OrderService {
    async fn handle(
        &self,
        message: Message,
        tx: &mut Tx,
        _ctx: &Context,
    ) -> Result<(), HandlerError> {
        let intake: OrderIntake = codec::from_json(&message).map_err(HandlerError::permanent)?;
        self.place_in(tx, intake, || intake_id(&message)).await?;
        Ok(())
    }
}

#[async_trait]
impl TxHandler<Json<StockRejected>> for OrderService {
    async fn handle(
        &self,
        Json(event): Json<StockRejected>,
        tx: &mut Tx,
        _ctx: &Context,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let status = OrderStatus::Cancelled {
            cause: CancelCause::Stock,
            reason: event.reason,
        };
        self.settle(tx, &event.order_id, status).await
    }
}

#[async_trait]
impl TxHandler<Json<PaymentSucceeded>> for OrderService {
    /// Confirms the order, when the amount paid is its total; any other amount is a
    /// permanent error.
    async fn handle(
        &self,
        Json(event): Json<PaymentSucceeded>,
        tx: &mut Tx,
        _ctx: &Context,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let order = repository::get(tx.conn(), self.store.prefix(), &event.order_id).await?;
        if let Some(order) = order {
            if order.total_minor != event.amount_minor {
                return Err(HandlerError::permanent(format!(
                    "payment of {} for order {} differs from its total {}",
                    event.amount_minor, order.id, order.total_minor
                )));
            }
        }
        let status = OrderStatus::Confirmed {
            payment_id: event.payment_id,
        };
        self.settle(tx, &event.order_id, status).await
    }
}

#[async_trait]
impl TxHandler<Json<PaymentFailed>> for OrderService {
    async fn handle(
        &self,
        Json(event): Json<PaymentFailed>,
        tx: &mut Tx,
        _ctx: &Context,
    ) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let status = OrderStatus::Cancelled {
            cause: CancelCause::Payment,
            reason: event.reason,
        };
        self.settle(tx, &event.order_id, status).await
    }
}

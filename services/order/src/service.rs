//! [`OrderService`]: placing orders and settling them from the saga's events.

use std::sync::Arc;

use courier_contracts::{
    Catalog, ContractError, Event, OrderIntake, PaymentFailed, PaymentSucceeded, SagaTopics,
    StockRejected, StoreError, groups, publish,
};
use courier_core::{HandlerError, Producer, Runtime, new_id};
use tracing::debug;

use crate::{CancelCause, Inserted, Order, OrderRepository, OrderStatus, Settled};

/// Told once per order, when it moves from pending to confirmed or cancelled.
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
    /// The order store failed. Transient.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `OrderPlaced` could not be published; transient when the broker may take it later.
    #[error("publishing OrderPlaced failed: {0}")]
    Publish(#[from] courier_core::Error),
}

impl From<PlaceError> for HandlerError {
    fn from(error: PlaceError) -> Self {
        match error {
            PlaceError::Invalid(e) => HandlerError::permanent(e),
            PlaceError::Store(e) => e.into(),
            PlaceError::Publish(e) => e.into(),
        }
    }
}

/// The order service: its store, the producer it publishes with, the topics and the catalog
/// that prices orders.
pub struct OrderService {
    orders: Arc<dyn OrderRepository>,
    producer: Arc<dyn Producer>,
    topics: SagaTopics,
    catalog: Arc<Catalog>,
    observer: Option<Arc<dyn SettlementObserver>>,
}

impl OrderService {
    /// A service storing orders in `orders` and publishing with `producer`.
    pub fn new(
        orders: Arc<dyn OrderRepository>,
        producer: Arc<dyn Producer>,
        topics: SagaTopics,
        catalog: Arc<Catalog>,
    ) -> Self {
        Self {
            orders,
            producer,
            topics,
            catalog,
            observer: None,
        }
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

    /// The order `id`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.orders.get(id).await
    }

    /// Places an order: validates and prices it, stores it as pending, publishes
    /// `OrderPlaced`. An order without an id gets a fresh one. This is the path of
    /// `POST /orders`.
    ///
    /// # Errors
    /// As for [`place_with_fallback_id`](OrderService::place_with_fallback_id).
    pub async fn place(&self, intake: OrderIntake) -> Result<Placed, PlaceError> {
        self.place_with_fallback_id(intake, new_id).await
    }

    /// Places an order whose id, when absent, is `fallback_id()`. An id seen before is the
    /// same order: nothing new is stored, and while it is still pending its `OrderPlaced` is
    /// published again (which heals a crash between storing and publishing; consumers are
    /// idempotent).
    ///
    /// # Errors
    /// [`PlaceError::Invalid`] for an order that breaks a rule, [`PlaceError::Store`] and
    /// [`PlaceError::Publish`] when the store or the broker fails.
    pub async fn place_with_fallback_id(
        &self,
        intake: OrderIntake,
        fallback_id: impl FnOnce() -> String,
    ) -> Result<Placed, PlaceError> {
        let request = intake.into_request(fallback_id)?;
        let placed = self.catalog.price(&request)?;
        let order = Order::pending(&placed);
        let (event, created, status) = match self.orders.insert_if_absent(order).await? {
            Inserted::New => (Some(placed), true, OrderStatus::Pending.name()),
            Inserted::Existing(existing) => {
                let status = existing.status.name();
                let event = (!existing.status.is_settled()).then(|| existing.placed_event());
                (event, false, status)
            }
        };
        if let Some(event) = event {
            publish(self.producer.as_ref(), &self.topics.order_placed, &event).await?;
        }
        debug!(order_id = %request.order_id, created, status, "order placed");
        Ok(Placed {
            order_id: request.order_id,
            created,
            status,
        })
    }

    /// Cancels the order for lack of stock.
    ///
    /// # Errors
    /// Permanent for an invalid event or an unknown order, transient when the store fails.
    pub async fn on_stock_rejected(&self, event: StockRejected) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let status = OrderStatus::Cancelled {
            cause: CancelCause::Stock,
            reason: event.reason,
        };
        self.settle(&event.order_id, status).await
    }

    /// Confirms the order.
    ///
    /// # Errors
    /// As for [`on_stock_rejected`](OrderService::on_stock_rejected).
    pub async fn on_payment_succeeded(&self, event: PaymentSucceeded) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let status = OrderStatus::Confirmed {
            payment_id: event.payment_id,
        };
        self.settle(&event.order_id, status).await
    }

    /// Cancels the order because its payment failed.
    ///
    /// # Errors
    /// As for [`on_stock_rejected`](OrderService::on_stock_rejected).
    pub async fn on_payment_failed(&self, event: PaymentFailed) -> Result<(), HandlerError> {
        event.validate().map_err(HandlerError::permanent)?;
        let status = OrderStatus::Cancelled {
            cause: CancelCause::Payment,
            reason: event.reason,
        };
        self.settle(&event.order_id, status).await
    }

    async fn settle(&self, order_id: &str, status: OrderStatus) -> Result<(), HandlerError> {
        match self.orders.settle(order_id, status).await? {
            Settled::Now(order) => {
                debug!(order_id, status = order.status.name(), "order settled");
                if let Some(observer) = &self.observer {
                    observer.settled(&order);
                }
                Ok(())
            }
            Settled::Already(order) => {
                debug!(
                    order_id,
                    status = order.status.name(),
                    "order already settled; duplicate ignored"
                );
                Ok(())
            }
            Settled::Unknown => Err(HandlerError::permanent(format!(
                "order {order_id} is not known to this order service"
            ))),
        }
    }

    /// Registers the service's handlers on `runtime`, in group [`groups::ORDER`]: the intake
    /// topic (both shapes; a message without an order id uses its message id, so a
    /// redelivery is the same order), `StockRejected`, `PaymentSucceeded` and `PaymentFailed`.
    pub fn register(self: &Arc<Self>, runtime: &mut Runtime) {
        let topics = &self.topics;
        let svc = self.clone();
        runtime.handle_json(
            &topics.order_intake,
            groups::ORDER,
            move |intake: OrderIntake, ctx| {
                let svc = svc.clone();
                async move {
                    svc.place_with_fallback_id(intake, || ctx.message_id)
                        .await
                        .map(drop)
                        .map_err(HandlerError::from)
                }
            },
        );
        let svc = self.clone();
        runtime.handle_json(&topics.stock_rejected, groups::ORDER, move |event, _ctx| {
            let svc = svc.clone();
            async move { svc.on_stock_rejected(event).await }
        });
        let svc = self.clone();
        runtime.handle_json(
            &topics.payment_succeeded,
            groups::ORDER,
            move |event, _ctx| {
                let svc = svc.clone();
                async move { svc.on_payment_succeeded(event).await }
            },
        );
        let svc = self.clone();
        runtime.handle_json(&topics.payment_failed, groups::ORDER, move |event, _ctx| {
            let svc = svc.clone();
            async move { svc.on_payment_failed(event).await }
        });
    }
}

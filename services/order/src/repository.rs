//! [`OrderRepository`]: where orders live, and [`MemoryOrders`], the in-memory one.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use async_trait::async_trait;
use courier_contracts::StoreError;

use crate::{Order, OrderStatus};

/// What [`OrderRepository::insert_if_absent`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// The order is new and was stored.
    New,
    /// An order with this id exists already; it is returned unchanged.
    Existing(Order),
}

/// What [`OrderRepository::settle`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The order was pending and is now settled; the order after the change.
    Now(Order),
    /// The order was settled before and was left as it was.
    Already(Order),
    /// No order has this id.
    Unknown,
}

/// Stores orders. Every operation is atomic per order, so duplicate or concurrent deliveries
/// cannot store an order twice or settle it twice.
#[async_trait]
pub trait OrderRepository: Send + Sync + 'static {
    /// Stores `order` unless one with its id exists.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn insert_if_absent(&self, order: Order) -> Result<Inserted, StoreError>;

    /// The order `id`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError>;

    /// Moves order `id` from pending to `status`; a settled order is never changed.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn settle(&self, id: &str, status: OrderStatus) -> Result<Settled, StoreError>;
}

/// Orders in process memory, lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryOrders {
    orders: Mutex<HashMap<String, Order>>,
}

impl MemoryOrders {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every order, in no particular order.
    pub fn all(&self) -> Vec<Order> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Order>> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl OrderRepository for MemoryOrders {
    async fn insert_if_absent(&self, order: Order) -> Result<Inserted, StoreError> {
        let mut orders = self.lock();
        if let Some(existing) = orders.get(&order.id) {
            return Ok(Inserted::Existing(existing.clone()));
        }
        orders.insert(order.id.clone(), order);
        Ok(Inserted::New)
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        Ok(self.lock().get(id).cloned())
    }

    async fn settle(&self, id: &str, status: OrderStatus) -> Result<Settled, StoreError> {
        let mut orders = self.lock();
        let Some(order) = orders.get_mut(id) else {
            return Ok(Settled::Unknown);
        };
        if order.status.is_settled() {
            return Ok(Settled::Already(order.clone()));
        }
        order.status = status;
        Ok(Settled::Now(order.clone()))
    }
}

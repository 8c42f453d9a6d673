//! [`PaymentRepository`]: the charge decided for each order, and [`MemoryPayments`].

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use courier_contracts::StoreError;

use crate::Charge;

/// The charge decided for each order.
#[async_trait]
pub trait PaymentRepository: Send + Sync + 'static {
    /// The charge of `order_id`, if decided.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, order_id: &str) -> Result<Option<Charge>, StoreError>;

    /// Records `charge` unless its order has one; returns the one that is kept.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn record(&self, charge: Charge) -> Result<Charge, StoreError>;

    /// Every recorded charge, in no particular order.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn all(&self) -> Result<Vec<Charge>, StoreError>;
}

/// Charges in process memory.
#[derive(Debug, Default)]
pub struct MemoryPayments {
    charges: Mutex<HashMap<String, Charge>>,
}

impl MemoryPayments {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Charge>> {
        self.charges.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PaymentRepository for MemoryPayments {
    async fn get(&self, order_id: &str) -> Result<Option<Charge>, StoreError> {
        Ok(self.lock().get(order_id).cloned())
    }

    async fn record(&self, charge: Charge) -> Result<Charge, StoreError> {
        Ok(self
            .lock()
            .entry(charge.order_id.clone())
            .or_insert(charge)
            .clone())
    }

    async fn all(&self) -> Result<Vec<Charge>, StoreError> {
        Ok(self.lock().values().cloned().collect())
    }
}

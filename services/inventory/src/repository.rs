//! [`StockRepository`]: stock levels and reservations per order, and [`MemoryStock`].

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use courier_contracts::{CatalogItem, OrderLine, StoreError};

/// What the repository remembers of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Its lines are held.
    Held(Vec<OrderLine>),
    /// It was refused; nothing was held.
    Rejected(String),
    /// Its lines were held, then given back (or it was released before it was seen).
    Released,
}

/// What [`StockRepository::reserve`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// Every line is held. `fresh` is false when they were held before (a duplicate).
    Held {
        /// Whether this call moved the stock.
        fresh: bool,
    },
    /// Nothing is held. `fresh` is false when the order was refused before.
    Rejected {
        /// Why, for people.
        reason: String,
        /// Whether this call decided it.
        fresh: bool,
    },
    /// The order was released before; nothing is held again.
    Released,
}

/// What [`StockRepository::release`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Released {
    /// The held lines went back to stock.
    Now,
    /// Nothing to give back: released before, refused, or never seen (then it is remembered
    /// as released, so a late `OrderPlaced` holds nothing).
    Nothing,
}

/// Stock of one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockLevel {
    /// The product.
    pub sku: String,
    /// Units free to reserve.
    pub available: u32,
}

/// Stock levels and reservations. Every operation is atomic, and remembers its outcome per
/// order, so a duplicate delivery never moves stock twice.
#[async_trait]
pub trait StockRepository: Send + Sync + 'static {
    /// Holds every line of `order_id`, or none when any product is unknown or short.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn reserve(&self, order_id: &str, lines: &[OrderLine]) -> Result<Reserved, StoreError>;

    /// Gives back what `order_id` holds.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn release(&self, order_id: &str) -> Result<Released, StoreError>;

    /// What is remembered of `order_id`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError>;

    /// Every product's free stock, in catalog order.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn levels(&self) -> Result<Vec<StockLevel>, StoreError>;
}

#[derive(Debug, Default)]
struct State {
    /// Free units per sku, in catalog order.
    levels: Vec<StockLevel>,
    index: HashMap<String, usize>,
    reservations: HashMap<String, Reservation>,
}

/// Stock in process memory, starting from the catalog's levels.
#[derive(Debug, Default)]
pub struct MemoryStock {
    state: Mutex<State>,
}

impl MemoryStock {
    /// Stock of every item of `catalog` at its initial level.
    pub fn new<'a>(catalog: impl IntoIterator<Item = &'a CatalogItem>) -> Self {
        let mut state = State::default();
        for item in catalog {
            match state.index.get(&item.sku) {
                Some(&i) => state.levels[i].available = item.stock,
                None => {
                    state.index.insert(item.sku.clone(), state.levels.len());
                    state.levels.push(StockLevel {
                        sku: item.sku.clone(),
                        available: item.stock,
                    });
                }
            }
        }
        Self {
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why `lines` cannot be held now, or `None` when they can.
fn shortage(state: &State, lines: &[OrderLine]) -> Option<String> {
    // Lines naming one sku twice count together.
    let mut wanted: Vec<(&str, u64)> = Vec::with_capacity(lines.len());
    for line in lines {
        match wanted.iter_mut().find(|(sku, _)| *sku == line.sku) {
            Some((_, n)) => *n += u64::from(line.quantity),
            None => wanted.push((&line.sku, u64::from(line.quantity))),
        }
    }
    for (sku, quantity) in wanted {
        let Some(&i) = state.index.get(sku) else {
            return Some(format!("unknown sku {sku}"));
        };
        let available = state.levels[i].available;
        if u64::from(available) < quantity {
            return Some(format!(
                "insufficient stock for sku {sku}: {quantity} wanted, {available} available"
            ));
        }
    }
    None
}

#[async_trait]
impl StockRepository for MemoryStock {
    async fn reserve(&self, order_id: &str, lines: &[OrderLine]) -> Result<Reserved, StoreError> {
        let mut state = self.lock();
        match state.reservations.get(order_id) {
            Some(Reservation::Held(_)) => return Ok(Reserved::Held { fresh: false }),
            Some(Reservation::Rejected(reason)) => {
                return Ok(Reserved::Rejected {
                    reason: reason.clone(),
                    fresh: false,
                });
            }
            Some(Reservation::Released) => return Ok(Reserved::Released),
            None => {}
        }
        if let Some(reason) = shortage(&state, lines) {
            state
                .reservations
                .insert(order_id.to_owned(), Reservation::Rejected(reason.clone()));
            return Ok(Reserved::Rejected {
                reason,
                fresh: true,
            });
        }
        for line in lines {
            let i = state.index[&line.sku];
            state.levels[i].available -= line.quantity;
        }
        state
            .reservations
            .insert(order_id.to_owned(), Reservation::Held(lines.to_vec()));
        Ok(Reserved::Held { fresh: true })
    }

    async fn release(&self, order_id: &str) -> Result<Released, StoreError> {
        let mut state = self.lock();
        let previous = state
            .reservations
            .insert(order_id.to_owned(), Reservation::Released);
        match previous {
            Some(Reservation::Held(lines)) => {
                for line in lines {
                    let i = state.index[&line.sku];
                    state.levels[i].available += line.quantity;
                }
                Ok(Released::Now)
            }
            Some(Reservation::Rejected(reason)) => {
                // A refused order holds nothing; keep the refusal on record.
                state
                    .reservations
                    .insert(order_id.to_owned(), Reservation::Rejected(reason));
                Ok(Released::Nothing)
            }
            Some(Reservation::Released) | None => Ok(Released::Nothing),
        }
    }

    async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError> {
        Ok(self.lock().reservations.get(order_id).cloned())
    }

    async fn levels(&self) -> Result<Vec<StockLevel>, StoreError> {
        Ok(self.lock().levels.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock() -> MemoryStock {
        let items = [
            CatalogItem {
                sku: "a".into(),
                name: "A".into(),
                price_minor: 100,
                stock: 3,
            },
            CatalogItem {
                sku: "b".into(),
                name: "B".into(),
                price_minor: 200,
                stock: 1,
            },
        ];
        MemoryStock::new(&items)
    }

    fn line(sku: &str, quantity: u32) -> OrderLine {
        OrderLine {
            sku: sku.into(),
            quantity,
            unit_price_minor: 1,
        }
    }

    async fn available(stock: &MemoryStock) -> Vec<u32> {
        stock
            .levels()
            .await
            .expect("levels")
            .into_iter()
            .map(|l| l.available)
            .collect()
    }

    #[tokio::test]
    async fn reserves_all_or_nothing_and_only_once() {
        let s = stock();
        assert_eq!(
            s.reserve("o1", &[line("a", 2), line("b", 1)])
                .await
                .expect("ok"),
            Reserved::Held { fresh: true }
        );
        assert_eq!(
            s.reserve("o1", &[line("a", 2), line("b", 1)])
                .await
                .expect("ok"),
            Reserved::Held { fresh: false }
        );
        assert_eq!(available(&s).await, vec![1, 0]);
        let refused = s
            .reserve("o2", &[line("a", 1), line("b", 1)])
            .await
            .expect("ok");
        assert!(
            matches!(refused, Reserved::Rejected { fresh: true, .. }),
            "{refused:?}"
        );
        assert_eq!(
            available(&s).await,
            vec![1, 0],
            "a refused order holds nothing"
        );
        let twice = s
            .reserve("o3", &[line("a", 1), line("a", 1)])
            .await
            .expect("ok");
        assert!(
            matches!(twice, Reserved::Rejected { .. }),
            "lines of one sku add up: {twice:?}"
        );
        let unknown = s.reserve("o4", &[line("zzz", 1)]).await.expect("ok");
        assert!(
            matches!(unknown, Reserved::Rejected { ref reason, .. } if reason.contains("unknown sku"))
        );
    }

    #[tokio::test]
    async fn release_gives_back_once_and_blocks_late_reservations() {
        let s = stock();
        s.reserve("o1", &[line("a", 3)]).await.expect("ok");
        assert_eq!(s.release("o1").await.expect("ok"), Released::Now);
        assert_eq!(s.release("o1").await.expect("ok"), Released::Nothing);
        assert_eq!(available(&s).await, vec![3, 1]);
        assert_eq!(
            s.reserve("o1", &[line("a", 3)]).await.expect("ok"),
            Reserved::Released
        );
        assert_eq!(available(&s).await, vec![3, 1]);
        assert_eq!(
            s.release("never-seen").await.expect("ok"),
            Released::Nothing
        );
        assert_eq!(
            s.reserve("never-seen", &[line("a", 1)]).await.expect("ok"),
            Reserved::Released
        );
        s.reserve("o5", &[line("b", 5)]).await.expect("ok");
        assert_eq!(s.release("o5").await.expect("ok"), Released::Nothing);
        assert!(matches!(
            s.reservation("o5").await.expect("ok"),
            Some(Reservation::Rejected(_))
        ));
    }
}

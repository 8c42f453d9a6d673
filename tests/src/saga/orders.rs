//! The saga test's catalog and orders.

use courier_contracts::{CatalogItem, OrderIntake};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::index::sample};

/// The payment limit of the saga test: charges above it are declined.
pub const DECLINE_ABOVE_MINOR: i64 = 50_000;

/// The saga test's catalog: plenty of two cheap products, a scarce one that runs out, one
/// out of stock, and a dear one that is declined at two units.
pub fn saga_catalog() -> Vec<CatalogItem> {
    let item = |sku: &str, price_minor: i64, stock: u32| CatalogItem {
        sku: sku.into(),
        name: format!("test product {sku}"),
        price_minor,
        stock,
    };
    vec![
        item("plenty", 700, 1_000_000),
        item("cheap", 150, 1_000_000),
        item("scarce", 2_500, 25),
        item("gone", 999, 0),
        item("dear", 30_000, 1_000_000),
    ]
}

/// One order of the test and how it is sent.
#[derive(Clone, Debug)]
pub(crate) struct SagaOrder {
    /// The order.
    pub(crate) intake: OrderIntake,
    /// Sent on the intake topic (else through the place-order function).
    pub(crate) via_topic: bool,
}

impl SagaOrder {
    pub(crate) fn id(&self) -> &str {
        self.intake.order_id.as_deref().unwrap_or_default()
    }
}

/// `count` orders of 1 to 3 distinct products, 1 to 3 units each, from `seed`, with ids
/// unique to this run; every other one goes on the intake topic, single-line ones in the
/// external producers' shape.
pub(crate) fn saga_orders(count: usize, seed: u64) -> Vec<SagaOrder> {
    let catalog = saga_catalog();
    let run = crate::support::unique_name("o");
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|n| {
            let id = format!("{run}-{n}");
            let lines = rng.random_range(1..=3);
            let picked = sample(&mut rng, catalog.len(), lines);
            let lines: Vec<(String, i64)> = picked
                .iter()
                .map(|i| (catalog[i].sku.clone(), rng.random_range(1..=3)))
                .collect();
            let intake = match lines.as_slice() {
                [(sku, quantity)] if n % 4 == 1 => OrderIntake::single(id, sku.clone(), *quantity),
                _ => OrderIntake::full(id, Some(format!("customer-{}", n % 17)), lines),
            };
            SagaOrder {
                intake,
                via_topic: n % 2 == 1,
            }
        })
        .collect()
}

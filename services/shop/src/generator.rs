//! [`demo_orders`]: the demo's orders, the same for the same seed.

use std::collections::HashMap;

use courier_contracts::{Catalog, OrderIntake};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// The seed of `shop demo`.
pub const DEFAULT_SEED: u64 = 0x5eed;

/// `count` single-line orders (the shape external producers send) over `catalog`, drawn
/// from `seed`: a uniformly chosen product, 1 to 3 units, ids `<run>-<n>`.
///
/// The outcome counts do not depend on the order in which the services handle them: a
/// product asked for more than its stock is scarce, and every order of a scarce product
/// asks for one unit, so exactly `stock` of them get one whoever comes first. (Only a scarce
/// product dearer than the payment limit would still depend on timing, since its declined
/// orders release stock for others; the default catalog has none.) Empty when the catalog
/// is.
pub fn demo_orders(catalog: &Catalog, count: usize, seed: u64, run: &str) -> Vec<OrderIntake> {
    let items = catalog.items();
    if items.is_empty() {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut picks: Vec<(usize, u32)> = (0..count)
        .map(|_| (rng.random_range(0..items.len()), rng.random_range(1..=3)))
        .collect();
    let mut demand: HashMap<usize, u64> = HashMap::new();
    for &(item, quantity) in &picks {
        *demand.entry(item).or_default() += u64::from(quantity);
    }
    for (item, quantity) in &mut picks {
        if demand[item] > u64::from(items[*item].stock) {
            *quantity = 1;
        }
    }
    picks
        .into_iter()
        .enumerate()
        .map(|(n, (item, quantity))| {
            OrderIntake::single(
                format!("{run}-{n:06}"),
                items[item].sku.clone(),
                i64::from(quantity),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use courier_contracts::CatalogItem;

    use super::*;

    fn catalog() -> Catalog {
        Catalog::new([
            CatalogItem {
                sku: "a".into(),
                name: "A".into(),
                price_minor: 1,
                stock: 1000,
            },
            CatalogItem {
                sku: "b".into(),
                name: "B".into(),
                price_minor: 1,
                stock: 5,
            },
        ])
    }

    #[test]
    fn same_seed_same_orders_and_scarce_products_ask_for_one() {
        let one = demo_orders(&catalog(), 200, 7, "r");
        assert_eq!(one, demo_orders(&catalog(), 200, 7, "r"));
        assert_ne!(one, demo_orders(&catalog(), 200, 8, "r"));
        assert_eq!(one.len(), 200);
        let scarce: Vec<_> = one
            .iter()
            .filter(|o| o.product_id.as_deref() == Some("b"))
            .collect();
        assert!(scarce.len() > 5, "b must be over-asked for this test");
        assert!(scarce.iter().all(|o| o.quantity == Some(1)));
        assert!(one.iter().any(|o| o.quantity.is_some_and(|q| q > 1)));
        assert_eq!(one[3].order_id.as_deref(), Some("r-000003"));
    }
}

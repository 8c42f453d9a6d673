//! The default catalog: ten products, SKUs `1001` to `1010`.
//!
//! It is shaped for the demo (1,000 orders of a random SKU, quantity 1 to 3): most orders are
//! confirmed; SKU `1010` has no stock and `1009` little, so some are rejected for stock; the
//! two dearest products cost more than the default decline threshold (500.00) at quantity 3,
//! so some payments are declined.

use crate::CatalogItem;

/// `(sku, name, price in cents, stock)`.
const DEFAULT: [(&str, &str, i64, u32); 10] = [
    ("1001", "Enamel mug", 549, 600),
    ("1002", "A5 notebook", 799, 600),
    ("1003", "USB-C cable, 1 m", 1_299, 600),
    ("1004", "Wireless mouse", 2_490, 500),
    ("1005", "Desk lamp", 3_450, 500),
    ("1006", "Mechanical keyboard", 8_900, 400),
    ("1007", "Noise-cancelling headphones", 19_900, 400),
    ("1008", "27-inch monitor", 24_999, 400),
    ("1009", "Limited-edition print", 1_999, 30),
    ("1010", "Discontinued gadget", 1_499, 0),
];

/// The default catalog.
pub(crate) fn default_catalog() -> Vec<CatalogItem> {
    DEFAULT
        .iter()
        .map(|&(sku, name, price_minor, stock)| CatalogItem {
            sku: sku.into(),
            name: name.into(),
            price_minor,
            stock,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates the demo on the default catalog with a fixed sequence of orders (a simple
    /// linear congruential generator): some orders must be rejected for stock, some declined,
    /// and most confirmed.
    #[test]
    fn demo_has_rejections_declines_and_mostly_confirmations() {
        let decline_above = crate::PaymentSettings::default().decline_above_minor;
        let mut stock: Vec<i64> = default_catalog()
            .iter()
            .map(|i| i64::from(i.stock))
            .collect();
        let prices: Vec<i64> = default_catalog().iter().map(|i| i.price_minor).collect();
        let (mut confirmed, mut rejected, mut declined) = (0, 0, 0);
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        for _ in 0..1_000 {
            let sku = next(10) as usize;
            let quantity = next(3) as i64 + 1;
            if stock[sku] < quantity {
                rejected += 1;
            } else if prices[sku] * quantity > decline_above {
                declined += 1;
            } else {
                stock[sku] -= quantity;
                confirmed += 1;
            }
        }
        assert!(rejected >= 50, "rejected {rejected}");
        assert!(declined >= 30, "declined {declined}");
        assert!(confirmed >= 700, "confirmed {confirmed}");
        assert!(prices.iter().all(|&p| (500..=25_000).contains(&p)));
    }
}

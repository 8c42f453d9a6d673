//! The [`Catalog`]: products, their prices and their initial stock.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{ContractError, OrderLine, OrderPlaced, OrderRequest};

/// One product of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    /// The product's id.
    pub sku: String,
    /// Its name, for people.
    pub name: String,
    /// Price of one unit, in minor units.
    pub price_minor: i64,
    /// Units in stock at start.
    pub stock: u32,
}

/// The products an order may name, with their prices.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    items: Vec<CatalogItem>,
    index: HashMap<String, usize>,
}

impl Catalog {
    /// A catalog of `items`; a sku given twice keeps its last entry.
    pub fn new(items: impl IntoIterator<Item = CatalogItem>) -> Self {
        let mut catalog = Self::default();
        for item in items {
            match catalog.index.get(&item.sku) {
                Some(&i) => catalog.items[i] = item,
                None => {
                    catalog.index.insert(item.sku.clone(), catalog.items.len());
                    catalog.items.push(item);
                }
            }
        }
        catalog
    }

    /// The product `sku`.
    pub fn get(&self, sku: &str) -> Option<&CatalogItem> {
        self.index.get(sku).map(|&i| &self.items[i])
    }

    /// Every product, in the order given.
    pub fn items(&self) -> &[CatalogItem] {
        &self.items
    }

    /// Whether the catalog has no products.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `request` priced from the catalog, as the event that places it.
    ///
    /// # Errors
    /// [`ContractError::UnknownSku`] for a product the catalog lacks,
    /// [`ContractError::NegativeAmount`] for a negative price, and
    /// [`ContractError::InconsistentAmount`] when the total overflows.
    pub fn price(&self, request: &OrderRequest) -> Result<OrderPlaced, ContractError> {
        let mut lines = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let item = self
                .get(&line.sku)
                .ok_or_else(|| ContractError::UnknownSku {
                    order_id: request.order_id.clone(),
                    sku: line.sku.clone(),
                })?;
            if item.price_minor < 0 {
                return Err(ContractError::NegativeAmount {
                    order_id: request.order_id.clone(),
                    field: "price_minor",
                    value: item.price_minor,
                });
            }
            lines.push(OrderLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price_minor: item.price_minor,
            });
        }
        let placed = OrderPlaced::new(request.order_id.clone(), request.customer_id.clone(), lines);
        crate::Event::validate(&placed)?;
        Ok(placed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestedLine;

    fn catalog() -> Catalog {
        Catalog::new([
            CatalogItem {
                sku: "1001".into(),
                name: "Mug".into(),
                price_minor: 1250,
                stock: 5,
            },
            CatalogItem {
                sku: "1002".into(),
                name: "Tee".into(),
                price_minor: 2000,
                stock: 1,
            },
        ])
    }

    fn request(lines: &[(&str, u32)]) -> OrderRequest {
        OrderRequest {
            order_id: "o".into(),
            customer_id: None,
            lines: lines
                .iter()
                .map(|&(sku, quantity)| RequestedLine {
                    sku: sku.into(),
                    quantity,
                })
                .collect(),
        }
    }

    #[test]
    fn prices_lines_and_total() {
        let placed = catalog()
            .price(&request(&[("1001", 2), ("1002", 1)]))
            .expect("priced");
        assert_eq!(placed.total_minor, 4500);
        assert_eq!(placed.lines[1].unit_price_minor, 2000);
    }

    #[test]
    fn unknown_sku_and_overflow_are_errors() {
        assert!(matches!(
            catalog().price(&request(&[("9", 1)])),
            Err(ContractError::UnknownSku { .. })
        ));
        let dear = Catalog::new([CatalogItem {
            sku: "x".into(),
            name: "x".into(),
            price_minor: i64::MAX,
            stock: 1,
        }]);
        assert!(matches!(
            dear.price(&request(&[("x", 2)])),
            Err(ContractError::InconsistentAmount { .. })
        ));
    }
}

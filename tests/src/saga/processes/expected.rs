//! What a process run's orders must come to: the catalog the runs start with
//! ([`process_catalog`]), the outcome each order must have on it ([`expected_status`]), and
//! the stock the confirmed orders hold ([`confirmed_units`]).

use std::collections::BTreeMap;

use courier_contracts::{Catalog, CatalogItem, OrderIntake};
use serde_json::Value;

use crate::saga::orders::{DECLINE_ABOVE_MINOR, saga_catalog};

/// The catalog of the process runs: the saga catalog with stock that never runs short, so
/// each order's outcome is known in advance (see [`expected_status`]).
pub fn process_catalog() -> Vec<CatalogItem> {
    saga_catalog()
        .into_iter()
        .map(|mut item| {
            if item.stock > 0 {
                item.stock = 1_000_000;
            }
            item
        })
        .collect()
}

/// The status and cancel cause an order must end with on [`process_catalog`]: `cancelled`
/// (`stock`) when it names a product out of stock, else `cancelled` (`payment`) when its
/// total exceeds [`DECLINE_ABOVE_MINOR`], else `confirmed`.
pub fn expected_status(intake: &OrderIntake) -> (&'static str, Option<&'static str>) {
    let catalog = Catalog::new(process_catalog());
    let request = intake
        .clone()
        .into_request(String::new)
        .expect("test orders are valid");
    if request
        .lines
        .iter()
        .any(|l| catalog.get(&l.sku).is_none_or(|i| i.stock < l.quantity))
    {
        return ("cancelled", Some("stock"));
    }
    let placed = catalog.price(&request).expect("test orders are priced");
    if placed.total_minor > DECLINE_ABOVE_MINOR {
        ("cancelled", Some("payment"))
    } else {
        ("confirmed", None)
    }
}

/// Units per SKU held by the confirmed orders among `views` (`GET /orders/{id}` answers).
pub(super) fn confirmed_units<'a>(views: impl Iterator<Item = &'a Value>) -> BTreeMap<String, i64> {
    let mut held: BTreeMap<String, i64> = BTreeMap::new();
    for view in views.filter(|v| v["status"] == "confirmed") {
        for line in view["lines"].as_array().into_iter().flatten() {
            let sku = line["sku"].as_str().unwrap_or_default().to_owned();
            *held.entry(sku).or_default() += line["quantity"].as_i64().unwrap_or(0);
        }
    }
    held
}

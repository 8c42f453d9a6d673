//! [`run_scale_out`]: two instances of every service sharing PostgreSQL stores, with its
//! checks that they agree on every order and never oversell.

use std::{collections::BTreeMap, time::Duration};

use serde_json::Value;

use super::cluster::Cluster;
use super::expected::confirmed_units;
use super::http::post_all;
use crate::saga::orders::saga_orders;

/// What [`run_scale_out`] saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScaleOutReport {
    /// Orders posted, half to each order instance.
    pub orders: usize,
    /// Orders confirmed.
    pub confirmed: usize,
    /// Orders cancelled.
    pub cancelled: usize,
    /// Units of the scarce product confirmed, and its stock.
    pub scarce_confirmed: i64,
    /// The scarce product's initial stock.
    pub scarce_stock: i64,
}

/// Two instances of every service on the broker of `broker_section`, sharing the stores at
/// `store_url` (PostgreSQL): `orders` orders posted across both order instances, for a
/// catalog with a product of less stock than ordered. Checks that every order settles,
/// that either order instance answers for any order, that confirmed quantities never
/// exceed the stock and equal what left it, and that no order is charged twice.
///
/// # Panics
/// When any of that fails; the message carries the tail of the logs.
pub async fn run_scale_out(broker_section: &str, store_url: &str, orders: usize) -> ScaleOutReport {
    let catalog = crate::saga::saga_catalog();
    let mut cluster = Cluster::start_with_catalog(
        broker_section,
        crate::saga::fresh_topics(),
        Some(store_url),
        &catalog,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let fail = |cluster: &Cluster, msg: String| -> ! { panic!("{msg}\n{}", cluster.logs()) };
    let second = cluster
        .add_instances()
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    let placed = saga_orders(orders, 11);
    let (first_half, second_half) = placed.split_at(placed.len() / 2);
    let (a, b) = tokio::join!(
        post_all(
            cluster.http.clone(),
            cluster.base_url.clone(),
            first_half.to_vec()
        ),
        post_all(cluster.http.clone(), second.clone(), second_half.to_vec()),
    );
    a.and(b).unwrap_or_else(|e| fail(&cluster, e));
    let ids: Vec<String> = placed.iter().map(|o| o.id().to_owned()).collect();
    let views = cluster.wait_settled(&ids, Duration::from_secs(120)).await;
    let mut report = ScaleOutReport {
        orders: placed.len(),
        ..ScaleOutReport::default()
    };
    let mut confirmed_totals = BTreeMap::new();
    for id in &ids {
        let view = views
            .get(id)
            .unwrap_or_else(|| fail(&cluster, format!("order {id} unknown")));
        match view["status"].as_str() {
            Some("confirmed") => {
                report.confirmed += 1;
                confirmed_totals.insert(id.clone(), view["total_minor"].as_i64().unwrap_or(-1));
            }
            Some("cancelled") => report.cancelled += 1,
            _ => fail(&cluster, format!("order {id} did not settle: {view}")),
        }
    }
    // The other order instance answers for every order the same way.
    for id in ids.iter().step_by(7) {
        let url = format!("{second}/orders/{id}");
        let other: Option<Value> = match cluster.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        if other.as_ref() != views.get(id) {
            fail(
                &cluster,
                format!("the second order instance answers {other:?} for {id}"),
            );
        }
    }
    let held = confirmed_units(views.values());
    let stock = cluster.stock().await.unwrap_or_else(|e| fail(&cluster, e));
    for item in &catalog {
        let left = stock.get(&item.sku).copied().unwrap_or(-1);
        let confirmed = held.get(&item.sku).copied().unwrap_or(0);
        if confirmed > i64::from(item.stock) || i64::from(item.stock) - left != confirmed {
            fail(
                &cluster,
                format!(
                    "{}: stock {}, {left} left, {confirmed} confirmed",
                    item.sku, item.stock
                ),
            );
        }
        if item.sku == "scarce" {
            report.scarce_confirmed = confirmed;
            report.scarce_stock = i64::from(item.stock);
        }
    }
    let (approved, _) = cluster
        .approved_charges()
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    if approved != confirmed_totals {
        fail(
            &cluster,
            "charges differ from the confirmed orders' totals".into(),
        );
    }
    cluster.stop().await.unwrap_or_else(|e| panic!("{e}"));
    report
}

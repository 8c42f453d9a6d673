//! [`run_processes`]: the saga with the three binaries as processes, from start to graceful
//! stop, killing and restarting a service on the way when asked ([`ProcessOptions`]), with
//! its checks of every order's outcome, the charges, the stock, the API's errors and the
//! metrics.

use std::{collections::BTreeMap, time::Duration};

use super::binaries::Service;
use super::cluster::Cluster;
use super::eventually::eventually;
use super::expected::{confirmed_units, expected_status, process_catalog};
use super::http::post_all;
use super::metrics::check_metrics;
use super::report::ProcessReport;
use crate::saga::orders::{SagaOrder, saga_orders};

/// How [`run_processes`] runs.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// Orders to post over HTTP.
    pub orders: usize,
    /// Kill this service with SIGKILL once the gateway has charged
    /// [`kill_after_charges`](Self::kill_after_charges) orders, then start it again.
    pub kill: Option<Service>,
    /// Charges the gateway makes before [`kill`](Self::kill) strikes (0: as soon as posting
    /// begins, so the victim's events wait for it while it is down).
    pub kill_after_charges: usize,
    /// How long every order may take to settle.
    pub settle_timeout: Duration,
    /// The services' store URL (`{service}` replaced by each name); `None`: a SQLite file
    /// per service in the run's temporary folder.
    pub store_url: Option<String>,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        Self {
            orders: 120,
            kill: None,
            kill_after_charges: 5,
            settle_timeout: Duration::from_secs(90),
            store_url: None,
        }
    }
}

/// Starts the three binaries on the broker of `broker_section`, checks the HTTP API's
/// answers to bad input, posts the orders over HTTP (killing and restarting a service
/// half-way when asked), polls `GET /orders/{id}` until all settle, and checks that each
/// ended as [`expected_status`] says, that the gateway's charges charged no order twice and
/// charged exactly the confirmed orders their totals, and that every process stops
/// gracefully on SIGTERM.
///
/// # Panics
/// When any of that fails; the message carries the tail of each process's log.
pub async fn run_processes(broker_section: &str, options: ProcessOptions) -> ProcessReport {
    let topics = crate::saga::fresh_topics();
    let mut cluster = Cluster::start(broker_section, topics, options.store_url.as_deref())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fail = |cluster: &Cluster, msg: String| -> ! { panic!("{msg}\n{}", cluster.logs()) };

    check_api_errors(&cluster)
        .await
        .unwrap_or_else(|e| fail(&cluster, e));

    let orders: Vec<SagaOrder> = saga_orders(options.orders, 7);
    let mut report_kill = ProcessReport::default();
    let poster = tokio::spawn(post_all(
        cluster.http.clone(),
        cluster.base_url.clone(),
        orders.clone(),
    ));
    if let Some(victim) = options.kill {
        // Kill mid-run: once the gateway has charged a few orders (orders may still be coming
        // in, or all be posted and waiting to settle).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            let charged = cluster.charges().await.map_or(0, |j| j.len());
            if charged >= options.kill_after_charges {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cluster
            .kill(victim)
            .await
            .unwrap_or_else(|e| fail(&cluster, e));
        report_kill.charges_before_kill = cluster.charges().await.map_or(0, |j| j.len());
        report_kill.posting_when_killed = !poster.is_finished();
        cluster
            .restart(victim)
            .await
            .unwrap_or_else(|e| fail(&cluster, e));
    }
    poster
        .await
        .unwrap_or_else(|e| fail(&cluster, format!("the posting task failed: {e}")))
        .unwrap_or_else(|e| fail(&cluster, e));

    let ids: Vec<String> = orders.iter().map(|o| o.id().to_owned()).collect();
    let views = cluster.wait_settled(&ids, options.settle_timeout).await;
    let mut report = ProcessReport {
        orders: orders.len(),
        ..report_kill
    };
    let mut confirmed_totals = BTreeMap::new();
    for order in &orders {
        let view = views
            .get(order.id())
            .unwrap_or_else(|| fail(&cluster, format!("order {} unknown", order.id())));
        let (status, cause) = expected_status(&order.intake);
        if view["status"] != status || view["cancelled_by"].as_str() != cause {
            fail(
                &cluster,
                format!(
                    "order {} should be {status} ({cause:?}), is {view}",
                    order.id()
                ),
            );
        }
        match cause {
            None => {
                report.confirmed += 1;
                confirmed_totals.insert(
                    order.id().to_owned(),
                    view["total_minor"].as_i64().unwrap_or(-1),
                );
            }
            Some("stock") => report.cancelled_stock += 1,
            Some(_) => report.cancelled_payment += 1,
        }
        if status == "cancelled" && view["reason"].as_str().is_none_or(str::is_empty) {
            fail(
                &cluster,
                format!("cancelled order {} has no reason: {view}", order.id()),
            );
        }
    }

    let (charged, charges) = cluster
        .approved_charges()
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    if charged != confirmed_totals {
        fail(
            &cluster,
            format!(
                "charges {charged:?} differ from the confirmed orders' totals {confirmed_totals:?}"
            ),
        );
    }
    report.charges = charges;
    let held = confirmed_units(views.values());
    // The inventory releases a payment-cancelled order's stock on the same `PaymentFailed`
    // the order service settles it on, so the stock may lag the views by a moment.
    eventually(Duration::from_secs(10), || check_stock(&cluster, &held))
        .await
        .unwrap_or_else(|e| fail(&cluster, e));

    check_metrics(&cluster, &report, options.kill.is_some())
        .await
        .unwrap_or_else(|e| fail(&cluster, e));
    cluster.stop().await.unwrap_or_else(|e| panic!("{e}"));
    report
}

/// The stock each catalog item moved by equals the units the confirmed orders hold.
async fn check_stock(cluster: &Cluster, held: &BTreeMap<String, i64>) -> Result<(), String> {
    let stock = cluster.stock().await?;
    for item in process_catalog() {
        let moved = i64::from(item.stock) - stock.get(&item.sku).copied().unwrap_or(-1);
        let expected = held.get(&item.sku).copied().unwrap_or(0);
        if moved != expected {
            return Err(format!(
                "stock of {} moved by {moved}, the confirmed orders hold {expected}",
                item.sku
            ));
        }
    }
    Ok(())
}

/// Bad input gets 400 with a JSON error, an unknown order 404, health 200.
async fn check_api_errors(cluster: &Cluster) -> Result<(), String> {
    for (body, says) in [
        ("{not json", "invalid order JSON"),
        (
            r#"{"order_id": "x1", "product_id": "plenty", "quantity": 0}"#,
            "must be positive",
        ),
        (
            r#"{"order_id": "x2", "product_id": "no-such-sku", "quantity": 1}"#,
            "unknown sku",
        ),
        (r#"{"order_id": "x3", "lines": []}"#, "has no lines"),
    ] {
        let (status, json) = cluster.post(body).await?;
        let error = json["error"].as_str().unwrap_or_default();
        if status != 400 || !error.contains(says) {
            return Err(format!(
                "POST {body} answered {status} {json}, expected 400 saying {says:?}"
            ));
        }
    }
    let (status, _) = cluster.get("/orders/no-such-order").await?;
    if status != 404 {
        return Err(format!(
            "GET of an unknown order answered {status}, expected 404"
        ));
    }
    let (status, body) = cluster.get("/healthz").await?;
    if status != 200 {
        return Err(format!("GET /healthz answered {status}: {body}"));
    }
    Ok(())
}

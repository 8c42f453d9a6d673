//! The services' `/metrics`, scraped and parsed: the runtime's counters and the business
//! counters, checked against the orders' outcomes.

use prometheus_parse::{Scrape, Value};

use super::{binaries::Service, cluster::Cluster, report::ProcessReport};

/// One service's metrics, parsed.
pub(super) struct Scraped {
    service: &'static str,
    scrape: Scrape,
}

impl Scraped {
    /// The value of sample `name` with every label of `labels`; 0 when absent (a counter
    /// that never moved has no sample yet).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    }

    fn expect(&self, name: &str, labels: &[(&str, &str)], expected: usize) -> Result<(), String> {
        let got = self.value(name, labels);
        if (got - expected as f64).abs() > f64::EPSILON {
            return Err(format!(
                "{}: {name}{labels:?} is {got}, expected {expected}",
                self.service
            ));
        }
        Ok(())
    }
}

impl Cluster {
    /// `GET /metrics` of `service`'s first instance, parsed.
    ///
    /// # Errors
    /// When it does not answer 200 with OpenMetrics text ending in `# EOF`, or a line does
    /// not parse.
    pub(super) async fn scrape(&self, service: Service) -> Result<Scraped, String> {
        let name = service.name();
        let url = self
            .metrics_urls
            .get(name)
            .ok_or_else(|| format!("{name} serves no metrics"))?;
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url} failed: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() || !text.ends_with("# EOF\n") {
            return Err(format!("GET {url} answered {status}:\n{text}"));
        }
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .map_err(|e| format!("{name}'s metrics do not parse: {e}\n{text}"))?;
        let lines = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        let histograms = scrape
            .samples
            .iter()
            .filter(|s| matches!(s.value, Value::Histogram(_)))
            .count();
        if scrape.samples.is_empty() || (scrape.samples.len() - histograms) > lines {
            return Err(format!("{name}'s metrics hold no samples:\n{text}"));
        }
        Ok(Scraped {
            service: name,
            scrape,
        })
    }
}

/// Checks every service's metrics against `report`: the runtime acked messages in each, and
/// when no process was restarted (counters start at zero in a new process), the business
/// counters count exactly the orders' outcomes. Tries again for up to 10 s: an order is
/// settled before the inventory has released its stock (both handle `PaymentFailed`).
///
/// # Errors
/// The last difference.
pub(super) async fn check_metrics(
    cluster: &Cluster,
    report: &ProcessReport,
    restarted: bool,
) -> Result<(), String> {
    super::eventually::eventually(std::time::Duration::from_secs(10), || {
        check_once(cluster, report, restarted)
    })
    .await
}

async fn check_once(
    cluster: &Cluster,
    report: &ProcessReport,
    restarted: bool,
) -> Result<(), String> {
    let order = cluster.scrape(Service::Order).await?;
    let inventory = cluster.scrape(Service::Inventory).await?;
    let payment = cluster.scrape(Service::Payment).await?;
    for scraped in [&order, &inventory, &payment] {
        if scraped.value("courier_messages_acked_total", &[]) < 1.0 {
            return Err(format!("{} acked no message", scraped.service));
        }
        // Every order settled: the relay has sent its outbox and says so.
        let unsent = "courier_outbox_unsent";
        if !scraped.scrape.samples.iter().any(|s| s.metric == unsent) {
            return Err(format!("{} shows no {unsent}", scraped.service));
        }
        if scraped.value(unsent, &[]) != 0.0 {
            return Err(format!("{}: {unsent} is not 0", scraped.service));
        }
    }
    if restarted {
        return Ok(());
    }
    let settled = "shop_orders_settled_total";
    order.expect("shop_orders_placed_total", &[], report.orders)?;
    // Each new order's OrderPlaced, sent by the order service's outbox relay.
    order.expect(
        "messaging_client_sent_messages_total",
        &[("messaging_destination_name", &cluster.topics.order_placed)],
        report.orders,
    )?;
    order.expect(settled, &[("status", "confirmed")], report.confirmed)?;
    order.expect(settled, &[("reason", "stock")], report.cancelled_stock)?;
    order.expect(settled, &[("reason", "payment")], report.cancelled_payment)?;
    let reservations = "shop_stock_reservations_total";
    inventory.expect(
        reservations,
        &[("outcome", "reserved")],
        report.confirmed + report.cancelled_payment,
    )?;
    inventory.expect(
        reservations,
        &[("outcome", "rejected")],
        report.cancelled_stock,
    )?;
    inventory.expect("shop_stock_releases_total", &[], report.cancelled_payment)?;
    payment.expect(
        "shop_charges_total",
        &[("outcome", "approved")],
        report.confirmed,
    )?;
    payment.expect(
        "shop_charges_total",
        &[("outcome", "declined")],
        report.cancelled_payment,
    )
}

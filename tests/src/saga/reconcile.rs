//! Snapshots of the services' state, and the checks that stock and payments reconcile.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::Duration,
};

use courier_contracts::CatalogItem;
use inventory_service::StockLevel;
use order_service::{CancelCause, Order, OrderStatus};
use payment_service::{Charge, ChargeOutcome, SimulatedGateway};

use super::{orders::SagaOrder, services::SagaServices};

/// What a saga run ended with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SagaReport {
    /// Orders placed.
    pub orders: usize,
    /// Orders confirmed.
    pub confirmed: usize,
    /// Orders cancelled for lack of stock.
    pub cancelled_stock: usize,
    /// Orders cancelled because the payment was declined.
    pub cancelled_payment: usize,
    /// Units of stock moved (held by confirmed orders).
    pub units_moved: u64,
    /// Money charged, in minor units.
    pub charged_minor: i64,
    /// Duplicate deliveries caused by re-sent events.
    pub duplicates_sent: u64,
    /// From the first placement until every order settled.
    pub elapsed: Duration,
}

/// The services' state at one moment.
#[derive(Debug, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) orders: BTreeMap<String, Order>,
    levels: Vec<StockLevel>,
    charges: Vec<Charge>,
    payments: BTreeMap<String, Charge>,
    initial: Vec<CatalogItem>,
}

impl Snapshot {
    pub(crate) async fn take(services: &SagaServices) -> Self {
        let failed = |what: &str, e: courier_outbox::StoreError| -> ! {
            panic!("reading {what} failed: {e}")
        };
        let orders = services
            .order
            .orders()
            .await
            .unwrap_or_else(|e| failed("orders", e))
            .into_iter()
            .map(|o| (o.id.clone(), o))
            .collect();
        let levels = services
            .inventory
            .levels()
            .await
            .unwrap_or_else(|e| failed("stock", e));
        let payments = services
            .payment
            .charges()
            .await
            .unwrap_or_else(|e| failed("charges", e))
            .into_iter()
            .map(|c| (c.order_id.clone(), c))
            .collect();
        let charges = SimulatedGateway::journal(services.payment.store())
            .await
            .unwrap_or_else(|e| failed("the gateway's journal", e));
        Self {
            orders,
            levels,
            charges,
            payments,
            initial: services.catalog.items().to_vec(),
        }
    }

    /// Checks that every order of `placed` settled, that stock moved equals the confirmed
    /// orders' lines, and that money charged equals their totals, each order charged at most
    /// once and only when stock was reserved.
    pub(crate) fn check(&self, placed: &[SagaOrder]) -> SagaReport {
        let mut report = SagaReport {
            orders: placed.len(),
            ..SagaReport::default()
        };
        let mut confirmed = BTreeSet::new();
        let mut declined = BTreeSet::new();
        let mut moved: HashMap<&str, u64> = HashMap::new();
        for p in placed {
            let order = self
                .orders
                .get(p.id())
                .unwrap_or_else(|| panic!("order {} was never stored", p.id()));
            match &order.status {
                OrderStatus::Pending => panic!("order {} is still pending", order.id),
                OrderStatus::Confirmed { payment_id } => {
                    assert_eq!(
                        payment_id,
                        &format!("pay-{}", order.id),
                        "payment id of {}",
                        order.id
                    );
                    confirmed.insert(order.id.as_str());
                    report.confirmed += 1;
                    for line in &order.lines {
                        *moved.entry(&line.sku).or_default() += u64::from(line.quantity);
                    }
                }
                OrderStatus::Cancelled {
                    cause: CancelCause::Stock,
                    ..
                } => report.cancelled_stock += 1,
                OrderStatus::Cancelled {
                    cause: CancelCause::Payment,
                    ..
                } => {
                    declined.insert(order.id.as_str());
                    report.cancelled_payment += 1;
                }
            }
        }
        assert_eq!(
            self.orders.len(),
            placed.len(),
            "orders stored that were not placed (or placed twice)"
        );

        for (item, level) in self.initial.iter().zip(&self.levels) {
            assert_eq!(item.sku, level.sku);
            let gone = u64::from(item.stock) - u64::from(level.available);
            let expected = moved.get(item.sku.as_str()).copied().unwrap_or(0);
            assert_eq!(
                gone, expected,
                "stock of {} moved by {gone} units, but confirmed orders hold {expected}",
                item.sku
            );
            report.units_moved += gone;
        }

        let mut seen = BTreeSet::new();
        let mut approved = BTreeSet::new();
        let mut refused = BTreeSet::new();
        for charge in &self.charges {
            assert!(
                seen.insert(charge.order_id.as_str()),
                "order {} was charged twice",
                charge.order_id
            );
            match &charge.outcome {
                ChargeOutcome::Approved { .. } => {
                    approved.insert(charge.order_id.as_str());
                    report.charged_minor += charge.amount_minor;
                }
                ChargeOutcome::Declined { .. } => {
                    refused.insert(charge.order_id.as_str());
                }
            }
        }
        assert_eq!(
            approved, confirmed,
            "charged orders and confirmed orders differ"
        );
        assert_eq!(
            refused, declined,
            "declined charges and payment-cancelled orders differ"
        );
        let confirmed_total: i64 = confirmed
            .iter()
            .map(|id| self.orders[*id].total_minor)
            .sum();
        assert_eq!(
            report.charged_minor, confirmed_total,
            "money charged != confirmed orders' totals"
        );
        let recorded: BTreeSet<&str> = self.payments.keys().map(String::as_str).collect();
        assert_eq!(
            recorded, seen,
            "the payment service's record and the gateway's charges differ"
        );

        if placed.len() >= 100 {
            assert!(report.confirmed > 0, "no order was confirmed: {report:?}");
            assert!(
                report.cancelled_stock > 0,
                "no order was cancelled for stock: {report:?}"
            );
            assert!(
                report.cancelled_payment > 0,
                "no order was cancelled for payment: {report:?}"
            );
        }
        report
    }

    /// Panics when `after` differs from this snapshot in orders, stock or charges.
    pub(crate) fn assert_same(&self, after: &Snapshot) {
        assert_eq!(
            self.orders.len(),
            after.orders.len(),
            "duplicates created orders"
        );
        for (id, order) in &self.orders {
            assert_eq!(
                Some(order),
                after.orders.get(id),
                "duplicates changed order {id}"
            );
        }
        assert_eq!(self.levels, after.levels, "duplicates moved stock");
        assert_eq!(self.charges, after.charges, "duplicates charged again");
        assert_eq!(
            self.payments, after.payments,
            "duplicates changed the payment record"
        );
    }
}

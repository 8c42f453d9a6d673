//! The saga of the order, inventory and payment services on the in-memory backend.

use std::sync::Arc;

use courier_core::Broker;
use courier_memory::MemoryBroker;
use courier_tests::saga::{self, SagaOptions};

fn broker() -> Arc<dyn Broker> {
    Arc::new(MemoryBroker::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_settles_and_stock_and_payments_reconcile() {
    let options = SagaOptions {
        orders: 600,
        ..SagaOptions::default()
    };
    let report = saga::run_saga_with(broker(), saga::fresh_topics(), options).await;
    eprintln!("{report:?}");
    assert_eq!(report.orders, 600);
    assert_eq!(
        report.confirmed + report.cancelled_stock + report.cancelled_payment,
        600
    );
    assert!(report.duplicates_sent > 200, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lane_per_subscription_gives_the_same_guarantees() {
    let mut options = SagaOptions {
        orders: 150,
        ..SagaOptions::default()
    };
    options.runtime.concurrency = 1;
    options.runtime.prefetch = 1;
    let report = saga::run_saga_with(broker(), saga::fresh_topics(), options).await;
    assert_eq!(report.orders, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_dead_lettered_with_their_reason() {
    saga::run_dead_letters(broker(), saga::fresh_topics()).await;
}

//! The saga of the order, inventory and payment services, as tasks in this process, on Kafka
//! (tansu).

mod kafka_support;

use std::sync::Arc;

use courier_tests::saga::{self, SagaOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_on_kafka() {
    let Some(broker) =
        kafka_support::connect_or_skip(kafka_support::config(&kafka_support::brokers())).await
    else {
        return;
    };
    let options = SagaOptions {
        orders: 200,
        ..SagaOptions::default()
    };
    let report = saga::run_saga_with(Arc::new(broker), saga::fresh_topics(), options).await;
    eprintln!("kafka {report:?}");
    assert_eq!(
        report.confirmed + report.cancelled_stock + report.cancelled_payment,
        200,
        "every order settles: {report:?}"
    );
}

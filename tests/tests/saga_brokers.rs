//! The saga of the order, inventory and payment services, as tasks in this process, on
//! RabbitMQ, Kafka and ZeroMQ (memory: saga_memory.rs; the real binaries:
//! saga_processes.rs and saga_processes_kafka.rs).

mod kafka_support;
mod saga_support;

use std::sync::Arc;

use courier_core::Broker;
use courier_tests::saga::{self, SagaOptions};

async fn run(broker: Arc<dyn Broker>) {
    let options = SagaOptions {
        orders: 300,
        ..SagaOptions::default()
    };
    let report = saga::run_saga_with(broker.clone(), saga::fresh_topics(), options).await;
    eprintln!("{} {report:?}", broker.name());
    assert_eq!(report.orders, 300);
    assert_eq!(
        report.confirmed + report.cancelled_stock + report.cancelled_payment,
        300,
        "every order settles: {report:?}"
    );
    assert!(
        report.duplicates_sent > 0,
        "duplicates were injected: {report:?}"
    );
    saga::run_dead_letters(broker.clone(), saga::fresh_topics()).await;
    broker.close().await.expect("broker closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_on_rabbitmq() {
    if let Some(broker) = saga_support::rabbitmq().await {
        run(broker).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_on_kafka() {
    if let Some(broker) = kafka_support::connect_default_or_skip().await {
        run(Arc::new(broker)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_on_zeromq() {
    run(saga_support::zeromq().await).await;
}

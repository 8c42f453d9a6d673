//! The conformance suite on the Kafka backend, against the broker at `COURIER_KAFKA_BROKERS`
//! (default `127.0.0.1:9092`; `scripts/kafka.sh start` runs tansu there).

mod kafka_support;

use std::sync::Arc;

use courier_core::Broker;
use courier_tests::conformance::run_all;

/// Kafka gives every guarantee the suite checks, so nothing may be skipped.
const SKIPPED_ON_KAFKA: &[&str] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_kafka() {
    kafka_support::init_logs();
    let Some(broker) = kafka_support::connect_default_or_skip().await else {
        return;
    };
    let broker = Arc::new(broker) as Arc<dyn Broker>;
    let report = run_all(broker.clone()).await;
    broker.close().await.expect("close");
    report.assert_passed();
    report.assert_skipped_exactly(SKIPPED_ON_KAFKA);
}

/// Two copies of the whole suite at once on one connection, each on its own topics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_on_kafka() {
    kafka_support::init_logs();
    let Some(broker) = kafka_support::connect_default_or_skip().await else {
        return;
    };
    let broker = Arc::new(broker) as Arc<dyn Broker>;
    let report = courier_tests::conformance::run_stress(broker.clone(), 2).await;
    broker.close().await.expect("close");
    report.assert_passed();
    assert!(
        report.skipped().is_empty(),
        "kafka skipped tests under stress:\n{report}"
    );
}

//! The conformance suite on RabbitMQ (classic and quorum queues), and the backend's own
//! behaviour against the real broker at 127.0.0.1:5672.

mod rabbitmq_common;

use std::sync::Arc;

use courier_core::Broker;
use courier_rabbitmq::QueueType;
use courier_tests::conformance::run_all;
use rabbitmq_common::{Vhost, broker_present};

/// RabbitMQ cannot keep per-key order once a group has several consumers.
const SKIPPED_ON_RABBITMQ: &[&str] = &["per_key_order_across_consumers"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_rabbitmq() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let broker = Arc::new(vhost.connect(vhost.config()).await);
    let report = run_all(broker.clone()).await;
    broker.close().await.expect("close");
    report.assert_passed();
    report.assert_skipped_exactly(SKIPPED_ON_RABBITMQ);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_rabbitmq_quorum_queues() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let mut config = vhost.config();
    config.queue_type = QueueType::Quorum;
    let broker = Arc::new(vhost.connect(config).await);
    let report = run_all(broker.clone()).await;
    broker.close().await.expect("close");
    report.assert_passed();
    report.assert_skipped_exactly(SKIPPED_ON_RABBITMQ);
}

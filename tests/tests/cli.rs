//! The `courier` tool's commands on every backend, in this process: dead letters made by a
//! real runtime (list twice, show, redrive, purge), send and tail through a temporary group
//! that is gone afterwards, and `send --delay`. Memory runs here always; RabbitMQ and Kafka
//! are skipped with a notice when absent (a failure with CI=true or
//! COURIER_REQUIRE_BROKERS=1); ZeroMQ needs no server.

mod cli_support;
mod kafka_support;
mod rabbitmq_common;

use std::{sync::Arc, time::Duration};

use cli_support::tail::Exists;
use courier_cli::args::ReadArgs;
use courier_core::Broker;
use courier_memory::MemoryBroker;
use courier_zeromq::{ZmqBroker, ZmqConfig};
use lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable};
use rabbitmq_common::{Vhost, broker_present};

/// Reads of the DLQ that stop after `idle` of quiet.
fn reads(idle: Duration) -> ReadArgs {
    ReadArgs { limit: 1000, idle }
}

// ---- memory ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_on_memory() {
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
    cli_support::dlq::scenario(broker.clone(), broker, reads(Duration::from_millis(300))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_tail_on_memory() {
    let memory = MemoryBroker::default();
    let broker: Arc<dyn Broker> = Arc::new(memory.clone());
    let exists: Exists = Box::new(move |topic: String, group: String| {
        let there = memory.group_stats(&topic, &group).is_some();
        Box::pin(async move { there })
    });
    cli_support::tail::round_trip(broker.clone(), broker.clone(), Some(exists), true).await;
    cli_support::tail::delayed_send(broker.clone(), broker).await;
}

// ---- RabbitMQ ----

/// Two connections to a fresh vhost: the service's and the tool's.
async fn rabbitmq() -> Option<(Vhost, Arc<dyn Broker>, Arc<dyn Broker>)> {
    if !broker_present() {
        return None;
    }
    let vhost = Vhost::create();
    let service = vhost.connect(vhost.config()).await;
    let tool = vhost.connect(vhost.config()).await;
    Some((vhost, Arc::new(service), Arc::new(tool)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_on_rabbitmq() {
    let Some((_vhost, service, tool)) = rabbitmq().await else {
        return;
    };
    cli_support::dlq::scenario(service.clone(), tool.clone(), reads(Duration::from_secs(2))).await;
    tool.close().await.expect("closes");
    service.close().await.expect("closes");
}

/// Whether the queue `queue` exists on the vhost at `url`: a passive declaration succeeds
/// (it fails with NOT_FOUND once RabbitMQ deleted the queue).
async fn queue_exists(url: String, queue: String) -> bool {
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("connects to RabbitMQ");
    let channel = connection.create_channel().await.expect("a channel");
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let exists = channel
        .queue_declare(queue.as_str().into(), passive, FieldTable::default())
        .await
        .is_ok();
    let _ = connection.close(200, "checked".into()).await;
    exists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_tail_on_rabbitmq() {
    let Some((vhost, service, tool)) = rabbitmq().await else {
        return;
    };
    let url = vhost.url();
    let exists: Exists = Box::new(move |topic: String, group: String| {
        Box::pin(queue_exists(url.clone(), format!("{topic}.{group}")))
    });
    cli_support::tail::round_trip(service.clone(), tool.clone(), Some(exists), true).await;
    cli_support::tail::delayed_send(service.clone(), tool.clone()).await;
    tool.close().await.expect("closes");
    service.close().await.expect("closes");
}

// ---- Kafka ----

async fn kafka() -> Option<(Arc<dyn Broker>, Arc<dyn Broker>)> {
    let service = kafka_support::connect_default_or_skip().await?;
    let tool = kafka_support::connect_default_or_skip().await?;
    Some((Arc::new(service), Arc::new(tool)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_on_kafka() {
    let Some((service, tool)) = kafka().await else {
        return;
    };
    cli_support::dlq::scenario(service.clone(), tool.clone(), reads(Duration::from_secs(3))).await;
    tool.close().await.expect("closes");
    service.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_tail_on_kafka() {
    let Some((service, tool)) = kafka().await else {
        return;
    };
    // Kafka keeps messages per topic, not per group: a group left behind holds nothing, and
    // a new tail starts at the end of the topic.
    cli_support::tail::round_trip(service.clone(), tool.clone(), None, false).await;
    cli_support::tail::delayed_send(service.clone(), tool.clone()).await;
    tool.close().await.expect("closes");
    service.close().await.expect("closes");
}

// ---- ZeroMQ ----

/// The services' process (binding a free loopback port, groups declared there only) and
/// the tool's, connecting to it.
async fn zeromq() -> (Arc<dyn Broker>, Arc<dyn Broker>) {
    let binding = ZmqBroker::connect(ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 3000,
        linger_ms: 500,
        ..ZmqConfig::default()
    })
    .await
    .expect("binds a free loopback port");
    let endpoint = binding.local_endpoint("any").expect("bound here");
    let tool = ZmqBroker::connect(ZmqConfig {
        endpoint,
        bind: false,
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 3000,
        ..ZmqConfig::default()
    })
    .await
    .expect("connects");
    (Arc::new(binding), Arc::new(tool))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_on_zeromq() {
    let (service, tool) = zeromq().await;
    cli_support::dlq::scenario(service.clone(), tool.clone(), reads(Duration::from_secs(1))).await;
    tool.close().await.expect("closes");
    service.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_tail_on_zeromq() {
    let (service, tool) = zeromq().await;
    // The hub's groups are not visible from outside: the second tail, with the same group
    // name, checks that the group went (it would hand out what was sent in between).
    cli_support::tail::round_trip(service.clone(), tool.clone(), None, true).await;
    cli_support::tail::delayed_send(service.clone(), tool.clone()).await;
    tool.close().await.expect("closes");
    service.close().await.expect("closes");
}

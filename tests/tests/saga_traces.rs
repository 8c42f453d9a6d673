//! One trace per order, on every backend: the saga runs with every span recorded in memory,
//! and each order's settlement span leads, through the `process` span of every step and the
//! `create` span of every event, up to the `POST /orders` span it was placed in. An order
//! sent by a client without a trace context starts its own trace at its first delivery.

mod kafka_support;
mod saga_support;

use std::sync::Arc;

use std::time::Duration;

use courier_core::{Broker, HandlerError, Message, Runtime, RuntimeSettings, trace};
use courier_memory::MemoryBroker;
use courier_tests::saga;
use tracing::Instrument;

const ORDERS: usize = 12;

async fn check(broker: Arc<dyn Broker>) {
    let topics = saga::fresh_topics();
    let traced = saga::run_traced_saga(broker.clone(), topics.clone(), ORDERS).await;
    assert_eq!(traced.chains.len(), traced.placed);
    let placed = format!("process {}", topics.order_placed);
    let reserved = format!("process {}", topics.stock_reserved);
    let settlements = [
        vec![
            format!("process {}", topics.payment_succeeded),
            reserved.clone(),
            placed.clone(),
        ],
        vec![
            format!("process {}", topics.payment_failed),
            reserved,
            placed.clone(),
        ],
        vec![format!("process {}", topics.stock_rejected), placed],
    ];
    for (order, (root, chain)) in &traced.chains {
        assert_eq!(root, "POST /orders", "order {order}: {chain:?}");
        assert!(
            settlements.contains(chain),
            "order {order}: the steps from the settlement up to the root are {chain:?}"
        );
    }
    assert_eq!(
        traced.intake_root,
        format!("process {}", topics.order_intake),
        "a message without a trace context starts a trace at its delivery"
    );
    broker.close().await.expect("closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_order_on_memory() {
    check(Arc::new(MemoryBroker::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_order_on_rabbitmq() {
    if let Some(broker) = saga_support::rabbitmq().await {
        check(broker).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_order_on_kafka() {
    if let Some(broker) = kafka_support::connect_default_or_skip().await {
        check(Arc::new(broker)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_per_order_on_zeromq() {
    check(saga_support::zeromq().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_delivery_marks_its_span_as_an_error() {
    let _ = saga::recorded_spans();
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
    let topic = courier_tests::support::unique_name("traced-dlq");
    broker
        .declare_group(&courier_core::headers::dlq_topic(&topic), "dead-letters")
        .await
        .expect("declares");
    let mut runtime = Runtime::new(broker.clone(), RuntimeSettings::default());
    runtime.handle_fn(&topic, "g", |_: Message, _| async {
        Err(HandlerError::permanent("no such order"))
    });
    let running = runtime.start().await.expect("starts");
    let producer = courier_core::trace::TracedProducer::wrap(
        broker.name(),
        broker.producer().await.expect("a producer"),
    );
    let sent_from = tracing::info_span!("request");
    let trace_id = async {
        producer
            .send(&topic, Message::new("x"))
            .await
            .expect("sends");
        trace::current_trace_id().expect("traced")
    }
    .instrument(sent_from)
    .await;
    let name = format!("process {topic}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let span = loop {
        let found = saga::recorded_spans().into_iter().find(|s| s.name == name);
        if let Some(span) = found {
            break span;
        }
        assert!(tokio::time::Instant::now() < deadline, "no span {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(span.span_context.trace_id().to_string(), trace_id);
    let status = format!("{:?}", span.status);
    assert!(
        status.contains("Error") && status.contains("no such order"),
        "{status}"
    );
    assert!(
        span.events.iter().any(|e| e.name.contains("dead-lettered")),
        "{:?}",
        span.events
    );
    running.shutdown().await.expect("stops");
}

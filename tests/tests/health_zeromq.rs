//! `/readyz` on ZeroMQ, in process: a runtime in a process that connects to the binding side
//! is ready once welcomed; when the binding side goes away its subscription is
//! `reconnecting` (503) within a heartbeat timeout; when the binding side is back on the same
//! endpoint (its group configured), ready again.

mod health_support;

use std::{sync::Arc, time::Duration};

use courier_core::Broker;
use courier_tests::support::unique_name;
use courier_zeromq::{TopicConfig, ZmqBroker, ZmqConfig};
use health_support::{Served, assert_ready_body};

/// The binding side of `endpoint`, with `group` of `topic` declared from the start.
async fn bind(endpoint: &str, topic: &str, group: &str) -> ZmqBroker {
    let config = ZmqConfig {
        endpoint: endpoint.to_owned(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 1_000,
        connect_timeout_ms: 1_000,
        linger_ms: 100,
        topics: [(
            topic.to_owned(),
            TopicConfig {
                groups: vec![group.to_owned()],
                ..TopicConfig::default()
            },
        )]
        .into(),
        ..ZmqConfig::default()
    };
    ZmqBroker::connect(config).await.expect("binds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_binding_side() {
    let port = courier_tests::ports::free_port().expect("a free port");
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let topic = unique_name("zmq.health");
    let group = "ready";
    let name = format!("{topic}/{group}");
    let hub = bind(&endpoint, &topic, group).await;
    let peer: Arc<dyn Broker> = Arc::new(
        ZmqBroker::connect(ZmqConfig {
            endpoint: endpoint.clone(),
            bind: false,
            heartbeat_interval_ms: 200,
            heartbeat_timeout_ms: 1_000,
            connect_timeout_ms: 1_000,
            ..ZmqConfig::default()
        })
        .await
        .expect("connects"),
    );
    let served = Served::start(peer, &topic, group).await;
    let (took, body) = served.wait_for(200, Duration::from_secs(10)).await;
    assert_ready_body(&body, &name);
    println!("ready {:.0} ms after start", took.as_secs_f64() * 1e3);

    hub.close().await.expect("the binding side closes");
    drop(hub);
    let (took, body) = served.wait_for(503, Duration::from_secs(5)).await;
    println!(
        "not ready {:.0} ms after the binding side closed: {body}",
        took.as_secs_f64() * 1e3
    );
    assert_eq!(body["subscriptions"][&name], "reconnecting", "{body}");
    assert_eq!(body["broker"], "up", "no broker to lose: {body}");

    let hub = bind(&endpoint, &topic, group).await;
    let (took, body) = served.wait_for(200, Duration::from_secs(10)).await;
    assert_ready_body(&body, &name);
    println!(
        "ready again {:.0} ms after the binding side came back",
        took.as_secs_f64() * 1e3
    );
    served.stop().await;
    hub.close().await.ok();
}

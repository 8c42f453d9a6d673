//! `/readyz` against the real RabbitMQ: ready once subscribed; 503 within a few seconds of
//! `rabbitmqctl close_all_connections` while the broker refuses the reconnection (the test
//! vhost's permissions withdrawn), naming the broker connection and the subscription; 200
//! again once the backend has reconnected. A plain `close_all_connections`, reconnected at
//! once, ends ready too.
//!
//! It needs `rabbitmqctl` and a vhost of its own; without them it reports a skip (a failure
//! with `CI=true` or `COURIER_REQUIRE_BROKERS=1`).

mod health_support;
mod rabbitmq_common;

use std::{sync::Arc, time::Duration};

use courier_tests::support::{broker_absent, unique_name};
use health_support::{Served, assert_ready_body};
use rabbitmq_common::{Vhost, broker_present, rabbitmqctl};

/// Gives `guest` its permissions on the vhost back when dropped, so that a failing test
/// leaves nothing refused.
struct Permit<'a>(&'a str);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Err(e) = rabbitmqctl(&["set_permissions", "-p", self.0, "guest", ".*", ".*", ".*"]) {
            eprintln!(
                "could not give guest its permissions on {} back: {e}",
                self.0
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_connection_through_close_all_connections() {
    if !broker_present() {
        return;
    }
    if let Err(e) = rabbitmqctl(&["status"]) {
        broker_absent("rabbitmq", &format!("this test needs rabbitmqctl: {e}"));
        return;
    }
    let vhost = Vhost::create();
    if !vhost.is_isolated() {
        broker_absent(
            "rabbitmq",
            "this test needs a vhost of its own (rabbitmqctl add_vhost failed)",
        );
        return;
    }
    let config = courier_rabbitmq::RabbitMqConfig {
        reconnect_initial_ms: 100,
        reconnect_max_ms: 1_000,
        ..vhost.config()
    };
    let broker = Arc::new(vhost.connect(config).await);
    let topic = unique_name("health");
    let group = "ready";
    let name = format!("{topic}/{group}");
    let served = Served::start(broker, &topic, group).await;
    let (took, body) = served.wait_for(200, Duration::from_secs(10)).await;
    assert_ready_body(&body, &name);
    println!("ready {:.0} ms after start", took.as_secs_f64() * 1e3);

    // The broker refuses the reconnection until the permissions are back.
    let permit = Permit(vhost.name());
    rabbitmqctl(&["clear_permissions", "-p", vhost.name(), "guest"]).expect("clear_permissions");
    vhost
        .close_all_connections("test")
        .expect("close_all_connections");
    let (took, body) = served.wait_for(503, Duration::from_secs(5)).await;
    println!(
        "not ready {:.0} ms after close_all_connections: {body}",
        took.as_secs_f64() * 1e3
    );
    assert_eq!(body["ready"], false, "{body}");
    let broker_state = body["broker"].as_str().expect("broker is a string");
    assert!(broker_state.starts_with("down: "), "{body}");
    assert_eq!(body["subscriptions"][&name], "reconnecting", "{body}");
    let text = body.to_string();
    assert!(
        !text.contains("guest"),
        "no credentials in the body: {text}"
    );
    served.assert_live().await;

    drop(permit);
    let (took, body) = served.wait_for(200, Duration::from_secs(15)).await;
    assert_ready_body(&body, &name);
    println!(
        "ready again {:.0} ms after the permissions came back",
        took.as_secs_f64() * 1e3
    );

    // Reconnected at once: ready again, whether or not a probe fell in the gap.
    vhost
        .close_all_connections("test")
        .expect("close_all_connections");
    let (took, body) = served.wait_for(200, Duration::from_secs(10)).await;
    assert_ready_body(&body, &name);
    println!(
        "ready {:.0} ms after a close_all_connections it reconnects from at once",
        took.as_secs_f64() * 1e3
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_depth_is_sampled_from_the_queue() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let broker = Arc::new(vhost.connect(vhost.config()).await);
    let topic = unique_name("depth");
    let group = "depth";
    let prefetch = 4;
    let messages = 50;
    let (open, gate) = tokio::sync::watch::channel(false);
    let settings = courier_core::RuntimeSettings {
        prefetch,
        concurrency: 1,
        ..courier_core::RuntimeSettings::default()
    };
    let served = Served::start_gated(broker.clone(), &topic, group, settings, gate).await;
    served.wait_for(200, Duration::from_secs(10)).await;
    let producer = courier_core::Broker::producer(broker.as_ref())
        .await
        .expect("producer");
    let batch = (0..messages)
        .map(|i| courier_core::Message::new(format!("payload {i}")))
        .collect();
    producer.send_batch(&topic, batch).await.expect("sent");
    let ours = |gauges: &[(std::collections::HashMap<String, String>, f64)]| -> Option<f64> {
        gauges
            .iter()
            .find(|(labels, _)| {
                labels.get("messaging_destination_name") == Some(&topic)
                    && labels.get("messaging_consumer_group_name") == Some(&group.into())
            })
            .map(|(_, v)| *v)
    };
    // The consumer holds `prefetch` unacked; the rest wait in the queue.
    let held = served
        .wait_for_gauges("courier_queue_depth", Duration::from_secs(15), |g| {
            ours(g) == Some((messages - prefetch) as f64)
        })
        .await;
    println!("queue depth while held: {:?}", ours(&held));
    open.send_replace(true);
    served
        .wait_for_gauges("courier_queue_depth", Duration::from_secs(15), |g| {
            ours(g) == Some(0.0)
        })
        .await;
    producer.close().await.ok();
    served.stop().await;
}

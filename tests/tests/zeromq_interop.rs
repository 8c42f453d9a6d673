//! The ZeroMQ backend's wire format with a real libzmq peer: Python scripts using pyzmq
//! (tests/interop/zmq_*.py) consume from and produce to a courier binding side.
//!
//! Skipped with a notice when `python3 -c "import zmq"` fails; a failure in CI
//! (`CI=true` or `COURIER_REQUIRE_BROKERS=1`), where scripts/brokers.sh installs pyzmq.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use courier_core::{Broker, Consumer, Delivery, Message, Subscription};
use courier_tests::{python::python_module_present, support::unique_name};
use courier_zeromq::{ZmqBroker, ZmqConfig};
use serde_json::Value;

fn config() -> ZmqConfig {
    ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 2000,
        linger_ms: 200,
        ..ZmqConfig::default()
    }
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(name)
}

/// Runs a script to completion and parses the JSON object it prints.
async fn run_script(name: &str, args: &[&str]) -> Value {
    let output = run_python(name, args, None).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{name} failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{name} printed no JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Runs a script to completion, with `COURIER_ZMQ_SECRET` set to `secret` when given.
async fn run_python(name: &str, args: &[&str], secret: Option<&str>) -> std::process::Output {
    let mut command = tokio::process::Command::new("python3");
    if let Some(secret) = secret {
        command.env("COURIER_ZMQ_SECRET", secret);
    }
    let child = command
        .arg(script(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python3");
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{name} did not finish within 30 s"))
        .expect("wait for the script")
}

async fn recv_within(consumer: &mut dyn Consumer, what: &str) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|e| panic!("receiving {what}: {e}"))
        .unwrap_or_else(|| panic!("consumer closed while waiting for {what}"))
}

/// A pyzmq consumer receives courier messages intact, nacks one and gets it again with
/// attempt 2, acks it, and leaves holding another: a courier consumer of the same group then
/// gets exactly that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pyzmq_consumer_receives_acks_and_nacks_courier_messages() {
    if !python_module_present("zmq", "pyzmq", "zeromq (pyzmq)").await {
        return;
    }
    let broker = ZmqBroker::connect(config()).await.unwrap();
    let topic = unique_name("orders.placed");
    let endpoint = broker.local_endpoint(&topic).unwrap();
    broker.declare_group(&topic, "python").await.unwrap();
    let first = Message::new(vec![0u8, 1, 2, 255])
        .with_id("rust-1")
        .with_key("order-1001")
        .with_header("content-type", "application/octet-stream")
        .with_header("trace", "abc");
    let second = Message::new("second").with_id("rust-2");
    let producer = broker.producer().await.unwrap();
    producer
        .send_batch(&topic, vec![first.clone(), second.clone()])
        .await
        .unwrap();

    let out = run_script("zmq_consumer.py", &[&endpoint, &topic, "python"]).await;
    let deliveries = out["deliveries"].as_array().expect("deliveries");
    let summary: Vec<(String, i64)> = deliveries
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_owned(),
                d["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("rust-1".to_owned(), 1),
            ("rust-1".to_owned(), 2),
            ("rust-2".to_owned(), 1)
        ],
        "nack requeues at the front with attempt 2: {out}"
    );
    let seen = &deliveries[0];
    assert_eq!(seen["key"], "order-1001");
    assert_eq!(seen["payload_hex"], "000102ff");
    assert_eq!(seen["headers"]["content-type"], "application/octet-stream");
    assert_eq!(seen["headers"]["trace"], "abc");

    // The script acked rust-1 and left holding rust-2 without a BYE.
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "python"))
        .await
        .unwrap();
    let mut d = recv_within(consumer.as_mut(), "the message the script left unacked").await;
    assert_eq!(d.message, second);
    assert_eq!(d.attempt, 2);
    d.ack().await.unwrap();
    let extra = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await;
    assert!(extra.is_err(), "the acked message came back: {extra:?}");
    consumer.close().await.unwrap();
    broker.close().await.unwrap();
}

/// A pyzmq producer publishes plain JSON and binary messages that a courier consumer
/// receives; a malformed one is refused with an ERROR naming the problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pyzmq_producer_publishes_to_a_courier_consumer() {
    if !python_module_present("zmq", "pyzmq", "zeromq (pyzmq)").await {
        return;
    }
    let broker = ZmqBroker::connect(config()).await.unwrap();
    let topic = unique_name("orders.intake");
    let endpoint = broker.local_endpoint(&topic).unwrap();
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "order-service"))
        .await
        .unwrap();

    let out = run_script("zmq_producer.py", &[&endpoint, &topic]).await;
    assert_eq!(out["answers"]["1"], "OK", "{out}");
    assert_eq!(out["answers"]["2"], "OK", "{out}");
    let refused = out["answers"]["3"].as_str().unwrap_or_default();
    assert!(
        refused.starts_with("ERROR") && refused.contains("headers"),
        "{out}"
    );

    let mut order = recv_within(consumer.as_mut(), "the Python order").await;
    assert_eq!(order.message.id, "py-order-1001");
    assert_eq!(order.message.key.as_deref(), Some("1001"));
    assert_eq!(
        order.message.header("content-type"),
        Some("application/json")
    );
    let body: Value = serde_json::from_slice(&order.message.payload).unwrap();
    assert_eq!(body["quantity"], 2);
    assert_eq!(order.attempt, 1);
    order.ack().await.unwrap();

    let mut plain = recv_within(consumer.as_mut(), "the Python message without id").await;
    assert!(
        plain.message.id.uuid().is_some(),
        "an id was assigned: {:?}",
        plain.message.id
    );
    assert_eq!(plain.message.key, None);
    assert!(plain.message.headers.is_empty());
    assert_eq!(&plain.message.payload[..], b"\x00\xffbinary");
    plain.ack().await.unwrap();

    let extra = tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await;
    assert!(
        extra.is_err(),
        "the refused message was delivered: {extra:?}"
    );
    consumer.close().await.unwrap();
    broker.close().await.unwrap();
}

/// With a shared secret on the binding side, a pyzmq producer that runs the handshake of
/// tests/interop/courier_auth.py publishes; one with another secret is refused before
/// anything is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pyzmq_peer_authenticates_with_the_shared_secret() {
    if !python_module_present("zmq", "pyzmq", "zeromq (pyzmq)").await {
        return;
    }
    let broker = ZmqBroker::connect(ZmqConfig {
        secret: Some(courier_core::Secret::new("py-shared-secret")),
        ..config()
    })
    .await
    .unwrap();
    let topic = unique_name("orders.intake");
    let endpoint = broker.local_endpoint(&topic).unwrap();
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "order-service"))
        .await
        .unwrap();

    let wrong = run_python(
        "zmq_producer.py",
        &[&endpoint, &topic],
        Some("another-secret"),
    )
    .await;
    assert!(!wrong.status.success(), "a wrong secret was accepted");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("auth"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let nothing = tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await;
    assert!(nothing.is_err(), "a refused peer published: {nothing:?}");

    let output = run_python(
        "zmq_producer.py",
        &[&endpoint, &topic],
        Some("py-shared-secret"),
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let out: Value = serde_json::from_slice(&output.stdout).expect("JSON answers");
    assert_eq!(out["answers"]["1"], "OK", "{out}");
    let mut order = recv_within(consumer.as_mut(), "the authenticated Python order").await;
    assert_eq!(order.message.id, "py-order-1001");
    order.ack().await.unwrap();
    consumer.close().await.unwrap();
    broker.close().await.unwrap();
}

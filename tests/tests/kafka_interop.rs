//! The Kafka backend's wire format with a plain Python client: kafka-python
//! (`tests/interop/kafka_interop.py`) consumes what courier produced and produces orders a
//! courier consumer receives, against the broker at `COURIER_KAFKA_BROKERS`.
//!
//! Skipped with a notice when no broker answers or `python3 -c "import kafka"` fails; a
//! failure in CI (`CI=true` or `COURIER_REQUIRE_BROKERS=1`), where scripts/brokers.sh
//! installs kafka-python.

mod kafka_support;

use std::{collections::BTreeMap, path::PathBuf, process::Stdio, time::Duration};

use courier_core::{Broker, Consumer, Delivery, Message, Subscription};
use courier_tests::{python::python_module_present, support::unique_name};
use kafka_support::{brokers, connect_default_or_skip};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Runs `kafka_interop.py` with `args` against the brokers under test and parses each line
/// it prints as JSON.
async fn python(args: &[&str]) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/kafka_interop.py");
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--brokers", &brokers()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python3");
    let output = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("kafka_interop.py {args:?} did not finish within 90 s"))
        .expect("wait for the script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "kafka_interop.py {args:?} failed ({}): {}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("kafka_interop.py printed no JSON ({e}): {line}"))
        })
        .collect()
}

async fn recv(consumer: &mut dyn Consumer, what: &str) -> Delivery {
    tokio::time::timeout(WAIT, consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|e| panic!("receiving {what}: {e}"))
        .unwrap_or_else(|| panic!("consumer closed while waiting for {what}"))
}

/// Two courier messages reach a kafka-python consumer with id (header `courier-id`), key,
/// headers and payload unchanged; the Python consumer's group is courier's group `python` of
/// the topic, so a courier consumer of that group finds nothing left after its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_consumer_reads_courier_messages() {
    kafka_support::init_logs();
    let Some(broker) = connect_default_or_skip().await else {
        return;
    };
    if !python_module_present("kafka", "kafka-python", "kafka (kafka-python)").await {
        return;
    }
    let topic = unique_name("interop.kafka.out");
    broker
        .declare_group(&topic, "python")
        .await
        .expect("declare");
    let binary = Message::new(vec![0u8, 1, 254, 255])
        .with_id("rust-1")
        .with_key("order-1001")
        .with_header("content-type", "application/octet-stream")
        .with_header("trace-id", "t-1");
    let json = Message::new(r#"{"order_id":"A-17","lines":[{"sku":"1001","quantity":2}]}"#)
        .with_header("content-type", "application/json");
    let producer = broker.producer().await.expect("producer");
    producer
        .send_batch(&topic, vec![binary.clone(), json.clone()])
        .await
        .expect("send");

    let records = python(&["consume", "--topic", &topic, "--count", "2"]).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let by_id: BTreeMap<&str, &Value> = records
        .iter()
        .map(|r| (r["id"].as_str().expect("an id"), r))
        .collect();

    let seen = by_id.get("rust-1").unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(seen["key"], "order-1001");
    assert_eq!(seen["payload_hex"], "0001feff");
    assert_eq!(seen["payload"], Value::Null, "not UTF-8");
    let expected = serde_json::json!({
        "courier-id": "rust-1",
        "content-type": "application/octet-stream",
        "trace-id": "t-1",
    });
    assert_eq!(seen["headers"], expected, "no other header on a first send");

    let seen = by_id
        .get(json.id.text().as_str())
        .unwrap_or_else(|| panic!("the generated id {} in {records:?}", json.id));
    assert_eq!(seen["key"], Value::Null);
    assert_eq!(seen["payload"], std::str::from_utf8(&json.payload).unwrap());
    assert_eq!(seen["headers"]["content-type"], "application/json");

    // The script committed both records for Kafka group `<topic>.python`.
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "python"))
        .await
        .expect("subscribe");
    let extra = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await;
    assert!(
        extra.is_err(),
        "a record the Python consumer committed came again: {extra:?}"
    );
    consumer.close().await.expect("close");
    producer.close().await.expect("close");
    broker.close().await.ok();
}

/// kafka-python sends an order to an intake topic with an id, a key and a header, and a
/// plain record with neither: a courier consumer receives both, the first with its id, key,
/// header and payload, the second with the id `<topic>-<partition>-<offset>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_producer_reaches_a_courier_consumer() {
    kafka_support::init_logs();
    let Some(broker) = connect_default_or_skip().await else {
        return;
    };
    if !python_module_present("kafka", "kafka-python", "kafka (kafka-python)").await {
        return;
    }
    let topic = unique_name("order_queue");
    // Subscribing creates the topic (tansu creates none on a produce), as the order service
    // does at start-up.
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "order"))
        .await
        .expect("subscribe to the intake topic");

    python(&[
        "produce",
        "--topic",
        &topic,
        "--id",
        "py-order-1001",
        "--key",
        "1001",
        "--header",
        "content-type=application/json",
    ])
    .await;
    let plain = python(&["produce", "--topic", &topic, "plain record"]).await;
    let plain = plain.first().expect("the plain record's metadata");

    let first = recv(consumer.as_mut(), "the first Python record").await;
    let second = recv(consumer.as_mut(), "the second Python record").await;
    // The records may be on different partitions, so in either order.
    let (mut order, mut bare) = if &first.message.payload[..] == b"plain record" {
        (second, first)
    } else {
        (first, second)
    };
    assert_eq!(order.message.id, "py-order-1001");
    assert_eq!(order.message.key.as_deref(), Some("1001"));
    assert_eq!(
        order.message.headers,
        BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]),
        "courier-id is the id, not a header"
    );
    let body: Value = serde_json::from_slice(&order.message.payload).expect("JSON order");
    assert_eq!(
        body,
        serde_json::json!({"order_id": "1001", "product_id": "1001", "quantity": 2})
    );
    assert_eq!(order.attempt, 1);
    order.ack().await.expect("ack");

    assert_eq!(&bare.message.payload[..], b"plain record");
    assert_eq!(
        bare.message.id,
        format!("{topic}-{}-{}", plain["partition"], plain["offset"]),
        "a record without courier-id is named by its position"
    );
    assert_eq!(bare.message.key, None);
    assert!(bare.message.headers.is_empty());
    bare.ack().await.expect("ack");

    consumer.close().await.expect("close");
    broker.close().await.ok();
}

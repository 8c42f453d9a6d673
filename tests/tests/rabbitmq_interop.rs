//! Interoperability with plain AMQP clients: lapin used directly (no courier code), and pika
//! (`tests/interop/rabbitmq_interop.py`, run when `python3 -c "import pika"` works).
//!
//! A plain client sees a courier message as its body unchanged, its id in `message_id`, its
//! key and headers in the AMQP headers; courier accepts plain messages (a bare body gets a
//! fresh id); and a plain producer that declares `order_queue` and publishes to it through
//! the default exchange reaches the courier consumer of topic `order_queue`, whichever side
//! declares the queue first.

mod rabbitmq_common;

use std::{collections::BTreeMap, process::Command, time::Duration};

use courier_core::{Broker, Consumer, Delivery, Message, Subscription};
use courier_rabbitmq::{QueueOverride, RabbitMqConfig};
use courier_tests::support::{brokers_required, unique_name};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};
use rabbitmq_common::{ADDRESS, Vhost, broker_present};

const WAIT: Duration = Duration::from_secs(10);

/// A plain lapin channel on `vhost` (lapin's own URL parsing: the host is `localhost`, as
/// lapin turns IP addresses into `localhost`).
async fn plain_channel(vhost: &Vhost) -> (Connection, Channel) {
    let port = ADDRESS.rsplit(':').next().expect("a port");
    let vhost_part = if vhost.is_isolated() {
        vhost.name()
    } else {
        "%2f"
    };
    let url = format!("amqp://guest:guest@localhost:{port}/{vhost_part}");
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("plain lapin connection");
    let channel = connection.create_channel().await.expect("plain channel");
    (connection, channel)
}

/// What pika's `channel.queue_declare(queue=...)` does: a non-durable classic queue.
async fn declare_like_pika(channel: &Channel, queue: &str) {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("plain queue_declare({queue}) with pika's defaults: {e}"));
}

async fn publish_plain(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) {
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            properties,
        )
        .await
        .expect("plain publish");
    drop(confirm);
}

async fn recv(consumer: &mut Box<dyn Consumer>, what: &str) -> Delivery {
    match tokio::time::timeout(WAIT, consumer.recv()).await {
        Ok(Ok(Some(d))) => d,
        other => panic!("{what}: no delivery: {other:?}"),
    }
}

fn header_text(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        other => Some(format!("{other:?}")),
    }
}

/// The queue name the order intake uses: `order_queue`, or a unique name when the run has
/// no vhost of its own.
fn order_queue(vhost: &Vhost) -> String {
    if vhost.is_isolated() {
        "order_queue".to_owned()
    } else {
        unique_name("order_queue")
    }
}

/// The configuration that makes group `order` of topic `queue` the plain queue `queue`.
fn intake_config(vhost: &Vhost, queue: &str, durable: bool) -> RabbitMqConfig {
    let mut config = vhost.config();
    config.queues = BTreeMap::from([(
        queue.to_owned(),
        BTreeMap::from([(
            "order".to_owned(),
            QueueOverride {
                queue: Some(queue.to_owned()),
                durable,
                queue_type: None,
            },
        )]),
    )]);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_client_reads_a_courier_message() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let broker = vhost.connect(vhost.config()).await;
    let topic = unique_name("interop.out");
    broker
        .declare_group(&topic, "plain")
        .await
        .expect("declare");
    let payload: Vec<u8> = (0..=255u8).collect();
    let sent = Message::new(payload.clone())
        .with_key("order-42")
        .with_header("trace-id", "t-1")
        .with_header("content-type", "application/octet-stream");
    let producer = broker.producer().await.expect("producer");
    producer.send(&topic, sent.clone()).await.expect("send");

    let (_connection, channel) = plain_channel(&vhost).await;
    let got = channel
        .basic_get(
            format!("{topic}.plain").into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .expect("basic_get")
        .expect("a message in the group's queue");
    let props = &got.delivery.properties;
    assert_eq!(
        got.delivery.data, payload,
        "the body is the payload, unchanged"
    );
    assert_eq!(
        props.message_id().as_ref().map(|s| s.as_str()),
        Some(sent.id.text().as_str())
    );
    assert_eq!(header_text(props, "trace-id").as_deref(), Some("t-1"));
    assert_eq!(
        header_text(props, "courier-key").as_deref(),
        Some("order-42")
    );
    assert_eq!(
        props.content_type().as_ref().map(|s| s.as_str()),
        Some("application/octet-stream")
    );
    assert_eq!(props.delivery_mode(), &Some(2), "persistent");
    broker.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn courier_accepts_plain_messages() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let broker = vhost.connect(vhost.config()).await;
    let topic = unique_name("interop.in");
    let mut consumer = broker
        .subscribe(Subscription::new(&topic, "g"))
        .await
        .expect("subscribe");
    let (_connection, channel) = plain_channel(&vhost).await;

    publish_plain(
        &channel,
        &topic,
        "",
        br#"{"order_id":"1"}"#,
        BasicProperties::default(),
    )
    .await;
    let mut bare = recv(&mut consumer, "a message with only a body").await;
    assert_eq!(&bare.message.payload[..], br#"{"order_id":"1"}"#);
    assert!(
        bare.message.id.uuid().is_some(),
        "a bare message gets a fresh id, got {:?}",
        bare.message.id
    );
    assert!(bare.message.headers.is_empty() && bare.message.key.is_none());
    assert_eq!(bare.attempt, 1);
    bare.ack().await.expect("ack");

    let mut headers = FieldTable::default();
    headers.insert("n".into(), AMQPValue::LongInt(7));
    headers.insert("s".into(), AMQPValue::LongString(LongString::from("x")));
    let properties = BasicProperties::default()
        .with_message_id("plain-1".into())
        .with_content_type("application/json".into())
        .with_headers(headers);
    publish_plain(&channel, &topic, "", b"{}", properties).await;
    let mut typed = recv(&mut consumer, "a message with id and headers").await;
    assert_eq!(typed.message.id, "plain-1");
    assert_eq!(typed.message.header("n"), Some("7"));
    assert_eq!(typed.message.header("s"), Some("x"));
    assert_eq!(
        typed.message.header("content-type"),
        Some("application/json")
    );
    typed.ack().await.expect("ack");
    consumer.close().await.expect("close");
    broker.close().await.ok();
}

/// The external producer declares `order_queue` first (pika's defaults), publishes, and only
/// then courier starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_queue_declared_by_the_plain_producer_first() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let queue = order_queue(&vhost);
    let (_connection, channel) = plain_channel(&vhost).await;
    declare_like_pika(&channel, &queue).await;
    let body = br#"{"order_id": "1001", "product_id": "1001", "quantity": 2}"#;
    publish_plain(&channel, "", &queue, body, BasicProperties::default()).await;

    let broker = vhost.connect(intake_config(&vhost, &queue, false)).await;
    let mut consumer = broker
        .subscribe(Subscription::new(&queue, "order"))
        .await
        .expect("subscribe to the intake topic");
    let mut d = recv(&mut consumer, "the plain order").await;
    assert_eq!(&d.message.payload[..], body);
    d.ack().await.expect("ack");

    // courier producers of the same topic reach the same consumer.
    let producer = broker.producer().await.expect("producer");
    producer
        .send(&queue, Message::new("from courier").with_id("c-1"))
        .await
        .expect("send");
    let mut d = recv(&mut consumer, "the courier order").await;
    assert_eq!(d.message.id, "c-1");
    d.ack().await.expect("ack");
    consumer.close().await.expect("close");
    broker.close().await.ok();
}

/// courier declares `order_queue` first; the external producer's `queue_declare` with pika's
/// defaults must still succeed, and its message must arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_queue_declared_by_courier_first() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let queue = order_queue(&vhost);
    let broker = vhost.connect(intake_config(&vhost, &queue, false)).await;
    let mut consumer = broker
        .subscribe(Subscription::new(&queue, "order"))
        .await
        .expect("subscribe to the intake topic");
    let (_connection, channel) = plain_channel(&vhost).await;
    declare_like_pika(&channel, &queue).await;
    publish_plain(&channel, "", &queue, b"order 2", BasicProperties::default()).await;
    let mut d = recv(&mut consumer, "the plain order").await;
    assert_eq!(&d.message.payload[..], b"order 2");
    d.ack().await.expect("ack");
    consumer.close().await.expect("close");
    broker.close().await.ok();
}

/// A queue that exists with other settings than configured (declared non-durable by a plain
/// client, configured durable) is used as it is rather than refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_queue_with_other_settings_is_used_as_is() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let queue = order_queue(&vhost);
    let (_connection, channel) = plain_channel(&vhost).await;
    declare_like_pika(&channel, &queue).await;
    publish_plain(&channel, "", &queue, b"order 3", BasicProperties::default()).await;
    let broker = vhost.connect(intake_config(&vhost, &queue, true)).await;
    let mut consumer = broker
        .subscribe(Subscription::new(&queue, "order"))
        .await
        .expect("subscribe despite the durability mismatch");
    let mut d = recv(&mut consumer, "the plain order").await;
    assert_eq!(&d.message.payload[..], b"order 3");
    d.ack().await.expect("ack");
    consumer.close().await.expect("close");
    broker.close().await.ok();
}

fn pika_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pika"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let why = "python3 with pika is not available (pip install pika)";
        assert!(!brokers_required(), "{why}");
        eprintln!("SKIP rabbitmq pika interop: {why}");
    }
    ok
}

fn pika(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/rabbitmq_interop.py");
    let output = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "pika script {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn pika_url(vhost: &Vhost) -> String {
    let name = if vhost.is_isolated() {
        vhost.name()
    } else {
        "%2f"
    };
    format!("amqp://guest:guest@{ADDRESS}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pika_order_producer_reaches_the_courier_consumer() {
    if !broker_present() || !pika_available() {
        return;
    }
    for courier_first in [false, true] {
        let vhost = Vhost::create();
        let queue = order_queue(&vhost);
        let body = r#"{"order_id": "1001", "product_id": "1001", "quantity": 2}"#;
        let broker = vhost.connect(intake_config(&vhost, &queue, false)).await;
        let mut consumer = if courier_first {
            let c = broker.subscribe(Subscription::new(&queue, "order")).await;
            pika(&["produce", &pika_url(&vhost), &queue, body]);
            c
        } else {
            pika(&["produce", &pika_url(&vhost), &queue, body]);
            broker.subscribe(Subscription::new(&queue, "order")).await
        }
        .expect("subscribe to the intake topic");
        let mut d = recv(&mut consumer, "the pika order").await;
        assert_eq!(
            &d.message.payload[..],
            body.as_bytes(),
            "courier first: {courier_first}"
        );
        d.ack().await.expect("ack");
        consumer.close().await.expect("close");
        broker.close().await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pika_reads_a_courier_message() {
    if !broker_present() || !pika_available() {
        return;
    }
    let vhost = Vhost::create();
    let broker = vhost.connect(vhost.config()).await;
    let topic = unique_name("interop.pika");
    broker.declare_group(&topic, "pika").await.expect("declare");
    let sent = Message::new(vec![0u8, 1, 254, 255])
        .with_key("k-9")
        .with_header("trace-id", "t-2")
        .with_header("content-type", "application/x-bytes");
    let producer = broker.producer().await.expect("producer");
    producer.send(&topic, sent.clone()).await.expect("send");
    let out = pika(&["consume", &pika_url(&vhost), &format!("{topic}.pika")]);
    let seen: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON from pika");
    assert_eq!(seen["body_hex"], "0001feff");
    assert_eq!(seen["message_id"], sent.id.text().as_str());
    assert_eq!(seen["content_type"], "application/x-bytes");
    assert_eq!(seen["delivery_mode"], 2);
    assert_eq!(seen["headers"]["trace-id"], "t-2");
    assert_eq!(seen["headers"]["courier-key"], "k-9");
    broker.close().await.ok();
}

/// A topic whose name is taken by an exchange of another type is refused at once with a
/// `Config` error, not retried until the send timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_taken_by_another_exchange_type_is_a_config_error() {
    if !broker_present() {
        return;
    }
    let vhost = Vhost::create();
    let topic = unique_name("interop.direct");
    let (_connection, channel) = plain_channel(&vhost).await;
    channel
        .exchange_declare(
            topic.as_str().into(),
            lapin::ExchangeKind::Direct,
            lapin::options::ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("plain exchange_declare");
    let broker = vhost.connect(vhost.config()).await;
    let producer = broker.producer().await.expect("producer");
    let started = std::time::Instant::now();
    let err = producer
        .send(&topic, Message::new("x"))
        .await
        .expect_err("the exchange has another type");
    assert_eq!(err.kind(), courier_core::ErrorKind::Config, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "not retried");
    let err = match broker.subscribe(Subscription::new(&topic, "g")).await {
        Ok(_) => panic!("subscribing to the topic should fail"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), courier_core::ErrorKind::Config, "{err}");
    producer
        .send(&unique_name("interop.fine"), Message::new("y"))
        .await
        .expect("the producer still works for other topics");
    broker.close().await.ok();
}

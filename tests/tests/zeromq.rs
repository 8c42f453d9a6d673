//! The ZeroMQ backend: the conformance suite over TCP on loopback (once, and three copies at
//! once on one broker: no cross-talk between topics and groups sharing one ROUTER socket), and
//! its topology — a process that binds an endpoint and one that connects to it, bounded
//! outboxes, start-up errors.
//!
//! Every case is a test of its own: `cargo test -p courier-tests --test zeromq -- --list`.
//! `RUST_LOG=warn` shows the backend's logs (off otherwise: nothing captures the output).

use std::{process::ExitCode, sync::Arc, time::Duration};

use courier_core::{Broker, Capability, ErrorKind, Message, Subscription};
use courier_tests::conformance::{Configuration, Fixture, Trials};
use courier_zeromq::{Overflow, ZmqBroker, ZmqConfig};

fn main() -> ExitCode {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    // The capabilities rule nothing out of the suite.
    let tcp = Configuration::new("suite_on_zeromq", || async {
        let broker = ZmqBroker::connect(binding_config())
            .await
            .expect("bind a loopback port");
        let endpoint = broker.local_endpoint("any").expect("bound here");
        assert!(endpoint.starts_with("tcp://127.0.0.1:"), "{endpoint}");
        Fixture::new(Arc::new(broker))
    });
    let mut trials = Trials::new();
    trials.stress("stress_on_zeromq", 3, &tcp).suite(&tcp);
    courier_tests::async_tests!(
        &mut trials,
        capabilities_are_what_the_backend_guarantees,
        a_connecting_process_produces_consumes_and_declares,
        nothing_bound_means_a_retryable_error,
        a_second_process_cannot_bind_the_same_endpoint,
        an_invalid_config_names_the_key,
        full_outboxes_fail_or_block_as_configured,
        configured_groups_keep_messages_from_the_start,
        a_topic_table_gives_a_topic_its_own_endpoint,
    );
    #[cfg(unix)]
    trials.test("ipc_endpoints_work_like_tcp", ipc_endpoints_work_like_tcp);
    trials.run()
}

/// A broker that binds a free loopback port, with short heartbeats (silent peers are
/// noticed within 3 s, and a loaded test machine does not make live ones look silent).
fn binding_config() -> ZmqConfig {
    ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        heartbeat_interval_ms: 200,
        heartbeat_timeout_ms: 3000,
        connect_timeout_ms: 2000,
        linger_ms: 500,
        ..ZmqConfig::default()
    }
}

/// A broker that connects to `endpoint`, bound by another broker.
fn connecting_config(endpoint: &str) -> ZmqConfig {
    ZmqConfig {
        endpoint: endpoint.into(),
        bind: false,
        ..binding_config()
    }
}

async fn recv_within(
    consumer: &mut dyn courier_core::Consumer,
    what: &str,
) -> courier_core::Delivery {
    tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|e| panic!("receiving {what}: {e}"))
        .unwrap_or_else(|| panic!("consumer closed while waiting for {what}"))
}

fn topic(name: &str) -> String {
    courier_tests::support::unique_name(name)
}

async fn capabilities_are_what_the_backend_guarantees() {
    let broker = ZmqBroker::connect(binding_config()).await.unwrap();
    let caps = broker.capabilities();
    assert_eq!(broker.name(), "zeromq");
    for held in [
        Capability::FanOut,
        Capability::CompetingConsumers,
        Capability::DetachedRetention,
        Capability::RedeliveryOnNack,
        Capability::RedeliveryOnDisconnect,
        Capability::AttemptCount,
        Capability::AtLeastOnce,
        Capability::Prefetch,
        Capability::PerKeyOrder,
        Capability::PerKeyOrderAcrossConsumers,
        Capability::DelayedDelivery,
    ] {
        assert!(caps.has(held), "{held} should be reported");
    }
    for not_held in [Capability::Persistence, Capability::ConfirmedSend] {
        assert!(!caps.has(not_held), "{not_held} must not be reported");
    }
    broker.close().await.unwrap();
}

/// One process binds; another connects: its producer's messages reach the binding side's
/// consumers, its consumers receive the binding side's messages, and a group it declares is
/// kept by the binding side before any consumer runs.
async fn a_connecting_process_produces_consumes_and_declares() {
    // Remote peers create their groups here (the default refuses it: zeromq_peers.rs).
    let binder = ZmqBroker::connect(ZmqConfig {
        allow_remote_declare: true,
        ..binding_config()
    })
    .await
    .unwrap();
    let endpoint = binder.local_endpoint("x").unwrap();
    let connector = ZmqBroker::connect(connecting_config(&endpoint))
        .await
        .unwrap();
    assert_eq!(connector.local_endpoint("x"), None);

    // Remote producer -> binding side -> consumer of the binding process.
    let orders = topic("orders");
    let mut local = binder
        .subscribe(Subscription::new(&orders, "billing"))
        .await
        .unwrap();
    let remote_producer = connector.producer().await.unwrap();
    let sent = Message::new("from afar")
        .with_key("order-1")
        .with_header("origin", "connector");
    remote_producer.send(&orders, sent.clone()).await.unwrap();
    let mut got = recv_within(local.as_mut(), "the remote producer's message").await;
    assert_eq!(got.message, sent);
    got.ack().await.unwrap();

    // Binding side's producer -> consumer of the connecting process.
    let mut remote = connector
        .subscribe(Subscription::new(&orders, "shipping"))
        .await
        .unwrap();
    let local_producer = binder.producer().await.unwrap();
    local_producer
        .send(&orders, Message::new("to afar").with_id("m-2"))
        .await
        .unwrap();
    let mut got = recv_within(remote.as_mut(), "the binding side's message").await;
    assert_eq!(got.message.id, "m-2");
    assert_eq!(&**got.topic(), orders.as_str());
    got.ack().await.unwrap();

    // A group declared from the connecting side is kept before its consumer starts.
    let late = topic("late");
    connector.declare_group(&late, "audit").await.unwrap();
    let batch: Vec<Message> = (0..50).map(|i| Message::new(format!("m{i}"))).collect();
    remote_producer
        .send_batch(&late, batch.clone())
        .await
        .unwrap();
    remote_producer.flush().await.unwrap();
    let mut audit = connector
        .subscribe(Subscription::new(&late, "audit").with_prefetch(64))
        .await
        .unwrap();
    for expected in &batch {
        let mut d = recv_within(audit.as_mut(), "a retained message").await;
        assert_eq!(d.message.id, expected.id, "order of one producer is kept");
        d.ack().await.unwrap();
    }

    for mut c in [local, remote, audit] {
        c.close().await.unwrap();
    }
    connector.close().await.unwrap();
    binder.close().await.unwrap();
}

/// A send to an endpoint nobody binds fails with a retryable connection error, in bounded
/// time, and so does a subscription.
async fn nothing_bound_means_a_retryable_error() {
    // A port that was free a moment ago and is not bound by anyone now.
    let port = free_port();
    let config = ZmqConfig {
        connect_timeout_ms: 300,
        ..connecting_config(&format!("tcp://127.0.0.1:{port}"))
    };
    let broker = ZmqBroker::connect(config).await.unwrap();
    let producer = broker.producer().await.unwrap();
    let error = tokio::time::timeout(
        Duration::from_secs(5),
        producer.send("t", Message::new("x")),
    )
    .await
    .expect("bounded by connect_timeout_ms")
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connection, "{error}");
    assert!(error.is_retryable());
    assert!(error.to_string().contains(&port.to_string()), "{error}");

    let error = tokio::time::timeout(
        Duration::from_secs(5),
        broker.subscribe(Subscription::new("t", "g")),
    )
    .await
    .expect("bounded by connect_timeout_ms")
    .err()
    .expect("no binding side, no subscription");
    assert_eq!(error.kind(), ErrorKind::Connection, "{error}");
    broker.close().await.unwrap();
}

async fn a_second_process_cannot_bind_the_same_endpoint() {
    let first = ZmqBroker::connect(binding_config()).await.unwrap();
    let endpoint = first.local_endpoint("t").unwrap();
    let error = ZmqBroker::connect(ZmqConfig {
        endpoint: endpoint.clone(),
        ..binding_config()
    })
    .await
    .expect_err("the port is taken");
    assert_eq!(error.kind(), ErrorKind::Connection);
    assert!(error.to_string().contains(&endpoint), "{error}");
    assert!(error.to_string().contains("bind = true"), "{error}");
    first.close().await.unwrap();
}

async fn an_invalid_config_names_the_key() {
    let error = ZmqBroker::connect(ZmqConfig {
        endpoint: "localhost:5600".into(),
        ..ZmqConfig::default()
    })
    .await
    .expect_err("invalid endpoint");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(
        error.message().starts_with("broker.zeromq.endpoint "),
        "{error}"
    );
}

/// With `overflow = "fail"`, a full outbox refuses the rest of a batch with a retryable
/// `Full`; with `"block"`, the send waits until an ack frees room.
async fn full_outboxes_fail_or_block_as_configured() {
    let failing = ZmqBroker::connect(ZmqConfig {
        capacity: 3,
        overflow: Overflow::Fail,
        ..binding_config()
    })
    .await
    .unwrap();
    let t = topic("full");
    failing.declare_group(&t, "g").await.unwrap();
    let producer = failing.producer().await.unwrap();
    let batch: Vec<Message> = (0..5).map(|i| Message::new(format!("{i}"))).collect();
    let error = producer.send_batch(&t, batch).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Full, "{error}");
    assert!(error.is_retryable());
    failing.close().await.unwrap();

    let blocking = ZmqBroker::connect(ZmqConfig {
        capacity: 2,
        ..binding_config()
    })
    .await
    .unwrap();
    let t = topic("block");
    blocking.declare_group(&t, "g").await.unwrap();
    let producer = blocking.producer().await.unwrap();
    producer
        .send_batch(&t, vec![Message::new("a"), Message::new("b")])
        .await
        .unwrap();
    let third = tokio::spawn({
        let producer = producer.clone();
        let t = t.clone();
        async move { producer.send(&t, Message::new("c").with_id("c")).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "the outbox is full: the send waits");
    let mut consumer = blocking
        .subscribe(Subscription::new(&t, "g").with_prefetch(1))
        .await
        .unwrap();
    let mut first = recv_within(consumer.as_mut(), "the first message").await;
    assert!(
        !third.is_finished(),
        "a delivered, unacked message still counts"
    );
    first.ack().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the ack frees room")
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut d = recv_within(consumer.as_mut(), "the rest").await;
        ids.push(d.message.id.to_string());
        d.ack().await.unwrap();
    }
    assert_eq!(ids.last().map(String::as_str), Some("c"));
    consumer.close().await.unwrap();
    blocking.close().await.unwrap();
}

/// Groups listed in the binding side's configuration keep messages from start-up.
async fn configured_groups_keep_messages_from_the_start() {
    let t = topic("configured");
    let mut config = binding_config();
    config.topics.insert(
        t.clone(),
        courier_zeromq::TopicConfig {
            groups: vec!["inventory".into()],
            ..Default::default()
        },
    );
    let broker = ZmqBroker::connect(config).await.unwrap();
    let producer = broker.producer().await.unwrap();
    producer
        .send(&t, Message::new("early").with_id("early"))
        .await
        .unwrap();
    let mut consumer = broker
        .subscribe(Subscription::new(&t, "inventory"))
        .await
        .unwrap();
    let mut d = recv_within(consumer.as_mut(), "the message sent before the consumer").await;
    assert_eq!(d.message.id, "early");
    d.ack().await.unwrap();
    consumer.close().await.unwrap();
    broker.close().await.unwrap();
}

/// A topic with its own endpoint gets its own ROUTER; other topics stay on the default one.
async fn a_topic_table_gives_a_topic_its_own_endpoint() {
    let own = topic("own");
    let port = free_port();
    let mut config = binding_config();
    config.topics.insert(
        own.clone(),
        courier_zeromq::TopicConfig {
            endpoint: Some(format!("tcp://127.0.0.1:{port}")),
            ..Default::default()
        },
    );
    let broker = ZmqBroker::connect(config).await.unwrap();
    let dedicated = broker.local_endpoint(&own).unwrap();
    assert_eq!(dedicated, format!("tcp://127.0.0.1:{port}"));
    assert_ne!(broker.local_endpoint("other").unwrap(), dedicated);
    let mut consumer = broker
        .subscribe(Subscription::new(&own, "g"))
        .await
        .unwrap();
    let producer = broker.producer().await.unwrap();
    producer
        .send(&own, Message::new("x").with_id("on-its-own"))
        .await
        .unwrap();
    let mut d = recv_within(consumer.as_mut(), "a message on the dedicated endpoint").await;
    assert_eq!(d.message.id, "on-its-own");
    d.ack().await.unwrap();
    consumer.close().await.unwrap();
    broker.close().await.unwrap();
}

fn free_port() -> u16 {
    courier_tests::ports::free_port().expect("a free port")
}

/// The same over an `ipc://` endpoint (a Unix domain socket).
#[cfg(unix)]
async fn ipc_endpoints_work_like_tcp() {
    let path = std::env::temp_dir().join(format!("{}.sock", topic("courier-zmq")));
    let broker = ZmqBroker::connect(ZmqConfig {
        endpoint: format!("ipc://{}", path.display()),
        ..binding_config()
    })
    .await
    .unwrap();
    let t = topic("ipc");
    let mut consumer = broker.subscribe(Subscription::new(&t, "g")).await.unwrap();
    let producer = broker.producer().await.unwrap();
    producer
        .send(&t, Message::new("over ipc").with_id("ipc-1"))
        .await
        .unwrap();
    let mut d = recv_within(consumer.as_mut(), "a message over ipc").await;
    assert_eq!(d.message.id, "ipc-1");
    d.ack().await.unwrap();
    consumer.close().await.unwrap();
    broker.close().await.unwrap();
    let _ = std::fs::remove_file(&path);
}

//! What the Kafka test files share: where the broker is, connecting or skipping, and raw
//! rdkafka clients to look at the wire.

#![allow(dead_code)]

use std::{net::ToSocketAddrs, path::PathBuf, process::Command, time::Duration};

use courier_kafka::{KafkaBroker, KafkaConfig};
use courier_tests::support::broker_absent;
use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer as _},
    producer::FutureProducer,
};

/// The brokers under test: `COURIER_KAFKA_BROKERS`, default `127.0.0.1:9092`.
pub fn brokers() -> String {
    std::env::var("COURIER_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
}

/// A configuration for `brokers`, otherwise the defaults.
pub fn config(brokers: &str) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_owned(),
        ..KafkaConfig::default()
    }
}

/// Whether something listens at the first of `brokers`.
pub fn answers(brokers: &str) -> bool {
    let first = brokers.split(',').next().unwrap_or_default().trim();
    let Ok(mut addresses) = first.to_socket_addrs() else {
        return false;
    };
    addresses.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

/// Connects with `config`, or reports the broker absent (a skip, or a failure in CI) and
/// returns `None`.
pub async fn connect_or_skip(config: KafkaConfig) -> Option<KafkaBroker> {
    if !answers(&config.brokers) {
        broker_absent(
            "kafka",
            &format!(
                "nothing answers at {} (scripts/kafka.sh start; COURIER_KAFKA_BROKERS)",
                config.brokers
            ),
        );
        return None;
    }
    Some(
        KafkaBroker::connect(config)
            .await
            .expect("the broker answers on its port, so connecting must work"),
    )
}

/// [`connect_or_skip`] with the default configuration for the brokers under test.
pub async fn connect_default_or_skip() -> Option<KafkaBroker> {
    connect_or_skip(config(&brokers())).await
}

/// A plain producer with no courier settings.
pub fn raw_producer(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "30000")
        .create()
        .expect("raw producer")
}

/// A plain consumer assigned every partition of `topic` from the beginning.
pub fn raw_reader(brokers: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("raw-{}", uuid::Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("raw consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut list = rdkafka::TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            list.add_partition_offset(topic, p.id(), rdkafka::Offset::Beginning)
                .expect("partition");
        }
    }
    consumer.assign(&list).expect("assign");
    consumer
}

/// The number of partitions of `topic`.
pub fn partition_count(brokers: &str, topic: &str) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("metadata client");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len())
}

/// How many times each message id arrived, filled by [`Collector`] tasks.
pub type Seen = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

/// A consumer that receives and acks in a background task, counting ids in a [`Seen`].
pub struct Collector {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<usize>,
}

impl Collector {
    /// Starts receiving from `consumer` into `seen`.
    pub fn spawn(mut consumer: Box<dyn courier_core::Consumer>, seen: Seen) -> Self {
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut received = 0;
            loop {
                let batch = tokio::select! {
                    () = stopped.cancelled() => break,
                    batch = consumer.recv_batch(256) => batch,
                };
                let batch = match batch {
                    Ok(b) if b.is_empty() => break,
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("collector: recv failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                {
                    let mut seen = seen.lock().expect("seen");
                    for d in &batch {
                        *seen.entry(d.message.id.to_string()).or_default() += 1;
                    }
                }
                received += batch.len();
                for mut d in batch {
                    d.ack().await.expect("ack");
                }
            }
            consumer.close().await.expect("close");
            received
        });
        Self { stop, task }
    }

    /// Stops, closes the consumer and returns how many deliveries it received.
    pub async fn finish(self) -> usize {
        self.stop.cancel();
        self.task.await.expect("collector task")
    }
}

/// Waits until `seen` holds every id of `ids`, up to `limit`; returns how many are missing.
pub async fn wait_for_all(seen: &Seen, ids: &[String], limit: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let missing = {
            let seen = seen.lock().expect("seen");
            ids.iter().filter(|id| !seen.contains_key(*id)).count()
        };
        if missing == 0 || tokio::time::Instant::now() >= deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logs to stderr as `RUST_LOG` says (nothing when unset).
pub fn init_logs() {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// A tansu of a test's own on `port` with its data in `data`, driven through
/// `scripts/kafka.sh`, so the shared broker is not disturbed. Stopped, and its data removed,
/// when dropped.
pub struct Tansu {
    pub port: String,
    pub data: PathBuf,
}

impl Tansu {
    fn script(&self, command: &str, signal: &str) -> bool {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        Command::new("bash")
            .arg(root.join("scripts/kafka.sh"))
            .arg(command)
            .env("COURIER_KAFKA_PORT", &self.port)
            .env("COURIER_KAFKA_DATA", &self.data)
            .env("COURIER_KAFKA_STOP_SIGNAL", signal)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts it (installing tansu when missing) and waits until it answers.
    pub fn start(&self) -> bool {
        self.script("start", "TERM")
    }

    /// Kills it with SIGKILL (a crash).
    ///
    /// # Panics
    /// When it cannot be killed.
    pub fn kill(&self) {
        assert!(self.script("stop", "KILL"), "killing tansu");
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.script("stop", "TERM");
        std::fs::remove_dir_all(&self.data).ok();
    }
}

/// A tansu of this test's own, started, with its data under `target/kafka-<name>-<pid>`, on
/// the port `$port_env` (else `default_port`); its broker address beside it. `None` after a
/// skip notice (a failure in CI) when tansu is not installed.
///
/// # Panics
/// When something already listens on the port, or tansu does not start.
pub fn own_tansu(name: &str, port_env: &str, default_port: &str) -> Option<(Tansu, String)> {
    if !tansu_installed() {
        broker_absent(
            "kafka",
            "tansu is not installed (scripts/kafka.sh install), so this test cannot run its own broker",
        );
        return None;
    }
    let tansu = Tansu {
        data: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .join(format!("kafka-{name}-{}", std::process::id())),
        port: std::env::var(port_env).unwrap_or_else(|_| default_port.into()),
    };
    let brokers = format!("127.0.0.1:{}", tansu.port);
    assert!(
        !answers(&brokers),
        "something already listens on {brokers}; set {port_env}"
    );
    assert!(tansu.start(), "starting tansu on {brokers}");
    Some((tansu, brokers))
}

/// Whether the `tansu` binary is installed.
pub fn tansu_installed() -> bool {
    let home = std::env::var("HOME").unwrap_or_default();
    Command::new("tansu")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || PathBuf::from(home).join(".cargo/bin/tansu").exists()
}

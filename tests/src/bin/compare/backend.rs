//! The backends compared: for each, the courier side (through `courier-config`'s `connect`,
//! as a service connects) and the raw side built with the same settings.

use std::{net::ToSocketAddrs, sync::Arc, time::Duration};

use clap::ValueEnum;
use courier_config::{BrokerKind, Config};

use courier_core::redact_url;

use crate::{
    cli::Args,
    courier_side::{Cleaner, CourierSide},
    driver::Side,
    raw::{
        self,
        kafka::{KafkaSettings, RawKafka},
        rabbitmq::{AmqpCleaner, RawRabbitMq},
        zeromq::RawZmq,
    },
    workload::{BATCH, DEPTH, PREFETCH, WORKLOADS},
};

/// A backend of courier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// In-process queues; raw: tokio mpsc.
    Memory,
    /// RabbitMQ; raw: lapin.
    Rabbitmq,
    /// Kafka protocol (tansu here); raw: rdkafka.
    Kafka,
    /// ZeroMQ; raw: PUSH/PULL with the zeromq crate.
    Zeromq,
}

impl Backend {
    /// Its name in reports and configuration.
    pub fn name(self) -> &'static str {
        self.kind().name()
    }

    fn kind(self) -> BrokerKind {
        match self {
            Self::Memory => BrokerKind::Memory,
            Self::Rabbitmq => BrokerKind::RabbitMq,
            Self::Kafka => BrokerKind::Kafka,
            Self::Zeromq => BrokerKind::ZeroMq,
        }
    }

    /// Measured messages per run unless `--messages` says otherwise: sized so that the
    /// default run of all four backends takes a few minutes on 2 cores.
    pub fn default_messages(self) -> u64 {
        match self {
            Self::Memory => 1_000_000,
            Self::Zeromq => 200_000,
            Self::Rabbitmq | Self::Kafka => 20_000,
        }
    }
}

/// Both sides of one backend, and the configuration the saga runs with.
pub struct Contenders {
    /// Through courier.
    pub courier: CourierSide,
    /// Through the raw client.
    pub raw: Box<dyn Side>,
    /// The configuration courier connected with.
    pub config: Config,
    /// Deletes topics and queues on the broker, where runs leave any.
    pub cleaner: Option<Arc<dyn Cleaner>>,
    /// What the raw side does, for the report.
    pub note: String,
}

/// Connects both sides of `backend`.
///
/// # Errors
/// Why the backend cannot be measured (its broker does not answer, it is not built), as a
/// sentence for the report.
pub async fn prepare(backend: Backend, args: &Args) -> Result<Contenders, String> {
    let mut config = Config::default();
    config.broker.kind = backend.kind();
    config.runtime.prefetch = PREFETCH;
    match backend {
        Backend::Memory => {
            let raw = raw::memory::RawMemory::new(config.broker.memory.capacity);
            let note = format!(
                "memory: raw is one bounded tokio mpsc channel per run (capacity {}, as a memory \
                 group), its receiver shared by the consumers behind a mutex; a channel has no \
                 acks, courier acks every delivery",
                config.broker.memory.capacity
            );
            finish(config, None, Box::new(raw), note).await
        }
        Backend::Rabbitmq => {
            let url = args.amqp_url.expose();
            config.broker.rabbitmq.url = url.to_owned();
            config.broker.rabbitmq.confirm_window = BATCH * DEPTH;
            let unreachable = |e| format!("RabbitMQ at {} does not answer: {e}", redact_url(url));
            let raw = RawRabbitMq::connect(url).await.map_err(unreachable)?;
            let cleaner = AmqpCleaner::connect(url).await.map_err(unreachable)?;
            let note = format!(
                "rabbitmq: raw is lapin with courier's topology (durable fanout exchange, durable \
                 classic queue `<topic>.<group>`), persistent messages, publisher confirms \
                 (window {}: {DEPTH} batches of {BATCH} in flight per producer), basic.qos \
                 {PREFETCH}, one ack per delivery; one connection for publishing and one for \
                 consuming, as courier",
                BATCH * DEPTH
            );
            finish(config, Some(Arc::new(cleaner)), Box::new(raw), note).await
        }
        Backend::Kafka => {
            let first = args.kafka_brokers.split(',').next().unwrap_or_default();
            reachable(first.trim()).map_err(|e| format!("no Kafka broker: {e}"))?;
            let kafka = &mut config.broker.kafka;
            kafka.brokers.clone_from(&args.kafka_brokers);
            kafka.partitions = WORKLOADS.iter().map(|w| w.consumers).max().unwrap_or(1) as u32;
            let settings = KafkaSettings {
                brokers: kafka.brokers.clone(),
                partitions: kafka.partitions,
                replication_factor: kafka.replication_factor,
                linger_ms: kafka.linger_ms,
                batch_bytes: kafka.batch_bytes,
                max_message_bytes: kafka.max_message_bytes,
                send_timeout_ms: kafka.send_timeout_ms,
                session_timeout_ms: kafka.session_timeout_ms,
                commit_interval_ms: kafka.commit_interval_ms,
                request_timeout_ms: kafka.request_timeout_ms,
                id_header: !args.kafka_raw_without_id_header,
            };
            let note = format!(
                "kafka: raw is rdkafka with courier's client settings (idempotent, acks=all, \
                 linger.ms {}, batch.size {}, murmur2_random partitioner), topics of {} \
                 partitions, offsets stored per processed message and committed every {} ms, {}",
                settings.linger_ms,
                settings.batch_bytes,
                settings.partitions,
                settings.commit_interval_ms,
                if settings.id_header {
                    "each record with a courier-id header as courier's, so both sides write the same bytes"
                } else {
                    "records without headers (--kafka-raw-without-id-header; courier's carry a courier-id header)"
                }
            );
            let raw = RawKafka::new(settings).map_err(|e| format!("rdkafka: {e}"))?;
            // No cleaner: the runs' topics stay (see `RawKafka::cleanup`).
            finish(config, None, Box::new(raw), note).await
        }
        Backend::Zeromq => {
            config.broker.zeromq.endpoint = "tcp://127.0.0.1:0".into();
            config.broker.zeromq.bind = true;
            let note = "zeromq: raw is PUSH/PULL over loopback TCP (each PULL binds, each PUSH \
                        connects to all): no acks and no confirms, so it does less than courier, \
                        whose binding side keeps every message until a consumer acks it"
                .to_owned();
            finish(config, None, Box::new(RawZmq), note).await
        }
    }
}

async fn finish(
    config: Config,
    cleaner: Option<Arc<dyn Cleaner>>,
    raw: Box<dyn Side>,
    note: String,
) -> Result<Contenders, String> {
    let broker = courier_config::connect(&config)
        .await
        .map_err(|e| format!("courier cannot connect: {e}"))?;
    Ok(Contenders {
        courier: CourierSide::new(broker, cleaner.clone()),
        cleaner,
        raw,
        config,
        note,
    })
}

/// Whether something accepts TCP connections at `address` (`host:port`).
///
/// # Errors
/// A sentence saying what did not answer.
pub fn reachable(address: &str) -> Result<(), String> {
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .collect();
    for addr in &addrs {
        if std::net::TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok() {
            return Ok(());
        }
    }
    Err(format!("nothing accepts connections on {address}"))
}

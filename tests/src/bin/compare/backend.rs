//! The backends compared: for each, the courier side (through `courier-config`'s `connect`,
//! as a service connects) and two raw sides built with the same settings: one doing the same
//! work as courier, and the bare client.

use std::{net::ToSocketAddrs, sync::Arc, time::Duration};

use clap::ValueEnum;
use courier_config::{BrokerKind, Config};

use courier_core::redact_url;

use crate::{
    cli::Args,
    courier_side::{Cleaner, CourierSide},
    driver::Side,
    raw::{
        Work,
        kafka::{KafkaSettings, RawKafka},
        memory::RawMemory,
        rabbitmq::{AmqpCleaner, RawRabbitMq},
        zeromq::RawZmq,
        zeromq_acked::AckedZmq,
    },
    workload::{BATCH, DEPTH, PREFETCH, WORKLOADS},
};

/// A backend of courier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// In-process queues; raw: tokio mpsc with an ack channel back, and bare.
    Memory,
    /// RabbitMQ; raw: lapin with courier's properties and acks, and bare.
    Rabbitmq,
    /// Kafka protocol (tansu here); raw: rdkafka with courier's header, and bare.
    Kafka,
    /// ZeroMQ; raw: ROUTER/DEALER with acks by hand, and bare PUSH/PULL.
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

/// The sides of one backend, and the configuration the saga runs with.
pub struct Contenders {
    /// Through courier.
    pub courier: CourierSide,
    /// Through the raw client doing the same work as courier: the ratio's baseline.
    pub raw: Box<dyn Side>,
    /// Through the bare raw client: only what the broker needs, in its simplest form.
    pub bare: Box<dyn Side>,
    /// Through another messaging library (the `peers` feature), with its line's title.
    pub peer: Option<(Box<dyn Side>, &'static str)>,
    /// The configuration courier connected with.
    pub config: Config,
    /// Deletes topics and queues on the broker, where runs leave any.
    pub cleaner: Option<Arc<dyn Cleaner>>,
    /// What the raw sides do, for the report.
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
            let capacity = config.broker.memory.capacity;
            let note = format!(
                "memory: raw is a bounded tokio mpsc channel per run (capacity {capacity}, as a \
                 memory group) carrying each message with a sequence number, its receiver shared \
                 by the consumers behind a mutex, and a channel back on which each consumer \
                 sends the numbers of a taken batch as one ack, counted by a task on the \
                 producer side; bare is the channel alone, without acks"
            );
            let sides = Sides {
                raw: Box::new(RawMemory::new(capacity, Work::Equal)),
                bare: Box::new(RawMemory::new(capacity, Work::Bare)),
                peer: None,
            };
            finish(config, None, sides, note).await
        }
        Backend::Rabbitmq => {
            let url = args.amqp_url.expose();
            config.broker.rabbitmq.url = url.to_owned();
            config.broker.rabbitmq.confirm_window = BATCH * DEPTH;
            let unreachable = |e| format!("RabbitMQ at {} does not answer: {e}", redact_url(url));
            let raw = RawRabbitMq::connect(url, Work::Equal)
                .await
                .map_err(unreachable)?;
            let bare = RawRabbitMq::connect(url, Work::Bare)
                .await
                .map_err(unreachable)?;
            let cleaner = AmqpCleaner::connect(url).await.map_err(unreachable)?;
            let note = format!(
                "rabbitmq: both raw sides are lapin with courier's topology (durable fanout \
                 exchange, durable classic queue `<topic>.<group>`), persistent messages, \
                 publisher confirms (window {}: {DEPTH} batches of {BATCH} in flight per \
                 producer), basic.qos {PREFETCH}, one connection for publishing and one for \
                 consuming, as courier; raw sets on every message what courier sets (a UUIDv7 \
                 message_id and a headers table) and acks a taken batch with one basic.ack per \
                 delivery, all in flight together, as courier's ack_all; bare sends only the \
                 delivery mode and awaits each ack before taking the next delivery",
                BATCH * DEPTH
            );
            #[cfg_attr(not(feature = "peers"), allow(unused_mut))]
            let mut sides = Sides {
                raw: Box::new(raw),
                bare: Box::new(bare),
                peer: None,
            };
            #[cfg_attr(not(feature = "peers"), allow(unused_mut))]
            let mut note = note;
            #[cfg(feature = "peers")]
            {
                use crate::peers::ruststream::{RustStreamSide, TITLE};
                let peer = RustStreamSide::connect(url)
                    .await
                    .map_err(|e| format!("ruststream: {e}"))?;
                sides.peer = Some((Box::new(peer), TITLE));
                note.push_str(&format!(
                    "; {TITLE} is that library driven through its own API at its best settings: \
                     a LapinBroker with prefetch {PREFETCH} per direction (one for publishing, \
                     one for consuming), the same topology declared with lapin beforehand, its \
                     publisher-confirms policy (LapinPublish::confirms, persistent) with every \
                     publish of a batch in flight on the producer's confirm channel, each \
                     awaiting its own confirm, and Subscriber::stream with its native basic.ack \
                     per delivery (a taken batch's acks in flight together), payloads handed \
                     to its Publisher trait as bytes (no codec); what it does differently: each \
                     publish awaits its own confirm (no confirm window: what is in flight is \
                     what the caller keeps in flight, here the same {DEPTH} batches of {BATCH} \
                     per producer), its frames carry only the delivery mode (no message_id, no \
                     headers table), and its guarantee is at-least-once like courier's but \
                     without an id on each message to deduplicate redeliveries by"
                ));
            }
            finish(config, Some(Arc::new(cleaner)), sides, note).await
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
                id_header: true,
            };
            let note = format!(
                "kafka: raw is rdkafka with courier's client settings (idempotent, acks=all, \
                 linger.ms {}, batch.size {}, murmur2_random partitioner), topics of {} \
                 partitions, offsets stored per processed message and committed every {} ms; raw \
                 writes each record with a courier-id header (a UUIDv7) as courier does, so both \
                 put the same bytes on the wire; bare writes records without headers",
                settings.linger_ms,
                settings.batch_bytes,
                settings.partitions,
                settings.commit_interval_ms,
            );
            let bare = KafkaSettings {
                id_header: false,
                ..settings.clone()
            };
            let rdkafka = |e| format!("rdkafka: {e}");
            let sides = Sides {
                raw: Box::new(RawKafka::new(settings).map_err(rdkafka)?),
                bare: Box::new(RawKafka::new(bare).map_err(rdkafka)?),
                peer: None,
            };
            // No cleaner: the runs' topics stay (see `RawKafka::cleanup`).
            finish(config, None, sides, note).await
        }
        Backend::Zeromq => {
            config.broker.zeromq.endpoint = "tcp://127.0.0.1:0".into();
            config.broker.zeromq.bind = true;
            let capacity = config.broker.zeromq.capacity;
            let note = format!(
                "zeromq: raw is acks and redelivery by hand on ROUTER/DEALER over loopback TCP: \
                 a binder task in the producers' process owns the ROUTER and the group's queue \
                 (at most {capacity} waiting and unacked, as courier's outbox), the producers \
                 hand it batches in process, each consumer's DEALER receives while it holds \
                 fewer than {PREFETCH} unacked and acks a taken batch with one ACK of one tag \
                 per frame, and the binder keeps each delivered message until acked and puts a \
                 leaving member's back in the queue, sending up to 64 deliveries per message as \
                 courier's binding side does; bare is PUSH/PULL (each PULL binds, each PUSH \
                 connects to all), no acks and no confirms, one message per payload"
            );
            #[cfg_attr(not(feature = "peers"), allow(unused_mut))]
            let mut sides = Sides {
                raw: Box::new(AckedZmq::new(capacity)),
                bare: Box::new(RawZmq),
                peer: None,
            };
            #[cfg_attr(not(feature = "peers"), allow(unused_mut))]
            let mut note = note;
            #[cfg(feature = "peers")]
            {
                use crate::peers::ruststream_zeromq::{RustStreamZmqSide, TITLE};
                sides.peer = Some((Box::new(RustStreamZmqSide), TITLE));
                note.push_str(&format!(
                    "; {TITLE} is that library driven through its own API at its best settings: \
                     its PUSH/PULL queue (ZmqQueue) in the competing-consumers layout its guide \
                     gives, over loopback TCP: the producers' side binds and pairs one publisher \
                     (ZmqQueuePublish, one PUSH socket shared by the run's producers), each \
                     consumer connects a ZmqQueue of its own with read_ahead {PREFETCH} and \
                     takes deliveries from Subscriber::stream, payloads handed to its Publisher \
                     trait as bytes (no codec); what it does differently: no acknowledgement at \
                     all (its ack reports Unsupported, so none is sent), no redelivery and \
                     nothing stored, so its guarantee is at-most-once where courier's is \
                     at-least-once, and a publish returns once the socket took the message (no \
                     confirm, no outbox)"
                ));
            }
            finish(config, None, sides, note).await
        }
    }
}

/// The two raw sides of a backend, and another library where one is measured.
struct Sides {
    raw: Box<dyn Side>,
    bare: Box<dyn Side>,
    peer: Option<(Box<dyn Side>, &'static str)>,
}

async fn finish(
    config: Config,
    cleaner: Option<Arc<dyn Cleaner>>,
    sides: Sides,
    note: String,
) -> Result<Contenders, String> {
    let broker = courier_config::connect(&config)
        .await
        .map_err(|e| format!("courier cannot connect: {e}"))?;
    Ok(Contenders {
        courier: CourierSide::new(broker, cleaner.clone()),
        cleaner,
        raw: sides.raw,
        bare: sides.bare,
        peer: sides.peer,
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

//! The backends compared: for each, the courier side (through `courier-config`'s `connect`,
//! as a service connects) and the raw side built with the same settings.

use std::{net::ToSocketAddrs, time::Duration};

use clap::ValueEnum;
use courier_config::{BrokerKind, Config};

use crate::{
    cli::Args,
    courier_side::CourierSide,
    driver::Side,
    raw,
    workload::PREFETCH,
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
        Backend::Rabbitmq | Backend::Kafka | Backend::Zeromq => {
            let _ = args;
            Err(format!("courier-{} is not built yet", backend.name()))
        }
    }
}

async fn finish(
    config: Config,
    cleaner: Option<Box<dyn crate::courier_side::Cleaner>>,
    raw: Box<dyn Side>,
    note: String,
) -> Result<Contenders, String> {
    let broker = courier_config::connect(&config)
        .await
        .map_err(|e| format!("courier cannot connect: {e}"))?;
    Ok(Contenders {
        courier: CourierSide::new(broker, cleaner),
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

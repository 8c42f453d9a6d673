//! [`KafkaBroker`]: the connection to a Kafka cluster.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use courier_core::{
    Broker, Capabilities, Capability, ConnectionState, Consumer, Error, ErrorKind, Producer,
    Result, Subscription,
};
use rdkafka::{admin::AdminClient, client::DefaultClientContext};

use crate::{
    BACKEND, KafkaConfig,
    client::ClientSettings,
    consumer,
    health::Links,
    producer::{KafkaProducer, SharedProducer},
    topics::Topics,
};

/// The guarantees of this backend (see the crate documentation); `max_payload` follows the
/// configuration.
pub const CAPABILITIES: Capabilities = Capabilities::none()
    .with(Capability::Persistence)
    .with(Capability::DetachedRetention)
    .with(Capability::FanOut)
    .with(Capability::CompetingConsumers)
    .with(Capability::PerKeyOrder)
    .with(Capability::PerKeyOrderAcrossConsumers)
    .with(Capability::RedeliveryOnNack)
    .with(Capability::RedeliveryOnDisconnect)
    .with(Capability::AttemptCount)
    .with(Capability::AtLeastOnce)
    .with(Capability::ConfirmedSend)
    .with(Capability::Prefetch)
    .with(Capability::DelayedDelivery);

/// A connection to a Kafka cluster (or a Kafka-compatible broker such as tansu).
///
/// A topic is a Kafka topic, created with `partitions` partitions when missing; a group is a
/// Kafka consumer group (`group.id`); a message's key picks its partition. One idempotent
/// librdkafka producer is shared by every [`producer`](Broker::producer) handle; each
/// subscription is its own librdkafka consumer.
pub struct KafkaBroker {
    settings: ClientSettings,
    topics: Arc<Topics>,
    producer: Arc<SharedProducer>,
    links: Arc<Links>,
    closed: AtomicBool,
}

impl std::fmt::Debug for KafkaBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBroker")
            .field("config", &self.settings.config)
            .finish_non_exhaustive()
    }
}

impl KafkaBroker {
    /// Validates `config`, connects and checks that the brokers answer.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an invalid configuration (naming the key);
    /// [`ErrorKind::Connection`] when no broker answers within `request_timeout_ms`.
    pub async fn connect(config: KafkaConfig) -> Result<Self> {
        let settings = ClientSettings::new(config)?;
        let admin: AdminClient<DefaultClientContext> = settings
            .admin()
            .create()
            .map_err(|e| settings.error(ErrorKind::Config, "creating the admin client", e))?;
        let topics = Arc::new(Topics::new(admin, settings.clone()));
        let probe = topics.clone();
        let timeout = settings.request_timeout();
        let answered = tokio::task::spawn_blocking(move || {
            probe
                .admin()
                .inner()
                .fetch_metadata(None, timeout)
                .map(|_| ())
        })
        .await
        .map_err(|e| {
            Error::new(
                BACKEND,
                ErrorKind::Other,
                format!("checking the brokers: {e}"),
            )
        })?;
        answered.map_err(|e| {
            settings.error(
                ErrorKind::Connection,
                &format!(
                    "no broker of `{}` answered within {} ms",
                    settings.config.brokers,
                    timeout.as_millis()
                ),
                e,
            )
        })?;
        let links = Arc::new(Links::default());
        let producer = Arc::new(SharedProducer::new(
            settings.clone(),
            topics.clone(),
            &links,
        )?);
        Ok(Self {
            settings,
            topics,
            producer,
            links,
            closed: AtomicBool::new(false),
        })
    }

    /// The configuration it was connected with.
    pub fn config(&self) -> &KafkaConfig {
        &self.settings.config
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "broker connection"));
        }
        Ok(())
    }
}

#[async_trait]
impl Broker for KafkaBroker {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        let mut capabilities = CAPABILITIES;
        capabilities.max_payload = Some(self.settings.config.max_payload());
        capabilities
    }

    async fn producer(&self) -> Result<Arc<dyn Producer>> {
        self.check_open()?;
        Ok(Arc::new(KafkaProducer::new(self.producer.clone())))
    }

    async fn declare_group(&self, topic: &str, _group: &str) -> Result<()> {
        // A group exists in Kafka as soon as it commits; until then it starts at the earliest
        // offset, so creating the topic is enough to keep every message for it.
        self.check_open()?;
        self.topics.ensure(topic).await
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
        self.check_open()?;
        self.topics.ensure(&subscription.topic).await?;
        let consumer = consumer::open(
            &self.settings,
            self.producer.clone(),
            &subscription,
            &self.links,
        )
        .await?;
        Ok(Box::new(consumer))
    }

    /// Up while one of its librdkafka clients (the producer, the consumers) has a broker
    /// connection up, from their statistics (every second) and their "all brokers down"
    /// errors (at once).
    fn connection_state(&self) -> ConnectionState {
        if self.closed.load(Ordering::Acquire) {
            return ConnectionState::Down("closed".to_owned());
        }
        self.links.state()
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        self.producer.flush().await
    }
}

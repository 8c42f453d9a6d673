//! [`RabbitMqBroker`]: the entry point of the backend.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use courier_core::{
    Backoff, Broker, ByteBudget, Capabilities, Capability, ConnectionState, Consumer, ErrorKind,
    Producer, Result, Subscription,
};
use tracing::info;

use crate::{
    RabbitMqConfig,
    acker::{RabbitMqAck, Requeue},
    connector::{Connector, Link},
    consumer::{RabbitMqConsumer, Subscriber},
    delay::Delays,
    endpoint::Endpoint,
    error::{from_lapin, kind_of},
    naming::{Naming, QueueType},
    producer::RabbitMqProducer,
    publisher::{Publisher, PublisherSettings},
    temporary::temporary_spec,
    topology::{Topology, declare_group},
};

/// The guarantees of this backend (see the crate documentation); `max_payload` follows the
/// configuration.
pub const CAPABILITIES: Capabilities = Capabilities::none()
    .with(Capability::Persistence)
    .with(Capability::DetachedRetention)
    .with(Capability::FanOut)
    .with(Capability::CompetingConsumers)
    .with(Capability::PerKeyOrder)
    .with(Capability::RedeliveryOnNack)
    .with(Capability::RedeliveryOnDisconnect)
    .with(Capability::AttemptCount)
    .with(Capability::AtLeastOnce)
    .with(Capability::ConfirmedSend)
    .with(Capability::Prefetch)
    .with(Capability::DelayedDelivery);

/// A connection to RabbitMQ: a topic is a durable fanout exchange, a group a durable queue
/// bound to it (see the crate documentation for names and the wire format).
///
/// It keeps two AMQP connections, one for producers and one for consumers, opened at
/// [`connect`](Self::connect) and on first use respectively, and re-established with backoff
/// when they drop.
#[derive(Debug)]
pub struct RabbitMqBroker {
    publishing: Arc<Connector>,
    consuming: Arc<Connector>,
    topology: Arc<Topology>,
    requeue: Arc<Publisher>,
    delays: Arc<Delays>,
    settings: PublisherSettings,
    backoff: Backoff,
    mandatory: bool,
    max_payload: usize,
    max_buffered_bytes: usize,
}

impl RabbitMqBroker {
    /// Validates `config`, connects, and declares the groups of `config.groups`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the bad key (or an unreadable password or TLS file);
    /// [`ErrorKind::Connection`] when the broker cannot be reached or refuses the credentials.
    /// Neither names the password.
    pub async fn connect(config: RabbitMqConfig) -> Result<Self> {
        let endpoint = Endpoint::resolve(&config)?;
        let naming = Naming::new(
            config.queue_type,
            config.queue_expires_ms,
            config.queues.clone(),
        );
        let groups = config
            .groups
            .iter()
            .flat_map(|(topic, groups)| groups.iter().map(move |g| (topic.clone(), g.clone())));
        let topology = Arc::new(Topology::new(naming, groups));
        let backoff = Backoff::exponential(
            Duration::from_millis(config.reconnect_initial_ms),
            Duration::from_millis(config.reconnect_max_ms),
        );
        let connect_timeout = Duration::from_millis(config.connect_timeout_ms);
        let connector = |role| {
            Arc::new(Connector::new(
                endpoint.clone(),
                topology.clone(),
                role,
                backoff,
                connect_timeout,
            ))
        };
        let publishing = connector("publish");
        let consuming = connector("consume");
        publishing.connection().await?;
        info!(url = %publishing.display(), "connected to RabbitMQ");
        let settings = PublisherSettings {
            window: config.confirm_window,
            send_timeout: Duration::from_millis(config.send_timeout_ms),
            retry_pause: backoff.initial,
        };
        // A requeue that cannot publish its copy soon falls back to a plain requeue.
        let requeue_settings = PublisherSettings {
            send_timeout: settings.send_timeout.min(connect_timeout),
            ..settings
        };
        let requeue = Arc::new(Publisher::new(publishing.clone(), requeue_settings));
        Ok(Self {
            delays: Arc::new(Delays::new(publishing.clone(), requeue.clone())),
            requeue,
            publishing,
            consuming,
            topology,
            settings,
            backoff,
            mandatory: config.mandatory,
            max_payload: config.max_payload,
            max_buffered_bytes: config.max_buffered_bytes,
        })
    }
}

impl RabbitMqBroker {
    /// Subscribes as [`Broker::subscribe`] does, returning the concrete consumer.
    ///
    /// # Errors
    /// As for [`Broker::subscribe`]: the broker is unreachable or refuses the queue.
    pub async fn consumer(&self, subscription: Subscription) -> Result<RabbitMqConsumer> {
        let mut spec = self
            .topology
            .spec(&subscription.topic, &subscription.group)?;
        if subscription.temporary {
            spec = temporary_spec(spec);
        }
        // Which queue a group reads is configurable (`queues`): say it, so that a plain
        // client's queue and the service's can be matched from the log.
        info!(topic = %subscription.topic, group = %subscription.group, queue = %spec.queue, "consuming from queue");
        let requeue = match spec.queue_type {
            QueueType::Classic => Requeue::Republish(self.requeue.clone()),
            QueueType::Quorum => Requeue::Native,
        };
        let acker = Arc::new(RabbitMqAck::new(
            spec.queue.clone(),
            requeue,
            Some(self.delays.clone()),
        ));
        let subscriber = Subscriber {
            connector: self.consuming.clone(),
            spec,
            topic: subscription.topic.as_str().into(),
            prefetch: u16::try_from(subscription.prefetch.max(1)).unwrap_or(u16::MAX),
            acker,
            backoff: self.backoff,
            budget: Arc::new(ByteBudget::new(self.max_buffered_bytes)),
            temporary: subscription.temporary,
            status: courier_core::SubscriptionStatus::default(),
        };
        let consumer = RabbitMqConsumer::open(subscriber).await?;
        // A temporary group is not declared again by a new connection: only its consumer
        // declares it, while it runs.
        if !subscription.temporary {
            self.topology
                .register(&subscription.topic, &subscription.group);
        }
        Ok(consumer)
    }
}

/// The broker's connection state from its consumers' and producers' connections.
fn connection_state(consuming: Link, publishing: Link) -> ConnectionState {
    let down = |link: Link, role: &str| match link {
        Link::Up => None,
        Link::Unused => Some(format!("the {role} connection is not open")),
        Link::Lost => Some(format!("the {role} connection was lost; reconnecting")),
        Link::Failing(n) => Some(format!(
            "the {role} connection was lost and {n} attempts to connect again failed; retrying"
        )),
        Link::Closed => Some(format!("the {role} connection is closed")),
    };
    let checked = match (consuming, publishing) {
        // Consumers reconnect at once: their connection is the one that tells.
        (Link::Unused, publishing) => down(publishing, "publishing"),
        (consuming @ (Link::Lost | Link::Failing(_) | Link::Closed), _) => {
            down(consuming, "consuming")
        }
        (_, publishing @ (Link::Failing(_) | Link::Closed)) => down(publishing, "publishing"),
        _ => None,
    };
    match checked {
        None => ConnectionState::Up,
        Some(why) => ConnectionState::Down(why),
    }
}

#[async_trait]
impl Broker for RabbitMqBroker {
    fn name(&self) -> &'static str {
        crate::BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = CAPABILITIES;
        caps.max_payload = Some(self.max_payload);
        caps
    }

    async fn producer(&self) -> Result<Arc<dyn Producer>> {
        let publisher = Publisher::new(self.publishing.clone(), self.settings);
        Ok(Arc::new(RabbitMqProducer::new(
            publisher,
            self.delays.clone(),
            self.mandatory,
            self.max_payload,
        )))
    }

    async fn declare_group(&self, topic: &str, group: &str) -> Result<()> {
        let spec = self.topology.spec(topic, group)?;
        let connection = self.publishing.connection().await?;
        declare_group(&connection, &spec).await.map_err(|e| {
            from_lapin(
                kind_of(&e, ErrorKind::Connection),
                &format!("declaring queue {} failed", spec.queue),
                e,
            )
        })?;
        self.topology.register(topic, group);
        Ok(())
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
        Ok(Box::new(self.consumer(subscription).await?))
    }

    /// Up when the consumers' connection is open (once a consumer has opened it; the
    /// producers' before) and the producers' connection is not failing to reconnect. The
    /// producers' connection, lost while nothing is sent, reconnects at the next send and
    /// does not count meanwhile.
    fn connection_state(&self) -> ConnectionState {
        connection_state(self.consuming.link(), self.publishing.link())
    }

    async fn close(&self) -> Result<()> {
        self.requeue.close().await;
        self.consuming.close().await;
        self.publishing.close().await;
        Ok(())
    }
}

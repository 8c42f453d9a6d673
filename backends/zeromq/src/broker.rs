//! [`ZmqBroker`]: the topology of the configuration made real: a hub (bound ROUTER) per
//! endpoint this process binds, a link per endpoint it connects to, and the route of every
//! topic.

use courier_core::InvalidSetting;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use courier_core::{
    Broker, Capabilities, Capability, Consumer, Error, ErrorKind, Producer, Result, Subscription,
};
use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::BACKEND;
use crate::config::ZmqConfig;
use crate::consumer::{ConsumerParams, ZmqConsumer};
use crate::hub::{Hub, HubSettings};
use crate::link::{Link, LinkSettings};
use crate::producer::ZmqProducer;
use crate::routes::{Inner, Route};
use crate::session::Access;
use crate::topology::Plan;

/// The guarantees of this backend, the same for every configuration (see the crate
/// documentation for what each means here, and why persistence and confirmed send are
/// not among them).
pub const CAPABILITIES: Capabilities = Capabilities::none()
    .with(Capability::DetachedRetention)
    .with(Capability::FanOut)
    .with(Capability::CompetingConsumers)
    .with(Capability::PerKeyOrder)
    .with(Capability::PerKeyOrderAcrossConsumers)
    .with(Capability::RedeliveryOnNack)
    .with(Capability::RedeliveryOnDisconnect)
    .with(Capability::AttemptCount)
    .with(Capability::AtLeastOnce)
    .with(Capability::Prefetch)
    .with(Capability::DelayedDelivery);

/// The ZeroMQ backend: brokerless ROUTER/DEALER messaging with acks, held by the producer
/// side.
///
/// For every endpoint of the configuration this process either binds a ROUTER socket (the
/// *binding side*, holding the outboxes of the topics served there) or connects to the
/// process that binds it. Consumers always connect over the network (TCP or IPC), even to a
/// hub of their own process. See the crate documentation for the protocol and guarantees.
#[derive(Clone, Debug)]
pub struct ZmqBroker {
    inner: Arc<Inner>,
}

impl ZmqBroker {
    /// The backend's name.
    pub const NAME: &'static str = BACKEND;

    /// Binds the endpoints this process binds (declaring the configured groups) and prepares
    /// connections to the others (made on first use).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the bad key when the configuration is invalid;
    /// [`ErrorKind::Connection`] when an endpoint cannot be bound (for example because
    /// another process binds it).
    pub async fn connect(config: ZmqConfig) -> Result<Self> {
        let invalid = |e: InvalidSetting| e.to_error(BACKEND, "broker.zeromq");
        config.validate().map_err(invalid)?;
        let secret = config.shared_secret().map_err(invalid)?;
        let shutdown = CancellationToken::new();
        let hub_settings = HubSettings {
            capacity: config.capacity,
            overflow: config.overflow,
            heartbeat_interval: config.heartbeat_interval(),
            heartbeat_timeout: config.heartbeat_timeout(),
            secret: secret.clone(),
            allow_remote_declare: config.allow_remote_declare,
            max_message_bytes: config.max_message_bytes,
            max_parked_bytes_per_peer: config.max_parked_bytes_per_peer,
            max_delay: config.max_delay(),
        };
        let access = Access {
            timeout: config.connect_timeout(),
            secret,
            max_message_bytes: config.max_message_bytes,
        };
        let link_settings = LinkSettings {
            heartbeat_interval: config.heartbeat_interval(),
            heartbeat_timeout: config.heartbeat_timeout(),
            access: access.clone(),
        };

        let plan =
            Plan::of(&config).map_err(|problem| Error::new(BACKEND, ErrorKind::Config, problem))?;

        let mut routes = Vec::with_capacity(plan.endpoints.len());
        let (mut hubs, mut links) = (Vec::new(), Vec::new());
        for planned in plan.endpoints {
            let endpoint = planned.configured;
            let route = if planned.bind {
                let hub = Arc::new(
                    Hub::bind(
                        &endpoint,
                        hub_settings.clone(),
                        planned.groups,
                        shutdown.child_token(),
                    )
                    .await
                    .inspect_err(|_| shutdown.cancel())?,
                );
                hubs.push(hub.clone());
                Route::Local(hub)
            } else {
                let link = Arc::new(Link::spawn(
                    &endpoint,
                    link_settings.clone(),
                    shutdown.child_token(),
                ));
                links.push(link.clone());
                Route::Remote(link)
            };
            routes.push(route);
        }
        let topic_routes = plan
            .topics
            .into_iter()
            .map(|(topic, index)| (topic, routes[index].clone()))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                default_route: routes[plan.default].clone(),
                topic_routes,
                hubs,
                links,
                shutdown,
                closed: AtomicBool::new(false),
                access,
                config,
            }),
        })
    }

    /// Where consumers of `topic` connect when this process binds the topic's endpoint: the
    /// bound address, with the port the system chose for port 0. `None` when another process
    /// binds it.
    pub fn local_endpoint(&self, topic: &str) -> Option<String> {
        match self.inner.route(topic) {
            Route::Local(hub) => Some(hub.connect_to.clone()),
            Route::Remote(_) => None,
        }
    }

    /// The settings it runs with.
    pub fn config(&self) -> &ZmqConfig {
        &self.inner.config
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "the zeromq broker"));
        }
        Ok(())
    }
}

#[async_trait]
impl Broker for ZmqBroker {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn producer(&self) -> Result<Arc<dyn Producer>> {
        self.check_open()?;
        Ok(Arc::new(ZmqProducer::new(self.inner.clone())))
    }

    async fn declare_group(&self, topic: &str, group: &str) -> Result<()> {
        self.check_open()?;
        match self.inner.route(topic) {
            Route::Local(hub) => hub.declare(topic, group).await,
            Route::Remote(link) => link.declare(topic, group).await,
        }
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
        self.check_open()?;
        let config = &self.inner.config;
        let route = self.inner.route(&subscription.topic);
        if let Route::Local(hub) = route
            && !subscription.temporary
        {
            // The hub refuses a HELLO for a group nobody declared (unless remote declarations
            // are allowed); this process may declare its own groups. A temporary group is
            // created by the HELLO itself, so that it is removed when its member leaves.
            hub.declare(&subscription.topic, &subscription.group)
                .await?;
        }
        let params = ConsumerParams {
            endpoint: route.connect_to().to_owned(),
            topic: subscription.topic.into(),
            group: subscription.group,
            prefetch: u32::try_from(subscription.prefetch.max(1)).unwrap_or(u32::MAX),
            temporary: subscription.temporary,
            max_delay: config.max_delay(),
            heartbeat_interval: config.heartbeat_interval(),
            heartbeat_timeout: config.heartbeat_timeout(),
            access: self.inner.access.clone(),
        };
        let consumer = ZmqConsumer::start(
            params,
            self.inner.shutdown.child_token(),
            self.inner.clone(),
        )
        .await?;
        Ok(Box::new(consumer))
    }

    async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let linger = self.inner.config.linger();
        let drained = join_all(self.inner.hubs.iter().map(|hub| hub.drained(linger))).await;
        for (hub, drained) in self.inner.hubs.iter().zip(drained) {
            if !drained {
                tracing::warn!(
                    backend = BACKEND,
                    endpoint = %hub.configured,
                    "closing with messages not yet acked by connected consumers (linger_ms elapsed)"
                );
            }
        }
        self.inner.shutdown.cancel();
        join_all(self.inner.hubs.iter().map(|hub| hub.join())).await;
        Ok(())
    }
}

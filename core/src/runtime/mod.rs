//! The handler runtime: services register handlers, the runtime drives the consumers.
//!
//! ```no_run
//! # async fn demo(broker: std::sync::Arc<dyn courier_core::Broker>) -> courier_core::Result<()> {
//! use courier_core::{Runtime, RuntimeSettings, HandlerError};
//!
//! #[derive(serde::Deserialize)]
//! struct OrderPlaced { order_id: String }
//!
//! let mut runtime = Runtime::new(broker, RuntimeSettings::default());
//! runtime.handle_json("orders.placed", "inventory", |event: OrderPlaced, _ctx| async move {
//!     println!("reserve stock for {}", event.order_id);
//!     Ok::<(), HandlerError>(())
//! });
//! let running = runtime.start().await?;
//! running.run_until(courier_core::shutdown_signal()).await
//! # }
//! ```

mod dead_letter;
mod handler;
mod lanes;
mod metrics;
mod settings;
mod worker;

use std::{future::Future, sync::Arc};

use serde::de::DeserializeOwned;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use handler::{Context, FnHandler, Handler, HandlerError, JsonHandler};
pub use metrics::{Counts, METRICS_CONTENT_TYPE, Metrics, SentMessages, SubscriptionMetrics};
pub use settings::RuntimeSettings;

use crate::{
    Broker, Error, ErrorKind, Health, Message, Producer, Result, Subscription, SubscriptionStatus,
};

struct Registration {
    topic: String,
    group: String,
    handler: Arc<dyn Handler>,
    ordered: bool,
    /// Its state as the receive loop sees it, watched by the runtime's [`Health`].
    status: SubscriptionStatus,
}

/// Handlers registered per topic and group, ready to [`start`](Runtime::start).
pub struct Runtime {
    broker: Arc<dyn Broker>,
    settings: Arc<RuntimeSettings>,
    registrations: Vec<Registration>,
    metrics: Metrics,
    health: Health,
}

impl Runtime {
    /// A runtime on `broker` with `settings`.
    pub fn new(broker: Arc<dyn Broker>, settings: RuntimeSettings) -> Self {
        Self {
            health: Health::new(broker.clone()),
            broker,
            settings: Arc::new(settings),
            registrations: Vec::new(),
            metrics: Metrics::default(),
        }
    }

    /// Uses `metrics` instead of a fresh registry (to share one across runtimes).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics this runtime records into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The readiness of this runtime: its broker connection and every registered
    /// subscription (starting until [`start`](Self::start) has subscribed it). Take it before
    /// starting, to serve `GET /readyz` meanwhile.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// The (topic, group) of every registered handler, in registration order: the groups a
    /// service declares before it starts.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.registrations
            .iter()
            .map(|r| (r.topic.as_str(), r.group.as_str()))
    }

    /// Registers `handler` for the messages of `topic`, as a member of `group`.
    pub fn handle(
        &mut self,
        topic: impl Into<String>,
        group: impl Into<String>,
        handler: impl Handler,
    ) -> &mut Self {
        let (topic, group) = (topic.into(), group.into());
        let status = self.health.watch(&topic, &group);
        self.registrations.push(Registration {
            topic,
            group,
            handler: Arc::new(handler),
            ordered: false,
            status,
        });
        self
    }

    /// Keeps the order of each key for the handler registered last, even across retries: a
    /// transient failure is retried in its lane after the backoff, holding back the later
    /// messages of its key, instead of through the broker's delayed redelivery (see
    /// [`RuntimeSettings::delayed_retries`]). Nothing happens when no handler is registered
    /// yet.
    pub fn ordered(&mut self) -> &mut Self {
        if let Some(last) = self.registrations.last_mut() {
            last.ordered = true;
        }
        self
    }

    /// Registers an async function of the raw message.
    pub fn handle_fn<F, Fut>(
        &mut self,
        topic: impl Into<String>,
        group: impl Into<String>,
        f: F,
    ) -> &mut Self
    where
        F: Fn(Message, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.handle(topic, group, FnHandler(f))
    }

    /// Registers an async function of a JSON event; a payload that does not decode as `T` is
    /// dead-lettered at once.
    pub fn handle_json<T, F, Fut>(
        &mut self,
        topic: impl Into<String>,
        group: impl Into<String>,
        f: F,
    ) -> &mut Self
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(T, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.handle(topic, group, JsonHandler::<T, F>::new(f))
    }

    /// Subscribes every registration and starts handling.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for invalid settings; otherwise the broker's error when a producer
    /// (for dead-letters) or a subscription cannot be opened. Nothing runs then.
    pub async fn start(self) -> Result<Running> {
        self.settings
            .validate()
            .map_err(|e| e.to_error("core", "runtime"))?;
        let producer = self.broker.producer().await?;
        let shutdown = CancellationToken::new();
        let mut consumers = Vec::with_capacity(self.registrations.len());
        for r in &self.registrations {
            let subscription =
                Subscription::new(&r.topic, &r.group).with_prefetch(self.settings.prefetch);
            let consumer = self.broker.subscribe(subscription).await?;
            self.health.attach(&r.status, consumer.status());
            consumers.push(consumer);
        }
        self.metrics.watch_backlog(self.health.clone());
        let mut tasks = JoinSet::new();
        let delayed = self.settings.delayed_retries
            && self
                .broker
                .capabilities()
                .has(crate::Capability::DelayedDelivery);
        for (r, consumer) in self.registrations.into_iter().zip(consumers) {
            info!(topic = %r.topic, group = %r.group, backend = self.broker.name(), "subscribed");
            let worker = Arc::new(worker::Worker {
                metrics: self
                    .metrics
                    .subscription(self.broker.name(), &r.topic, &r.group),
                group: r.group.into(),
                handler: r.handler,
                delayed_retries: delayed && !r.ordered,
                producer: producer.clone(),
                system: self.broker.name(),
                settings: self.settings.clone(),
                shutdown: shutdown.clone(),
            });
            tasks.spawn(lanes::drive(
                consumer,
                worker,
                self.settings.prefetch,
                r.status,
            ));
        }
        Ok(Running {
            shutdown,
            tasks,
            producer,
            metrics: self.metrics,
            health: self.health,
            settings: self.settings,
        })
    }
}

/// A started runtime. Dropping it without [`shutdown`](Running::shutdown) aborts its
/// subscriptions at once; what was not settled goes back to the group.
pub struct Running {
    shutdown: CancellationToken,
    tasks: JoinSet<Result<()>>,
    producer: Arc<dyn Producer>,
    metrics: Metrics,
    health: Health,
    settings: Arc<RuntimeSettings>,
}

impl Running {
    /// The counters of every subscription.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The readiness of the broker connection and of every subscription.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// The producer the runtime dead-letters with, for handlers that also publish.
    pub fn producer(&self) -> Arc<dyn Producer> {
        self.producer.clone()
    }

    /// A token that starts the shutdown when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until `signal` completes (for example [`shutdown_signal`](crate::shutdown_signal))
    /// or the shutdown token is cancelled, then shuts down.
    ///
    /// # Errors
    /// As for [`shutdown`](Running::shutdown).
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> Result<()> {
        tokio::select! {
            () = signal => {}
            () = self.shutdown.cancelled() => {}
        }
        self.shutdown().await
    }

    /// Graceful shutdown: stop receiving, let handlers in flight finish within the deadline
    /// (no new handler starts), close the consumers so what was not settled goes back to its
    /// group, then flush the producer.
    ///
    /// # Errors
    /// The first subscription that stopped with an error, or a failed flush.
    pub async fn shutdown(mut self) -> Result<()> {
        info!("shutting down");
        self.shutdown.cancel();
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined.unwrap_or_else(|e| {
                Err(Error::new(
                    "core",
                    ErrorKind::Other,
                    format!("subscription task failed: {e}"),
                ))
            });
            if let Err(e) = result {
                warn!(error = %e, "subscription ended with an error");
                first_error.get_or_insert(e);
            }
        }
        let deadline = self.settings.shutdown_deadline();
        let flushed = match tokio::time::timeout(deadline, self.producer.flush()).await {
            Ok(flushed) => flushed,
            Err(_) => {
                warn!("flushing the dead-letter producer did not finish by the shutdown deadline");
                Ok(())
            }
        };
        match first_error {
            Some(e) => Err(e),
            None => flushed,
        }
    }
}

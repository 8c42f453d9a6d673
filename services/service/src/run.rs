//! A service's lifetime: its runtime started unless a signal comes first, run until a signal,
//! its relay and clients closed within the shutdown deadline.

use std::{
    future::Future,
    net::SocketAddr,
    process::{ExitCode, exit},
    sync::Arc,
};

use courier_config::Config;
use courier_core::{Broker, Error, ErrorKind, Metrics, Producer, Running, Runtime};
use courier_outbox::{Relay, RelayMetrics, Store};
use tokio_util::sync::CancellationToken;

use crate::{Stop, serve_metrics};

/// Starts `runtime` (subscribing every handler) unless a signal comes first, then runs it
/// until a signal; `Ok(None)` when stopped during start-up.
///
/// # Errors
/// What starting the runtime returns.
pub async fn start(runtime: Runtime, stop: &Stop) -> courier_core::Result<Option<Running>> {
    match stop.before(runtime.start()).await {
        Some(running) => running.map(Some),
        None => {
            tracing::info!("stopped while starting");
            Ok(None)
        }
    }
}

/// [`start`]s `runtime`, logs that `service` runs, and runs it until a signal, then shuts it
/// down gracefully.
///
/// # Errors
/// What starting or shutting down the runtime returns.
pub async fn run_until_stopped(
    service: &str,
    backend: &str,
    runtime: Runtime,
    stop: Stop,
) -> courier_core::Result<()> {
    let Some(running) = start(runtime, &stop).await? else {
        return Ok(());
    };
    tracing::info!(backend, "{service} running");
    running.run_until(stop.requested()).await
}

/// The lifetime of a service that only handles messages: its relay, a runtime on `broker`
/// with the handlers `register` adds, run until a signal (see [`run_service`]); with
/// `metrics_listen`, `GET /metrics`, `GET /healthz` and `GET /readyz` served there
/// meanwhile.
pub async fn run_handlers(
    service: &str,
    config: &Config,
    broker: Arc<dyn Broker>,
    store: Store,
    stop: Stop,
    metrics_listen: Option<SocketAddr>,
    register: impl FnOnce(&mut Runtime),
) -> ExitCode {
    let deadline_ms = config.runtime.shutdown_deadline_ms;
    let settings = config.runtime.clone();
    let signal = stop.clone();
    run_service(
        service,
        deadline_ms,
        broker.clone(),
        store,
        &signal,
        |metrics| async move {
            let mut runtime = Runtime::new(broker.clone(), settings).with_metrics(metrics);
            register(&mut runtime);
            let served = CancellationToken::new();
            let server = match metrics_listen {
                Some(listen) => {
                    let metrics = runtime.metrics().clone();
                    Some(
                        serve_metrics(listen, metrics, runtime.health(), served.clone())
                            .await
                            .map_err(|e| Error::new("service", ErrorKind::Config, e))?,
                    )
                }
                None => None,
            };
            let stopped = run_until_stopped(service, broker.name(), runtime, stop).await;
            served.cancel();
            if let Some(server) = server {
                let _ = server.await;
            }
            stopped
        },
    )
    .await
}

/// Runs a service's lifetime: the relay of `store`'s outbox runs on a producer of `broker`,
/// and `body` runs until the service has shut down, given the [`Metrics`] the relay counts
/// its sends in (build the runtime `with_metrics` them, so that `/metrics` shows both); then the relay sends what is left, the
/// producer, the broker and the store are closed, and the outcome becomes the exit code
/// (failure with one line on standard error).
///
/// Everything after the signal fits in `shutdown_deadline_ms` (plus a second): when the
/// broker is gone or failing, what could not be settled is logged as such and the process
/// exits anyway; the broker delivers the unsettled messages again and unsent outbox rows wait
/// in the store for the next start.
pub async fn run_service<F, Fut>(
    service: &str,
    shutdown_deadline_ms: u64,
    broker: Arc<dyn Broker>,
    store: Store,
    stop: &Stop,
    body: F,
) -> ExitCode
where
    F: FnOnce(Metrics) -> Fut,
    Fut: Future<Output = courier_core::Result<()>>,
{
    let Some(producer) = open_producer(service, &broker, stop).await else {
        return ExitCode::FAILURE;
    };
    let metrics = Metrics::default();
    let lifetime = Lifetime {
        service,
        shutdown_deadline_ms,
        broker,
        producer,
        store: Some(store),
        metrics: metrics.clone(),
    };
    lifetime.run(stop, move || body(metrics)).await
}

/// A producer of `broker`, or `None` after one line on standard error when it cannot be
/// opened; exits with code 0 when a signal comes first.
pub(crate) async fn open_producer(
    service: &str,
    broker: &Arc<dyn Broker>,
    stop: &Stop,
) -> Option<Arc<dyn Producer>> {
    match stop.before(broker.producer()).await {
        Some(Ok(producer)) => Some(producer),
        Some(Err(e)) => {
            eprintln!("error: {service}: opening a producer failed: {e}");
            None
        }
        None => {
            tracing::info!("{service} stopped while connecting");
            exit(0);
        }
    }
}

/// What a running service closes when it stops, in order: the relay of `store` (when it has
/// one) on `producer`, then `producer`, `broker` and `store`.
pub(crate) struct Lifetime<'a> {
    pub(crate) service: &'a str,
    pub(crate) shutdown_deadline_ms: u64,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) producer: Arc<dyn Producer>,
    pub(crate) store: Option<Store>,
    /// Where the relay counts what it sent.
    pub(crate) metrics: Metrics,
}

impl Lifetime<'_> {
    /// Runs the relay and `body` until the service has shut down, then closes everything
    /// within the deadline (see [`run_service`]) and turns the outcome into the exit code.
    pub(crate) async fn run<F, Fut>(self, stop: &Stop, body: F) -> ExitCode
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = courier_core::Result<()>>,
    {
        let Self {
            service,
            shutdown_deadline_ms,
            broker,
            producer,
            store,
            metrics,
        } = self;
        let deadline = std::time::Duration::from_millis(shutdown_deadline_ms);
        let work = async {
            let relay_stop = CancellationToken::new();
            let relay = store.clone().map(|store| {
                let counted = RelayMetrics {
                    sent: metrics.sent_messages(broker.name()),
                    unsent: metrics.outbox_unsent(store.prefix()),
                };
                Relay::counted(store, producer.clone(), Some(counted)).spawn(relay_stop.clone())
            });
            let stopped = body().await;
            relay_stop.cancel();
            if let Some(relay) = relay {
                let _ = relay.await;
            }
            producer.close().await?;
            broker.close().await?;
            if let Some(store) = store {
                store.close().await;
            }
            stopped
        };
        let budget = async {
            stop.clone().requested().await;
            tokio::time::sleep(deadline + std::time::Duration::from_secs(1)).await;
        };
        let result = tokio::select! {
            result = work => result,
            () = budget => {
                tracing::warn!(
                    deadline_ms = shutdown_deadline_ms,
                    "shutdown did not finish within the deadline (is the broker down?); \
                     unsettled deliveries come again, unsent outbox rows wait for the next start"
                );
                // Exit now: dropping clients of an unreachable broker can block (librdkafka's
                // destroy waits for its outstanding requests).
                tracing::info!("{service} stopped");
                crate::flush_traces();
                exit(0);
            }
        };
        crate::flush_traces();
        match result {
            Ok(()) => {
                tracing::info!("{service} stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {service}: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

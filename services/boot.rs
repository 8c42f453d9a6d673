//! Start-up shared by the service binaries and `shop`: logging, the saga's topics and catalog
//! from the configuration, and connecting the configured broker with the service's needs
//! checked. Included by each binary with `#[path]`, so the service libraries stay free of
//! `courier-config` and of every backend.

use std::{
    future::Future,
    process::{ExitCode, exit},
    sync::Arc,
};

use courier_config::Config;
use courier_contracts::{Catalog, CatalogItem, SagaTopics};
use courier_core::{Broker, Capability, Running, Runtime, shutdown_signal};
use courier_outbox::{Migration, Relay, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// SIGINT or SIGTERM, listened for from the start, so that a signal while the service is
/// still connecting or joining its groups stops it cleanly instead of killing it.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

#[allow(dead_code)]
impl Stop {
    /// Starts listening for the signals. Call it first thing in `main`, inside the runtime.
    pub fn listen() -> Self {
        let (requested, stop) = watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = requested.send(true);
        });
        Self(stop)
    }

    /// Completes once a signal has arrived.
    pub async fn requested(self) {
        let mut stop = self.0;
        let _ = stop.wait_for(|requested| *requested).await;
    }

    /// `work`'s output, or `None` when a signal arrives first (`work` is then dropped).
    pub async fn before<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            () = self.clone().requested() => None,
        }
    }
}

/// Starts `runtime` (subscribing every handler) unless a signal comes first, then runs it
/// until a signal; `Ok(None)` when stopped during start-up.
///
/// # Errors
/// What starting the runtime returns.
#[allow(dead_code)]
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
#[allow(dead_code)]
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
/// with the handlers `register` adds, run until a signal (see [`run_service`]).
#[allow(dead_code)]
pub async fn run_handlers(
    service: &str,
    config: &Config,
    broker: Arc<dyn Broker>,
    store: Store,
    stop: Stop,
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
        || async move {
            let mut runtime = Runtime::new(broker.clone(), settings);
            register(&mut runtime);
            run_until_stopped(service, broker.name(), runtime, stop).await
        },
    )
    .await
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info`).
#[allow(dead_code)]
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// The saga's topic names from `[topics]`.
pub fn saga_topics(config: &Config) -> SagaTopics {
    let t = &config.topics;
    SagaTopics {
        order_intake: t.order_intake.clone(),
        order_placed: t.order_placed.clone(),
        stock_reserved: t.stock_reserved.clone(),
        stock_rejected: t.stock_rejected.clone(),
        payment_succeeded: t.payment_succeeded.clone(),
        payment_failed: t.payment_failed.clone(),
    }
}

/// The catalog from `[[services.inventory.catalog]]`.
#[allow(dead_code)]
pub fn catalog(config: &Config) -> Catalog {
    Catalog::new(
        config
            .services
            .inventory
            .catalog
            .iter()
            .map(|i| CatalogItem {
                sku: i.sku.clone(),
                name: i.name.clone(),
                price_minor: i.price_minor,
                stock: i.stock,
            }),
    )
}

/// Connects the configured broker, checks that it gives what `service` `needs` (a warning
/// per missing guarantee, or exit code 2 in strict mode), and declares every group of the
/// saga so that no event is lost whichever service starts first. Exits with code 1 and one
/// line on standard error when the broker cannot be reached, and with code 0 when `stop`
/// comes first.
#[allow(dead_code)]
pub async fn connect(
    config: &Config,
    service: &str,
    needs: &[Capability],
    stop: &Stop,
) -> Arc<dyn Broker> {
    match stop.before(connect_checked(config, service, needs)).await {
        Some(broker) => broker,
        None => {
            tracing::info!("{service} stopped while connecting");
            exit(0);
        }
    }
}

async fn connect_checked(config: &Config, service: &str, needs: &[Capability]) -> Arc<dyn Broker> {
    let broker = match courier_config::connect(config).await {
        Ok(broker) => broker,
        Err(e) => {
            eprintln!(
                "error: {service}: cannot connect to the {} broker: {e}",
                config.broker.kind
            );
            exit(1);
        }
    };
    let warnings = courier_config::exit_on_error(courier_config::check_needs(
        config,
        broker.capabilities(),
        service,
        needs,
    ));
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    if let Err(e) = saga_topics(config).declare_all(broker.as_ref()).await {
        eprintln!("error: {service}: declaring the saga's groups failed: {e}");
        exit(1);
    }
    broker
}

/// Opens the store of `service` (`[services.<service>.store] url`, else `[store] url`) with
/// its tables prefixed `prefix`, applying `migrations`. Exits with code 2 and one line naming
/// the store (password redacted) when it cannot be opened, and with code 0 when `stop`
/// comes first.
#[allow(dead_code)]
pub async fn open_store(
    config: &Config,
    service: &str,
    prefix: &str,
    migrations: &[Migration],
    stop: &Stop,
) -> Store {
    let url = config.store_url(prefix);
    let opened = stop.before(Store::open(&url, prefix, migrations, config.store.clone()));
    match opened.await {
        Some(Ok(store)) => {
            tracing::info!(store = %store.url(), "store open");
            store
        }
        Some(Err(e)) => {
            eprintln!("error: {service}: {e}");
            exit(courier_config::EXIT_CODE);
        }
        None => {
            tracing::info!("{service} stopped while opening its store");
            exit(0);
        }
    }
}

/// Runs a service's lifetime: the relay of `store`'s outbox runs on a producer of `broker`,
/// and `body` runs until the service has shut down; then the relay sends what is left, the
/// producer, the broker and the store are closed, and the outcome becomes the exit code
/// (failure with one line on standard error).
///
/// Everything after the signal fits in `shutdown_deadline_ms` (plus a second): when the
/// broker is gone or failing, what could not be settled is logged as such and the process
/// exits anyway; the broker delivers the unsettled messages again and unsent outbox rows wait
/// in the store for the next start.
#[allow(dead_code)]
pub async fn run_service<F, Fut>(
    service: &str,
    shutdown_deadline_ms: u64,
    broker: Arc<dyn Broker>,
    store: Store,
    stop: &Stop,
    body: F,
) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = courier_core::Result<()>>,
{
    let deadline = std::time::Duration::from_millis(shutdown_deadline_ms);
    let work = async {
        let producer = broker.producer().await?;
        let relay_stop = CancellationToken::new();
        let relay = Relay::new(store.clone(), producer.clone()).spawn(relay_stop.clone());
        let stopped = body().await;
        relay_stop.cancel();
        let _ = relay.await;
        producer.close().await?;
        broker.close().await?;
        store.close().await;
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
            exit(0);
        }
    };
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

//! Opening what a service needs before it runs: its store and the configured broker. Each
//! exits the process with one line on standard error when it cannot, and with code 0 when a
//! signal comes first.

use std::{process::exit, sync::Arc};

use courier_config::Config;
use courier_core::{Broker, Capability};
use courier_outbox::{Migration, Store};

use crate::Stop;

/// Connects the configured broker, checks that it gives what `service` `needs` (a warning
/// per missing guarantee, or exit code 2 in strict mode), and declares `groups` (topic,
/// group) so that no event is lost whichever service starts first. Exits with code 1 and one
/// line on standard error when the broker cannot be reached, and with code 0 when `stop`
/// comes first.
pub async fn connect(
    config: &Config,
    service: &str,
    needs: &[Capability],
    groups: &[(String, String)],
    stop: &Stop,
) -> Arc<dyn Broker> {
    match stop
        .before(connect_checked(config, service, needs, groups))
        .await
    {
        Some(broker) => broker,
        None => {
            tracing::info!("{service} stopped while connecting");
            exit(0);
        }
    }
}

async fn connect_checked(
    config: &Config,
    service: &str,
    needs: &[Capability],
    groups: &[(String, String)],
) -> Arc<dyn Broker> {
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
    if let Err(e) = declare_groups(broker.as_ref(), groups).await {
        eprintln!("error: {service}: declaring its groups failed: {e}");
        exit(1);
    }
    broker
}

/// Declares every (topic, group) of `groups` on `broker`, all at once.
pub(crate) async fn declare_groups(
    broker: &dyn Broker,
    groups: &[(String, String)],
) -> courier_core::Result<()> {
    futures::future::try_join_all(
        groups
            .iter()
            .map(|(topic, group)| broker.declare_group(topic, group)),
    )
    .await?;
    Ok(())
}

/// Opens the store of `service` (`[services.<service>.store] url`, else `[store] url`) with
/// its tables prefixed `prefix`, applying `migrations`. Exits with code 2 and one line naming
/// the store (password redacted) when it cannot be opened, and with code 0 when `stop`
/// comes first.
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

//! [`Service`]: a service binary from its handlers, with everything around them done.

use std::{process::ExitCode, sync::Arc};

use courier_config::Config;
use courier_core::{Capability, Producer, Runtime, headers};
use courier_outbox::{Migration, Store};

use crate::{
    boot, connect,
    connect::declare_groups,
    open_store,
    run::{Lifetime, open_producer, run_until_stopped},
};

/// A service binary: its name, the guarantees it needs, the groups it declares and,
/// optionally, its store; [`run`](Service::run) does the rest.
///
/// ```no_run
/// use std::process::ExitCode;
/// use courier_core::{Capability, HandlerError};
///
/// #[tokio::main]
/// async fn main() -> ExitCode {
///     courier_service::Service::new("audit-service", "Logs every placed order.")
///         .needs(&[Capability::AtLeastOnce])
///         .run(|runtime, _parts| {
///             runtime.handle_fn("orders.placed", "audit", |message, _context| async move {
///                 tracing::info!(id = %message.id, "order placed");
///                 Ok::<(), HandlerError>(())
///             });
///         })
///         .await
/// }
/// ```
#[derive(Debug)]
pub struct Service {
    name: &'static str,
    about: &'static str,
    needs: Vec<Capability>,
    groups: Vec<(String, String)>,
    store: Option<(String, &'static [Migration])>,
}

/// What a service's handlers may use, handed to [`Service::run`]'s `register`.
#[derive(Clone)]
pub struct Parts {
    /// The loaded configuration (`[runtime]`, `[topics]`, the service's own section).
    pub config: Config,
    /// A producer of the configured broker, for handlers that publish. Closed (flushed) at
    /// shutdown after the handlers have finished.
    pub producer: Arc<dyn Producer>,
    /// The service's store, when [`Service::store`] asked for one.
    pub store: Option<Store>,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("config", &self.config)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service called `name` (its log lines and errors say so); `about` is what `--help`
    /// shows.
    pub fn new(name: &'static str, about: &'static str) -> Self {
        Self {
            name,
            about,
            needs: Vec::new(),
            groups: Vec::new(),
            store: None,
        }
    }

    /// The guarantees the service relies on: checked against the configured backend at
    /// start, a warning per missing one, or a refusal (exit code 2) with `broker.strict`.
    #[must_use]
    pub fn needs(mut self, needs: &[Capability]) -> Self {
        self.needs.extend_from_slice(needs);
        self
    }

    /// Declares `group` on `topic` at start as well: a group of another service on a topic
    /// this one publishes to, so that nothing sent before that service first runs is
    /// dropped (brokers keep a topic's messages only for groups that exist). The groups of
    /// the service's own handlers, and a `dead-letters` group on each of their `<topic>.dlq`,
    /// are declared without asking.
    #[must_use]
    pub fn declare(mut self, topic: impl Into<String>, group: impl Into<String>) -> Self {
        self.groups.push((topic.into(), group.into()));
        self
    }

    /// Gives the service a store (`[services.<name>.store] url`, else `[store] url`) with
    /// tables prefixed `prefix` and `migrations` applied at start; its transactional outbox
    /// is relayed to the broker while the service runs.
    #[must_use]
    pub fn store(mut self, prefix: impl Into<String>, migrations: &'static [Migration]) -> Self {
        self.store = Some((prefix.into(), migrations));
        self
    }

    /// Runs the service: reads `--config`, loads the configuration, logs to standard error
    /// and listens for SIGINT/SIGTERM from the first moment; opens the store if any;
    /// connects the broker and checks the needs; lets `register` add the handlers; declares
    /// their groups, the dead-letter groups and the [`declare`](Service::declare)d ones;
    /// runs until a signal; then finishes what is in flight within
    /// `runtime.shutdown_deadline_ms` and closes the producer, the broker and the store.
    ///
    /// Returns the process's exit code: 0 after a clean stop (also for a signal during
    /// start-up), 1 when the broker fails, 2 for a bad command line or configuration (one
    /// line on standard error each).
    ///
    /// # Cancel safety
    /// Not cancel safe: it owns the process's lifetime; run it as `main`'s last step.
    pub async fn run(self, register: impl FnOnce(&mut Runtime, &Parts)) -> ExitCode {
        let name = self.name;
        let (config, stop) = boot(name, self.about);
        let store = match &self.store {
            Some((prefix, migrations)) => {
                Some(open_store(&config, name, prefix, migrations, &stop).await)
            }
            None => None,
        };
        let broker = connect(&config, name, &self.needs, &[], &stop).await;
        let Some(producer) = open_producer(name, &broker, &stop).await else {
            return ExitCode::FAILURE;
        };
        let parts = Parts {
            config,
            producer: producer.clone(),
            store: store.clone(),
        };
        let mut runtime = Runtime::new(broker.clone(), parts.config.runtime.clone());
        register(&mut runtime, &parts);
        let groups = groups_to_declare(&runtime, self.groups);
        match stop.before(declare_groups(broker.as_ref(), &groups)).await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                eprintln!("error: {name}: declaring its groups failed: {e}");
                return ExitCode::FAILURE;
            }
            None => {
                tracing::info!("{name} stopped while declaring its groups");
                return ExitCode::SUCCESS;
            }
        }
        let lifetime = Lifetime {
            service: name,
            shutdown_deadline_ms: parts.config.runtime.shutdown_deadline_ms,
            broker: broker.clone(),
            producer,
            store,
            metrics: runtime.metrics().clone(),
        };
        let backend = broker.name();
        lifetime
            .run(&stop.clone(), || {
                run_until_stopped(name, backend, runtime, stop)
            })
            .await
    }
}

/// The groups of `runtime`'s handlers, a dead-letter group on each of their topics' `.dlq`,
/// then `extra`, each once, in that order.
fn groups_to_declare(runtime: &Runtime, extra: Vec<(String, String)>) -> Vec<(String, String)> {
    let own = runtime
        .subscriptions()
        .map(|(topic, group)| (topic.to_owned(), group.to_owned()));
    let dead_letters = runtime.subscriptions().map(|(topic, _)| {
        (
            headers::dlq_topic(topic),
            headers::DEAD_LETTER_GROUP.to_owned(),
        )
    });
    let mut groups: Vec<(String, String)> = Vec::new();
    for pair in own.chain(dead_letters).chain(extra) {
        if !groups.contains(&pair) {
            groups.push(pair);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use courier_core::{HandlerError, RuntimeSettings};

    use super::*;

    #[tokio::test]
    async fn declares_the_handlers_groups_their_dead_letters_and_the_extra_ones_once() {
        let broker: Arc<dyn courier_core::Broker> =
            Arc::new(courier_memory::MemoryBroker::new(Default::default()));
        let mut runtime = Runtime::new(broker, RuntimeSettings::default());
        for (topic, group) in [("a", "x"), ("a", "y"), ("b", "x")] {
            runtime.handle_fn(topic, group, |_, _| async { Ok::<(), HandlerError>(()) });
        }
        let extra = vec![
            ("c".to_owned(), "z".to_owned()),
            ("a".to_owned(), "x".to_owned()),
        ];
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(t, g)| ((*t).to_owned(), (*g).to_owned()))
                .collect()
        };
        assert_eq!(
            groups_to_declare(&runtime, extra),
            pairs(&[
                ("a", "x"),
                ("a", "y"),
                ("b", "x"),
                ("a.dlq", "dead-letters"),
                ("b.dlq", "dead-letters"),
                ("c", "z"),
            ])
        );
    }
}

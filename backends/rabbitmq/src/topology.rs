//! Declaring exchanges, queues and bindings, and remembering the declared groups so that a
//! new connection declares them again (a broker restart loses non-durable queues).

use std::{collections::BTreeSet, sync::Mutex};

use courier_core::{Error, ErrorKind, Result};
use lapin::{
    Channel, Connection, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};
use tracing::{debug, warn};

use crate::{
    BACKEND,
    error::is_precondition_failed,
    naming::{Naming, QueueSpec, QueueType},
};

/// The groups to keep declared, and how their queues are named.
#[derive(Debug)]
pub(crate) struct Topology {
    naming: Naming,
    groups: Mutex<BTreeSet<(String, String)>>,
}

impl Topology {
    /// A registry using `naming`, starting with `groups` (topic, group).
    pub(crate) fn new(naming: Naming, groups: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            naming,
            groups: Mutex::new(groups.into_iter().collect()),
        }
    }

    /// The queue of `group` on `topic`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a bad name.
    pub(crate) fn spec(&self, topic: &str, group: &str) -> Result<QueueSpec> {
        self.naming
            .queue_spec(topic, group)
            .map_err(|problem| Error::new(BACKEND, ErrorKind::Config, problem))
    }

    /// Remembers `group` on `topic`, to be declared on every new connection.
    pub(crate) fn register(&self, topic: &str, group: &str) {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((topic.to_owned(), group.to_owned()));
    }

    /// The queues of every remembered group.
    pub(crate) fn registered(&self) -> Vec<QueueSpec> {
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        groups
            .iter()
            .filter_map(|(topic, group)| self.naming.queue_spec(topic, group).ok())
            .collect()
    }

    /// Declares every remembered group on `connection`, logging (not failing on) refusals.
    pub(crate) async fn redeclare(&self, connection: &Connection) {
        for spec in self.registered() {
            match declare_group(connection, &spec).await {
                Ok(()) => debug!(queue = %spec.queue, "re-declared"),
                Err(e) => warn!(queue = %spec.queue, error = %e, "re-declaring a group failed"),
            }
        }
    }
}

/// Declares the durable fanout exchange `exchange` on `channel`.
///
/// # Errors
/// lapin's error when the broker refuses (an exchange of another type exists) or the channel
/// is gone.
pub(crate) async fn declare_exchange(channel: &Channel, exchange: &str) -> lapin::Result<()> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// Declares the exchange, the queue and its binding of `spec` on channels of `connection`.
///
/// When the queue exists with other settings (`PRECONDITION_FAILED`, for example a plain
/// client declared it non-durable), it is used as it is, with a warning.
///
/// # Errors
/// lapin's error for anything else the broker refuses, or a lost connection.
pub(crate) async fn declare_group(connection: &Connection, spec: &QueueSpec) -> lapin::Result<()> {
    let options = QueueDeclareOptions {
        durable: spec.durable,
        ..Default::default()
    };
    declare_and_bind(
        connection,
        spec,
        options,
        "the queue exists with other settings; using it as it is",
    )
    .await
}

/// Declares the exchange of `spec`, its queue with `options` (and the arguments `spec`
/// asks for) and the binding. A queue that exists with other settings is used as it is,
/// with the warning `exists`.
///
/// # Errors
/// lapin's error for anything else the broker refuses, or a lost connection.
pub(crate) async fn declare_and_bind(
    connection: &Connection,
    spec: &QueueSpec,
    options: QueueDeclareOptions,
    exists: &str,
) -> lapin::Result<()> {
    let mut channel = connection.create_channel().await?;
    declare_exchange(&channel, &spec.exchange).await?;
    match channel
        .queue_declare(spec.queue.as_str().into(), options, queue_arguments(spec))
        .await
    {
        Ok(_) => {}
        Err(e) if is_precondition_failed(&e) => {
            warn!(queue = %spec.queue, error = %e, "{exists}");
            channel = connection.create_channel().await?;
            channel
                .queue_declare(
                    spec.queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
        }
        Err(e) => return Err(e),
    }
    channel
        .queue_bind(
            spec.queue.as_str().into(),
            spec.exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel.close(200, "declared".into()).await.ok();
    Ok(())
}

fn queue_arguments(spec: &QueueSpec) -> FieldTable {
    let mut arguments = FieldTable::default();
    if spec.queue_type == QueueType::Quorum {
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
    }
    if let Some(ms) = spec.expires_ms {
        arguments.insert(
            "x-expires".into(),
            AMQPValue::LongLongInt(i64::try_from(ms).unwrap_or(i64::MAX)),
        );
    }
    arguments
}

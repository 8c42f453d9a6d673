//! Temporary groups ([`Subscription::temporary`](courier_core::Subscription::temporary)): the
//! group's queue is a classic, non-durable, auto-delete queue, which RabbitMQ deletes as soon
//! as its last consumer is gone; `x-expires` also deletes it when no consumer ever came (a
//! process that stopped between declaring and consuming).

use lapin::{
    Connection,
    options::{QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable},
};
use tracing::warn;

use crate::{
    error::is_precondition_failed,
    naming::{QueueSpec, QueueType},
    topology::declare_exchange,
};

/// How long a temporary queue that no consumer uses is kept, in milliseconds.
pub(crate) const UNUSED_EXPIRES_MS: u64 = 60_000;

/// The queue of a temporary group: `spec`, made classic and not durable, expiring unused.
pub(crate) fn temporary_spec(spec: QueueSpec) -> QueueSpec {
    QueueSpec {
        durable: false,
        queue_type: QueueType::Classic,
        expires_ms: Some(UNUSED_EXPIRES_MS),
        ..spec
    }
}

/// Declares the exchange of `spec`, the auto-delete queue and its binding.
///
/// When the queue exists with other settings (the group is not temporary: a service's
/// durable queue), it is used as it is, with a warning, and is not deleted afterwards.
///
/// # Errors
/// lapin's error for anything else the broker refuses, or a lost connection.
pub(crate) async fn declare_temporary(
    connection: &Connection,
    spec: &QueueSpec,
) -> lapin::Result<()> {
    let mut channel = connection.create_channel().await?;
    declare_exchange(&channel, &spec.exchange).await?;
    let options = QueueDeclareOptions {
        durable: false,
        auto_delete: true,
        ..Default::default()
    };
    let mut arguments = FieldTable::default();
    if let Some(ms) = spec.expires_ms {
        arguments.insert(
            "x-expires".into(),
            AMQPValue::LongLongInt(i64::try_from(ms).unwrap_or(i64::MAX)),
        );
    }
    match channel
        .queue_declare(spec.queue.as_str().into(), options, arguments)
        .await
    {
        Ok(_) => {}
        Err(e) if is_precondition_failed(&e) => {
            warn!(queue = %spec.queue, error = %e, "a temporary subscription names an existing queue; using it as it is, and it is kept");
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

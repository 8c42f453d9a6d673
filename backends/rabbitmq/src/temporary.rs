//! Temporary groups ([`Subscription::temporary`](courier_core::Subscription::temporary)): the
//! group's queue is a classic, non-durable, auto-delete queue, which RabbitMQ deletes as soon
//! as its last consumer is gone; `x-expires` also deletes it when no consumer ever came (a
//! process that stopped between declaring and consuming).

use lapin::{Connection, options::QueueDeclareOptions};

use crate::{
    naming::{QueueSpec, QueueType},
    topology::declare_and_bind,
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

/// Declares the exchange of `spec`, the auto-delete queue (expiring unused, as
/// [`temporary_spec`] sets) and its binding.
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
    let options = QueueDeclareOptions {
        durable: false,
        auto_delete: true,
        ..Default::default()
    };
    declare_and_bind(
        connection,
        spec,
        options,
        "a temporary subscription names an existing queue; using it as it is, and it is kept",
    )
    .await
}

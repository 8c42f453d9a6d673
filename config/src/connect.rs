//! [`connect`]: connects the backend the configuration selects, through the registry.

use std::sync::Arc;

use courier_core::{Broker, Error, ErrorKind, Result, trace::TracedBroker};
use tracing::info;

use crate::{BrokerKind, Config};

/// Connects the backend the configuration selects (`broker.kind`) with its table; its
/// producers stamp what they send from a traced span with the trace context (see
/// [`TracedBroker`]).
///
/// Each backend is compiled in by the cargo feature of its name; selecting one that is
/// compiled out is an error that names the feature.
///
/// # Errors
/// [`ErrorKind::Config`] when the backend is not compiled in; otherwise the backend's own
/// connection error (for example [`ErrorKind::Connection`] when the broker is unreachable).
pub async fn connect(config: &Config) -> Result<Arc<dyn Broker>> {
    let kind = config.broker.kind;
    info!(backend = kind.name(), "connecting to the message broker");
    match config.broker.backend(kind) {
        Some(backend) => Ok(TracedBroker::wrap(backend.connect().await?)),
        None => Err(not_compiled_in(kind)),
    }
}

/// The error for a backend this build does not include.
fn not_compiled_in(kind: BrokerKind) -> Error {
    Error::new(
        "config",
        ErrorKind::Config,
        format!(
            "backend {:?} is not compiled into this build: enable the cargo feature {:?} of \
             courier-config",
            kind.name(),
            kind.name()
        ),
    )
}

//! One AMQP connection kept alive: connecting on demand, reconnecting with backoff after it
//! drops, and declaring the remembered groups again on every new connection.

use std::{
    sync::{
        Arc, PoisonError,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use courier_core::{Backoff, Error, ErrorKind, Result};
use lapin::{Channel, Connection, ConnectionProperties, DefaultConnectionBuilder};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::{BACKEND, endpoint::Endpoint, error::from_lapin, topology::Topology};

/// Owns the connection of one role (publishing or consuming).
///
/// RabbitMQ may block a connection that publishes too fast (flow control); keeping consumers
/// on a connection of their own lets their acks through meanwhile.
#[derive(Debug)]
pub(crate) struct Connector {
    endpoint: Endpoint,
    topology: Arc<Topology>,
    role: &'static str,
    backoff: Backoff,
    connect_timeout: Duration,
    state: Mutex<State>,
    closed: AtomicBool,
    /// The last connection made, for [`link`](Connector::link) to look at without waiting
    /// for `state` (held while reconnecting).
    last: std::sync::Mutex<Option<Arc<Connection>>>,
    /// Failed attempts since the last connection was made (as `State::failures`).
    failing: AtomicU32,
}

/// Where a connector's connection is, for readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// Never opened (a connector opens on first use).
    Unused,
    /// Open.
    Up,
    /// Lost; it reconnects at its next use (the consumers' connector: at once).
    Lost,
    /// Attempts to connect again have failed this many times; still trying.
    Failing(u32),
    /// Closed for good.
    Closed,
}

#[derive(Debug, Default)]
struct State {
    connection: Option<Arc<Connection>>,
    failures: u32,
}

impl Connector {
    /// A connector for `role` (shown as the connection name `courier-<role>`).
    pub(crate) fn new(
        endpoint: Endpoint,
        topology: Arc<Topology>,
        role: &'static str,
        backoff: Backoff,
        connect_timeout: Duration,
    ) -> Self {
        Self {
            endpoint,
            topology,
            role,
            backoff,
            connect_timeout,
            state: Mutex::new(State::default()),
            closed: AtomicBool::new(false),
            last: std::sync::Mutex::new(None),
            failing: AtomicU32::new(0),
        }
    }

    /// Where the connection is now, without waiting and without a request to the broker.
    pub(crate) fn link(&self) -> Link {
        if self.closed.load(Ordering::Acquire) {
            return Link::Closed;
        }
        let failing = self.failing.load(Ordering::Acquire);
        if failing > 0 {
            return Link::Failing(failing);
        }
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match last.as_ref() {
            None => Link::Unused,
            Some(connection) if connection.status().connected() => Link::Up,
            Some(_) => Link::Lost,
        }
    }

    /// The live connection, connecting first when there is none. After a failed attempt the
    /// next one waits for the backoff; callers retry as long as they care to.
    ///
    /// # Errors
    /// [`ErrorKind::Connection`] when this attempt fails (retryable), or
    /// [`ErrorKind::Closed`] after [`close`](Self::close).
    pub(crate) async fn connection(&self) -> Result<Arc<Connection>> {
        let mut state = self.state.lock().await;
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::closed(BACKEND, "the broker connection"));
        }
        if let Some(connection) = &state.connection {
            if connection.status().connected() {
                return Ok(connection.clone());
            }
            warn!(role = self.role, url = %self.endpoint.display, "connection lost; reconnecting");
            state.connection = None;
        }
        if state.failures > 0 {
            tokio::time::sleep(self.backoff.delay(state.failures)).await;
        }
        match self.connect_once().await {
            Ok(connection) => {
                self.topology.redeclare(&connection).await;
                if state.failures > 0 {
                    info!(role = self.role, url = %self.endpoint.display, "reconnected");
                }
                state.failures = 0;
                let connection = Arc::new(connection);
                state.connection = Some(connection.clone());
                *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(connection.clone());
                self.failing.store(0, Ordering::Release);
                Ok(connection)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                self.failing.store(state.failures, Ordering::Release);
                Err(e)
            }
        }
    }

    /// A new channel on the live connection.
    ///
    /// # Errors
    /// As for [`connection`](Self::connection), or when the channel cannot be opened.
    pub(crate) async fn channel(&self) -> Result<Channel> {
        let connection = self.connection().await?;
        connection
            .create_channel()
            .await
            .map_err(|e| from_lapin(ErrorKind::Connection, "opening a channel failed", e))
    }

    /// The URL, password hidden.
    pub(crate) fn display(&self) -> &str {
        &self.endpoint.display
    }

    /// Closes the connection; later calls fail with [`ErrorKind::Closed`].
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let connection = self.state.lock().await.connection.take();
        if let Some(connection) = connection {
            if connection.status().connected() {
                if let Err(e) = connection.close(200, "closed by courier".into()).await {
                    warn!(role = self.role, error = %e, "closing the connection failed");
                }
            }
        }
    }

    async fn connect_once(&self) -> Result<Connection> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("courier-{}", self.role).into());
        let builder = DefaultConnectionBuilder::new()
            .map_err(|e| from_lapin(ErrorKind::Connection, "no async runtime for lapin", e))?
            .with_uri(self.endpoint.uri.clone())
            .with_properties(properties)
            .with_tls_config(self.endpoint.tls.clone());
        let attempt = tokio::time::timeout(self.connect_timeout, builder.connect()).await;
        let context = || format!("cannot connect to {}", self.endpoint.display);
        match attempt {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(from_lapin(ErrorKind::Connection, &context(), e)),
            Err(_) => Err(Error::new(
                BACKEND,
                ErrorKind::Connection,
                format!(
                    "{}: no answer within {} ms",
                    context(),
                    self.connect_timeout.as_millis()
                ),
            )),
        }
    }
}

//! The binding side of one endpoint: a ROUTER socket owned by one task, holding the outboxes
//! of every topic served there.
//!
//! Local producers hand it messages over a channel; remote producers send `PUBLISH` frames;
//! consumers (always over TCP or IPC, never in-process shortcuts) connect DEALER sockets,
//! announce their group and credit with `HELLO`, and settle with `ACK`/`NACK`/`REJECT`, or
//! `RETRY` to have a delivery come again after a delay. Delayed messages wait in the
//! outboxes; one timer of the hub's task releases them when due.

#[cfg(test)]
mod batch_tests;
mod batches;
#[cfg(test)]
mod delayed_tests;
mod gate;
mod outbox;
mod task;
#[cfg(test)]
mod test_peer;
mod timer;

use std::time::Duration;

use courier_core::{Error, ErrorKind, Result};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zeromq::{RouterSocket, Socket, SocketOptions};

use crate::BACKEND;
use crate::auth::SharedSecret;
use crate::config::Overflow;
use crate::socket::{connect_address, socket_error};
use crate::wire::WireMessage;

/// Requests of local producers and of the broker to the hub task.
pub(crate) enum Command {
    /// Queue `messages` for every group of `topic`, to join the groups once `delay` has
    /// passed (zero: at once); the reply comes once they are queued.
    Send {
        topic: String,
        messages: Vec<WireMessage>,
        delay: Duration,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Create the outbox of `group` on `topic`.
    Declare {
        topic: String,
        group: String,
        reply: oneshot::Sender<()>,
    },
    /// Answered once every earlier command is handled.
    Barrier(oneshot::Sender<()>),
    /// Answered once groups with members hold nothing undelivered or unacked.
    Drained(oneshot::Sender<()>),
}

/// Settings of a hub.
#[derive(Clone, Debug)]
pub(crate) struct HubSettings {
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    /// The secret peers must prove they know; `None`: open to anyone who can connect.
    pub(crate) secret: Option<SharedSecret>,
    pub(crate) allow_remote_declare: bool,
    pub(crate) max_message_bytes: usize,
    pub(crate) max_parked_bytes_per_peer: usize,
    /// The longest delay of a delayed send or retry.
    pub(crate) max_delay: Duration,
}

/// A running hub: where to reach it, and its command channel.
#[derive(Debug)]
pub(crate) struct Hub {
    /// The endpoint as configured.
    pub(crate) configured: String,
    /// Where local consumers connect (the bound endpoint, loopback for `0.0.0.0`).
    pub(crate) connect_to: String,
    commands: mpsc::Sender<Command>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Hub {
    /// Binds `endpoint` and starts the hub task, declaring `groups` (topic, group) at once.
    ///
    /// # Errors
    /// [`ErrorKind::Connection`] when the endpoint cannot be bound (for example because
    /// another process binds it).
    pub(crate) async fn bind(
        endpoint: &str,
        settings: HubSettings,
        groups: Vec<(String, String)>,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let mut options = SocketOptions::default();
        options.max_message_size(settings.max_message_bytes);
        let mut socket = RouterSocket::with_options(options);
        let bound = socket.bind(endpoint).await.map_err(|e| {
            socket_error(
                ErrorKind::Connection,
                format!(
                    "cannot bind {endpoint} (is another process binding it? only one process \
                     per endpoint sets bind = true)"
                ),
                e,
            )
        })?;
        let connect_to = connect_address(&bound);
        tracing::debug!(backend = BACKEND, endpoint, bound = %bound, "hub bound");
        if settings.secret.is_none() {
            tracing::warn!(
                backend = BACKEND,
                endpoint,
                "no secret set ([broker.zeromq] secret or secret_file): anyone who can connect \
                 to this endpoint can consume, publish and declare"
            );
        }
        let (commands, rx) = mpsc::channel(1024);
        let task = tokio::spawn(task::run(socket, settings, groups, rx, shutdown));
        Ok(Self {
            configured: endpoint.to_owned(),
            connect_to,
            commands,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// Queues `messages` on `topic`, returning once they are in the outbox of every group;
    /// they are handed out once `delay` has passed (zero: at once), and count against the
    /// capacity meanwhile.
    ///
    /// # Errors
    /// [`ErrorKind::Full`] with [`Overflow::Fail`] when a group's outbox is full;
    /// [`ErrorKind::Config`] when `delay` is longer than the hub's `max_delay`;
    /// [`ErrorKind::Closed`] once the broker is closed.
    ///
    /// # Cancel safety
    /// Dropping the future after the hub took the request leaves the messages queued.
    pub(crate) async fn send(
        &self,
        topic: &str,
        messages: Vec<WireMessage>,
        delay: Duration,
    ) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.request(Command::Send {
            topic: topic.to_owned(),
            messages,
            delay,
            reply,
        })
        .await?;
        answer.await.map_err(|_| closed())?
    }

    /// Creates the outbox of `group` on `topic`.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] once the broker is closed.
    pub(crate) async fn declare(&self, topic: &str, group: &str) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.request(Command::Declare {
            topic: topic.to_owned(),
            group: group.to_owned(),
            reply,
        })
        .await?;
        answer.await.map_err(|_| closed())
    }

    /// Waits until every earlier command is handled.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] once the broker is closed.
    pub(crate) async fn barrier(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.request(Command::Barrier(reply)).await?;
        answer.await.map_err(|_| closed())
    }

    /// Waits up to `linger` until consumers have acked what the outboxes of groups with
    /// members hold; returns whether they did.
    pub(crate) async fn drained(&self, linger: Duration) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.request(Command::Drained(reply)).await.is_err() {
            return true;
        }
        matches!(tokio::time::timeout(linger, answer).await, Ok(Ok(())))
    }

    /// Waits for the hub task to end (after the broker's shutdown token is cancelled).
    pub(crate) async fn join(&self) {
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    async fn request(&self, command: Command) -> Result<()> {
        self.commands.send(command).await.map_err(|_| closed())
    }
}

fn closed() -> Error {
    Error::closed(BACKEND, "the zeromq broker")
}

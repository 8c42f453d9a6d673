//! A DEALER connection to a binding side, owned by one task: connecting (and reconnecting),
//! heartbeats, and writing what the rest of the backend asks for. A second task alone calls
//! the socket's `recv` (see [`crate::socket`]).
//!
//! Consumers and remote producers both run on it: [`Dealer`] is the connected socket, and
//! [`connect`] makes one.

use std::time::Duration;

use bytes::Bytes;
use courier_core::{ErrorKind, Result};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zeromq::{
    DealerSendHalf, DealerSocket, Socket, SocketEvent, SocketOptions, SocketSend, ZmqMessage,
};

use crate::BACKEND;
use crate::auth::{SharedSecret, authenticate};
use crate::socket::{Intercept, socket_error, spawn_reader};
use crate::wire::ToHub;

/// A connected DEALER: its send half, the frames it receives, and disconnect events.
pub(crate) struct Dealer {
    sender: DealerSendHalf,
    /// Frames from the binding side, read by the reader task.
    pub(crate) incoming: mpsc::Receiver<Vec<Bytes>>,
    /// Connection events of the socket.
    pub(crate) events: Events,
    reader: JoinHandle<()>,
}

/// The socket monitor of a DEALER.
pub(crate) struct Events {
    monitor: futures::channel::mpsc::Receiver<SocketEvent>,
    monitoring: bool,
}

impl Events {
    /// Resolves when the socket reports that its peer disconnected. Cancel safe.
    pub(crate) async fn disconnected(&mut self) {
        while self.monitoring {
            match self.monitor.next().await {
                Some(SocketEvent::Disconnected(_)) => return,
                Some(_) => {}
                None => self.monitoring = false,
            }
        }
        std::future::pending::<()>().await;
    }
}

impl Dealer {
    /// Sends a request.
    ///
    /// # Errors
    /// [`ErrorKind::Connection`] when the connection is gone.
    pub(crate) async fn send(&mut self, request: ToHub) -> Result<()> {
        self.send_frames(request.frames()).await
    }

    /// Sends prepared frames.
    ///
    /// # Errors
    /// [`ErrorKind::Connection`] when the connection is gone.
    pub(crate) async fn send_frames(&mut self, frames: ZmqMessage) -> Result<()> {
        self.sender.send(frames).await.map_err(|e| {
            socket_error(
                ErrorKind::Connection,
                "the connection to the binding side is gone".into(),
                e,
            )
        })
    }
}

impl Drop for Dealer {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// How a peer reaches a binding side.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    /// How long connecting and each authentication answer may take.
    pub(crate) timeout: Duration,
    /// The shared secret to prove, when the deployment has one.
    pub(crate) secret: Option<SharedSecret>,
    /// The largest message read from the binding side.
    pub(crate) max_message_bytes: usize,
}

/// Connects a DEALER to `endpoint` and authenticates when `access` has a secret, trying
/// until `access.timeout` or until `cancel` fires. Frames that `intercept` handles in the
/// reader task do not reach [`Dealer::incoming`].
///
/// # Errors
/// [`ErrorKind::Connection`] when nothing answers within the timeout or authentication
/// fails; [`ErrorKind::Closed`] when cancelled.
pub(crate) async fn connect(
    endpoint: &str,
    access: &Access,
    cancel: &CancellationToken,
    intercept: Option<Intercept>,
) -> Result<Dealer> {
    let timeout = access.timeout;
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    options.max_message_size(access.max_message_bytes);
    let mut socket = DealerSocket::with_options(options);
    let monitor = socket.monitor();
    tokio::select! {
        () = cancel.cancelled() => {
            return Err(courier_core::Error::closed(BACKEND, "the connection"));
        }
        connected = socket.connect(endpoint) => connected.map_err(|e| {
            socket_error(
                ErrorKind::Connection,
                format!("no binding side answered at {endpoint} within {timeout:?}"),
                e,
            )
        })?,
    }
    let (sender, receiver) = socket.split();
    let (reader, incoming) = spawn_reader(receiver, 1024, intercept);
    let mut dealer = Dealer {
        sender,
        incoming,
        events: Events {
            monitor,
            monitoring: true,
        },
        reader,
    };
    if let Some(secret) = &access.secret {
        tokio::select! {
            () = cancel.cancelled() => {
                return Err(courier_core::Error::closed(BACKEND, "the connection"));
            }
            authenticated = authenticate(&mut dealer, secret, timeout) => authenticated?,
        }
    }
    Ok(dealer)
}

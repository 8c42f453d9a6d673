//! Helpers around the `zeromq` crate's sockets: the reader task that alone calls `recv`, and
//! error mapping.
//!
//! `recv` of the crate is not cancel safe, so it is never raced in a `select!` or wrapped in
//! a timeout: one task per socket loops on it and forwards every message over a channel,
//! whose receiver is cancel safe.

use std::time::Duration;

use bytes::Bytes;
use courier_core::{Error, ErrorKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zeromq::{Endpoint, Host, SocketRecv, ZmqError};

use crate::BACKEND;

/// Handles some messages right in the reader task (returning `None`), passing the others on.
pub(crate) type Intercept = Box<dyn FnMut(Vec<Bytes>) -> Option<Vec<Bytes>> + Send>;

/// Spawns the task that owns `socket`'s receive half and forwards each message's frames to
/// the returned channel, except those `intercept` handles itself. The channel closes when
/// the socket fails; abort the task to drop the socket.
pub(crate) fn spawn_reader<R>(
    mut socket: R,
    capacity: usize,
    mut intercept: Option<Intercept>,
) -> (JoinHandle<()>, mpsc::Receiver<Vec<Bytes>>)
where
    R: SocketRecv + Send + 'static,
{
    let (tx, rx) = mpsc::channel(capacity);
    let task = tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            match socket.recv().await {
                Ok(message) => {
                    failures = 0;
                    let frames = match intercept.as_mut() {
                        Some(intercept) => match intercept(message.into_vec()) {
                            Some(frames) => frames,
                            None => continue,
                        },
                        None => message.into_vec(),
                    };
                    if tx.send(frames).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    // A DEALER reports a broken connection here; a ROUTER only when it has
                    // no peer stream left. Either way the owner decides; back off a little so
                    // that a socket in a failed state does not spin.
                    failures += 1;
                    tracing::debug!(backend = BACKEND, %error, "zeromq receive failed");
                    if failures >= 3 || tx.is_closed() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    });
    (task, rx)
}

/// The address a local peer connects to for a socket bound at `bound`: an unspecified host
/// (`0.0.0.0`, `::`) becomes the loopback address.
pub(crate) fn connect_address(bound: &Endpoint) -> String {
    match bound {
        Endpoint::Tcp(Host::Ipv4(ip), port) if ip.is_unspecified() => {
            format!("tcp://127.0.0.1:{port}")
        }
        Endpoint::Tcp(Host::Ipv6(ip), port) if ip.is_unspecified() => format!("tcp://[::1]:{port}"),
        other => other.to_string(),
    }
}

/// A courier error for a failed socket operation.
pub(crate) fn socket_error(kind: ErrorKind, what: String, error: ZmqError) -> Error {
    Error::new(BACKEND, kind, format!("{what}: {error}")).with_source(error)
}

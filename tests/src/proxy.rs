//! [`Proxy`]: a TCP proxy in front of a broker, to take the broker away from a process under
//! test without touching the broker every other test uses.

use std::{io, net::SocketAddr};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// What the proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Forward,
    /// Closes every open connection and accepts new ones only to close them at once: a
    /// broker that fails every request.
    Fail,
    /// Closes every open connection and stops listening: a broker that is gone
    /// (connection refused).
    Stop,
}

/// A TCP proxy on a free loopback port, forwarding to `upstream` until told otherwise.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to `upstream`.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (mode, watcher) = watch::channel(Mode::Forward);
        let task = tokio::spawn(accept(listener, upstream, watcher));
        Ok(Self { port, mode, task })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Switches to `mode`; open connections close unless it is [`Mode::Forward`].
    pub fn set(&self, mode: Mode) {
        let _ = self.mode.send(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: SocketAddr, mode: watch::Receiver<Mode>) {
    let mut changes = mode.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            changed = changes.changed() => {
                if changed.is_err() || *changes.borrow() == Mode::Stop {
                    return;
                }
                continue;
            }
        };
        let Ok((client, _)) = accepted else { continue };
        if *mode.borrow() != Mode::Forward {
            drop(client);
            continue;
        }
        tokio::spawn(forward(client, upstream, mode.clone()));
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = mode.wait_for(|m| *m != Mode::Forward) => {}
    }
}

//! A raw peer of a running hub, for the tests that drive one over loopback TCP.

use std::time::Duration;

use bytes::Bytes;
use courier_core::Message;
use tokio_util::sync::CancellationToken;
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend};

use super::{Hub, HubSettings};
use crate::config::Overflow;
use crate::wire::{Framing, FromHub, ToHub, WireMessage};

pub(super) const MAX_DELAY: Duration = Duration::from_millis(600);

/// A hub on a loopback port with group `g` of topic `t` declared.
pub(super) async fn hub(shutdown: &CancellationToken) -> Hub {
    let settings = HubSettings {
        capacity: 100,
        overflow: Overflow::Fail,
        heartbeat_interval: Duration::from_millis(500),
        heartbeat_timeout: Duration::from_secs(10),
        secret: None,
        allow_remote_declare: false,
        max_message_bytes: 1 << 20,
        max_parked_bytes_per_peer: 1 << 20,
        max_delay: MAX_DELAY,
    };
    let groups = vec![("t".to_owned(), "g".to_owned())];
    Hub::bind("tcp://127.0.0.1:0", settings, groups, shutdown.clone())
        .await
        .expect("binds a loopback port")
}

/// A raw peer of the hub.
pub(super) struct Peer(DealerSocket);

impl Peer {
    pub(super) async fn connect(hub: &Hub) -> Self {
        let mut socket = DealerSocket::new();
        socket.connect(&hub.connect_to).await.expect("connects");
        Self(socket)
    }

    pub(super) async fn send(&mut self, request: ToHub) {
        self.0.send(request.frames()).await.expect("sends");
    }

    /// The next frames from the hub, within `wait`.
    pub(super) async fn recv_within(&mut self, wait: Duration) -> Option<FromHub> {
        let frames = tokio::time::timeout(wait, self.0.recv()).await.ok()?;
        let frames = frames.expect("receives").into_vec();
        Some(FromHub::parse(frames).expect("well-formed"))
    }

    pub(super) async fn recv(&mut self) -> FromHub {
        self.recv_within(Duration::from_secs(10))
            .await
            .expect("an answer within 10 s")
    }

    /// The next `MSG`: its tag, attempt and id.
    pub(super) async fn msg(&mut self) -> (u64, u32, Bytes) {
        match self.recv().await {
            FromHub::Msg {
                tag,
                attempt,
                message,
            } => (tag, attempt, message.id),
            other => panic!("expected a MSG, got {other:?}"),
        }
    }

    /// Joins group `g` of topic `t` with `prefetch` credit, taking deliveries as `RECORD`s.
    pub(super) async fn join(&mut self, prefetch: u32) {
        self.join_framed(prefetch, Framing::Record).await;
    }

    /// Joins group `g` of topic `t` with `prefetch` credit and deliveries framed as `framing`.
    pub(super) async fn join_framed(&mut self, prefetch: u32, framing: Framing) {
        self.send(ToHub::Hello {
            topic: "t".into(),
            group: "g".into(),
            prefetch,
            temporary: false,
            framing,
        })
        .await;
        assert!(matches!(self.recv().await, FromHub::Welcome { .. }));
    }

    /// The next message's frames, within 10 s.
    pub(super) async fn frames(&mut self) -> Vec<Bytes> {
        tokio::time::timeout(Duration::from_secs(10), self.0.recv())
            .await
            .expect("a message within 10 s")
            .expect("receives")
            .into_vec()
    }

    /// Waits until the hub has handled what this peer sent so far.
    pub(super) async fn sync(&mut self) {
        self.send(ToHub::Ping).await;
        assert!(matches!(self.recv().await, FromHub::Pong));
    }
}

/// A message whose id and payload are `id`.
pub(super) fn wire(id: &str) -> WireMessage {
    WireMessage::encode(Message::new(id.to_owned()).with_id(id))
}

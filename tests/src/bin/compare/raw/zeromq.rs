//! Bare baseline of the ZeroMQ backend: PUSH/PULL with the `zeromq` crate over loopback TCP.
//! Every PULL socket binds, every PUSH socket connects to all of them and round-robins. PUSH
//! /PULL has no acks and no confirms: a send returns once the message is queued for a peer,
//! and nothing is redelivered, so this side does less than courier's ZeroMQ backend, which
//! keeps every message until a consumer acks it (see [`super::zeromq_acked`] for acks and
//! redelivery by hand).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use tokio::sync::Mutex;
use zeromq::{PullSocket, PushSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::{
    driver::{Endpoints, Outcome, Publisher, Seen, Side, Subscriber},
    raw::Work,
    workload::{Names, Settings, Workload},
};

/// PUSH/PULL sockets made afresh for every run.
pub struct RawZmq;

#[async_trait]
impl Side for RawZmq {
    fn label(&self) -> &'static str {
        Work::Bare.label()
    }

    async fn open(
        &self,
        workload: Workload,
        _settings: &Settings,
        _names: &Names,
    ) -> Outcome<Endpoints> {
        let mut endpoints = Vec::with_capacity(workload.consumers);
        let mut subscribers: Vec<Box<dyn Subscriber>> = Vec::with_capacity(workload.consumers);
        for _ in 0..workload.consumers {
            let mut pull = PullSocket::new();
            endpoints.push(pull.bind("tcp://127.0.0.1:0").await?.to_string());
            subscribers.push(Box::new(PullSubscriber(pull)));
        }
        let mut publishers: Vec<Arc<dyn Publisher>> = Vec::with_capacity(workload.producers);
        for _ in 0..workload.producers {
            let mut push = PushSocket::new();
            for endpoint in &endpoints {
                push.connect(endpoint).await?;
            }
            publishers.push(Arc::new(PushPublisher(Mutex::new(push))));
        }
        Ok(Endpoints {
            publishers,
            subscribers,
        })
    }
}

/// One PUSH socket; the lock is taken once per batch.
struct PushPublisher(Mutex<PushSocket>);

#[async_trait]
impl Publisher for PushPublisher {
    async fn publish(&self, payloads: Vec<Bytes>) -> Outcome<()> {
        let mut push = self.0.lock().await;
        for payload in payloads {
            push.send(ZmqMessage::from(payload)).await?;
        }
        Ok(())
    }
}

struct PullSubscriber(PullSocket);

#[async_trait]
impl Subscriber for PullSubscriber {
    async fn take(&mut self, max: usize, seen: &mut Seen<'_>) -> Outcome<usize> {
        // A PULL socket's `recv` only awaits its fair queue's `next`, so polling it once and
        // dropping it when nothing is ready loses no message.
        let mut message = self.0.recv().await?;
        let mut taken = 0;
        loop {
            if let Some(frame) = message.get(0) {
                seen(frame);
            }
            taken += 1;
            if taken >= max {
                return Ok(taken);
            }
            match self.0.recv().now_or_never() {
                Some(next) => message = next?,
                None => return Ok(taken),
            }
        }
    }
}

//! The receive path of one connection: what its reader task does with each message, turning
//! a `MSG` or `RECORD` into a [`Delivery`] handed straight to the consumer, and passing the rest on to
//! the connection task.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use courier_core::{Delivery, Origin, token};
use tokio::sync::mpsc;

use super::ack::ZmqAck;
use super::settle::{Op, Settlement};
use crate::BACKEND;
use crate::socket::Intercept;
use crate::wire::FromHub;

/// What the reader task of connection `generation` does with each message: a `MSG`
/// becomes a [`Delivery`] handed straight to the consumer (one that cannot be read is
/// rejected and logged); the rest goes on to the connection task.
pub(super) fn receiver(
    shared: Arc<ZmqAck>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    topic: Arc<str>,
    generation: u64,
) -> Intercept {
    let origin = Origin::new(topic.clone(), shared.clone());
    Box::new(move |frames: Vec<Bytes>| {
        shared.heard.store(true, Ordering::Release);
        if !matches!(frames.get(1).map(|c| c.as_ref()), Some(b"MSG" | b"RECORD")) {
            return Some(frames);
        }
        let (tag, attempt, message) = match FromHub::parse(frames) {
            Ok(FromHub::Msg {
                tag,
                attempt,
                message,
            }) => (tag, attempt, message),
            Ok(_) => return None,
            Err(malformed) => {
                tracing::warn!(backend = BACKEND, %topic, reason = malformed.reason, "unreadable MSG ignored");
                return None;
            }
        };
        if tag > token::MAX_TAG {
            tracing::warn!(backend = BACKEND, %topic, tag, "MSG ignored: its tag is above 2^48");
            return None;
        }
        let token = token::pack(generation, tag);
        match message.decode() {
            Ok(message) => {
                let delivery = Delivery::new(message, origin.clone(), attempt, token);
                // A send fails only once the consumer is gone; its BYE hands it back.
                let _ = deliveries.send(delivery);
            }
            Err(reason) => {
                tracing::warn!(backend = BACKEND, %topic, reason, "rejecting a delivery that cannot be read");
                let _ = shared.settle.send(Settlement::One(token, Op::Reject));
            }
        }
        None
    })
}

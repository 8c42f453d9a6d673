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
use crate::wire::{FromHub, Malformed, Record, WireMessage, records};

/// What the reader task of connection `generation` does with each message: a `MSG`, and
/// each delivery of a `RECORD`, becomes a [`Delivery`] handed straight to the consumer (one
/// that cannot be read is rejected and logged); the rest goes on to the connection task.
pub(super) fn receiver(
    shared: Arc<ZmqAck>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    topic: Arc<str>,
    generation: u64,
) -> Intercept {
    let origin = Origin::new(topic.clone(), shared.clone());
    let deliver = {
        let (shared, topic) = (shared.clone(), topic.clone());
        move |tag: u64, attempt: u32, message: WireMessage| {
            if tag > token::MAX_TAG {
                tracing::warn!(backend = BACKEND, %topic, tag, "MSG ignored: its tag is above 2^48");
                return;
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
        }
    };
    let unreadable = move |malformed: &Malformed| {
        tracing::warn!(backend = BACKEND, %topic, reason = malformed.reason, "unreadable MSG ignored");
    };
    Box::new(move |mut frames: Vec<Bytes>| {
        shared.heard.store(true, Ordering::Release);
        if !matches!(frames.get(1).map(|c| c.as_ref()), Some(b"MSG" | b"RECORD")) {
            return Some(frames);
        }
        if frames[1].as_ref() == b"RECORD" {
            for record in records(frames.split_off(2)) {
                match record {
                    Ok(Record {
                        tag,
                        attempt,
                        message,
                    }) => deliver(tag, attempt, message),
                    Err(malformed) => unreadable(&malformed),
                }
            }
            return None;
        }
        match FromHub::parse(frames) {
            Ok(FromHub::Msg {
                tag,
                attempt,
                message,
            }) => deliver(tag, attempt, message),
            Ok(_) => {}
            Err(malformed) => unreadable(&malformed),
        }
        None
    })
}

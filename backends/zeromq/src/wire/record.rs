//! `RECORD`: deliveries packed for a courier consumer. Each delivery is two frames, a head
//! (the tag as 8 bytes, the attempt as 4, the id's and the key's length as 2 each, all
//! unsigned big-endian, then the id, the key and the headers) and the payload. A peer that
//! said `packed` gets one delivery per `RECORD`; one that also said `batched` gets up to
//! [`BATCH_DELIVERIES`] per `RECORD`, so that the sockets carry one message for many
//! deliveries.

use bytes::{BufMut, Bytes};
use zeromq::ZmqMessage;

use super::{FromHub, Malformed, PROTOCOL, WireMessage, cut, into_zmq, malformed};

/// The `HELLO` option that asks for deliveries as `RECORD`s.
pub(super) const PACKED: &[u8] = b"packed";
/// The `HELLO` option that asks for several deliveries per `RECORD`.
pub(super) const BATCHED: &[u8] = b"batched";
/// The command frame.
const RECORD: &[u8] = b"RECORD";
/// Bytes of a head before the id: tag, attempt, id length, key length.
const HEAD: usize = 8 + 4 + 2 + 2;

/// The most deliveries in one batched `RECORD`.
pub(crate) const BATCH_DELIVERIES: usize = 64;
/// The most bytes (heads and payloads) of a batched `RECORD` of more than one delivery: a
/// delivery that would take a batch past it starts the next one.
pub(crate) const BATCH_BYTES: usize = 256 * 1024;

/// How a consumer takes its deliveries, as its `HELLO` asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One `MSG` each (no option): what any ZeroMQ client reads without knowing `RECORD`.
    #[default]
    Msg,
    /// One `RECORD` each (`packed`).
    Record,
    /// `RECORD`s of up to [`BATCH_DELIVERIES`] deliveries and [`BATCH_BYTES`] (`packed` and
    /// `batched`).
    Batch,
}

impl Framing {
    /// The framing a `HELLO` asks for with the options `packed` and `batched`.
    pub(super) fn asked(packed: bool, batched: bool) -> Self {
        match (packed, batched) {
            (_, true) => Self::Batch,
            (true, false) => Self::Record,
            (false, false) => Self::Msg,
        }
    }

    /// What a courier consumer that reads messages of up to `max_message_bytes` asks for:
    /// batches when one fits (a batch of several deliveries stays within [`BATCH_BYTES`]
    /// and its two command frames).
    pub(crate) fn for_limit(max_message_bytes: usize) -> Self {
        if max_message_bytes >= BATCH_BYTES + 64 {
            Self::Batch
        } else {
            Self::Record
        }
    }

    /// The `HELLO` options that ask for this framing. `Batch` says `packed` too, so that a
    /// binding side that does not know `batched` still sends `RECORD`s, one each.
    pub(super) fn options(self) -> &'static [&'static [u8]] {
        match self {
            Self::Msg => &[],
            Self::Record => &[PACKED],
            Self::Batch => &[PACKED, BATCHED],
        }
    }
}

/// The head frame of a delivery, or `None` when its id or key is longer than 65,535 bytes
/// (it then travels as a `MSG`).
fn head(tag: u64, attempt: u32, message: &WireMessage) -> Option<Bytes> {
    let id_len = u16::try_from(message.id.len()).ok()?;
    let key_len = u16::try_from(message.key.len()).ok()?;
    let len = HEAD + message.id.len() + message.key.len() + message.headers.len();
    Some(cut(len, |buffer| {
        buffer.put_u64(tag);
        buffer.put_u32(attempt);
        buffer.put_u16(id_len);
        buffer.put_u16(key_len);
        buffer.extend_from_slice(&message.id);
        buffer.extend_from_slice(&message.key);
        buffer.extend_from_slice(&message.headers);
    }))
}

/// The frames of one delivery to the peer `identity`: a `RECORD` when it asked for them and
/// the id and key fit one, else a `MSG`.
pub(crate) fn delivery_to(
    identity: Bytes,
    framing: Framing,
    tag: u64,
    attempt: u32,
    message: WireMessage,
) -> ZmqMessage {
    let head = match framing {
        Framing::Msg => None,
        Framing::Record | Framing::Batch => head(tag, attempt, &message),
    };
    let Some(head) = head else {
        return FromHub::Msg {
            tag,
            attempt,
            message,
        }
        .frames_to(identity);
    };
    let mut frames = record_frames(identity, 1);
    frames.extend([head, message.payload]);
    into_zmq(frames)
}

/// The frames that open a `RECORD` to the peer `identity`, with room for `deliveries`.
fn record_frames(identity: Bytes, deliveries: usize) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(3 + 2 * deliveries);
    frames.extend([
        identity,
        Bytes::from_static(PROTOCOL),
        Bytes::from_static(RECORD),
    ]);
    frames
}

/// A batched `RECORD` being filled for one peer.
#[derive(Debug)]
pub(crate) struct RecordBatch {
    /// The peer's identity, the protocol, the command, then two frames per delivery.
    frames: Vec<Bytes>,
    bytes: usize,
}

impl RecordBatch {
    /// An empty batch for the peer `identity`.
    pub(crate) fn new(identity: Bytes) -> Self {
        Self {
            frames: record_frames(identity, BATCH_DELIVERIES),
            bytes: 0,
        }
    }

    /// The peer it is for.
    pub(crate) fn identity(&self) -> &Bytes {
        &self.frames[0]
    }

    /// Deliveries in it.
    pub(crate) fn len(&self) -> usize {
        (self.frames.len() - 3) / 2
    }

    /// Whether `message` would take a batch that holds deliveries past a bound.
    pub(crate) fn is_full_for(&self, message: &WireMessage) -> bool {
        let len = self.len();
        len >= BATCH_DELIVERIES || (len > 0 && self.bytes + record_bytes(message) > BATCH_BYTES)
    }

    /// Adds a delivery, whatever the bounds ([`is_full_for`](Self::is_full_for) tells).
    /// Returns the message when its id or key is too long for a record: it goes as a `MSG`.
    #[must_use]
    pub(crate) fn push(
        &mut self,
        tag: u64,
        attempt: u32,
        message: WireMessage,
    ) -> Option<WireMessage> {
        let Some(head) = head(tag, attempt, &message) else {
            return Some(message);
        };
        self.bytes += record_bytes(&message);
        self.frames.extend([head, message.payload]);
        None
    }

    /// The message to send.
    pub(crate) fn into_message(self) -> ZmqMessage {
        into_zmq(self.frames)
    }
}

/// Bytes a delivery adds to a batch: its head and payload.
fn record_bytes(message: &WireMessage) -> usize {
    HEAD + message.byte_len()
}

/// One delivery read from a `RECORD`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) tag: u64,
    pub(crate) attempt: u32,
    pub(crate) message: WireMessage,
}

/// The deliveries of a `RECORD` (the frames after the protocol and the command), in order;
/// a pair that cannot be read, or a head without its payload, is an error in its place and
/// the rest are still read.
pub(crate) fn records(frames: Vec<Bytes>) -> impl Iterator<Item = Result<Record, Malformed>> {
    let mut frames = frames.into_iter();
    std::iter::from_fn(move || {
        let head = frames.next()?;
        Some(match frames.next() {
            Some(payload) => read(&head, payload),
            None => Err(malformed("a RECORD head without its payload")),
        })
    })
}

/// The first delivery of a `RECORD`, as a `MSG` (the frames after the protocol and command).
pub(super) fn first(frames: Vec<Bytes>) -> Result<FromHub, Malformed> {
    match records(frames).next() {
        Some(record) => record.map(|r| FromHub::Msg {
            tag: r.tag,
            attempt: r.attempt,
            message: r.message,
        }),
        None => Err(malformed("RECORD needs a head and a payload")),
    }
}

/// A delivery from its head and payload; the id, key and headers are slices of the head,
/// not copies.
fn read(head: &Bytes, payload: Bytes) -> Result<Record, Malformed> {
    use bytes::Buf;
    let Some(mut fixed) = head.get(..HEAD) else {
        return Err(malformed("the RECORD head is shorter than 16 bytes"));
    };
    let tag = fixed.get_u64();
    let attempt = fixed.get_u32();
    let id_end = HEAD + usize::from(fixed.get_u16());
    let key_end = id_end + usize::from(fixed.get_u16());
    if key_end > head.len() {
        return Err(malformed(
            "the RECORD head is shorter than its id and key lengths say",
        ));
    }
    Ok(Record {
        tag,
        attempt,
        message: WireMessage {
            id: head.slice(HEAD..id_end),
            key: head.slice(id_end..key_end),
            headers: head.slice(key_end..),
            payload,
        },
    })
}

#[cfg(test)]
mod tests;

//! The frame layout on the wire (protocol `courier/1`), shared by the binding side (ROUTER)
//! and the peers that connect to it (DEALER).
//!
//! Every message is a ZeroMQ multipart message whose first frame is `courier/1` and whose
//! second frame names the command. Numbers are ASCII decimal. A message travels as four
//! frames: `id` (UTF-8; empty: the binding side assigns a UUIDv7), `key` (UTF-8; empty: no
//! key), `headers` (a JSON object of strings; empty: none) and `payload` (bytes).
//!
//! Peer to binding side (the ROUTER sees the peer's identity frame first):
//!
//! | command | frames after the command |
//! |---|---|
//! | `HELLO` | topic, group, prefetch, then options, each an optional frame: `temporary` (a group removed when its last member leaves), `packed` (send deliveries as `RECORD`) and `batched` (several deliveries per `RECORD`); join `group` of `topic` as a consumer |
//! | `ACK` / `NACK` / `REJECT` | one delivery tag per frame (`NACK` requeues, `REJECT` drops) |
//! | `RETRY` | delay in ms, then one delivery tag per frame: requeue once the delay has passed |
//! | `PING` | none: keeps the connection alive, answered with `PONG` |
//! | `BYE` | none: leave the group; unacked deliveries go back to it |
//! | `PUBLISH` | seq, topic, an optional delay in ms (present when the frames after the topic are one more than a multiple of 4), then 4 frames per message: answered `OK seq` once queued |
//! | `DECLARE` | seq, topic, group: create the group's outbox, answered `OK seq` |
//! | `CHALLENGE` | the peer's nonce: start authenticating (see [`crate::auth`]) |
//! | `AUTH` | the peer's proof |
//!
//! Binding side to peer:
//!
//! | command | frames after the command |
//! |---|---|
//! | `WELCOME` | heartbeat interval in ms: the `HELLO` was accepted |
//! | `MSG` | tag, attempt, then the message's 4 frames |
//! | `RECORD` | deliveries to a peer that said `packed`, two frames each: a head, then the payload. The head is the tag (8 bytes), the attempt (4 bytes), the id's length and the key's length (2 bytes each), all unsigned big-endian, then the id, the key and the headers (the rest). One delivery per `RECORD`, or up to 64 (and 256 KiB beyond the first) to a peer that also said `batched` |
//! | `PONG` | none |
//! | `OK` | seq |
//! | `ERROR` | seq (empty when not about a request), reason (`full: ...` for a full outbox, `gone: ...` for a connection that is no longer a member, `auth: ...` for a connection that has not authenticated) |
//! | `NONCE` | the binding side's nonce and proof |
//! | `AUTHENTICATED` | none: the proof was accepted |

use bytes::Bytes;
use courier_core::{Headers, Message, MessageId};
use zeromq::ZmqMessage;

mod record;

#[cfg(test)]
pub(crate) use record::{BATCH_BYTES, BATCH_DELIVERIES};
use record::{BATCHED, PACKED};
pub(crate) use record::{Framing, Record, RecordBatch, delivery_to, records};

/// The first frame of every message.
pub(crate) const PROTOCOL: &[u8] = b"courier/1";

/// A message as four frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WireMessage {
    pub(crate) id: Bytes,
    pub(crate) key: Bytes,
    pub(crate) headers: Bytes,
    pub(crate) payload: Bytes,
}

impl WireMessage {
    /// The frames of `message`.
    pub(crate) fn encode(message: Message) -> Self {
        let headers = if message.headers.is_empty() {
            Bytes::new()
        } else {
            // A map of strings always serialises.
            Bytes::from(serde_json::to_vec(&message.headers).unwrap_or_default())
        };
        Self {
            id: id_frame(&message.id),
            key: message.key.map(Bytes::from).unwrap_or_default(),
            headers,
            payload: message.payload,
        }
    }

    /// The message these frames carry.
    ///
    /// # Errors
    /// A description of the bad frame: an id or key that is not UTF-8, headers that are not
    /// a JSON object of strings.
    pub(crate) fn decode(self) -> Result<Message, String> {
        let id = utf8(&self.id, "id")?;
        let key = utf8(&self.key, "key")?;
        let headers = if self.headers.is_empty() {
            Headers::new()
        } else {
            serde_json::from_slice::<Headers>(&self.headers)
                .map_err(|e| format!("the headers frame is not a JSON object of strings: {e}"))?
        };
        Ok(Message {
            id: if id.is_empty() {
                MessageId::generate()
            } else {
                id.into()
            },
            key: (!key.is_empty()).then(|| key.to_owned()),
            headers,
            payload: self.payload,
        })
    }

    /// Checks the frames as [`decode`](Self::decode) does, and gives an empty id a fresh one.
    ///
    /// # Errors
    /// As for [`decode`](Self::decode).
    pub(crate) fn validated(mut self) -> Result<Self, String> {
        std::str::from_utf8(&self.id).map_err(|_| "the id frame is not UTF-8".to_owned())?;
        std::str::from_utf8(&self.key).map_err(|_| "the key frame is not UTF-8".to_owned())?;
        if !self.headers.is_empty() {
            serde_json::from_slice::<Headers>(&self.headers)
                .map_err(|e| format!("the headers frame is not a JSON object of strings: {e}"))?;
        }
        if self.id.is_empty() {
            self.id = id_frame(&MessageId::generate());
        }
        Ok(self)
    }

    /// The bytes of its four frames.
    pub(crate) fn byte_len(&self) -> usize {
        self.id.len() + self.key.len() + self.headers.len() + self.payload.len()
    }

    fn push_into(self, frames: &mut Vec<Bytes>) {
        frames.extend([self.id, self.key, self.headers, self.payload]);
    }

    fn take(frames: &mut std::vec::IntoIter<Bytes>) -> Option<Self> {
        Some(Self {
            id: frames.next()?,
            key: frames.next()?,
            headers: frames.next()?,
            payload: frames.next()?,
        })
    }
}

/// The `HELLO` option that asks for a temporary group.
const TEMPORARY: &[u8] = b"temporary";

fn utf8<'a>(frame: &'a Bytes, what: &str) -> Result<&'a str, String> {
    std::str::from_utf8(frame).map_err(|_| format!("the {what} frame is not UTF-8"))
}

/// A request from a peer to the binding side.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToHub {
    /// Joins a group; the option `temporary` asks for a group that is removed when its last
    /// member leaves, if this `HELLO` creates it; `framing`, how deliveries are to come.
    Hello {
        topic: String,
        group: String,
        prefetch: u32,
        temporary: bool,
        framing: Framing,
    },
    Ack(Vec<u64>),
    Nack(Vec<u64>),
    Reject(Vec<u64>),
    /// Requeues the deliveries `tags` once `delay_ms` has passed.
    Retry {
        delay_ms: u64,
        tags: Vec<u64>,
    },
    Ping,
    Bye,
    /// Queues `messages`; with a `delay_ms` above 0 (an optional frame after the topic), they
    /// join their groups once it has passed.
    Publish {
        seq: Bytes,
        topic: String,
        delay_ms: u64,
        messages: Vec<WireMessage>,
    },
    Declare {
        seq: Bytes,
        topic: String,
        group: String,
    },
    Challenge {
        nonce: Bytes,
    },
    Auth {
        proof: Bytes,
    },
}

/// What the binding side sends to a peer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FromHub {
    Welcome {
        heartbeat_ms: u64,
    },
    Msg {
        tag: u64,
        attempt: u32,
        message: WireMessage,
    },
    Pong,
    Ok {
        seq: Bytes,
    },
    Error {
        seq: Bytes,
        reason: String,
    },
    Nonce {
        nonce: Bytes,
        proof: Bytes,
    },
    Authenticated,
}

/// Why frames could not be read, and the request sequence number when there is one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub(crate) seq: Bytes,
    pub(crate) reason: String,
}

fn malformed(reason: impl Into<String>) -> Malformed {
    Malformed {
        seq: Bytes::new(),
        reason: reason.into(),
    }
}

fn number<T: std::str::FromStr>(frame: Option<Bytes>, what: &str) -> Result<T, Malformed> {
    let frame = frame.ok_or_else(|| malformed(format!("missing {what} frame")))?;
    std::str::from_utf8(&frame)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed(format!("the {what} frame is not a decimal number")))
}

fn text(frame: Option<Bytes>, what: &str) -> Result<String, Malformed> {
    let frame = frame.ok_or_else(|| malformed(format!("missing {what} frame")))?;
    let text = String::from_utf8(frame.to_vec())
        .map_err(|_| malformed(format!("the {what} frame is not UTF-8")))?;
    if text.is_empty() {
        return Err(malformed(format!("the {what} frame is empty")));
    }
    Ok(text)
}

fn tags(frames: std::vec::IntoIter<Bytes>) -> Result<Vec<u64>, Malformed> {
    frames.map(|f| number(Some(f), "tag")).collect()
}

fn command(frames: &mut std::vec::IntoIter<Bytes>) -> Result<Bytes, Malformed> {
    match frames.next() {
        Some(p) if p.as_ref() == PROTOCOL => {}
        _ => return Err(malformed("the first frame is not `courier/1`")),
    }
    frames
        .next()
        .ok_or_else(|| malformed("missing command frame"))
}

impl ToHub {
    /// Reads a request from the frames that follow the identity frame.
    pub(crate) fn parse(frames: Vec<Bytes>) -> Result<Self, Malformed> {
        let mut frames = frames.into_iter();
        let command = command(&mut frames)?;
        match command.as_ref() {
            b"HELLO" => {
                let topic = text(frames.next(), "topic")?;
                let group = text(frames.next(), "group")?;
                let prefetch = number::<u32>(frames.next(), "prefetch")?.max(1);
                // Options in any order; one this side does not know is passed over.
                let options: Vec<Bytes> = frames.collect();
                let has = |option: &[u8]| options.iter().any(|f| f.as_ref() == option);
                Ok(Self::Hello {
                    topic,
                    group,
                    prefetch,
                    temporary: has(TEMPORARY),
                    framing: Framing::asked(has(PACKED), has(BATCHED)),
                })
            }
            b"ACK" => Ok(Self::Ack(tags(frames)?)),
            b"NACK" => Ok(Self::Nack(tags(frames)?)),
            b"REJECT" => Ok(Self::Reject(tags(frames)?)),
            b"RETRY" => Ok(Self::Retry {
                delay_ms: number(frames.next(), "delay")?,
                tags: tags(frames)?,
            }),
            b"PING" => Ok(Self::Ping),
            b"BYE" => Ok(Self::Bye),
            b"PUBLISH" => {
                let seq = frames
                    .next()
                    .ok_or_else(|| malformed("missing seq frame"))?;
                let with_seq = |m: Malformed| Malformed {
                    seq: seq.clone(),
                    reason: m.reason,
                };
                let topic = text(frames.next(), "topic").map_err(with_seq)?;
                let delay_ms = if frames.len() % 4 == 1 {
                    number(frames.next(), "delay").map_err(with_seq)?
                } else {
                    0
                };
                if frames.len() == 0 || frames.len() % 4 != 0 {
                    return Err(with_seq(malformed(
                        "PUBLISH needs an optional delay, then 4 frames per message: id, key, \
                         headers, payload",
                    )));
                }
                let mut messages = Vec::with_capacity(frames.len() / 4);
                while let Some(message) = WireMessage::take(&mut frames) {
                    messages.push(message);
                }
                Ok(Self::Publish {
                    seq,
                    topic,
                    delay_ms,
                    messages,
                })
            }
            b"DECLARE" => {
                let seq = frames
                    .next()
                    .ok_or_else(|| malformed("missing seq frame"))?;
                let with_seq = |m: Malformed| Malformed {
                    seq: seq.clone(),
                    reason: m.reason,
                };
                Ok(Self::Declare {
                    topic: text(frames.next(), "topic").map_err(with_seq)?,
                    group: text(frames.next(), "group").map_err(with_seq)?,
                    seq,
                })
            }
            b"CHALLENGE" => Ok(Self::Challenge {
                nonce: frames
                    .next()
                    .ok_or_else(|| malformed("missing nonce frame"))?,
            }),
            b"AUTH" => Ok(Self::Auth {
                proof: frames
                    .next()
                    .ok_or_else(|| malformed("missing proof frame"))?,
            }),
            other => Err(malformed(format!(
                "unknown command `{}`",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    /// The frames of this request.
    pub(crate) fn frames(self) -> ZmqMessage {
        let mut frames = vec![Bytes::from_static(PROTOCOL)];
        let tag_frames = |name: &'static [u8], tags: Vec<u64>, frames: &mut Vec<Bytes>| {
            frames.push(Bytes::from_static(name));
            frames.extend(tags.into_iter().map(decimal));
        };
        match self {
            Self::Hello {
                topic,
                group,
                prefetch,
                temporary,
                framing,
            } => {
                frames.extend([
                    Bytes::from_static(b"HELLO"),
                    Bytes::from(topic),
                    Bytes::from(group),
                    decimal(prefetch),
                ]);
                // `temporary` first: a binding side that knows only that option reads the
                // frame after the prefetch.
                if temporary {
                    frames.push(Bytes::from_static(TEMPORARY));
                }
                frames.extend(framing.options().iter().map(|o| Bytes::from_static(o)));
            }
            Self::Ack(tags) => tag_frames(b"ACK", tags, &mut frames),
            Self::Nack(tags) => tag_frames(b"NACK", tags, &mut frames),
            Self::Reject(tags) => tag_frames(b"REJECT", tags, &mut frames),
            Self::Retry { delay_ms, tags } => {
                frames.extend([Bytes::from_static(b"RETRY"), decimal(delay_ms)]);
                frames.extend(tags.into_iter().map(decimal));
            }
            Self::Ping => frames.push(Bytes::from_static(b"PING")),
            Self::Bye => frames.push(Bytes::from_static(b"BYE")),
            Self::Publish {
                seq,
                topic,
                delay_ms,
                messages,
            } => {
                frames.reserve(4 + 4 * messages.len());
                frames.extend([Bytes::from_static(b"PUBLISH"), seq, Bytes::from(topic)]);
                if delay_ms > 0 {
                    frames.push(decimal(delay_ms));
                }
                for message in messages {
                    message.push_into(&mut frames);
                }
            }
            Self::Declare { seq, topic, group } => frames.extend([
                Bytes::from_static(b"DECLARE"),
                seq,
                Bytes::from(topic),
                Bytes::from(group),
            ]),
            Self::Challenge { nonce } => frames.extend([Bytes::from_static(b"CHALLENGE"), nonce]),
            Self::Auth { proof } => frames.extend([Bytes::from_static(b"AUTH"), proof]),
        }
        into_zmq(frames)
    }
}

impl FromHub {
    /// Reads what the binding side sent.
    pub(crate) fn parse(frames: Vec<Bytes>) -> Result<Self, Malformed> {
        let mut frames = frames.into_iter();
        let command = command(&mut frames)?;
        match command.as_ref() {
            b"WELCOME" => Ok(Self::Welcome {
                heartbeat_ms: number(frames.next(), "heartbeat")?,
            }),
            b"MSG" => {
                let tag = number(frames.next(), "tag")?;
                let attempt = number(frames.next(), "attempt")?;
                let message = WireMessage::take(&mut frames).ok_or_else(|| {
                    malformed("MSG needs tag, attempt, id, key, headers, payload")
                })?;
                Ok(Self::Msg {
                    tag,
                    attempt,
                    message,
                })
            }
            b"RECORD" => record::first(frames.collect()),
            b"PONG" => Ok(Self::Pong),
            b"OK" => Ok(Self::Ok {
                seq: frames.next().unwrap_or_default(),
            }),
            b"ERROR" => Ok(Self::Error {
                seq: frames.next().unwrap_or_default(),
                reason: frames
                    .next()
                    .map(|r| String::from_utf8_lossy(&r).into_owned())
                    .unwrap_or_default(),
            }),
            b"NONCE" => Ok(Self::Nonce {
                nonce: frames
                    .next()
                    .ok_or_else(|| malformed("missing nonce frame"))?,
                proof: frames
                    .next()
                    .ok_or_else(|| malformed("missing proof frame"))?,
            }),
            b"AUTHENTICATED" => Ok(Self::Authenticated),
            other => Err(malformed(format!(
                "unknown command `{}`",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    /// The frames of this reply, addressed to the peer `identity` (for the ROUTER).
    pub(crate) fn frames_to(self, identity: Bytes) -> ZmqMessage {
        let mut frames = Vec::with_capacity(9);
        frames.extend([identity, Bytes::from_static(PROTOCOL)]);
        match self {
            Self::Welcome { heartbeat_ms } => {
                frames.extend([Bytes::from_static(b"WELCOME"), decimal(heartbeat_ms)]);
            }
            Self::Msg {
                tag,
                attempt,
                message,
            } => {
                frames.extend([Bytes::from_static(b"MSG"), decimal(tag), decimal(attempt)]);
                message.push_into(&mut frames);
            }
            Self::Pong => frames.push(Bytes::from_static(b"PONG")),
            Self::Ok { seq } => frames.extend([Bytes::from_static(b"OK"), seq]),
            Self::Error { seq, reason } => {
                frames.extend([Bytes::from_static(b"ERROR"), seq, Bytes::from(reason)]);
            }
            Self::Nonce { nonce, proof } => {
                frames.extend([Bytes::from_static(b"NONCE"), nonce, proof]);
            }
            Self::Authenticated => frames.push(Bytes::from_static(b"AUTHENTICATED")),
        }
        into_zmq(frames)
    }
}

/// The frame of a message id: its text, cut from the per-thread buffer, so that it costs no
/// allocation of its own and a clone (the outbox keeps one per group) only counts a reference.
fn id_frame(id: &MessageId) -> Bytes {
    let text = id.text();
    cut(text.len(), |buffer| {
        buffer.extend_from_slice(text.as_bytes())
    })
}

/// Bytes of the per-thread buffer that small frames ([`decimal`] numbers, `RECORD` heads)
/// are cut from: one allocation serves many frames instead of one each.
const CUT_CHUNK: usize = 4096;

thread_local! {
    static CUTS: std::cell::RefCell<bytes::BytesMut> =
        std::cell::RefCell::new(bytes::BytesMut::new());
}

/// A frame of `len` bytes written by `write`, cut from the per-thread buffer.
fn cut(len: usize, write: impl FnOnce(&mut bytes::BytesMut)) -> Bytes {
    CUTS.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        if buffer.capacity() < len {
            buffer.reserve(len.max(CUT_CHUNK));
        }
        write(&mut buffer);
        buffer.split().freeze()
    })
}

/// A number as an ASCII decimal frame.
pub(crate) fn decimal(n: impl Into<u64>) -> Bytes {
    let n = n.into();
    if n < 10 {
        const DIGITS: &[u8; 10] = b"0123456789";
        // Attempt 1 and other one-digit numbers: a static frame. `n < 10`: in range.
        let i = n as usize;
        return Bytes::from_static(&DIGITS[i..=i]);
    }
    let mut text = itoa::Buffer::new();
    let text = text.format(n).as_bytes();
    cut(text.len(), |buffer| buffer.extend_from_slice(text))
}

fn into_zmq(frames: Vec<Bytes>) -> ZmqMessage {
    // Never empty: every builder above pushes the protocol frame first.
    ZmqMessage::try_from(frames).unwrap_or_else(|_| ZmqMessage::from(Bytes::from_static(PROTOCOL)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_their_numbers_cut_from_one_buffer() {
        let numbers: Vec<u64> = (0..2_000).chain([u64::MAX, 1 << 48]).collect();
        let frames: Vec<Bytes> = numbers.iter().map(|&n| decimal(n)).collect();
        for (n, frame) in numbers.iter().zip(&frames) {
            assert_eq!(frame.as_ref(), n.to_string().as_bytes());
        }
        // Frames stay valid while later ones are cut from the same and new chunks.
        assert_eq!(frames[1_999].as_ref(), b"1999");
    }

    #[test]
    fn hello_options_come_in_any_order_and_unknown_ones_are_passed_over() {
        let hello = |options: &[&'static [u8]]| {
            let mut frames = vec![
                Bytes::from_static(PROTOCOL),
                Bytes::from_static(b"HELLO"),
                Bytes::from_static(b"t"),
                Bytes::from_static(b"g"),
                Bytes::from_static(b"8"),
            ];
            frames.extend(options.iter().map(|o| Bytes::from_static(o)));
            match ToHub::parse(frames).expect("parses") {
                ToHub::Hello {
                    temporary, framing, ..
                } => (temporary, framing),
                other => panic!("not a HELLO: {other:?}"),
            }
        };
        assert_eq!(hello(&[]), (false, Framing::Msg));
        assert_eq!(hello(&[b"packed", b"temporary"]), (true, Framing::Record));
        assert_eq!(hello(&[b"future", b"packed"]), (false, Framing::Record));
        assert_eq!(hello(&[b"batched", b"packed"]), (false, Framing::Batch));
    }

    /// A message with every part set.
    pub(super) fn full_message() -> Message {
        Message::new("payload")
            .with_id("id-1")
            .with_key("order-7")
            .with_header("content-type", "application/json")
    }

    pub(super) fn without_identity(message: ZmqMessage) -> Vec<Bytes> {
        let mut frames = message.into_vec();
        frames.remove(0);
        frames
    }

    #[test]
    fn messages_survive_the_round_trip() {
        let message = full_message();
        let wire = WireMessage::encode(message.clone());
        assert_eq!(wire.clone().decode().unwrap(), message);
        assert_eq!(wire.validated().unwrap().id, Bytes::from("id-1"));
    }

    #[test]
    fn requests_survive_the_round_trip() {
        let hellos = [
            (false, Framing::Msg),
            (true, Framing::Msg),
            (true, Framing::Record),
            (false, Framing::Record),
            (false, Framing::Batch),
        ]
        .map(|(temporary, framing)| ToHub::Hello {
            topic: "t".into(),
            group: "g".into(),
            prefetch: 8,
            temporary,
            framing,
        });
        let requests = hellos.into_iter().chain([
            ToHub::Ack(vec![1, 2, 3]),
            ToHub::Nack(vec![4]),
            ToHub::Reject(vec![5]),
            ToHub::Retry {
                delay_ms: 1_500,
                tags: vec![6, 7],
            },
            ToHub::Retry {
                delay_ms: u64::MAX,
                tags: vec![],
            },
            ToHub::Ping,
            ToHub::Bye,
            ToHub::Publish {
                seq: Bytes::from("9"),
                topic: "t".into(),
                delay_ms: 0,
                messages: vec![WireMessage::encode(Message::new("a")); 2],
            },
            ToHub::Publish {
                seq: Bytes::from("11"),
                topic: "t".into(),
                delay_ms: 250,
                messages: vec![WireMessage::encode(Message::new("b")); 3],
            },
            ToHub::Declare {
                seq: Bytes::from("10"),
                topic: "t".into(),
                group: "g".into(),
            },
            ToHub::Challenge {
                nonce: Bytes::from("ab"),
            },
            ToHub::Auth {
                proof: Bytes::from("cd"),
            },
        ]);
        for request in requests {
            let frames = format!("{request:?}");
            let parsed = ToHub::parse(request.frames().into_vec()).unwrap();
            assert_eq!(format!("{parsed:?}"), frames);
        }
    }

    #[test]
    fn replies_survive_the_round_trip() {
        let replies = [
            FromHub::Welcome { heartbeat_ms: 1000 },
            FromHub::Msg {
                tag: 42,
                attempt: 2,
                message: WireMessage::encode(Message::new("x").with_id("i")),
            },
            FromHub::Pong,
            FromHub::Ok {
                seq: Bytes::from("1"),
            },
            FromHub::Error {
                seq: Bytes::from("2"),
                reason: "no".into(),
            },
            FromHub::Nonce {
                nonce: Bytes::from("n"),
                proof: Bytes::from("p"),
            },
            FromHub::Authenticated,
        ];
        for reply in replies {
            let text = format!("{reply:?}");
            let frames = without_identity(reply.frames_to(Bytes::from("peer")));
            assert_eq!(format!("{:?}", FromHub::parse(frames).unwrap()), text);
        }
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let bad: Vec<Vec<&[u8]>> = vec![
            vec![],
            vec![b"nope"],
            vec![PROTOCOL],
            vec![PROTOCOL, b"HELLO", b"t"],
            vec![PROTOCOL, b"HELLO", b"t", b"g", b"-1"],
            vec![PROTOCOL, b"ACK", b"x"],
            vec![PROTOCOL, b"PUBLISH"],
            vec![PROTOCOL, b"PUBLISH", b"1", b"t", b"id"],
            vec![PROTOCOL, b"PUBLISH", b"1", b"t", b"5"],
            vec![
                PROTOCOL, b"PUBLISH", b"1", b"t", b"x", b"i", b"k", b"h", b"p",
            ],
            vec![
                PROTOCOL, b"PUBLISH", b"1", b"t", b"-1", b"i", b"k", b"h", b"p",
            ],
            vec![
                PROTOCOL,
                b"PUBLISH",
                b"1",
                b"t",
                b"18446744073709551616",
                b"i",
                b"k",
                b"h",
                b"p",
            ],
            vec![
                PROTOCOL, b"PUBLISH", b"1", b"t", b"5", b"i", b"k", b"h", b"p", b"x",
            ],
            vec![PROTOCOL, b"RETRY"],
            vec![PROTOCOL, b"RETRY", b"soon", b"1"],
            vec![PROTOCOL, b"RETRY", b"1.5", b"1"],
            vec![PROTOCOL, b"RETRY", b"100", b"x"],
            vec![PROTOCOL, b"DECLARE", b"1", b"t"],
            vec![PROTOCOL, b"WHAT"],
        ];
        for frames in bad {
            let frames: Vec<Bytes> = frames.into_iter().map(Bytes::copy_from_slice).collect();
            assert!(ToHub::parse(frames.clone()).is_err(), "{frames:?}");
            // Only a few of these are valid replies; none may panic.
            let _ = FromHub::parse(frames);
        }
        let publish = vec![
            Bytes::from_static(PROTOCOL),
            Bytes::from_static(b"PUBLISH"),
            Bytes::from_static(b"7"),
            Bytes::from_static(b"t"),
            Bytes::from_static(b"id"),
        ];
        assert_eq!(ToHub::parse(publish).unwrap_err().seq, Bytes::from("7"));
        let bad_delay: Vec<Bytes> = [PROTOCOL, b"PUBLISH", b"8", b"t", b"x", b"", b"", b"", b""]
            .into_iter()
            .map(Bytes::from_static)
            .collect();
        let malformed = ToHub::parse(bad_delay).unwrap_err();
        assert_eq!(malformed.seq, Bytes::from("8"));
        assert!(malformed.reason.contains("delay"), "{}", malformed.reason);
    }

    #[test]
    fn a_publish_without_a_delay_frame_is_read_as_before() {
        let frames: Vec<Bytes> = [PROTOCOL, b"PUBLISH", b"1", b"t", b"", b"", b"", b"5"]
            .into_iter()
            .map(Bytes::from_static)
            .collect();
        let Ok(ToHub::Publish {
            delay_ms, messages, ..
        }) = ToHub::parse(frames)
        else {
            panic!("a valid PUBLISH");
        };
        assert_eq!(delay_ms, 0);
        assert_eq!(messages[0].payload, Bytes::from_static(b"5"));
    }

    #[test]
    fn bad_message_frames_are_described() {
        let wire = WireMessage {
            id: Bytes::new(),
            key: Bytes::new(),
            headers: Bytes::from_static(b"[1]"),
            payload: Bytes::new(),
        };
        assert!(wire.clone().decode().unwrap_err().contains("headers"));
        assert!(wire.validated().is_err());
        let wire = WireMessage {
            id: Bytes::from_static(&[0xff]),
            key: Bytes::new(),
            headers: Bytes::new(),
            payload: Bytes::new(),
        };
        assert!(wire.decode().unwrap_err().contains("id"));
        let plain = WireMessage {
            id: Bytes::new(),
            key: Bytes::new(),
            headers: Bytes::new(),
            payload: Bytes::from_static(b"{}"),
        };
        let message = plain.decode().unwrap();
        assert!(!message.id.is_empty() && message.key.is_none());
    }
}

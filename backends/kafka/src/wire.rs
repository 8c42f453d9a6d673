//! How a courier [`Message`] travels as a Kafka record, and back.
//!
//! * key: the message key (UTF-8), absent when the message has none;
//! * value: the payload, unchanged;
//! * headers: the message headers, plus `courier-id` (the id) and, on a message handed back
//!   to its group by `nack(requeue)`, `courier-attempt` (the attempt number of its next
//!   delivery) and `courier-requeued-for` (that group: the other groups of the topic skip
//!   the copy); on a delayed message (`send_after`, `retry_after`), `courier-due-at` (Unix
//!   milliseconds; consumers hold the record until then).
//!
//! A record from a plain Kafka client is accepted: without `courier-id` its id is
//! `<topic>-<partition>-<offset>` (stable, so consumers can deduplicate it), without
//! `courier-attempt` its attempt is 1, a key or header value that is not UTF-8 is read
//! lossily, and a header whose name is not UTF-8 is dropped.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use courier_core::{
    Headers, Message,
    headers::{ATTEMPT, DUE_AT, REQUEUED_FOR, parse_attempt},
};
use rdkafka::message::{Header, Headers as _, OwnedHeaders};
use tracing::warn;

/// The header carrying the message id.
pub use courier_core::headers::ID as ID_HEADER;

/// What marks a copy that `nack(requeue)` hands back to one group.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Requeued<'a> {
    /// The attempt number of its next delivery.
    pub(crate) attempt: u32,
    /// The group it is for.
    pub(crate) group: &'a str,
}

/// The Kafka headers of `message`: its own headers plus `courier-id`, `courier-attempt`
/// and `courier-requeued-for` on a requeued copy, and `courier-due-at` when `due_at_ms` is
/// given.
pub(crate) fn encode_headers(
    message: &Message,
    requeued: Option<Requeued<'_>>,
    due_at_ms: Option<u64>,
) -> OwnedHeaders {
    let attempt_text = requeued.map(|r| r.attempt.to_string());
    let id = message.id.text();
    let mut headers = OwnedHeaders::new_with_capacity(message.headers.len() + 4).insert(Header {
        key: ID_HEADER,
        value: Some(id.as_str()),
    });
    for (name, value) in &message.headers {
        if name == ID_HEADER || name == ATTEMPT || name == REQUEUED_FOR || name == DUE_AT {
            continue;
        }
        headers = headers.insert(Header {
            key: name.as_str(),
            value: Some(value.as_str()),
        });
    }
    if let (Some(attempt), Some(requeued)) = (&attempt_text, requeued) {
        headers = headers
            .insert(Header {
                key: ATTEMPT,
                value: Some(attempt.as_str()),
            })
            .insert(Header {
                key: REQUEUED_FOR,
                value: Some(requeued.group),
            });
    }
    if let Some(due) = due_at_ms {
        headers = headers.insert(Header {
            key: DUE_AT,
            value: Some(due.to_string().as_str()),
        });
    }
    headers
}

/// The longest a consumer holds a delayed record: a `courier-due-at` further ahead (a clock
/// gone wrong, a hostile producer) counts as this far.
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(24 * 60 * 60);

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// The `courier-due-at` value of a message delayed by `delay` from now.
pub(crate) fn due_at_ms(delay: Duration) -> u64 {
    let delay = u64::try_from(delay.min(MAX_HOLD).as_millis()).unwrap_or(u64::MAX);
    now_ms().saturating_add(delay)
}

/// How much longer a record due at `due_at_ms` is held: `None` once due, at most
/// [`MAX_HOLD`].
pub(crate) fn hold_for(due_at_ms: u64) -> Option<Duration> {
    let left = due_at_ms.checked_sub(now_ms()).filter(|ms| *ms > 0)?;
    Some(Duration::from_millis(left).min(MAX_HOLD))
}

/// Bytes the record of `message` takes, near enough to check it against the size limit.
pub(crate) fn record_size(message: &Message) -> usize {
    let headers: usize = message
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 8)
        .sum();
    message.payload.len()
        + message.key.as_ref().map_or(0, String::len)
        + message.id.len()
        + ID_HEADER.len()
        + headers
        + 64
}

/// A received record as a courier message, with its attempt number.
pub(crate) struct Incoming {
    pub(crate) message: Message,
    pub(crate) attempt: u32,
    /// The group a requeued copy is for (`None` for every other record).
    pub(crate) requeued_for: Option<String>,
    /// When a delayed record is due, in Unix milliseconds (`None`: at once, also for a value
    /// that is not a number).
    pub(crate) due_at_ms: Option<u64>,
}

impl Incoming {
    /// Whether the record is a copy requeued for another group than `group`, which `group`
    /// skips.
    pub(crate) fn is_for_another_group(&self, group: &str) -> bool {
        self.requeued_for.as_deref().is_some_and(|g| g != group)
    }
}

/// Reads a consumed record.
pub(crate) fn decode(record: &impl rdkafka::Message) -> Incoming {
    let mut id = None;
    let mut attempt = 1;
    let mut requeued_for = None;
    let mut due_at_ms = None;
    let mut headers = Headers::new();
    if let Some(raw) = record.headers() {
        for index in 0..raw.count() {
            // rdkafka panics on a header name that is not UTF-8; such a header is dropped.
            let Ok(Some(header)) = catch_unwind(AssertUnwindSafe(|| raw.try_get(index))) else {
                warn!(
                    topic = record.topic(),
                    partition = record.partition(),
                    offset = record.offset(),
                    "dropping a record header whose name is not UTF-8"
                );
                continue;
            };
            let value = header
                .value
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            match header.key {
                ID_HEADER => id = Some(value).filter(|v| !v.is_empty()).or(id),
                ATTEMPT => attempt = parse_attempt(Some(&value)),
                REQUEUED_FOR => requeued_for = Some(value),
                DUE_AT => due_at_ms = value.trim().parse::<u64>().ok(),
                name => {
                    headers.insert(name.to_owned(), value);
                }
            }
        }
    }
    let id = id.unwrap_or_else(|| {
        format!(
            "{}-{}-{}",
            record.topic(),
            record.partition(),
            record.offset()
        )
    });
    let key = record
        .key()
        .map(|k| String::from_utf8_lossy(k).into_owned());
    let payload = record
        .payload()
        .map_or_else(Bytes::new, Bytes::copy_from_slice);
    Incoming {
        message: Message {
            id: id.into(),
            key,
            headers,
            payload,
        },
        attempt,
        requeued_for,
        due_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_id_and_attempt_but_not_stale_copies() {
        let message = Message::new("p")
            .with_header("content-type", "application/json")
            .with_header(ATTEMPT, "9")
            .with_header(REQUEUED_FOR, "forged")
            .with_header(ID_HEADER, "forged");
        let requeued = Requeued {
            attempt: 3,
            group: "billing",
        };
        let headers = encode_headers(&message, Some(requeued), None);
        let pairs: Vec<(String, String)> = headers
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8(h.value.expect("value").to_vec()).expect("utf-8"),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            vec![
                (ID_HEADER.to_owned(), message.id.to_string()),
                ("content-type".to_owned(), "application/json".to_owned()),
                (ATTEMPT.to_owned(), "3".to_owned()),
                (REQUEUED_FOR.to_owned(), "billing".to_owned()),
            ]
        );
        assert_eq!(encode_headers(&message, None, None).count(), 2);
    }

    fn record(key: Option<&[u8]>, headers: Option<OwnedHeaders>) -> rdkafka::message::OwnedMessage {
        rdkafka::message::OwnedMessage::new(
            Some(b"body".to_vec()),
            key.map(<[u8]>::to_vec),
            "orders".into(),
            rdkafka::Timestamp::NotAvailable,
            2,
            41,
            headers,
        )
    }

    #[test]
    fn a_plain_record_gets_a_stable_id_and_attempt_one() {
        let incoming = decode(&record(Some(&[0x6b, 0xff]), None));
        assert_eq!(incoming.message.id, "orders-2-41");
        assert_eq!(incoming.attempt, 1);
        assert_eq!(incoming.message.key.as_deref(), Some("k\u{fffd}"));
        assert_eq!(&incoming.message.payload[..], b"body");
        assert!(incoming.message.headers.is_empty());
    }

    #[test]
    fn courier_headers_become_id_and_attempt() {
        let message = Message::new("body").with_header("h", "v");
        let requeued = Requeued {
            attempt: 4,
            group: "billing",
        };
        let incoming = decode(&record(
            None,
            Some(encode_headers(&message, Some(requeued), None)),
        ));
        assert_eq!(incoming.message.id, message.id);
        assert_eq!(incoming.attempt, 4);
        assert!(incoming.is_for_another_group("shipping"));
        assert!(!incoming.is_for_another_group("billing"));
        assert_eq!(incoming.message.headers, message.headers);
        assert_eq!(incoming.message.key, None);
    }

    #[test]
    fn a_due_time_round_trips_and_is_held_at_most_a_day() {
        let message = Message::new("later");
        let due = due_at_ms(Duration::from_secs(5));
        let incoming = decode(&record(
            None,
            Some(encode_headers(&message, None, Some(due))),
        ));
        assert_eq!(incoming.due_at_ms, Some(due));
        assert!(
            incoming.message.headers.is_empty(),
            "the mark is not a user header"
        );
        let held = hold_for(due).expect("not due yet");
        assert!(held <= Duration::from_secs(5) && held > Duration::from_secs(4));
        assert_eq!(hold_for(due_at_ms(Duration::ZERO).saturating_sub(1)), None);
        assert_eq!(hold_for(u64::MAX), Some(MAX_HOLD));
        let garbled = OwnedHeaders::new().insert(Header {
            key: DUE_AT,
            value: Some("soon"),
        });
        assert_eq!(decode(&record(None, Some(garbled))).due_at_ms, None);
    }

    #[test]
    fn odd_header_values_are_tolerated() {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: ATTEMPT,
                value: Some("many"),
            })
            .insert(Header::<&str> {
                key: "empty",
                value: None,
            })
            .insert(Header {
                key: "bytes",
                value: Some(&[0xffu8, 0x41][..]),
            })
            .insert(Header {
                key: ID_HEADER,
                value: Some(""),
            });
        let incoming = decode(&record(None, Some(headers)));
        assert_eq!(incoming.attempt, 1);
        assert_eq!(incoming.message.id, "orders-2-41");
        assert_eq!(incoming.message.header("empty"), Some(""));
        assert_eq!(incoming.message.header("bytes"), Some("\u{fffd}A"));
        assert_eq!(incoming.message.header(ID_HEADER), None);
    }

    #[test]
    fn record_size_counts_payload_key_and_headers() {
        let small = Message::new(vec![0u8; 10]);
        let big = Message::new(vec![0u8; 1000])
            .with_key("k")
            .with_header("h", "v");
        assert!(record_size(&big) > record_size(&small) + 990);
    }
}

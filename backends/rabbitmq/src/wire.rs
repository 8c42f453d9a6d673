//! The wire format: a courier [`Message`] as AMQP properties and body, and back.
//!
//! | courier | AMQP |
//! |---|---|
//! | `payload` | the body, unchanged |
//! | `id` | `message_id` |
//! | `key` | header `courier-key` |
//! | header `content-type` | `content_type` |
//! | other headers | headers, as long-string values |
//! | the attempt of a re-published message | header `courier-attempt` |
//!
//! Every message is persistent (`delivery_mode = 2`). A message from a plain client may carry
//! only a body: it gets a fresh id, and header values of other AMQP types become strings.

use bytes::Bytes;
use courier_core::{Error, ErrorKind, Headers, Message, MessageId, headers};
use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::BACKEND;

/// The AMQP header carrying the message key.
pub use courier_core::headers::KEY as KEY_HEADER;
/// The header RabbitMQ quorum queues set to the number of earlier deliveries.
pub(crate) const DELIVERY_COUNT: &str = "x-delivery-count";
/// `delivery_mode` of persistent messages.
const PERSISTENT: u8 = 2;

/// The AMQP properties of `message` (its payload is the body).
///
/// # Errors
/// [`ErrorKind::Encode`] when the id, a header name or the content type is longer than the
/// 255 bytes AMQP allows.
pub(crate) fn properties(message: &Message) -> Result<BasicProperties, Error> {
    let mut table = FieldTable::default();
    let mut content_type = None;
    for (name, value) in &message.headers {
        if name == headers::CONTENT_TYPE {
            content_type = Some(short("the content-type header", value)?);
        } else {
            table.insert(
                short("a header name", name)?,
                AMQPValue::LongString(LongString::from(value.as_bytes())),
            );
        }
    }
    if let Some(key) = &message.key {
        table.insert(
            ShortString::from(KEY_HEADER),
            AMQPValue::LongString(LongString::from(key.as_bytes())),
        );
    }
    let mut props = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(short("the message id", &message.id.text())?)
        .with_headers(table);
    if let Some(content_type) = content_type {
        props = props.with_content_type(content_type);
    }
    Ok(props)
}

/// `properties` with the attempt header set to `attempt` (for a re-published copy).
pub(crate) fn with_attempt(properties: &BasicProperties, attempt: u32) -> BasicProperties {
    let mut table = properties.headers().clone().unwrap_or_default();
    table.insert(
        ShortString::from(headers::ATTEMPT),
        AMQPValue::LongString(LongString::from(attempt.to_string())),
    );
    properties
        .clone()
        .with_headers(table)
        .with_delivery_mode(PERSISTENT)
}

/// Whether `name` is a header RabbitMQ adds when it dead-letters a message (`x-death`,
/// `x-first-death-*`, `x-last-death-*`): a delayed message passes through a delay queue
/// that way, and must arrive as it was sent.
fn is_dead_letter_bookkeeping(name: &str) -> bool {
    name == "x-death" || name.starts_with("x-first-death-") || name.starts_with("x-last-death-")
}

/// A received AMQP message as a courier message and its attempt number.
///
/// The attempt is the `courier-attempt` header (1 when absent) plus the queue's count of
/// earlier deliveries: `x-delivery-count` on quorum queues, otherwise 1 when RabbitMQ flags
/// the delivery as redelivered.
pub(crate) fn decode(
    properties: &BasicProperties,
    body: Vec<u8>,
    redelivered: bool,
) -> (Message, u32) {
    let mut headers = Headers::new();
    let mut key = None;
    let mut attempt = 1u32;
    let mut delivery_count = None;
    if let Some(table) = properties.headers() {
        for (name, value) in table {
            match name.as_str() {
                KEY_HEADER => key = text(value),
                headers::ATTEMPT => attempt = headers::parse_attempt(text(value).as_deref()),
                DELIVERY_COUNT => delivery_count = integer(value),
                other if is_dead_letter_bookkeeping(other) => {}
                other => {
                    if let Some(value) = text(value) {
                        headers.insert(other.to_owned(), value);
                    }
                }
            }
        }
    }
    if let Some(content_type) = properties.content_type() {
        headers.insert(headers::CONTENT_TYPE.to_owned(), content_type.to_string());
    }
    let earlier = match delivery_count {
        Some(n) => u32::try_from(n.max(0)).unwrap_or(u32::MAX),
        None => u32::from(redelivered),
    };
    let id = match properties.message_id() {
        Some(id) if !id.as_str().is_empty() => MessageId::from(id.as_str()),
        _ => MessageId::generate(),
    };
    let message = Message {
        id,
        key,
        headers,
        payload: Bytes::from(body),
    };
    (message, attempt.saturating_add(earlier))
}

fn short(what: &str, value: &str) -> Result<ShortString, Error> {
    ShortString::try_new(value).map_err(|e| {
        Error::new(
            BACKEND,
            ErrorKind::Encode,
            format!("{what} does not fit an AMQP short string: {e}"),
        )
    })
}

/// A header value as text: strings as (lossy) UTF-8, numbers and booleans written out;
/// tables, arrays and voids have no text form.
fn text(value: &AMQPValue) -> Option<String> {
    Some(match value {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::ByteArray(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::Float(f) => f.to_string(),
        AMQPValue::Double(f) => f.to_string(),
        AMQPValue::DecimalValue(d) => {
            let scale = u32::from(d.scale);
            match 10u64.checked_pow(scale) {
                Some(div) if scale > 0 => format!(
                    "{}.{:0width$}",
                    u64::from(d.value) / div,
                    u64::from(d.value) % div,
                    width = scale as usize
                ),
                _ => d.value.to_string(),
            }
        }
        AMQPValue::Timestamp(t) => t.to_string(),
        other => integer(other)?.to_string(),
    })
}

fn integer(value: &AMQPValue) -> Option<i128> {
    Some(match *value {
        AMQPValue::ShortShortInt(v) => v.into(),
        AMQPValue::ShortShortUInt(v) => v.into(),
        AMQPValue::ShortInt(v) => v.into(),
        AMQPValue::ShortUInt(v) => v.into(),
        AMQPValue::LongInt(v) => v.into(),
        AMQPValue::LongUInt(v) => v.into(),
        AMQPValue::LongLongInt(v) => v.into(),
        AMQPValue::Timestamp(v) => v.into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{DecimalValue, FieldArray};

    #[test]
    fn round_trips_id_key_headers_content_type_and_payload() {
        let sent = Message::new(vec![0u8, 159, 146, 150])
            .with_key("order-7")
            .with_header("trace", "abc")
            .with_header(headers::CONTENT_TYPE, "application/json");
        let props = properties(&sent).expect("encodes");
        assert_eq!(props.delivery_mode(), &Some(PERSISTENT));
        assert_eq!(
            props.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        let (received, attempt) = decode(&props, sent.payload.to_vec(), false);
        assert_eq!(received, sent);
        assert_eq!(attempt, 1);
    }

    #[test]
    fn attempt_counts_header_and_redeliveries() {
        let sent = Message::new("x");
        let props = with_attempt(&properties(&sent).expect("encodes"), 3);
        let (received, attempt) = decode(&props, b"x".to_vec(), false);
        assert_eq!(attempt, 3);
        assert!(received.headers.is_empty(), "{:?}", received.headers);
        assert_eq!(decode(&props, b"x".to_vec(), true).1, 4);
        let mut table = props.headers().clone().unwrap_or_default();
        table.insert(DELIVERY_COUNT.into(), AMQPValue::LongLongInt(2));
        let quorum = props.clone().with_headers(table);
        assert_eq!(decode(&quorum, b"x".to_vec(), true).1, 5);
    }

    #[test]
    fn plain_messages_get_an_id_and_text_headers() {
        let mut table = FieldTable::default();
        table.insert("n".into(), AMQPValue::LongInt(-5));
        table.insert("ok".into(), AMQPValue::Boolean(true));
        table.insert(
            "price".into(),
            AMQPValue::DecimalValue(DecimalValue {
                scale: 2,
                value: 1050,
            }),
        );
        table.insert("list".into(), AMQPValue::FieldArray(FieldArray::default()));
        table.insert("bad".into(), AMQPValue::LongString(vec![0xff, b'a'].into()));
        table.insert(
            headers::ATTEMPT.into(),
            AMQPValue::LongString("junk".into()),
        );
        let props = BasicProperties::default().with_headers(table);
        let (m, attempt) = decode(&props, b"{}".to_vec(), false);
        assert_eq!(attempt, 1);
        assert!(m.id.uuid().is_some(), "a fresh UUID: {}", m.id);
        assert_eq!(m.header("n"), Some("-5"));
        assert_eq!(m.header("ok"), Some("true"));
        assert_eq!(m.header("price"), Some("10.50"));
        assert_eq!(m.header("bad"), Some("\u{fffd}a"));
        assert_eq!(m.header("list"), None);
        let (bare, _) = decode(&BasicProperties::default(), b"body".to_vec(), false);
        assert_eq!(&bare.payload[..], b"body");
        assert!(bare.headers.is_empty() && bare.key.is_none());
    }

    #[test]
    fn over_long_names_are_encode_errors_not_panics() {
        let long = "x".repeat(256);
        for m in [
            Message::new("p").with_id(long.clone()),
            Message::new("p").with_header(long.clone(), "v"),
        ] {
            let err = properties(&m).expect_err("too long");
            assert_eq!(err.kind(), ErrorKind::Encode);
        }
        assert!(properties(&Message::new("p").with_header("h", long)).is_ok());
    }
}

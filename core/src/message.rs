//! The unit of transport: [`Message`] and its [`Headers`].

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::MessageId;

/// String headers carried with a message, ordered by name.
pub type Headers = BTreeMap<String, String>;

/// A message as producers send it and consumers receive it.
///
/// `id` is unique per message; [`Message::new`] sets a fresh UUIDv7, so ids sort by creation
/// time (see [`MessageId`]: making or copying one allocates nothing). `key` selects ordering (messages with one key are handled in order where the backend
/// declares [`Capability::PerKeyOrder`](crate::Capability::PerKeyOrder)) and, on partitioned
/// backends, the partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Unique id of the message.
    pub id: MessageId,
    /// Optional ordering and partitioning key.
    pub key: Option<String>,
    /// String headers.
    pub headers: Headers,
    /// The body, opaque bytes.
    pub payload: Bytes,
}

impl Message {
    /// A message with a fresh UUIDv7 id, no key and no headers.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            id: MessageId::generate(),
            key: None,
            headers: Headers::new(),
            payload: payload.into(),
        }
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<MessageId>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds (or replaces) one header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The value of a header, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A fresh UUIDv7 in its hyphenated text form, as a `String` (for ids kept beside messages,
/// such as an order's); [`MessageId::generate`] makes one without allocating.
pub fn new_id() -> String {
    MessageId::generate().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_messages_get_distinct_time_ordered_ids() {
        let a = Message::new("a");
        let b = Message::new("b");
        assert_ne!(a.id, b.id);
        assert!(
            a.id < b.id,
            "UUIDv7 ids sort by creation: {} !< {}",
            a.id,
            b.id
        );
    }

    #[test]
    fn builders_set_fields() {
        let m = Message::new(vec![0u8, 255])
            .with_id("x")
            .with_key("k")
            .with_header("h", "v");
        assert_eq!(m.id, "x");
        assert_eq!(m.key.as_deref(), Some("k"));
        assert_eq!(m.header("h"), Some("v"));
        assert_eq!(&m.payload[..], &[0u8, 255]);
    }
}

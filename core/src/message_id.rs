//! [`MessageId`]: a message's id, 16 bytes when it is a UUID, text on every wire.

use std::{cmp::Ordering, fmt, sync::Arc};

use uuid::Uuid;

mod text;
mod v7;

pub use text::IdText;

/// The longest id other than a UUID kept inside the value.
const INLINE: usize = 22;

/// A message's id. On every wire it is text; in memory a UUID in its lowercase hyphenated
/// form (what [`MessageId::generate`] makes) is kept as its 16 bytes and formatted only when
/// shown, so making, copying and comparing one touch no heap and no text.
///
/// Any other text is kept as it is: up to 22 bytes inside the value, longer behind an `Arc`
/// (cloning it costs one counter increment). Each text has one form, so ids compare, hash
/// and sort as their text: `MessageId::from(id.text())` equals `id`, and an outside client's
/// uppercase UUID stays the text it sent. [`text`](MessageId::text) reads it as a `&str`;
/// it prints as its text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageId(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// A UUID's bytes, read as the lowercase hyphenated text.
    Uuid([u8; 16]),
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Shared(Arc<str>),
}

impl MessageId {
    /// A fresh UUIDv7. Ids made later on one thread sort after the ones it made earlier;
    /// across threads they sort by the clock's tick (a few milliseconds, see `v7.rs`).
    /// Uniqueness rests on 74 bits each thread draws at random when its millisecond changes
    /// and counts up within it (RFC 9562, method 2): no lock is shared by the threads.
    pub fn generate() -> Self {
        Self(Repr::Uuid(v7::next().to_be_bytes()))
    }

    /// The id's text: borrowed, or a UUID formatted on the stack.
    pub fn text(&self) -> IdText<'_> {
        match &self.0 {
            Repr::Uuid(bytes) => IdText::uuid(bytes),
            Repr::Inline { len, bytes } => {
                // Only whole `str`s are ever copied in (see `From<&str>`).
                IdText::borrowed(
                    std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
                )
            }
            Repr::Shared(text) => IdText::borrowed(text),
        }
    }

    /// The UUID, when the id is one in its lowercase hyphenated form.
    pub fn uuid(&self) -> Option<Uuid> {
        match self.0 {
            Repr::Uuid(bytes) => Some(Uuid::from_bytes(bytes)),
            _ => None,
        }
    }

    /// Whether the id is the empty text (no id).
    pub fn is_empty(&self) -> bool {
        matches!(self.0, Repr::Inline { len: 0, .. })
    }

    /// The length of its text in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Uuid(_) => uuid::fmt::Hyphenated::LENGTH,
            Repr::Inline { len, .. } => usize::from(*len),
            Repr::Shared(text) => text.len(),
        }
    }
}

/// The UUID of `text` when it is one in the form [`MessageId::text`] gives back: 36
/// characters, hyphenated, lowercase.
fn canonical_uuid(text: &str) -> Option<[u8; 16]> {
    if text.len() != uuid::fmt::Hyphenated::LENGTH || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    // 36 characters parse only in the hyphenated form.
    Uuid::try_parse(text).ok().map(Uuid::into_bytes)
}

impl Default for MessageId {
    /// The empty id (no id); [`Message::new`](crate::Message::new) gives a fresh one instead.
    fn default() -> Self {
        Self::from("")
    }
}

impl From<&str> for MessageId {
    fn from(text: &str) -> Self {
        if text.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Self(Repr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else if let Some(bytes) = canonical_uuid(text) {
            Self(Repr::Uuid(bytes))
        } else {
            Self(Repr::Shared(Arc::from(text)))
        }
    }
}

impl From<String> for MessageId {
    fn from(text: String) -> Self {
        if text.len() <= INLINE || canonical_uuid(&text).is_some() {
            Self::from(text.as_str())
        } else {
            Self(Repr::Shared(Arc::from(text)))
        }
    }
}

impl From<&String> for MessageId {
    fn from(text: &String) -> Self {
        Self::from(text.as_str())
    }
}

impl From<IdText<'_>> for MessageId {
    fn from(text: IdText<'_>) -> Self {
        Self::from(&*text)
    }
}

impl From<&MessageId> for MessageId {
    fn from(id: &MessageId) -> Self {
        id.clone()
    }
}

impl From<Uuid> for MessageId {
    fn from(id: Uuid) -> Self {
        Self(Repr::Uuid(id.into_bytes()))
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> Self {
        id.text().as_str().to_owned()
    }
}

impl From<&MessageId> for String {
    fn from(id: &MessageId) -> Self {
        id.text().as_str().to_owned()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

impl PartialOrd for MessageId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MessageId {
    /// As their texts sort; two UUIDs sort by their bytes, which is the same order.
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Uuid(a), Repr::Uuid(b)) => a.cmp(b),
            _ => self.text().cmp(&other.text()),
        }
    }
}

macro_rules! eq_text {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for MessageId {
            fn eq(&self, other: &$other) -> bool {
                *self.text() == *AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<MessageId> for $other {
            fn eq(&self, other: &MessageId) -> bool {
                *AsRef::<str>::as_ref(self) == *other.text()
            }
        }
    )*};
}

eq_text!(str, &str, String);

#[cfg(test)]
mod tests;

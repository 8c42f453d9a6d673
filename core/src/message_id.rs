//! [`MessageId`]: a message's id as text, made and copied without touching the heap.

use std::{borrow::Borrow, cmp::Ordering, fmt, hash, ops::Deref, sync::Arc};

use uuid::Uuid;

mod v7;

/// The longest id kept inline; a UUID's 36 characters fit.
const INLINE: usize = 46;

/// A message's id: text, as on every wire.
///
/// Ids of up to 46 bytes (a UUID in its hyphenated form has 36) live inside the value, so
/// [`MessageId::generate`] and `clone` allocate nothing; a longer id is shared behind an
/// `Arc`, so cloning it costs one counter increment. It reads as a `&str` (`Deref`), compares
/// with `str` and `String`, and prints as its text.
#[derive(Clone)]
pub struct MessageId(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl MessageId {
    /// A fresh UUIDv7 in its hyphenated text form. Ids made later on one thread sort after
    /// the ones it made earlier; across threads they sort by the clock's tick (a few
    /// milliseconds, see `v7.rs`). Uniqueness rests on 74 bits each thread draws at random
    /// when its millisecond changes and counts up within it (RFC 9562, method 2): no lock is
    /// shared by the threads.
    pub fn generate() -> Self {
        let mut bytes = [0u8; INLINE];
        let len = Uuid::from_u128(v7::next())
            .hyphenated()
            .encode_lower(&mut bytes)
            .len();
        Self(Repr::Inline {
            len: len as u8,
            bytes,
        })
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                // Only whole `str`s are ever copied in (see `From<&str>` and `generate`).
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Shared(text) => text,
        }
    }
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
        } else {
            Self(Repr::Shared(Arc::from(text)))
        }
    }
}

impl From<String> for MessageId {
    fn from(text: String) -> Self {
        if text.len() <= INLINE {
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

impl From<&MessageId> for MessageId {
    fn from(id: &MessageId) -> Self {
        id.clone()
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> Self {
        id.as_str().to_owned()
    }
}

impl Deref for MessageId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for MessageId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for MessageId {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Borrow<str> for MessageId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for MessageId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for MessageId {}

impl PartialOrd for MessageId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MessageId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl hash::Hash for MessageId {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that `Borrow<str>` lookups find it.
        self.as_str().hash(state);
    }
}

macro_rules! eq_text {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for MessageId {
            fn eq(&self, other: &$other) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<MessageId> for $other {
            fn eq(&self, other: &MessageId) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}

eq_text!(str, &str, String);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_ids_are_uuids_inline_and_sort_by_creation() {
        let a = MessageId::generate();
        let b = MessageId::generate();
        assert_eq!(a.len(), 36);
        assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
        assert!(matches!(a.0, Repr::Inline { .. }));
        assert!(a < b, "{a} !< {b}");
    }

    #[test]
    fn ids_made_on_many_threads_at_once_are_distinct() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| MessageId::generate()).collect()))
            .collect();
        let mut all = HashSet::new();
        for thread in threads {
            let ids: Vec<MessageId> = thread.join().expect("thread");
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ordered within a thread"
            );
            all.extend(ids);
        }
        assert_eq!(all.len(), 80_000);
    }

    #[test]
    fn short_ids_live_inline_and_long_ones_are_shared() {
        let short = MessageId::from("x".repeat(INLINE));
        assert!(matches!(short.0, Repr::Inline { .. }));
        let long = MessageId::from("é".repeat(INLINE));
        assert!(matches!(long.0, Repr::Shared(_)));
        assert_eq!(long.as_str(), "é".repeat(INLINE));
        assert_eq!(long.clone(), long);
    }

    #[test]
    fn compares_prints_and_hashes_as_its_text() {
        let id = MessageId::from("order-1");
        assert_eq!(id, "order-1");
        assert_eq!("order-1", id);
        assert_eq!(id, String::from("order-1"));
        assert_eq!(id.to_string(), "order-1");
        assert_eq!(format!("{id:?}"), "\"order-1\"");
        let set: HashSet<MessageId> = [id.clone()].into();
        assert!(set.contains("order-1"));
        assert_eq!(String::from(id), "order-1");
        assert_eq!(MessageId::default(), "");
    }
}

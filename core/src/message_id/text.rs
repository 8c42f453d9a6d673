//! [`IdText`]: a [`MessageId`](super::MessageId) read as text.

use std::{borrow::Borrow, fmt, ops::Deref};

use uuid::{Uuid, fmt::Hyphenated};

/// A message id's text, from [`MessageId::text`](super::MessageId::text): it reads as a
/// `&str` (`Deref`). A UUID is formatted into the value itself, so reading an id allocates
/// nothing.
#[derive(Clone, Copy)]
pub struct IdText<'a>(Form<'a>);

#[derive(Clone, Copy)]
enum Form<'a> {
    Uuid([u8; Hyphenated::LENGTH]),
    Borrowed(&'a str),
}

impl<'a> IdText<'a> {
    pub(super) fn uuid(bytes: &[u8; 16]) -> Self {
        let mut text = [0u8; Hyphenated::LENGTH];
        Uuid::from_bytes(*bytes)
            .hyphenated()
            .encode_lower(&mut text);
        Self(Form::Uuid(text))
    }

    pub(super) fn borrowed(text: &'a str) -> Self {
        Self(Form::Borrowed(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // `encode_lower` writes ASCII only.
            Form::Uuid(text) => std::str::from_utf8(text).unwrap_or_default(),
            Form::Borrowed(text) => text,
        }
    }
}

impl Deref for IdText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for IdText<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for IdText<'_> {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Borrow<str> for IdText<'_> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for IdText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IdText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for IdText<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for IdText<'_> {}

impl PartialOrd for IdText<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdText<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq<str> for IdText<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IdText<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

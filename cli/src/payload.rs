//! [`Payload`]: a payload as text when it is UTF-8, else as hex.

use serde::Serialize;

/// A payload for display: its text when it is UTF-8, else its bytes in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payload {
    /// `utf8` or `hex`.
    pub encoding: &'static str,
    /// The text, or the hex digits.
    pub data: String,
    /// Its length in bytes.
    pub bytes: usize,
}

impl Payload {
    /// The display form of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self {
                encoding: "utf8",
                data: text.to_owned(),
                bytes: bytes.len(),
            },
            Err(_) => Self {
                encoding: "hex",
                data: hex::encode(bytes),
                bytes: bytes.len(),
            },
        }
    }

    /// On one line: control characters (line breaks included) escaped as in Rust strings.
    pub fn one_line(&self) -> String {
        escape_controls(&self.data)
    }
}

/// `text` with its control characters escaped (`\n`, `\t`, `\u{1b}`), everything else as is.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_and_bytes_become_hex() {
        let text = Payload::of("{\"a\": \"é\"}\n".as_bytes());
        assert_eq!((text.encoding, text.bytes), ("utf8", 12));
        assert_eq!(text.one_line(), "{\"a\": \"é\"}\\n");
        let bytes = Payload::of(&[0xff, 0x00, 0x10]);
        assert_eq!((bytes.encoding, bytes.data.as_str()), ("hex", "ff0010"));
    }
}

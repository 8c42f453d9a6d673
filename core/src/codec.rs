//! Typed JSON events on top of raw messages.
//!
//! A handler registered with [`Runtime::handle_json`](crate::Runtime::handle_json) receives a
//! decoded value; a payload that does not decode is a permanent error, and the runtime sends it
//! to the dead-letter topic at once.

use serde::{Serialize, de::DeserializeOwned};

use crate::{Error, ErrorKind, Message, Result, headers};

/// The content type of JSON payloads.
pub const JSON: &str = "application/json";

/// A message whose payload is `value` as JSON, with a fresh id and the JSON content type.
///
/// # Errors
/// [`ErrorKind::Encode`] when `value` cannot be serialised (a map with non-string keys, a
/// failing `Serialize` impl).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Message> {
    let payload = serde_json::to_vec(value)
        .map_err(|e| Error::new("core", ErrorKind::Encode, e.to_string()))?;
    Ok(Message::new(payload).with_header(headers::CONTENT_TYPE, JSON))
}

/// The payload of `message` decoded from JSON.
///
/// # Errors
/// [`ErrorKind::Decode`], naming the serde error and where in the payload it is.
pub fn from_json<T: DeserializeOwned>(message: &Message) -> Result<T> {
    serde_json::from_slice(&message.payload).map_err(|e| {
        Error::new(
            "core",
            ErrorKind::Decode,
            format!(
                "payload of message {} is not valid JSON for the expected type: {e}",
                message.id
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Placed {
        order_id: String,
        quantity: u32,
    }

    #[test]
    fn round_trip_and_decode_error() {
        let value = Placed {
            order_id: "1".into(),
            quantity: 2,
        };
        let msg = to_json(&value).expect("encodes");
        assert_eq!(msg.header(headers::CONTENT_TYPE), Some(JSON));
        assert_eq!(from_json::<Placed>(&msg).expect("decodes"), value);
        let bad = Message::new("{not json");
        let err = from_json::<Placed>(&bad).expect_err("must fail");
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(!err.is_retryable());
    }
}

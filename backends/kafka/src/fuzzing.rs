//! Entry points for the fuzz targets and the corpus replay test: not part of the API.

use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

/// Builds a record from `data` (frames split at `0xFF`: key, payload, then header name and
/// value pairs) and decodes it as a consumed record. Never panics.
pub fn decode_record(data: &[u8]) {
    let mut frames = data.split(|b| *b == 0xFF);
    let key = frames.next().map(<[u8]>::to_vec);
    let payload = frames.next().map(<[u8]>::to_vec);
    let mut headers = OwnedHeaders::new();
    while let (Some(name), value) = (frames.next(), frames.next()) {
        headers = headers.insert(Header {
            key: &String::from_utf8_lossy(name),
            value,
        });
    }
    let record = OwnedMessage::new(
        payload,
        key,
        "fuzz".to_owned(),
        Timestamp::NotAvailable,
        0,
        0,
        Some(headers),
    );
    let incoming = crate::wire::decode(&record);
    assert!(incoming.attempt >= 1, "attempts start at 1");
    assert!(!incoming.message.id.is_empty(), "every message has an id");
}

//! Entry points for the fuzz targets and the corpus replay test: not part of the API.

/// Reads `data` as AMQP basic properties (the content header's property list, as RabbitMQ
/// sends it), the rest as the body, and decodes them as a delivery. Never panics.
pub fn decode_delivery(data: &[u8]) {
    let Some((&redelivered, data)) = data.split_first() else {
        return;
    };
    if let Ok((body, properties)) = lapin::protocol::basic::parse_properties(data) {
        let (message, attempt) =
            crate::wire::decode(&properties, body.to_vec(), redelivered & 1 == 1);
        assert!(attempt >= 1, "attempts start at 1");
        assert!(!message.id.is_empty(), "every message has an id");
    }
}

//! The `courier-*` headers (and `content-type`) as JSON Schemas: the ones every message may
//! carry on the configured backend, and the ones a dead letter carries.

use courier_config::BrokerKind;
use courier_core::headers;
use serde_json::{Map, Value, json};

/// The schema of the headers any message of the saga may carry.
pub const MESSAGE_HEADERS: &str = "CourierHeaders";
/// The schema of the headers the runtime adds to a dead letter.
pub const DEAD_LETTER_HEADERS: &str = "DeadLetterHeaders";

/// A header and where it appears.
struct Header {
    name: &'static str,
    description: &'static str,
    schema: Value,
    /// The backends whose wire format carries it; empty: all of them.
    on: &'static [BrokerKind],
}

fn message_headers() -> [Header; 7] {
    let decimal = || json!({"type": "string", "pattern": "^[0-9]+$"});
    [
        Header {
            name: headers::CONTENT_TYPE,
            description: "The payload's content type: `application/json` for the saga's \
                          messages. RabbitMQ carries it as the `content_type` property.",
            schema: json!({"type": "string"}),
            on: &[],
        },
        Header {
            name: courier_contracts::EVENT_HEADER,
            description: "The event's type name (`OrderPlaced`, ...), set on every saga event.",
            schema: json!({"type": "string"}),
            on: &[],
        },
        Header {
            name: headers::ID,
            description: "The message id (an event's is `<order id>/<event name>`, the same on \
                          every re-publication). Kafka has no id of its own; the other \
                          backends carry the id in their own field.",
            schema: json!({"type": "string"}),
            on: &[BrokerKind::Kafka],
        },
        Header {
            name: headers::KEY,
            description: "The message key (the order id for the saga's events), which \
                          RabbitMQ has no property for.",
            schema: json!({"type": "string"}),
            on: &[BrokerKind::RabbitMq],
        },
        Header {
            name: headers::ATTEMPT,
            description: "The attempt number, on a copy the backend re-published for a retry \
                          (the broker counts no deliveries of its own). Missing means 1.",
            schema: decimal(),
            on: &[BrokerKind::RabbitMq, BrokerKind::Kafka],
        },
        Header {
            name: headers::REQUEUED_FOR,
            description: "On a copy put back on its topic for one group (a `nack` with \
                          requeue): the group it is for. Every other group skips it.",
            schema: json!({"type": "string"}),
            on: &[BrokerKind::Kafka],
        },
        Header {
            name: headers::DUE_AT,
            description: "On a delayed message (a retry after its backoff): when it is due, in \
                          milliseconds since the Unix epoch. Consumers hold it until then.",
            schema: decimal(),
            on: &[BrokerKind::Kafka],
        },
    ]
}

fn dead_letter_headers() -> [(&'static str, &'static str, Value); 6] {
    let decimal = || json!({"type": "string", "pattern": "^[0-9]+$"});
    [
        (
            headers::DLQ_REASON,
            "Why the message was dead-lettered: the handler's error.",
            json!({"type": "string"}),
        ),
        (
            headers::DLQ_KIND,
            "`permanent` (retrying cannot help) or `exhausted` (out of attempts).",
            json!({"type": "string", "enum": ["permanent", "exhausted"]}),
        ),
        (
            headers::DLQ_ATTEMPTS,
            "How many attempts were made.",
            decimal(),
        ),
        (
            headers::DLQ_TOPIC,
            "The topic the message was consumed from.",
            json!({"type": "string"}),
        ),
        (
            headers::DLQ_GROUP,
            "The group whose handler gave up.",
            json!({"type": "string"}),
        ),
        (
            headers::DLQ_AT,
            "When it was dead-lettered, in milliseconds since the Unix epoch (UTC).",
            decimal(),
        ),
    ]
}

fn with_description(mut schema: Value, description: &str) -> Value {
    if let Value::Object(map) = &mut schema {
        map.insert("description".into(), description.into());
    }
    schema
}

/// The schema of [`MESSAGE_HEADERS`] on `backend`: the headers its wire format carries.
/// Other headers (a correlation id, a trace context) pass through as strings.
pub fn message_headers_schema(backend: BrokerKind) -> Value {
    let mut properties = Map::new();
    for header in message_headers() {
        if header.on.is_empty() || header.on.contains(&backend) {
            properties.insert(
                header.name.into(),
                with_description(header.schema, header.description),
            );
        }
    }
    json!({
        "type": "object",
        "description": "Headers courier reads and writes on this backend. Every header \
                        value is a string; other headers pass through unchanged.",
        "properties": properties,
        "additionalProperties": {"type": "string"},
    })
}

/// The schema of [`DEAD_LETTER_HEADERS`]: every header the runtime adds when it
/// dead-letters a message, all required.
pub fn dead_letter_headers_schema() -> Value {
    let mut properties = Map::new();
    for (name, description, schema) in dead_letter_headers() {
        properties.insert(name.into(), with_description(schema, description));
    }
    json!({
        "type": "object",
        "description": "Added by the runtime to a message it dead-letters to `<topic>.dlq`; \
                        a redrive removes them.",
        "properties": properties,
        "required": headers::DLQ_HEADERS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dead_letter_header_is_described_and_required() {
        let schema = dead_letter_headers_schema();
        for name in headers::DLQ_HEADERS {
            assert!(schema["properties"][name].is_object(), "{name}");
        }
        assert_eq!(schema["required"].as_array().map(Vec::len), Some(6));
    }

    #[test]
    fn headers_follow_the_backend() {
        let kafka = message_headers_schema(BrokerKind::Kafka);
        let rabbit = message_headers_schema(BrokerKind::RabbitMq);
        let memory = message_headers_schema(BrokerKind::Memory);
        assert!(kafka["properties"][headers::ID].is_object());
        assert!(kafka["properties"][headers::KEY].is_null());
        assert!(rabbit["properties"][headers::KEY].is_object());
        assert!(memory["properties"][headers::ATTEMPT].is_null());
        assert!(memory["properties"][courier_contracts::EVENT_HEADER].is_object());
    }
}

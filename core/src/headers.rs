//! Names of the headers courier itself reads and writes.
//!
//! Every backend carries headers as strings on the wire (AMQP headers, Kafka record headers,
//! a JSON map in a ZeroMQ frame), so these names are the same whichever broker is used.

/// The attempt number a backend carries with a re-published message, when the broker has no
/// delivery counter of its own.
pub const ATTEMPT: &str = "courier-attempt";
/// Content type of the payload; `application/json` for typed events.
pub const CONTENT_TYPE: &str = "content-type";
/// Set on a dead-lettered message: why it was dead-lettered (the handler's error).
pub const DLQ_REASON: &str = "courier-dlq-reason";
/// Set on a dead-lettered message: `permanent` (not retryable) or `exhausted` (out of
/// attempts).
pub const DLQ_KIND: &str = "courier-dlq-kind";
/// Set on a dead-lettered message: how many attempts were made.
pub const DLQ_ATTEMPTS: &str = "courier-dlq-attempts";
/// Set on a dead-lettered message: the topic it was consumed from.
pub const DLQ_TOPIC: &str = "courier-dlq-topic";
/// Set on a dead-lettered message: the group whose handler gave up.
pub const DLQ_GROUP: &str = "courier-dlq-group";

/// Suffix of dead-letter topics.
pub const DLQ_SUFFIX: &str = ".dlq";

/// The dead-letter topic of `topic`: `<topic>.dlq`.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}{DLQ_SUFFIX}")
}

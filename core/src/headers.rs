//! Names of the headers courier itself reads and writes.
//!
//! Every backend carries headers as strings on the wire (AMQP headers, Kafka record headers,
//! a JSON map in a ZeroMQ frame), so these names are the same whichever broker is used.

/// The attempt number a backend carries with a re-published message, when the broker has no
/// delivery counter of its own.
pub const ATTEMPT: &str = "courier-attempt";
/// The message id, where the broker has no id property of its own (Kafka).
pub const ID: &str = "courier-id";
/// The message key, where the broker has no key of its own (RabbitMQ).
pub const KEY: &str = "courier-key";

/// Reads an [`ATTEMPT`] header value: a positive decimal, 1 when absent or unreadable (so a
/// forged or garbled value never skips the first attempt).
pub fn parse_attempt(value: Option<&str>) -> u32 {
    value
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}
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
/// Set on a dead-lettered message: when it was dead-lettered, in milliseconds since the Unix
/// epoch (UTC), as a decimal.
pub const DLQ_AT: &str = "courier-dlq-at";

/// Every header the runtime adds when it dead-letters a message, which a redrive removes.
pub const DLQ_HEADERS: [&str; 6] = [
    DLQ_REASON,
    DLQ_KIND,
    DLQ_ATTEMPTS,
    DLQ_TOPIC,
    DLQ_GROUP,
    DLQ_AT,
];

/// On a copy a backend puts back on its topic for one group (Kafka's `nack(requeue)`), the
/// group it is for: every other group skips it.
pub const REQUEUED_FOR: &str = "courier-requeued-for";

/// On a delayed message where the broker has no delay of its own (Kafka): when it is due,
/// in milliseconds since the Unix epoch. Consumers hold it until then.
pub const DUE_AT: &str = "courier-due-at";

/// Suffix of dead-letter topics.
pub const DLQ_SUFFIX: &str = ".dlq";

/// The group that keeps a dead-letter topic's messages for inspection and redrive: declared
/// on `<topic>.dlq` by the services, so that dead letters are kept on brokers that drop what
/// no group subscribed to.
pub const DEAD_LETTER_GROUP: &str = "dead-letters";

/// The dead-letter topic of `topic`: `<topic>.dlq`.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}{DLQ_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_read_leniently() {
        assert_eq!(parse_attempt(Some(" 3 ")), 3);
        for garbled in [
            None,
            Some(""),
            Some("-1"),
            Some("0"),
            Some("x"),
            Some("99999999999"),
        ] {
            assert_eq!(parse_attempt(garbled), 1, "{garbled:?}");
        }
    }
}

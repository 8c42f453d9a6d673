//! The spans courier opens, named and attributed after OpenTelemetry's messaging semantic
//! conventions: `process <topic>` (kind consumer) around each delivery's handling,
//! `send <topic>` (kind producer) around a send, `create <topic>` (kind producer) when a
//! message is written to an outbox to be sent after its transaction commits.

use tracing::{Span, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Message;

/// The span around handling one delivery of `message` from `topic` by `group` of a
/// `system` backend; the caller makes it a child of the sender's span with
/// [`continue_from`](super::continue_from).
pub fn process(system: &str, topic: &str, group: &str, message: &Message) -> Span {
    info_span!(
        "process",
        otel.name = %format_args!("process {topic}"),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        messaging.system = system,
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = topic,
        messaging.consumer.group.name = group,
        messaging.message.id = %message.id,
        courier.attempt = tracing::field::Empty,
    )
}

/// The span around sending to `topic` with a `system` backend (`batch` messages).
pub fn send(system: &str, topic: &str, batch: usize) -> Span {
    info_span!(
        "send",
        otel.name = %format_args!("send {topic}"),
        otel.kind = "producer",
        messaging.system = system,
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = topic,
        messaging.batch.message_count = batch,
    )
}

/// The span of writing `message` for `topic` to an outbox: its context is what the message
/// carries, so the consumer's span is the child of the state change that caused it.
pub fn create(topic: &str, message: &Message) -> Span {
    info_span!(
        "create",
        otel.name = %format_args!("create {topic}"),
        otel.kind = "producer",
        messaging.operation.type = "create",
        messaging.operation.name = "create",
        messaging.destination.name = topic,
        messaging.message.id = %message.id,
    )
}

/// The span of an HTTP request a server handles, `<method> <route>` (kind server), the root
/// of the trace of what the request causes unless the caller sent a `traceparent`.
pub fn http_server(method: &str, route: &str) -> Span {
    info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = tracing::field::Empty,
    )
}

/// Records the order (or other business entity) id `id` on `span` as `courier.order.id`,
/// so that a trace can be found by the order it is about.
pub fn set_order_id(span: &Span, id: &str) {
    span.set_attribute("courier.order.id", id.to_owned());
}

/// Marks `span` as failed with `description` (OpenTelemetry status `ERROR`).
pub fn set_error(span: &Span, description: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", description);
}

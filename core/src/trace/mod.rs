//! One trace per message flow: the W3C trace context (`traceparent`, `tracestate`) travels
//! in message headers on every backend.
//!
//! A message is stamped with the context of the span it is sent from ([`inject_current`]),
//! and the runtime's span for each delivery is a child of that context ([`extract`]). The
//! spans are [`tracing`] spans; they become OpenTelemetry spans when the process installs
//! the `tracing-opentelemetry` layer (the service binaries do when `[telemetry]` sets an
//! OTLP endpoint). Without that layer nothing is stamped and nothing is parsed, so tracing
//! costs one lookup of the current span per send.
//!
//! Span names and attributes follow OpenTelemetry's messaging semantic conventions
//! ([`spans`]). A message from a client that sends no `traceparent` (pika, pyzmq,
//! confluent-kafka) starts a new trace.

mod producer;
pub mod spans;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use producer::{TracedBroker, TracedProducer};

use crate::{Headers, Message};

/// The W3C trace context header: version, trace id, parent span id, flags.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C vendor-specific trace state that travels with [`TRACEPARENT`].
pub const TRACESTATE: &str = "tracestate";

/// The OpenTelemetry context of a span, as carried between services.
pub use opentelemetry::Context as TraceContext;

/// Stamps `message` with the trace context of the current span, unless it already carries
/// one or the current span belongs to no OpenTelemetry trace.
pub fn inject_current(message: &mut Message) {
    if message.headers.contains_key(TRACEPARENT) {
        return;
    }
    inject(&tracing::Span::current().context(), message);
}

/// For a message written now to be sent later (an outbox): when the current span is traced
/// and `message` carries no context yet, opens a `create <topic>` span, child of the current
/// one, and stamps `message` with it.
pub fn inject_created(topic: &str, message: &mut Message) {
    if message.headers.contains_key(TRACEPARENT) {
        return;
    }
    if !in_trace() {
        return;
    }
    let span = spans::create(topic, message);
    inject(&span.context(), message);
}

/// Whether the current span belongs to an OpenTelemetry trace (never without the
/// `tracing-opentelemetry` layer).
pub fn in_trace() -> bool {
    let current = tracing::Span::current().context();
    current.span().span_context().is_valid()
}

/// Stamps `message` with `context` (replacing a context it carries), when `context` holds a
/// valid span.
pub fn inject(context: &TraceContext, message: &mut Message) {
    if !context.span().span_context().is_valid() {
        return;
    }
    TraceContextPropagator::new()
        .inject_context(context, &mut HeaderInjector(&mut message.headers));
}

/// The trace context `message` carries, when its `traceparent` is present and well formed
/// (a malformed one is ignored: the delivery starts a new trace).
pub fn extract(message: &Message) -> Option<TraceContext> {
    extract_headers(&message.headers)
}

/// The trace context `headers` carry (see [`extract`]): also for protocols other than a
/// broker's, such as an HTTP request's `traceparent`.
pub fn extract_headers(headers: &Headers) -> Option<TraceContext> {
    headers.get(TRACEPARENT)?;
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let valid = context.span().span_context().is_valid();
    valid.then_some(context)
}

/// Makes `span` a child of the context `message` carries; a message without one leaves the
/// span where it is (a root, or a child of the span it was created in).
pub fn continue_from(span: &tracing::Span, message: &Message) {
    continue_from_headers(span, &message.headers);
}

/// Makes `span` a child of the context `headers` carry (see [`continue_from`]).
pub fn continue_from_headers(span: &tracing::Span, headers: &Headers) {
    if let Some(parent) = extract_headers(headers) {
        // Fails only when `span` is disabled or already started: nothing to link then.
        let _ = span.set_parent(parent);
    }
}

/// The trace id of the current span in lowercase hex, when it belongs to an OpenTelemetry
/// trace: for logs and answers that let a user find the trace.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

struct HeaderInjector<'a>(&'a mut Headers);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct HeaderExtractor<'a>(&'a Headers);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests;

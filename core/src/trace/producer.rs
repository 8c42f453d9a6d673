//! [`TracedBroker`] and [`TracedProducer`]: stamp every message sent through a producer with
//! the trace context of a `send <topic>` span, child of the span it is sent from.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use opentelemetry::trace::TraceContextExt;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{TRACEPARENT, extract, in_trace, inject, spans};
use crate::{
    Broker, Capabilities, ConnectionState, Consumer, Message, Producer, Result, Subscription,
};

/// A broker whose producers are [`TracedProducer`]s; everything else is the inner broker's.
pub struct TracedBroker {
    inner: Arc<dyn Broker>,
}

impl TracedBroker {
    /// Wraps `inner`.
    pub fn wrap(inner: Arc<dyn Broker>) -> Arc<dyn Broker> {
        Arc::new(Self { inner })
    }
}

#[async_trait]
impl Broker for TracedBroker {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn producer(&self) -> Result<Arc<dyn Producer>> {
        Ok(TracedProducer::wrap(
            self.inner.name(),
            self.inner.producer().await?,
        ))
    }

    async fn declare_group(&self, topic: &str, group: &str) -> Result<()> {
        self.inner.declare_group(topic, group).await
    }

    async fn subscribe(&self, subscription: Subscription) -> Result<Box<dyn Consumer>> {
        self.inner.subscribe(subscription).await
    }

    fn connection_state(&self) -> ConnectionState {
        self.inner.connection_state()
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

/// A producer that, when it is called from a span of an OpenTelemetry trace, sends inside a
/// `send <topic>` span and stamps each message that carries no trace context yet with it.
/// Called outside a trace, it is the inner producer.
pub struct TracedProducer {
    system: &'static str,
    inner: Arc<dyn Producer>,
}

impl TracedProducer {
    /// Wraps `inner`, a producer of the `system` backend.
    pub fn wrap(system: &'static str, inner: Arc<dyn Producer>) -> Arc<dyn Producer> {
        Arc::new(Self { system, inner })
    }

    /// The `send` span for `batch` messages to `topic`, when the current span is traced.
    fn span(&self, topic: &str, batch: usize) -> Option<tracing::Span> {
        in_trace().then(|| spans::send(self.system, topic, batch))
    }
}

/// Stamps `message` with `span`'s context unless it carries one; a message that carries
/// the context of another trace is linked to `span` instead.
fn stamp(span: &tracing::Span, message: &mut Message) {
    if !message.headers.contains_key(TRACEPARENT) {
        return inject(&span.context(), message);
    }
    if let Some(sent_from) = extract(message) {
        span.add_link(sent_from.span().span_context().clone());
    }
}

#[async_trait]
impl Producer for TracedProducer {
    async fn send(&self, topic: &str, mut message: Message) -> Result<()> {
        match self.span(topic, 1) {
            None => self.inner.send(topic, message).await,
            Some(span) => {
                stamp(&span, &mut message);
                self.inner.send(topic, message).instrument(span).await
            }
        }
    }

    async fn send_batch(&self, topic: &str, mut messages: Vec<Message>) -> Result<()> {
        match self.span(topic, messages.len()) {
            None => self.inner.send_batch(topic, messages).await,
            Some(span) => {
                for message in &mut messages {
                    stamp(&span, message);
                }
                self.inner
                    .send_batch(topic, messages)
                    .instrument(span)
                    .await
            }
        }
    }

    async fn send_after(&self, topic: &str, mut message: Message, delay: Duration) -> Result<()> {
        match self.span(topic, 1) {
            None => self.inner.send_after(topic, message, delay).await,
            Some(span) => {
                stamp(&span, &mut message);
                self.inner
                    .send_after(topic, message, delay)
                    .instrument(span)
                    .await
            }
        }
    }

    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::{Producer, Result};

/// Spans recorded by an OpenTelemetry layer, for the duration of one test thread.
struct Recorded {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Recorded {
    fn install() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        Self {
            exporter,
            provider,
            _guard: guard,
        }
    }

    fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().expect("flushes");
        self.exporter.get_finished_spans().expect("spans")
    }

    fn named(&self, name: &str) -> SpanData {
        self.spans()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}"))
    }
}

fn trace_id_of(message: &Message) -> TraceId {
    let context = extract(message).expect("a trace context");
    context.span().span_context().trace_id()
}

#[test]
fn outside_a_trace_nothing_is_stamped_or_extracted() {
    let mut message = Message::new("x");
    inject_current(&mut message);
    assert!(!message.headers.contains_key(TRACEPARENT));
    assert!(extract(&message).is_none());
    assert!(current_trace_id().is_none());
}

#[test]
fn a_delivery_span_is_the_child_of_the_span_the_message_was_sent_from() {
    let recorded = Recorded::install();
    let mut message = Message::new("x");
    let sent_from = tracing::info_span!("POST /orders");
    sent_from.in_scope(|| inject_current(&mut message));
    drop(sent_from);
    let header = message.headers[TRACEPARENT].clone();
    assert!(header.starts_with("00-"), "{header}");

    let process = spans::process("memory", "orders", "inventory", &message);
    continue_from(&process, &message);
    process.in_scope(|| assert!(current_trace_id().is_some()));
    drop(process);

    let root = recorded.named("POST /orders");
    let child = recorded.named("process orders");
    assert_eq!(child.span_context.trace_id(), root.span_context.trace_id());
    assert_eq!(child.parent_span_id, root.span_context.span_id());
    assert_eq!(trace_id_of(&message), root.span_context.trace_id());
    let kind = format!("{:?}", child.span_kind);
    assert_eq!(kind, "Consumer");
    let attribute = |key: &str| {
        child
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attribute("messaging.system").as_deref(), Some("memory"));
    assert_eq!(
        attribute("messaging.destination.name").as_deref(),
        Some("orders")
    );
    assert_eq!(
        attribute("messaging.consumer.group.name").as_deref(),
        Some("inventory")
    );
}

#[test]
fn a_stamped_message_keeps_its_context_and_a_garbled_one_starts_a_new_trace() {
    let recorded = Recorded::install();
    let mut message = Message::new("x").with_header(
        TRACEPARENT,
        "00-00000000000000000000000000000000-0000000000000000-01",
    );
    tracing::info_span!("elsewhere").in_scope(|| inject_current(&mut message));
    assert!(
        extract(&message).is_none(),
        "an all-zero context is invalid"
    );

    let process = spans::process("memory", "orders", "g", &message);
    continue_from(&process, &message);
    drop(process);
    let span = recorded.named("process orders");
    assert_eq!(span.parent_span_id, SpanId::INVALID, "a new root");

    for garbled in ["", "nonsense", "00-xyz-abc-01", &"0".repeat(10_000)] {
        let message = Message::new("x").with_header(TRACEPARENT, garbled);
        assert!(extract(&message).is_none(), "{garbled:.20}");
    }
}

/// Records what it is asked to send.
#[derive(Default)]
struct Recording(Mutex<Vec<Message>>);

#[async_trait]
impl Producer for Recording {
    async fn send(&self, _topic: &str, message: Message) -> Result<()> {
        self.0.lock().expect("not poisoned").push(message);
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_traced_producer_sends_inside_a_send_span_and_stamps_only_inside_a_trace() {
    let recorded = Recorded::install();
    let inner = Arc::new(Recording::default());
    let producer = TracedProducer::wrap("memory", inner.clone());

    producer
        .send("t", Message::new("untraced"))
        .await
        .expect("sends");
    let request = tracing::info_span!("request");
    async {
        producer
            .send("t", Message::new("one"))
            .await
            .expect("sends");
        producer
            .send_batch("t", vec![Message::new("a"), Message::new("b")])
            .await
            .expect("sends");
    }
    .instrument(request)
    .await;

    let sent = inner.0.lock().expect("not poisoned").clone();
    assert!(
        !sent[0].headers.contains_key(TRACEPARENT),
        "no trace, no stamp"
    );
    let request = recorded.named("request");
    let sends: Vec<SpanData> = recorded
        .spans()
        .into_iter()
        .filter(|s| s.name == "send t")
        .collect();
    assert_eq!(sends.len(), 2, "one span per send call");
    for span in &sends {
        assert_eq!(span.parent_span_id, request.span_context.span_id());
    }
    for message in &sent[1..] {
        assert_eq!(trace_id_of(message), request.span_context.trace_id());
    }
    let batch = extract(&sent[2]).expect("stamped");
    assert_eq!(
        batch.span().span_context().span_id(),
        sends[1].span_context.span_id(),
        "the consumer's parent is the send span"
    );
}

//! [`run_traced_saga`]: the saga with every span recorded, checking that each order is one
//! trace from its `POST /orders` span to its settlement, through the broker.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
    time::Duration,
};

use courier_contracts::SagaTopics;
use courier_core::{Broker, RuntimeSettings, codec, trace};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

use super::{orders::saga_orders, services::SagaServices};

/// The spans of every test of this process, kept in memory.
struct Recorder {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// Installs (once per process) a global subscriber that records every span.
fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("saga"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("no other global subscriber in this test binary");
        Recorder { exporter, provider }
    })
}

/// Every span recorded in this process so far (installing the recorder on first use).
pub fn recorded_spans() -> Vec<SpanData> {
    let recorder = recorder();
    let _ = recorder.provider.force_flush();
    recorder.exporter.get_finished_spans().expect("spans")
}

/// What [`run_traced_saga`] saw: per order, the `process` spans from its settlement up to
/// its root, and the root's name.
#[derive(Debug)]
pub struct TracedSaga {
    /// Orders placed through the place-order function in a `POST /orders` span.
    pub placed: usize,
    /// Per order id: the root span's name and the chain of `process` span names from the
    /// settlement up to the root.
    pub chains: HashMap<String, (String, Vec<String>)>,
    /// The root of the trace of the order sent on the intake topic without a trace context.
    pub intake_root: String,
}

/// Runs `orders` orders through the three services on `broker`, each placed in its own
/// `POST /orders` span, plus one order sent on the intake topic without a trace context,
/// and follows every order's trace from its settlement up to its root.
///
/// # Panics
/// When an order does not settle, or its spans do not arrive within a minute.
pub async fn run_traced_saga(
    broker: Arc<dyn Broker>,
    topics: SagaTopics,
    orders: usize,
) -> TracedSaga {
    let recorder = recorder();
    let mut services =
        SagaServices::start(broker, topics.clone(), RuntimeSettings::default(), None)
            .await
            .unwrap_or_else(|e| panic!("starting the services failed: {e}"));
    let generated = saga_orders(orders + 1, 7);
    let (plain, placed) = generated.split_last().expect("orders");
    let mut trace_of: HashMap<TraceId, String> = HashMap::new();
    for order in placed {
        let root = courier_core::trace::spans::http_server("POST", "/orders");
        let service = services.order.clone();
        let intake = order.intake.clone();
        let trace_id = async move {
            service
                .place(intake, None)
                .await
                .unwrap_or_else(|e| panic!("placing an order failed: {e}"));
            trace::current_trace_id().expect("the root span is traced")
        }
        .instrument(root)
        .await;
        let trace_id = TraceId::from_hex(&trace_id).expect("a hex trace id");
        trace_of.insert(trace_id, order.id().to_owned());
    }
    let message = codec::to_json(&plain.intake)
        .expect("encodes")
        .with_key(plain.id());
    assert!(!message.headers.contains_key(trace::TRACEPARENT));
    services
        .producer()
        .send(&topics.order_intake, message)
        .await
        .unwrap_or_else(|e| panic!("sending the intake order failed: {e}"));
    let settled = services
        .wait_settled(orders + 1, Duration::from_secs(60))
        .await;
    assert_eq!(settled, orders + 1, "every order settles");

    let settlements = [
        topics.payment_succeeded.as_str(),
        topics.payment_failed.as_str(),
        topics.stock_rejected.as_str(),
    ]
    .map(|topic| format!("process {topic}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (chains, intake_root) = loop {
        let _ = recorder.provider.force_flush();
        let spans = recorder.exporter.get_finished_spans().expect("spans");
        let by_id: HashMap<SpanId, &SpanData> = spans
            .iter()
            .map(|s| (s.span_context.span_id(), s))
            .collect();
        let mut chains = HashMap::new();
        let mut intake_root = None;
        for span in spans
            .iter()
            .filter(|s| settlements.contains(&s.name.to_string()))
        {
            let (root, chain) = ancestry(span, &by_id);
            match trace_of.get(&span.span_context.trace_id()) {
                Some(order) => {
                    chains.insert(order.clone(), (root, chain));
                }
                None if chain
                    .last()
                    .is_some_and(|p| p.ends_with(&topics.order_intake)) =>
                {
                    intake_root = Some(root);
                }
                None => {}
            }
        }
        if chains.len() == orders && intake_root.is_some() {
            break (chains, intake_root.unwrap_or_default());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the settlement spans of {} of {orders} orders (and of the intake order: {}) \
             arrived",
            chains.len(),
            intake_root.is_some()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    services.shutdown().await;
    TracedSaga {
        placed: orders,
        chains,
        intake_root,
    }
}

/// The name of `span`'s root and the `process` span names from `span` up to it, checking
/// that every ancestor is in the same trace.
fn ancestry(span: &SpanData, by_id: &HashMap<SpanId, &SpanData>) -> (String, Vec<String>) {
    let trace_id = span.span_context.trace_id();
    let mut chain = Vec::new();
    let mut at = span;
    loop {
        assert_eq!(at.span_context.trace_id(), trace_id, "one trace");
        if at.name.starts_with("process ") {
            chain.push(at.name.to_string());
        }
        if at.parent_span_id == SpanId::INVALID {
            return (at.name.to_string(), chain);
        }
        match by_id.get(&at.parent_span_id) {
            Some(parent) => at = parent,
            // The parent has not ended yet, or was not recorded: the chain stops here.
            None => return (format!("(missing parent of {})", at.name), chain),
        }
    }
}

//! Trace export over real OTLP/HTTP: the three service binaries run on RabbitMQ with
//! `[telemetry] otlp_endpoint` pointing at a receiver this test serves, orders are posted
//! over HTTP, and the protobuf requests that arrive are decoded: each order's trace holds the
//! `POST /orders` span of `order-service`, the `process` spans of `inventory-service` and
//! `payment-service`, and its settlement back in `order-service`, under one trace id.
//! `shop demo` exports the spans of its one process the same way before it exits.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use courier_tests::{saga::processes::Cluster, support::broker_absent};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::any_value::Value,
};
use prost::Message as _;

/// One span as it arrived: its service, name, ids and order attribute.
#[derive(Clone, Debug)]
struct Arrived {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    order_id: Option<String>,
}

type Received = Arc<Mutex<Vec<Arrived>>>;

/// Decodes one export request into its spans.
fn decode(body: &[u8]) -> Result<Vec<Arrived>, prost::DecodeError> {
    let request = ExportTraceServiceRequest::decode(body)?;
    let text = |v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match v
        .as_ref()
        .and_then(|v| v.value.as_ref())
    {
        Some(Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    };
    let mut spans = Vec::new();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| text(&kv.value))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                spans.push(Arrived {
                    service: service.clone(),
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    order_id: span
                        .attributes
                        .iter()
                        .find(|kv| kv.key == "courier.order.id")
                        .and_then(|kv| text(&kv.value)),
                });
            }
        }
    }
    Ok(spans)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn receive(
    State(received): State<Received>,
    body: Bytes,
) -> (axum::http::StatusCode, Vec<u8>) {
    match decode(&body) {
        Ok(spans) => {
            received.lock().expect("not poisoned").extend(spans);
            let answer = ExportTraceServiceResponse::default().encode_to_vec();
            (axum::http::StatusCode::OK, answer)
        }
        Err(e) => {
            eprintln!("an export request that is not protobuf: {e}");
            (axum::http::StatusCode::BAD_REQUEST, Vec::new())
        }
    }
}

/// Serves `POST /v1/traces` on a free port; the spans it decodes and its endpoint.
async fn receiver() -> (Received, String) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (received, endpoint)
}

fn rabbitmq_up() -> bool {
    let up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5672".parse().expect("an address"),
        Duration::from_secs(2),
    )
    .is_ok();
    if !up {
        broker_absent("rabbitmq", "nothing listens on 127.0.0.1:5672");
    }
    up
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_exports_its_spans_of_one_order_under_one_trace_id() {
    if !rabbitmq_up() {
        return;
    }
    let (received, endpoint) = receiver().await;
    let section = format!(
        "[broker]\nkind = \"rabbitmq\"\n\n[broker.rabbitmq]\n\
         url = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nqueue_expires_ms = 300000\n\n\
         [telemetry]\notlp_endpoint = \"{endpoint}\"\n"
    );
    let topics = courier_tests::saga::fresh_topics();
    let cluster = Cluster::start(&section, topics.clone(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let run = courier_tests::support::unique_name("traced");
    let ids: Vec<String> = (0..3).map(|n| format!("{run}-{n}")).collect();
    for id in &ids {
        let body = format!(r#"{{"order_id": "{id}", "product_id": "plenty", "quantity": 1}}"#);
        let (status, answer) = cluster.post(&body).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 202, "{answer}");
    }
    let views = cluster.wait_settled(&ids, Duration::from_secs(60)).await;
    assert_eq!(
        views.len(),
        ids.len(),
        "every order settles\n{}",
        cluster.logs()
    );

    // The batch exporters send every few seconds; the settlement span is the last to end.
    let settled = format!("process {}", topics.payment_succeeded);
    let expected: BTreeSet<(String, String)> = [
        ("order-service", "POST /orders".to_owned()),
        ("order-service", format!("create {}", topics.order_placed)),
        (
            "inventory-service",
            format!("process {}", topics.order_placed),
        ),
        (
            "inventory-service",
            format!("create {}", topics.stock_reserved),
        ),
        (
            "payment-service",
            format!("process {}", topics.stock_reserved),
        ),
        (
            "payment-service",
            format!("create {}", topics.payment_succeeded),
        ),
        ("order-service", settled.clone()),
    ]
    .into_iter()
    .map(|(s, n)| (s.to_owned(), n))
    .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let traces = loop {
        let spans = received.lock().expect("not poisoned").clone();
        let roots: BTreeMap<String, String> = spans
            .iter()
            .filter_map(|s| Some((s.order_id.clone()?, s.trace_id.clone())))
            .collect();
        let traces: BTreeMap<String, Vec<Arrived>> = ids
            .iter()
            .filter_map(|id| {
                let trace_id = roots.get(id)?;
                let spans: Vec<Arrived> = spans
                    .iter()
                    .filter(|s| &s.trace_id == trace_id)
                    .cloned()
                    .collect();
                Some((id.clone(), spans))
            })
            .collect();
        let complete = traces.len() == ids.len()
            && traces.values().all(|spans| {
                let seen: BTreeSet<(String, String)> = spans
                    .iter()
                    .map(|s| (s.service.clone(), s.name.clone()))
                    .collect();
                seen.is_superset(&expected)
            });
        if complete {
            break traces;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the spans of every order did not arrive; got {} spans: {:#?}\n{}",
            spans.len(),
            traces,
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for spans in traces.values() {
        published_as_declared(spans, &topics);
    }
    for (order, spans) in &traces {
        let by_id: BTreeMap<&str, &Arrived> =
            spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
        // From the settlement up, every parent is in the trace, ending at the request.
        let mut at = spans
            .iter()
            .find(|s| s.name == settled)
            .expect("the settlement span");
        let mut path = vec![format!("{} ({})", at.name, at.service)];
        while !at.parent_span_id.is_empty() && at.parent_span_id != "0000000000000000" {
            at = by_id
                .get(at.parent_span_id.as_str())
                .unwrap_or_else(|| panic!("order {order}: a parent is missing: {path:?}"));
            path.push(format!("{} ({})", at.name, at.service));
        }
        assert_eq!(at.name, "POST /orders", "order {order}: {path:?}");
        eprintln!("order {order}, trace {}:", at.trace_id);
        for step in path.iter().rev() {
            eprintln!("  {step}");
        }
    }
    cluster.stop().await.unwrap_or_else(|e| panic!("{e}"));
}

/// Every `create <topic>` span of a service is for an event that service declares in its
/// `PUBLISHES` (which the AsyncAPI document is made from).
fn published_as_declared(spans: &[Arrived], topics: &courier_contracts::SagaTopics) {
    use courier_contracts::{
        Event, OrderPlaced, PaymentFailed, PaymentSucceeded, StockRejected, StockReserved,
    };
    let events = [
        (&topics.order_placed, OrderPlaced::NAME),
        (&topics.stock_reserved, StockReserved::NAME),
        (&topics.stock_rejected, StockRejected::NAME),
        (&topics.payment_succeeded, PaymentSucceeded::NAME),
        (&topics.payment_failed, PaymentFailed::NAME),
    ];
    for span in spans {
        let Some(topic) = span.name.strip_prefix("create ") else {
            continue;
        };
        let declared = match span.service.as_str() {
            "order-service" => order_service::PUBLISHES,
            "inventory-service" => inventory_service::PUBLISHES,
            "payment-service" => payment_service::PUBLISHES,
            other => panic!("a span of an unknown service {other}"),
        };
        let event = events
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|(_, name)| *name)
            .unwrap_or_else(|| panic!("{} sent to {topic}, no saga topic", span.service));
        assert!(
            declared.contains(&event),
            "{} sends {event} but its PUBLISHES is {declared:?}",
            span.service
        );
    }
}

/// `shop demo` (all three services in one process, on the in-memory backend) exports its
/// spans as `shop` when `[telemetry]` sets an endpoint, and sends them all before it exits:
/// an order's trace links the `process` spans of the saga's steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_exports_one_trace_per_order_before_it_exits() {
    let (received, endpoint) = receiver().await;
    let shop = courier_tests::saga::processes::locate_or_build_binary("shop", "shop")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let run = tokio::process::Command::new(shop)
        .args(["demo", "--orders", "20"])
        .env("COURIER_TELEMETRY__OTLP_ENDPOINT", &endpoint)
        .env_remove("COURIER_CONFIG")
        .current_dir(std::env::temp_dir())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the demo ends within two minutes")
        .expect("the demo runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Exported before the exit: nothing is waited for here.
    let spans = received.lock().expect("not poisoned").clone();
    assert!(!spans.is_empty(), "no span arrived");
    assert!(spans.iter().all(|s| s.service == "shop"), "{spans:#?}");
    let mut processes_per_trace: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for span in spans.iter().filter(|s| s.name.starts_with("process ")) {
        processes_per_trace
            .entry(&span.trace_id)
            .or_default()
            .insert(&span.name);
    }
    let longest = processes_per_trace.values().map(BTreeSet::len).max();
    assert!(
        longest >= Some(3),
        "no trace holds three steps of the saga: {processes_per_trace:#?}"
    );
}

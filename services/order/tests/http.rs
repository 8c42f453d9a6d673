//! The order service's HTTP API and its settlement rules, on the in-memory broker.

use std::{sync::Arc, time::Duration};

use courier_contracts::{
    Catalog, CatalogItem, Event, OrderPlaced, PaymentFailed, PaymentSucceeded, SagaTopics,
    StockRejected, groups, publish,
};
use courier_core::{Broker, Message, Producer, Runtime, RuntimeSettings, Subscription, codec};
use courier_memory::MemoryBroker;
use courier_outbox::{Relay, Store, StoreSettings};
use order_service::{MIGRATIONS, OrderService, STORE_PREFIX, http};
use serde_json::{Value, json};

struct Api {
    base: String,
    client: reqwest::Client,
    producer: Arc<dyn Producer>,
    topics: SagaTopics,
    broker: Arc<dyn Broker>,
    store: Store,
    _running: courier_core::Running,
}

impl Api {
    fn limits() -> http::HttpLimits {
        http::HttpLimits {
            header_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(2),
            ..http::HttpLimits::default()
        }
    }

    async fn start() -> Self {
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::default());
        let topics = SagaTopics::with_prefix("http-test");
        topics.declare_all(broker.as_ref()).await.expect("declares");
        let producer = broker.producer().await.expect("producer");
        let catalog = Catalog::new([CatalogItem {
            sku: "1001".into(),
            name: "Mug".into(),
            price_minor: 1250,
            stock: 10,
        }]);
        let store = Store::open(
            "sqlite::memory:",
            STORE_PREFIX,
            MIGRATIONS,
            StoreSettings::default(),
        )
        .await
        .expect("store");
        let service = Arc::new(OrderService::new(
            store.clone(),
            topics.clone(),
            Arc::new(catalog),
        ));
        let mut runtime = Runtime::new(broker.clone(), RuntimeSettings::default());
        service.register(&mut runtime);
        let router = http::router(
            service,
            runtime.metrics().clone(),
            runtime.health(),
            &Self::limits(),
        );
        let running = runtime.start().await.expect("starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let token = running.shutdown_token();
        Relay::new(store.clone(), producer.clone()).spawn(token.clone());
        tokio::spawn(http::serve(
            listener,
            router,
            token.cancelled_owned(),
            Self::limits(),
        ));
        Self {
            base,
            client: reqwest::Client::new(),
            producer,
            topics,
            broker,
            store,
            _running: running,
        }
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        self.post_raw(body.to_string()).await
    }

    async fn post_raw(&self, body: String) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/orders", self.base))
            .body(body)
            .send()
            .await
            .expect("POST");
        (r.status().as_u16(), r.json().await.expect("JSON answer"))
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn order(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/orders/{id}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON")
    }

    async fn wait_status(&self, id: &str, status: &str) -> Value {
        for _ in 0..200 {
            let view = self.order(id).await;
            if view["status"] == status {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("order {id} never became {status}: {}", self.order(id).await);
    }
}

#[tokio::test]
async fn places_validates_and_settles_orders_once() {
    let api = Api::start().await;
    let mut placed_events = api
        .broker
        .subscribe(Subscription::new(
            &api.topics.order_placed,
            groups::INVENTORY,
        ))
        .await
        .expect("subscribes");

    let (status, body) = api
        .post(json!({"order_id": "A1", "product_id": "1001", "quantity": 2}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({"order_id": "A1", "created": true, "status": "pending"})
    );
    let (status, body) = api
        .post(json!({"order_id": "A1", "lines": [{"sku": "1001", "quantity": 9}]}))
        .await;
    assert_eq!(
        (status, &body["created"]),
        (202, &json!(false)),
        "a repeated id is the same order"
    );
    let view = api.order("A1").await;
    assert_eq!(view["status"], "pending");
    assert_eq!(
        view["total_minor"], 2500,
        "the first placement counts: {view}"
    );

    let mut delivery = placed_events
        .recv()
        .await
        .expect("receives")
        .expect("an event");
    let event: OrderPlaced = codec::from_json(&delivery.message).expect("an OrderPlaced");
    assert_eq!(
        (event.order_id.as_str(), event.total_minor, event.version),
        ("A1", 2500, 1)
    );
    assert_eq!(delivery.message.key.as_deref(), Some("A1"));
    delivery.ack().await.expect("acks");

    let (status, body) = api
        .post(json!({"customer_id": "c", "lines": [{"sku": "1001", "quantity": 1}]}))
        .await;
    assert_eq!(status, 202, "an order without an id gets one: {body}");
    assert!(!body["order_id"].as_str().unwrap_or_default().is_empty());

    for (bad, says) in [
        (
            json!({"order_id": "B", "product_id": "1001", "quantity": -1}),
            "must be positive",
        ),
        (
            json!({"order_id": "B", "product_id": "nope", "quantity": 1}),
            "unknown sku",
        ),
        (json!({"order_id": "B", "lines": []}), "has no lines"),
        (
            json!({"order_id": "B", "product_id": "1001"}),
            "quantity is missing",
        ),
    ] {
        let (status, body) = api.post(bad.clone()).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains(says),
            "{bad} -> {body}"
        );
    }
    let (status, body) = api.post_raw("[1, 2".into()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = api.get("/orders/B").await;
    assert_eq!(status, 404, "a refused order is not stored: {body}");

    let p = api.producer.as_ref();
    publish(
        p,
        &api.topics.payment_succeeded,
        &PaymentSucceeded::new("A1", "pay-A1", 2500),
    )
    .await
    .expect("sends");
    let view = api.wait_status("A1", "confirmed").await;
    assert_eq!(view["payment_id"], "pay-A1");
    publish(
        p,
        &api.topics.payment_failed,
        &PaymentFailed::new("A1", 2500, "late"),
    )
    .await
    .expect("sends");
    publish(
        p,
        &api.topics.stock_rejected,
        &StockRejected::new("A1", "late"),
    )
    .await
    .expect("sends");

    api.post(json!({"order_id": "C1", "product_id": "1001", "quantity": 1}))
        .await;
    publish(
        p,
        &api.topics.stock_rejected,
        &StockRejected::new("C1", "insufficient stock"),
    )
    .await
    .expect("sends");
    let view = api.wait_status("C1", "cancelled").await;
    assert_eq!(
        (view["reason"].as_str(), view["cancelled_by"].as_str()),
        (Some("insufficient stock"), Some("stock"))
    );
    assert_eq!(
        api.order("A1").await["status"],
        "confirmed",
        "a settled order never flips"
    );

    let (status, health) = api.get("/healthz").await;
    assert_eq!((status, health.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, ready) = api.get("/readyz").await;
    let ready: Value = serde_json::from_str(&ready).expect("JSON");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["broker"], "up", "{ready}");
    let subscription = format!(
        "{}/{}",
        api.topics.stock_rejected,
        courier_contracts::groups::ORDER
    );
    assert_eq!(
        ready["subscriptions"][&subscription], "consuming",
        "{ready}"
    );
    let (status, metrics) = api.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("messaging_process_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "messaging_destination_name=\"{}\"",
            api.topics.stock_rejected
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn events_for_unknown_orders_are_dead_lettered() {
    let api = Api::start().await;
    let dlq = courier_core::headers::dlq_topic(&api.topics.payment_succeeded);
    let mut dead = api
        .broker
        .subscribe(Subscription::new(&dlq, groups::DEAD_LETTERS))
        .await
        .expect("subscribes");
    let event = PaymentSucceeded::new("ghost", "pay-ghost", 1);
    api.producer
        .send(
            &api.topics.payment_succeeded,
            event.to_message().expect("encodes"),
        )
        .await
        .expect("sends");
    let mut delivery = tokio::time::timeout(Duration::from_secs(10), dead.recv())
        .await
        .expect("dead-lettered in time")
        .expect("receives")
        .expect("a delivery");
    let reason = delivery
        .message
        .header(courier_core::headers::DLQ_REASON)
        .unwrap_or_default();
    assert!(reason.contains("not known"), "{reason}");
    delivery.ack().await.expect("acks");
}

impl Api {
    async fn dead_letter_reason(&self, topic: &str, send: Message) -> String {
        let dlq = courier_core::headers::dlq_topic(topic);
        let mut dead = self
            .broker
            .subscribe(Subscription::new(&dlq, groups::DEAD_LETTERS))
            .await
            .expect("subscribes");
        self.producer.send(topic, send).await.expect("sends");
        let mut delivery = tokio::time::timeout(Duration::from_secs(10), dead.recv())
            .await
            .expect("dead-lettered in time")
            .expect("receives")
            .expect("a delivery");
        delivery.ack().await.expect("acks");
        delivery
            .message
            .header(courier_core::headers::DLQ_REASON)
            .unwrap_or_default()
            .to_owned()
    }
}

#[tokio::test]
async fn a_payment_of_another_amount_is_dead_lettered_and_confirms_nothing() {
    let api = Api::start().await;
    api.post(json!({"order_id": "M1", "product_id": "1001", "quantity": 2}))
        .await;
    let wrong = PaymentSucceeded::new("M1", "pay-M1", 2499)
        .to_message()
        .expect("encodes");
    let reason = api
        .dead_letter_reason(&api.topics.payment_succeeded, wrong)
        .await;
    assert!(reason.contains("differs from its total 2500"), "{reason}");
    assert_eq!(api.order("M1").await["status"], "pending");
}

#[tokio::test]
async fn the_idempotency_key_makes_a_retry_the_same_order() {
    let api = Api::start().await;
    let post = |key: &'static str| {
        api.client
            .post(format!("{}/orders", api.base))
            .header("Idempotency-Key", key)
            .json(&json!({"product_id": "1001", "quantity": 1}))
            .send()
    };
    let first: Value = post("retry-7")
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let again: Value = post("retry-7")
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(first["order_id"], "retry-7", "{first}");
    assert_eq!(
        (&first["created"], &again["created"]),
        (&json!(true), &json!(false))
    );
    let other: Value = post("retry-8")
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    assert_eq!(other["created"], true);
}

#[tokio::test]
async fn an_intake_order_without_an_id_is_one_order_however_often_it_is_delivered() {
    let api = Api::start().await;
    let body = br#"{"product_id": "1001", "quantity": 3}"#.to_vec();
    // Two deliveries of one message whose broker gave it no stable id: different ids.
    for _ in 0..2 {
        api.producer
            .send(&api.topics.order_intake, Message::new(body.clone()))
            .await
            .expect("sends");
    }
    let id = order_service::intake_id(&Message::new(body));
    let view = api.wait_status(&id, "pending").await;
    assert_eq!(view["total_minor"], 3750);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let count = courier_outbox::query("select count(*) as n from order_orders")
        .fetch_one(api.store.pool())
        .await
        .expect("counts");
    let n: i64 = courier_outbox::Row::try_get(&count, "n").expect("n");
    assert_eq!(n, 1, "one order, not two");
}

/// Sends `request` as raw bytes on a fresh connection and reads the answer until the server
/// closes it (or 3 s pass): the status line's code and the body.
async fn raw_exchange(api: &Api, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = api.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    stream.write_all(request).await.expect("writes");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_json_errors_quickly_and_the_service_keeps_answering() {
    let api = Api::start().await;
    let nested = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let many_lines = json!({"order_id": "many", "lines": (0..101)
        .map(|i| json!({"sku": format!("s{i}"), "quantity": 1}))
        .collect::<Vec<_>>()});
    let huge_lines = json!({"order_id": "huge", "lines": (0..3_000)
        .map(|i| json!({"sku": format!("s{i}"), "quantity": 1}))
        .collect::<Vec<_>>()});
    let cases: Vec<(&str, String, u16)> = vec![
        ("malformed JSON", "{not json".into(), 400),
        (
            "wrong types",
            r#"{"order_id": {"a": 1}, "lines": "x"}"#.into(),
            400,
        ),
        (
            "absurd quantity",
            r#"{"order_id": "q", "product_id": "1001", "quantity": 1e300}"#.into(),
            400,
        ),
        (
            "huge quantity",
            r#"{"order_id": "q", "product_id": "1001", "quantity": 99999999999999999999}"#.into(),
            400,
        ),
        (
            "negative quantity",
            r#"{"order_id": "q", "product_id": "1001", "quantity": -5}"#.into(),
            400,
        ),
        ("deep nesting", nested, 400),
        (
            "huge id",
            json!({"order_id": "x".repeat(100_000), "product_id": "1001", "quantity": 1})
                .to_string(),
            413,
        ),
        (
            "long id",
            json!({"order_id": "x".repeat(200), "product_id": "1001", "quantity": 1}).to_string(),
            400,
        ),
        (
            "empty id",
            r#"{"order_id": "", "product_id": "1001", "quantity": 1}"#.into(),
            400,
        ),
        (
            "id with a newline",
            r#"{"order_id": "a\nb", "product_id": "1001", "quantity": 1}"#.into(),
            400,
        ),
        ("many lines", many_lines.to_string(), 400),
        ("huge body", huge_lines.to_string(), 413),
        ("no body", String::new(), 400),
    ];
    for (what, body, expected) in cases {
        let started = std::time::Instant::now();
        let (status, answer) = api.post_raw(body).await;
        let took = started.elapsed();
        assert_eq!(status, expected, "{what}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: a JSON error, got {answer}"
        );
        assert!(took < Duration::from_secs(1), "{what} took {took:?}");
    }
    let (status, body) = api.get(&format!("/orders/{}", "y".repeat(300))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = api.get("/no/such/route").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("\"error\""), "{body}");

    // Slow headers: the server closes the connection after the header timeout (500 ms).
    let started = std::time::Instant::now();
    let (code, _) = raw_exchange(&api, b"POST /orders HTTP/1.1\r\nHost: x\r\n").await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "a client that never finishes its headers was held {took:?} (answer {code})"
    );
    // A declared body that never comes: the request times out with a JSON 503.
    let started = std::time::Instant::now();
    let (code, body) = raw_exchange(
        &api,
        b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"error\""), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));

    let (status, health) = api.get("/healthz").await;
    assert_eq!((status, health.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = api
        .post(json!({"order_id": "after", "product_id": "1001", "quantity": 1}))
        .await;
    assert_eq!(status, 202, "still taking orders: {body}");
}

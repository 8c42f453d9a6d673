//! [`run_dead_letters`]: bad messages reach the dead-letter topic with their reason, and the
//! services keep running.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use courier_contracts::{OrderIntake, SagaTopics, groups};
use courier_core::{Broker, Message, Subscription, codec, headers};
use order_service::OrderStatus;

use super::{SagaOptions, services::SagaServices};

/// Sends undecodable and rule-breaking messages to the intake topic (bad JSON, a zero
/// quantity, an unknown product, no lines) and a `StockReserved` with a negative amount,
/// then checks that each lands on its topic's `.dlq` with a reason naming the problem, that
/// nothing was charged, and that a valid order sent afterwards is still confirmed.
///
/// # Panics
/// When a dead letter is missing or wrong, or the valid order does not settle.
pub async fn run_dead_letters(broker: Arc<dyn Broker>, topics: SagaTopics) {
    let settings = SagaOptions::default().runtime;
    let mut services = SagaServices::start(broker.clone(), topics.clone(), settings, None)
        .await
        .unwrap_or_else(|e| panic!("starting the saga's services failed: {e}"));
    let run = crate::support::unique_name("dl");
    let intake_dlq = headers::dlq_topic(&topics.order_intake);
    let reserved_dlq = headers::dlq_topic(&topics.stock_reserved);
    let mut intake_dead = broker
        .subscribe(Subscription::new(&intake_dlq, groups::DEAD_LETTERS))
        .await
        .unwrap_or_else(|e| panic!("subscribing to {intake_dlq} failed: {e}"));
    let mut reserved_dead = broker
        .subscribe(Subscription::new(&reserved_dlq, groups::DEAD_LETTERS))
        .await
        .unwrap_or_else(|e| panic!("subscribing to {reserved_dlq} failed: {e}"));

    let bad = |name: &str, body: String| Message::new(body).with_id(format!("{run}-{name}"));
    let expected = [
        ("json", "{not json".to_owned(), "not valid JSON"),
        (
            "zero",
            format!(r#"{{"order_id": "{run}-zero", "product_id": "plenty", "quantity": 0}}"#),
            "must be positive",
        ),
        (
            "sku",
            format!(r#"{{"order_id": "{run}-sku", "product_id": "no-such-sku", "quantity": 1}}"#),
            "unknown sku",
        ),
        (
            "empty",
            format!(r#"{{"order_id": "{run}-empty", "lines": []}}"#),
            "has no lines",
        ),
    ];
    let messages = expected
        .iter()
        .map(|(name, body, _)| bad(name, body.clone()))
        .collect();
    let producer = broker.producer().await.expect("a producer");
    producer
        .send_batch(&topics.order_intake, messages)
        .await
        .expect("bad intake messages are sent");
    let negative = format!(
        r#"{{"version": 1, "order_id": "{run}-neg", "lines": [{{"sku": "plenty", "quantity": 1, "unit_price_minor": -700}}], "total_minor": -700}}"#
    );
    producer
        .send(&topics.stock_reserved, bad("neg", negative))
        .await
        .expect("a bad event is sent");

    let good = OrderIntake::single(format!("{run}-good"), "plenty", 2);
    let message = codec::to_json(&good).expect("encodes");
    producer
        .send(&topics.order_intake, message)
        .await
        .expect("a good order is sent");
    assert_eq!(
        services.wait_settled(1, Duration::from_secs(30)).await,
        1,
        "the valid order did not settle"
    );
    let order = services
        .order
        .order(&format!("{run}-good"))
        .await
        .expect("the order store answers");
    assert!(
        matches!(
            order.as_ref().map(|o| &o.status),
            Some(OrderStatus::Confirmed { .. })
        ),
        "the valid order sent after the bad ones was not confirmed: {order:?}"
    );

    let mut reasons = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while reasons.len() < expected.len() {
        let mut batch = tokio::time::timeout_at(deadline, intake_dead.recv_batch(16))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {} dead letters arrived: {reasons:?}",
                    reasons.len(),
                    expected.len()
                )
            })
            .expect("receiving dead letters");
        for delivery in &mut batch {
            let m = &delivery.message;
            assert_eq!(m.header(headers::DLQ_KIND), Some("permanent"), "{m:?}");
            assert_eq!(
                m.header(headers::DLQ_TOPIC),
                Some(topics.order_intake.as_str()),
                "{m:?}"
            );
            assert_eq!(m.header(headers::DLQ_GROUP), Some(groups::ORDER), "{m:?}");
            reasons.insert(
                m.id.to_string(),
                m.header(headers::DLQ_REASON).unwrap_or_default().to_owned(),
            );
            delivery.ack().await.expect("acks a dead letter");
        }
    }
    for (name, _, reason) in &expected {
        let got = reasons
            .get(format!("{run}-{name}").as_str())
            .unwrap_or_else(|| panic!("no dead letter for {name}: {reasons:?}"));
        assert!(
            got.contains(reason),
            "dead letter {name}: reason {got:?} does not say {reason:?}"
        );
    }
    let mut dead = tokio::time::timeout(Duration::from_secs(30), reserved_dead.recv())
        .await
        .expect("the negative amount reaches the dead-letter topic")
        .expect("receiving")
        .expect("a dead letter");
    let reason = dead
        .message
        .header(headers::DLQ_REASON)
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("must not be negative"), "{reason}");
    assert_eq!(
        dead.message.header(headers::DLQ_GROUP),
        Some(groups::PAYMENT)
    );
    dead.ack().await.expect("acks");
    let charges = payment_service::SimulatedGateway::journal(services.payment.store())
        .await
        .expect("the payment store answers");
    assert!(
        charges.iter().all(|c| c.order_id != format!("{run}-neg")),
        "a negative amount was charged"
    );
    let _ = intake_dead.close().await;
    let _ = reserved_dead.close().await;
    let _ = producer.close().await;
    services.shutdown().await;
}

//! The shipping service on the in-memory broker, in one process: what a test of one's own
//! service looks like. The handler runs on a real runtime; the test publishes as the payment
//! service would and reads what the service publishes.

use std::{sync::Arc, time::Duration};

use courier_core::{
    Broker, Consumer, Delivery, Message, Runtime, RuntimeSettings, Subscription, codec, headers,
};
use courier_memory::MemoryBroker;
use shipping::{GROUP, PAID, SHIPMENTS, ShipmentRequested};

async fn next(consumer: &mut Box<dyn Consumer>) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .expect("a message within 10 s")
        .expect("recv")
        .expect("the topic is open")
}

#[tokio::test]
async fn a_paid_order_gets_one_shipment_request_and_a_bad_event_is_dead_lettered() {
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new(Default::default()));
    let mut shipments = broker
        .subscribe(Subscription::new(SHIPMENTS, "test"))
        .await
        .expect("subscribes to the shipments");
    // Declared first, like `Service::run` does: the memory broker keeps messages only for
    // groups that exist.
    broker.declare_group(PAID, GROUP).await.expect("declares");
    let mut dead = broker
        .subscribe(Subscription::new(headers::dlq_topic(PAID), "test"))
        .await
        .expect("subscribes to the dead letters");
    let producer = broker.producer().await.expect("a producer");
    let mut runtime = Runtime::new(broker.clone(), RuntimeSettings::default());
    shipping::register(&mut runtime, producer.clone());
    let running = runtime.start().await.expect("the service starts");

    let paid =
        Message::new(r#"{"version":1,"order_id":"A-17","payment_id":"p1","amount_minor":500}"#)
            .with_key("A-17")
            .with_header("correlation-id", "req-42");
    producer
        .send(PAID, paid.clone())
        .await
        .expect("sends the payment");
    let mut shipment = next(&mut shipments).await;
    let event: ShipmentRequested = codec::from_json(&shipment.message).expect("a shipment event");
    assert_eq!(
        event,
        ShipmentRequested {
            version: 1,
            order_id: "A-17".into()
        }
    );
    assert_eq!(shipment.message.key.as_deref(), Some("A-17"));
    assert_eq!(shipment.message.id, format!("shipment-{}", paid.id));
    assert_eq!(
        shipment
            .message
            .headers
            .get("correlation-id")
            .map(String::as_str),
        Some("req-42")
    );
    shipment.ack().await.expect("acks");

    // The same payment delivered again yields a request with the same id, for the consumer
    // to drop as a duplicate.
    producer
        .send(PAID, paid.clone())
        .await
        .expect("sends it again");
    let mut again = next(&mut shipments).await;
    assert_eq!(again.message.id, shipment.message.id);
    again.ack().await.expect("acks");

    producer
        .send(PAID, Message::new("not json"))
        .await
        .expect("sends a bad event");
    let mut letter = next(&mut dead).await;
    assert_eq!(letter.message.payload, "not json".as_bytes());
    assert_eq!(
        letter
            .message
            .headers
            .get(headers::DLQ_KIND)
            .map(String::as_str),
        Some("permanent")
    );
    letter.ack().await.expect("acks");

    running.shutdown().await.expect("stops");
    producer.close().await.expect("closes");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), shipments.recv())
            .await
            .is_err(),
        "nothing else was published"
    );
}

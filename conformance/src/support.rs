//! Helpers shared by the backend test runs: broker presence and fresh names.

/// Whether an absent broker must fail the run rather than skip it: `CI=true` or
/// `COURIER_REQUIRE_BROKERS=1`.
pub fn brokers_required() -> bool {
    let set =
        |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case(value));
    set("CI", "true") || set("COURIER_REQUIRE_BROKERS", "1")
}

/// Reports that `backend`'s broker is not reachable: panics when brokers are required (CI),
/// otherwise prints a skip notice. Call it, then return from the test.
///
/// # Panics
/// When [`brokers_required`] is true.
pub fn broker_absent(backend: &str, why: &str) {
    if brokers_required() {
        panic!(
            "{backend} broker required (CI=true or COURIER_REQUIRE_BROKERS=1) but absent: {why}"
        );
    }
    eprintln!(
        "SKIP {backend}: broker absent ({why}); set COURIER_REQUIRE_BROKERS=1 to make this a failure"
    );
}

/// A fresh name with `prefix`, unique per call and per run: `prefix-<uuid v4 simple>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Sends one message with `id` and `payload` through `producer_side` to `topic` and
/// receives, checks and acks it on a fresh consumer of group `g` on `consumer_side`, within
/// 10 s: proof that a broker (still) serves well-behaved peers.
pub async fn round_trip(
    consumer_side: &dyn courier_core::Broker,
    producer_side: &dyn courier_core::Broker,
    topic: &str,
    id: &str,
    payload: &str,
) {
    use courier_core::{Message, Subscription};
    let mut consumer = consumer_side
        .subscribe(Subscription::new(topic, "g"))
        .await
        .expect("subscribes");
    let producer = producer_side.producer().await.expect("a producer");
    producer
        .send(topic, Message::new(payload.to_owned()).with_id(id))
        .await
        .expect("sends");
    let mut delivery = tokio::time::timeout(std::time::Duration::from_secs(10), consumer.recv())
        .await
        .expect("delivered in time")
        .expect("receives")
        .expect("a delivery");
    assert_eq!(delivery.message.id, id);
    assert_eq!(&delivery.message.payload[..], payload.as_bytes());
    delivery.ack().await.expect("acks");
    consumer.close().await.expect("closes");
    producer.close().await.expect("closes");
}

//! The demo on the in-memory backend with the default configuration.

use courier_config::Config;
use shop::{DemoOptions, run_demo, run_demo_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_settles_with_the_same_outcome_each_run() {
    let config = Config::default();
    let first = run_demo(&config, 1_000).await.expect("the demo runs");
    assert_eq!(first.backend, "memory");
    assert_eq!(first.orders, 1_000);
    assert_eq!(first.unsettled, 0, "{first}");
    assert_eq!(
        first.confirmed + first.cancelled_stock + first.cancelled_payment,
        1_000
    );
    assert!(
        first.cancelled_stock > 0 && first.cancelled_payment > 0 && first.confirmed > 0,
        "{first}"
    );
    assert!(first.orders_per_sec > 0.0 && first.p50_ms > 0.0 && first.p99_ms >= first.p50_ms);

    let second = run_demo(&config, 1_000).await.expect("the demo runs");
    let counts = |s: &shop::Summary| (s.confirmed, s.cancelled_stock, s.cancelled_payment);
    assert_eq!(
        counts(&first),
        counts(&second),
        "the same seed gives the same outcome"
    );

    let other_seed = run_demo_with(
        &config,
        DemoOptions {
            orders: 1_000,
            seed: 1,
            ..DemoOptions::default()
        },
    )
    .await
    .expect("the demo runs");
    assert_eq!(other_seed.unsettled, 0);
    let json: serde_json::Value = serde_json::from_str(&first.to_json()).expect("JSON");
    for key in [
        "orders",
        "confirmed",
        "cancelled_stock",
        "cancelled_payment",
        "unsettled",
        "orders_per_sec",
        "p50_ms",
        "p99_ms",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
}

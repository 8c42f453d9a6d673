//! The brokers the in-process saga runs use (saga_brokers.rs, saga_traces.rs).

#![allow(dead_code)]

use std::sync::Arc;

use courier_core::Broker;
use courier_rabbitmq::{RabbitMqBroker, RabbitMqConfig};
use courier_tests::support::broker_absent;
use courier_zeromq::{ZmqBroker, ZmqConfig};

/// RabbitMQ at its default address, the run's queues vanishing a minute after their last
/// consumer leaves; `None` after a skip notice (a failure in CI) when it is absent.
pub async fn rabbitmq() -> Option<Arc<dyn Broker>> {
    let config = RabbitMqConfig {
        queue_expires_ms: Some(60_000),
        ..RabbitMqConfig::default()
    };
    match RabbitMqBroker::connect(config).await {
        Ok(broker) => Some(Arc::new(broker)),
        Err(e) => {
            broker_absent("rabbitmq", &e.to_string());
            None
        }
    }
}

/// A ZeroMQ binding side on a free loopback port.
///
/// # Panics
/// When it cannot bind.
pub async fn zeromq() -> Arc<dyn Broker> {
    let config = ZmqConfig {
        endpoint: "tcp://127.0.0.1:0".into(),
        ..ZmqConfig::default()
    };
    Arc::new(
        ZmqBroker::connect(config)
            .await
            .expect("binds a free loopback port"),
    )
}

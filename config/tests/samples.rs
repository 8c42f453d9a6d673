//! Every sample file in config/ loads and validates (for the backends compiled in), and the
//! reference file config/courier.toml states the built-in defaults.

use std::path::PathBuf;

use courier_config::{BrokerKind, Config, load_from_str};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Loads the sample (without the environment, so that the test does not depend on it).
fn check(name: &str, kind: BrokerKind) -> Option<Config> {
    let text = std::fs::read_to_string(sample(name))
        .unwrap_or_else(|e| panic!("config/{name} should exist: {e}"));
    let result = load_from_str(&text, &format!("config/{name}"));
    if !kind.is_compiled_in() {
        let error = result.expect_err("a backend compiled out is an error");
        assert_eq!(error.key(), Some("broker.kind"), "{error}");
        assert!(error.to_string().contains(kind.name()), "{error}");
        return None;
    }
    let config = result.unwrap_or_else(|e| panic!("{name} should load: {e}"));
    assert_eq!(config.broker.kind, kind, "{name}");
    let dump = config.redacted_toml();
    assert!(dump.starts_with("[broker]\nkind = "), "{dump}");
    let again = load_from_str(&dump, "dump.toml")
        .unwrap_or_else(|e| panic!("the dump of {name} should load back: {e}\n{dump}"));
    assert_eq!(again.broker.kind, config.broker.kind);
    assert_eq!(again.topics, config.topics);
    assert_eq!(again.runtime, config.runtime);
    assert_eq!(again.services, config.services);
    assert_eq!(again.store, config.store);
    Some(config)
}

#[test]
fn courier_toml_is_the_memory_default_and_states_the_defaults() {
    let Some(config) = check("courier.toml", BrokerKind::Memory) else {
        return;
    };
    let defaults = Config::default();
    assert_eq!(config.topics, defaults.topics);
    assert_eq!(config.runtime, defaults.runtime);
    assert_eq!(config.services, defaults.services);
    assert_eq!(config.store, defaults.store);
    assert!(!config.broker.strict);
    #[cfg(feature = "memory")]
    assert_eq!(config.broker.memory, defaults.broker.memory);
}

#[test]
fn rabbitmq_toml_loads() {
    check("rabbitmq.toml", BrokerKind::RabbitMq);
}

/// `COURIER_BROKER__KIND=rabbitmq` over the default file reads the intake from the same
/// plain queue as config/rabbitmq.toml, so a plain AMQP client reaches the order service
/// either way.
#[test]
#[cfg(feature = "rabbitmq")]
fn switching_the_default_file_to_rabbitmq_keeps_the_intake_queue() {
    let default = std::fs::read_to_string(sample("courier.toml")).expect("reads courier.toml");
    let switched = load_from_str(
        &default.replacen("kind = \"memory\"", "kind = \"rabbitmq\"", 1),
        "config/courier.toml",
    )
    .expect("the default file switched to rabbitmq loads");
    let rabbitmq = check("rabbitmq.toml", BrokerKind::RabbitMq).expect("rabbitmq is compiled in");
    assert!(!rabbitmq.broker.rabbitmq.queues.is_empty());
    assert_eq!(
        switched.broker.rabbitmq.queues,
        rabbitmq.broker.rabbitmq.queues
    );
}

#[test]
fn kafka_toml_loads_with_the_local_broker() {
    let Some(config) = check("kafka.toml", BrokerKind::Kafka) else {
        return;
    };
    #[cfg(feature = "kafka")]
    assert_eq!(config.broker.kafka.brokers, "127.0.0.1:9092");
    let _ = config;
}

#[test]
fn zeromq_toml_loads() {
    check("zeromq.toml", BrokerKind::ZeroMq);
}

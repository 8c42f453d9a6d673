//! Every kind of bad input is one clear line naming the key, the file and, where there is a
//! list, the valid choices.

#![cfg(feature = "memory")]

mod common;

use std::path::Path;

use common::{FILE, assert_names, config_of, error_of};
use courier_config::{Config, load, load_from_str};

#[test]
fn an_unknown_backend_lists_the_valid_choices() {
    let error = error_of("[broker]\nkind = \"rabbit\"\n");
    assert_eq!(
        error.to_string(),
        "broker.kind in config/x.toml: unknown backend \"rabbit\"; \
         valid choices: memory, rabbitmq, kafka, zeromq"
    );
}

#[test]
fn unknown_keys_are_errors_at_every_level() {
    let cases = [
        (
            "[brokr]\nkind = \"memory\"\n",
            "brokr",
            "broker, topics, runtime, services",
        ),
        (
            "[broker]\nkindd = \"memory\"\n",
            "broker.kindd",
            "kind, strict",
        ),
        (
            "[broker.memory]\ncapacty = 10\n",
            "broker.memory.capacty",
            "capacity, overflow",
        ),
        (
            "[topics]\norders = \"o\"\n",
            "topics.orders",
            "order_placed",
        ),
        ("[runtime]\nprefech = 8\n", "runtime.prefech", "prefetch"),
        (
            "[services]\nshipping = {}\n",
            "services.shipping",
            "order, inventory, payment",
        ),
        (
            "[services.order]\nlisten = \"127.0.0.1:1\"\nport = 8080\n",
            "services.order.port",
            "listen",
        ),
        (
            "[services.payment]\ndecline_above = 5\n",
            "services.payment.decline_above",
            "decline_above_minor",
        ),
        (
            "[[services.inventory.catalog]]\nsku = \"1\"\nname = \"a\"\nprice_minor = 1\n\
             stock = 1\ncolour = \"red\"\n",
            "services.inventory.catalog[0].colour",
            "sku, name, price_minor, stock",
        ),
    ];
    for (toml, key, valid) in cases {
        let error = error_of(toml);
        let field = key.rsplit('.').next().unwrap_or(key);
        assert_names(&error, key, &["unknown key", field, valid]);
    }
}

#[cfg(feature = "kafka")]
#[test]
fn an_unknown_key_in_the_kafka_table_is_an_error() {
    let error = error_of("[broker.kafka]\nbrokerz = \"127.0.0.1:9092\"\n");
    assert_names(&error, "broker.kafka.brokerz", &["unknown key", "brokers"]);
}

#[cfg(feature = "zeromq")]
#[test]
fn an_unknown_key_in_a_zeromq_topic_table_is_an_error() {
    let error = error_of("[broker.zeromq.topics.\"orders.placed\"]\nbnd = true\n");
    assert_names(
        &error,
        "broker.zeromq.topics.\"orders.placed\".bnd",
        &["unknown key", "endpoint, bind, groups"],
    );
}

#[test]
fn wrong_types_name_the_expected_type() {
    let error = error_of("[broker]\nstrict = \"yes\"\n");
    assert_names(
        &error,
        "broker.strict",
        &["wrong type", "expected a boolean", "string"],
    );
    let error = error_of("[runtime]\nprefetch = \"lots\"\n");
    assert_names(&error, "runtime.prefetch", &["wrong type", "whole number"]);
    let error = error_of("[services.order]\nlisten = 8080\n");
    assert_names(&error, "services.order.listen", &["wrong type"]);
    let error = error_of("[services.payment]\ndecline_above_minor = 1.5\n");
    assert_names(
        &error,
        "services.payment.decline_above_minor",
        &["wrong type", "float"],
    );
}

#[test]
fn a_malformed_listen_address_names_its_key() {
    let error = error_of("[services.order]\nlisten = \"localhost\"\n");
    assert_names(
        &error,
        "services.order.listen",
        &["`localhost` is not IP:port", "host:port"],
    );
}

#[test]
fn a_malformed_metrics_address_names_its_key_and_unset_means_off() {
    let error = error_of("[services.payment]\nmetrics_listen = \"9102\"\n");
    assert_names(
        &error,
        "services.payment.metrics_listen",
        &["`9102` is not IP:port"],
    );
    let config = config_of("[services.inventory]\nmetrics_listen = \"127.0.0.1:9101\"\n");
    assert_eq!(
        config.services.inventory.metrics_listen,
        Some("127.0.0.1:9101".parse().expect("an address"))
    );
    assert_eq!(config.services.payment.metrics_listen, None);
}

#[test]
fn a_listen_host_name_is_resolved() {
    let config = config_of("[services.order]\nlisten = \"localhost:8081\"\n");
    let listen = config.services.order.listen;
    assert!(listen.ip().is_loopback(), "{listen}");
    assert_eq!(listen.port(), 8081);
}

#[cfg(feature = "kafka")]
#[test]
fn malformed_kafka_brokers_are_reported_by_the_backend_check() {
    let error = error_of("[broker]\nkind = \"kafka\"\n[broker.kafka]\nbrokers = \"nohost\"\n");
    assert_names(&error, "broker.kafka.brokers", &["nohost", "host:port"]);
}

#[cfg(feature = "zeromq")]
#[test]
fn a_malformed_zeromq_endpoint_is_reported_by_the_backend_check() {
    let error =
        error_of("[broker]\nkind = \"zeromq\"\n[broker.zeromq]\nendpoint = \"127.0.0.1:5600\"\n");
    assert_names(&error, "broker.zeromq.endpoint", &["not a ZeroMQ endpoint"]);
}

#[cfg(feature = "zeromq")]
#[test]
fn a_table_present_for_another_backend_is_checked_too() {
    let error = error_of("[broker.zeromq]\nendpoint = \"nowhere\"\n");
    assert_names(&error, "broker.zeromq.endpoint", &["not a ZeroMQ endpoint"]);
}

#[cfg(feature = "rabbitmq")]
#[test]
fn a_backend_key_with_dots_is_traced_to_its_file() {
    let error = error_of("[broker.rabbitmq.groups]\n\"orders.placed\" = [\"\"]\n");
    assert_names(
        &error,
        "broker.rabbitmq.groups.\"orders.placed\"",
        &["empty"],
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let path = Path::new("config/does-not-exist.toml");
    let error = load(Some(path)).expect_err("missing file");
    assert_eq!(error.origin(), Some("config/does-not-exist.toml"));
    assert_eq!(error.key(), None);
    assert_eq!(
        error.to_string(),
        "config/does-not-exist.toml: file not found (the file given)"
    );
    assert_eq!(error.exit_code(), 2);
}

#[test]
fn invalid_toml_names_the_file_line_and_column() {
    let error = error_of("[broker]\nkind = \"memory\"\n[runtime\nprefetch = 3\n");
    assert_eq!(error.origin(), Some(FILE));
    let line = error.to_string();
    assert!(
        line.starts_with("config/x.toml: invalid TOML at line 3, column 9"),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line:?}");
}

#[test]
fn a_prefetch_of_zero_is_refused() {
    let error = error_of("[runtime]\nprefetch = 0\n");
    assert_names(&error, "runtime.prefetch", &["at least 1"]);
}

#[test]
fn a_negative_prefetch_is_a_wrong_value() {
    let error = error_of("[runtime]\nprefetch = -4\n");
    assert_names(
        &error,
        "runtime.prefetch",
        &["whole number of at least 0", "-4"],
    );
}

#[test]
fn an_empty_topic_name_is_refused() {
    let error = error_of("[topics]\nstock_reserved = \"\"\n");
    assert_names(&error, "topics.stock_reserved", &["empty"]);
}

#[test]
fn two_logical_topics_cannot_share_a_name() {
    let error = error_of("[topics]\npayment_failed = \"orders.placed\"\n");
    assert_names(
        &error,
        "topics.payment_failed",
        &["\"orders.placed\"", "topics.order_placed", "its own name"],
    );
}

#[test]
fn a_topic_named_like_another_topics_dead_letters_is_refused() {
    let error = error_of("[topics]\norder_intake = \"orders.placed.dlq\"\n");
    assert_names(
        &error,
        "topics.order_intake",
        &["dead-letter topic of topics.order_placed"],
    );
}

const ITEM: &str = "[[services.inventory.catalog]]\nname = \"x\"\nstock = 1\n";

#[test]
fn a_duplicate_sku_is_refused() {
    let toml =
        format!("{ITEM}sku = \"7\"\nprice_minor = 100\n{ITEM}sku = \"7\"\nprice_minor = 200\n");
    let error = error_of(&toml);
    assert_names(
        &error,
        "services.inventory.catalog[1].sku",
        &["duplicate SKU \"7\"", "catalog[0]"],
    );
}

#[test]
fn a_negative_price_is_refused() {
    let toml = format!("{ITEM}sku = \"7\"\nprice_minor = -100\n");
    let error = error_of(&toml);
    assert_names(
        &error,
        "services.inventory.catalog[0].price_minor",
        &["must not be negative", "-100"],
    );
}

#[test]
fn a_catalog_item_missing_a_key_names_it() {
    let error = error_of("[[services.inventory.catalog]]\nsku = \"7\"\nname = \"x\"\nstock = 1\n");
    assert_names(
        &error,
        "services.inventory.catalog[0].price_minor",
        &["missing key"],
    );
}

#[test]
fn a_negative_decline_threshold_is_refused() {
    let error = error_of("[services.payment]\ndecline_above_minor = -1\n");
    assert_names(
        &error,
        "services.payment.decline_above_minor",
        &["must not be negative"],
    );
}

#[test]
fn a_catalog_in_the_file_replaces_the_default_one() {
    let config = config_of(&format!("{ITEM}sku = \"A-1\"\nprice_minor = 0\n"));
    assert_eq!(config.services.inventory.catalog.len(), 1);
    assert_eq!(config.services.inventory.catalog[0].sku, "A-1");
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let config = config_of("");
    let defaults = Config::default();
    assert_eq!(config.topics, defaults.topics);
    assert_eq!(config.runtime, defaults.runtime);
    assert_eq!(config.services, defaults.services);
    assert_eq!(config.broker.kind, courier_config::BrokerKind::Memory);
    assert!(defaults.validate().is_ok());
}

#[cfg(not(feature = "kafka"))]
#[test]
fn a_backend_compiled_out_is_an_error_naming_its_feature() {
    let error = error_of("[broker]\nkind = \"kafka\"\n");
    assert_names(
        &error,
        "broker.kind",
        &[
            "not compiled into this build",
            "feature \"kafka\"",
            "compiled in: memory",
        ],
    );
}

#[cfg(not(feature = "kafka"))]
#[test]
fn the_table_of_a_backend_compiled_out_is_accepted_but_ignored() {
    let config = config_of("[broker.kafka]\nbrokers = \"k:9092\"\n[broker.kafka.options]\nx = 1\n");
    assert_eq!(config.broker.kind, courier_config::BrokerKind::Memory);
}

#[test]
fn config_validate_checks_a_configuration_built_in_code() {
    let mut config = Config::default();
    config.runtime.prefetch = 0;
    let error = config.validate().expect_err("prefetch 0");
    assert_eq!(error.key(), Some("runtime.prefetch"));
    assert_eq!(error.origin(), None);
    assert_eq!(error.to_string(), "runtime.prefetch: must be at least 1");
}

#[test]
fn the_name_given_to_a_string_is_the_origin() {
    let error =
        load_from_str("[runtime]\nprefetch = 0\n", "inline test config").expect_err("prefetch 0");
    assert_eq!(error.origin(), Some("inline test config"));
}

/// `exit_on_error` prints `error: <line>` and exits with code 2: run this test binary again
/// as a child that calls it.
#[test]
fn exit_on_error_prints_the_line_and_exits_2() {
    const CHILD: &str = "COURIER_CONFIG_TEST_EXIT_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let _config: Config =
            courier_config::exit_on_error(load_from_str("[broker]\nkind = \"rabbit\"\n", FILE));
        unreachable!("exit_on_error must exit");
    }
    let exe = std::env::current_exe().expect("test binary");
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "exit_on_error_prints_the_line_and_exits_2",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.lines().any(|l| l
            == "error: broker.kind in config/x.toml: unknown backend \"rabbit\"; \
                valid choices: memory, rabbitmq, kafka, zeromq"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

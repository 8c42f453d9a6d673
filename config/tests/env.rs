//! Environment overrides and file discovery through the real process environment. Each
//! test runs inside `figment::Jail`, which serialises them (the environment is process-wide),
//! gives each a fresh working directory, and restores the environment afterwards.

#![cfg(feature = "memory")]
// `Jail::expect_with` takes closures returning `figment::Result`, whose error is large.
#![allow(clippy::result_large_err)]

use std::path::Path;

use courier_config::{BrokerKind, load};
use figment::Jail;

const FILE: &str = "[broker]\nkind = \"memory\"\n[runtime]\nprefetch = 32\nconcurrency = 4\n";

#[test]
fn environment_variables_override_the_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("app.toml", FILE)?;
        jail.set_env("COURIER_RUNTIME__PREFETCH", "64");
        jail.set_env("COURIER_BROKER__STRICT", "true");
        jail.set_env("COURIER_TOPICS__ORDER_PLACED", "orders.v2");
        jail.set_env("COURIER_SERVICES__ORDER__LISTEN", "0.0.0.0:9090");
        let config = load(Some(Path::new("app.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(config.runtime.prefetch, 64, "env wins over the file");
        assert_eq!(
            config.runtime.concurrency, 4,
            "the file wins over the defaults"
        );
        assert!(config.broker.strict);
        assert_eq!(config.topics.order_placed, "orders.v2");
        assert_eq!(config.services.order.listen.port(), 9090);
        Ok(())
    });
}

#[test]
fn the_backend_kind_comes_from_the_environment() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("app.toml", FILE)?;
        for &kind in BrokerKind::ALL {
            jail.set_env("COURIER_BROKER__KIND", kind.name());
            match load(Some(Path::new("app.toml"))) {
                Ok(config) => {
                    assert!(kind.is_compiled_in());
                    assert_eq!(config.broker.kind, kind);
                }
                Err(error) => {
                    assert!(!kind.is_compiled_in(), "{error}");
                    assert_eq!(error.key(), Some("broker.kind"));
                    assert_eq!(
                        error.origin(),
                        Some("environment variable COURIER_BROKER__KIND")
                    );
                    assert!(error.to_string().contains("not compiled into this build"));
                }
            }
        }
        jail.set_env("COURIER_BROKER__KIND", "rabbit");
        let error = load(Some(Path::new("app.toml"))).expect_err("unknown backend");
        assert_eq!(
            error.to_string(),
            "broker.kind in environment variable COURIER_BROKER__KIND: unknown backend \
             \"rabbit\"; valid choices: memory, rabbitmq, kafka, zeromq"
        );
        Ok(())
    });
}

#[test]
fn a_bad_value_in_the_environment_names_the_variable() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("COURIER_RUNTIME__PREFETCH", "0");
        let error = load(None).expect_err("prefetch 0");
        assert_eq!(
            error.to_string(),
            "runtime.prefetch in environment variable COURIER_RUNTIME__PREFETCH: must be at \
             least 1"
        );
        jail.set_env("COURIER_RUNTIME__PREFETCH", "many");
        let error = load(None).expect_err("not a number");
        assert!(error.to_string().contains("wrong type"), "{error}");
        Ok(())
    });
}

#[test]
fn a_misspelt_variable_is_an_unknown_key() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("COURIER_BROKER__KINDD", "memory");
        let error = load(None).expect_err("unknown key");
        assert_eq!(error.key(), Some("broker.kindd"));
        assert_eq!(
            error.origin(),
            Some("environment variable COURIER_BROKER__KINDD")
        );
        assert!(
            error.to_string().contains("valid keys: kind, strict"),
            "{error}"
        );
        Ok(())
    });
}

#[test]
fn variables_without_a_nested_key_are_not_configuration() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("COURIER_REQUIRE_BROKERS", "1");
        jail.set_env("COURIER_LOG", "debug");
        let config = load(None).map_err(|e| e.to_string())?;
        assert_eq!(config.broker.kind, BrokerKind::Memory);
        Ok(())
    });
}

#[test]
fn courier_config_names_the_file() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("elsewhere.toml", "[runtime]\nprefetch = 7\n")?;
        jail.set_env("COURIER_CONFIG", "elsewhere.toml");
        let config = load(None).map_err(|e| e.to_string())?;
        assert_eq!(config.runtime.prefetch, 7);

        jail.set_env("COURIER_CONFIG", "missing.toml");
        let error = load(None).expect_err("missing file");
        assert_eq!(
            error.to_string(),
            "missing.toml: file not found (named by COURIER_CONFIG)"
        );

        jail.create_file("given.toml", "[runtime]\nprefetch = 9\n")?;
        let config = load(Some(Path::new("given.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(
            config.runtime.prefetch, 9,
            "a given path wins over COURIER_CONFIG"
        );
        Ok(())
    });
}

#[test]
fn the_default_file_is_read_when_it_exists() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let config = load(None).map_err(|e| e.to_string())?;
        assert_eq!(config.runtime.prefetch, 256, "no file: the defaults");

        jail.create_dir("config")?;
        jail.create_file("config/courier.toml", "[runtime]\nprefetch = 3\n")?;
        let config = load(None).map_err(|e| e.to_string())?;
        assert_eq!(config.runtime.prefetch, 3);

        jail.create_file("config/courier.toml", "[runtime]\nprefetch = 0\n")?;
        let error = load(None).expect_err("prefetch 0");
        assert_eq!(error.origin(), Some("config/courier.toml"));
        Ok(())
    });
}

#[test]
fn an_array_can_be_given_in_a_variable() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env(
            "COURIER_SERVICES__INVENTORY__CATALOG",
            r#"[{sku = "9", name = "Nine", price_minor = 900, stock = 9}]"#,
        );
        let config = load(None).map_err(|e| e.to_string())?;
        assert_eq!(config.services.inventory.catalog.len(), 1);
        assert_eq!(config.services.inventory.catalog[0].price_minor, 900);
        Ok(())
    });
}

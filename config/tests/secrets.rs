//! Secrets never appear in `Debug`, errors, or the redacted dumps.

#![cfg(feature = "memory")]

mod common;

use common::{FILE, error_of};
use courier_config::load_from_str;

const PASSWORD: &str = "hunter2-s3cret";

/// Asserts that no form of the password appears in `text`.
fn assert_hidden(text: &str) {
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");
    assert!(
        !text.contains("hunter2"),
        "part of the password leaked: {text}"
    );
}

#[test]
fn a_toml_syntax_error_does_not_quote_the_line() {
    let error = error_of(&format!("[broker.rabbitmq]\npassword = \"{PASSWORD}\n"));
    assert_eq!(error.origin(), Some(FILE));
    assert!(
        error.to_string().contains("invalid TOML at line 2"),
        "{error}"
    );
    assert_hidden(&error.to_string());
    assert_hidden(&format!("{error:?}"));
}

#[test]
fn a_url_password_echoed_in_an_error_is_redacted() {
    let error = error_of(&format!(
        "[broker]\nkind = \"amqp://guest:{PASSWORD}@h/\"\n"
    ));
    assert!(error.to_string().contains("amqp://guest:***@h/"), "{error}");
    assert_hidden(&error.to_string());
}

#[test]
fn a_wrong_typed_value_under_a_secret_key_is_not_shown() {
    // `services.order` has no secret key, so figment reports an unknown key; the
    // value must not be echoed either way.
    let error = error_of(&format!("[services.order]\npassword = \"{PASSWORD}\"\n"));
    assert_hidden(&error.to_string());
}

#[test]
fn the_redacted_dumps_of_the_defaults_parse_back() {
    let config = load_from_str("", FILE).expect("defaults");
    let toml = config.redacted_toml();
    let again = load_from_str(&toml, "dump.toml").expect("the dump is a valid config");
    assert_eq!(again.topics, config.topics);
    assert_eq!(again.services, config.services);
    assert_eq!(again.runtime, config.runtime);
    let json = config.redacted_json();
    assert_eq!(json["broker"]["kind"], "memory");
    assert_eq!(json["topics"]["order_placed"], "orders.placed");
}

#[cfg(feature = "rabbitmq")]
mod rabbitmq {
    use super::*;
    use courier_config::{Config, load_from_str_and_env};

    fn with_url_password() -> Config {
        common::config_of(&format!(
            "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\n\
             url = \"amqp://orders:{PASSWORD}@127.0.0.1:5672/%2f\"\n"
        ))
    }

    #[test]
    fn a_url_password_is_absent_from_debug_and_dumps() {
        let config = with_url_password();
        assert!(
            config.broker.rabbitmq.url.contains(PASSWORD),
            "kept for connecting"
        );
        assert_hidden(&format!("{config:?}"));
        assert_hidden(&format!("{config:#?}"));
        let toml = config.redacted_toml();
        assert_hidden(&toml);
        assert!(
            toml.contains("amqp://orders:***@127.0.0.1:5672/%2f"),
            "{toml}"
        );
        let json = config.redacted_json().to_string();
        assert_hidden(&json);
        assert!(json.contains("orders:***@"), "{json}");
    }

    #[test]
    fn a_password_field_is_absent_from_debug_and_dumps() {
        let config = common::config_of(&format!(
            "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\n\
             url = \"amqp://orders@127.0.0.1/%2f\"\npassword = \"{PASSWORD}\"\n"
        ));
        let password = config.broker.rabbitmq.password.as_ref().expect("set");
        assert_eq!(password.expose(), PASSWORD);
        assert_hidden(&format!("{config:?}"));
        let toml = config.redacted_toml();
        assert_hidden(&toml);
        assert!(toml.contains("password = \"***\""), "{toml}");
        assert_hidden(&config.redacted_json().to_string());
    }

    #[test]
    fn a_wrong_typed_password_is_not_shown_in_the_error() {
        for value in [
            "123454321",
            "[\"hunter2-s3cret\"]",
            "{ text = \"hunter2-s3cret\" }",
        ] {
            let error = error_of(&format!("[broker.rabbitmq]\npassword = {value}\n"));
            common::assert_names(&error, "broker.rabbitmq.password", &["wrong type"]);
            assert_hidden(&error.to_string());
            assert!(!error.to_string().contains("123454321"), "{error}");
        }
    }

    #[test]
    fn a_malformed_url_is_reported_without_its_password() {
        let error = error_of(&format!(
            "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\n\
             url = \"amqp://orders:{PASSWORD}@127.0.0.1:99999/\"\n"
        ));
        common::assert_names(&error, "broker.rabbitmq.url", &["not a valid URL"]);
        assert_hidden(&error.to_string());
        let error = error_of(&format!(
            "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\nurl = \"http://u:{PASSWORD}@h/\"\n"
        ));
        common::assert_names(
            &error,
            "broker.rabbitmq.url",
            &["valid choices: amqp, amqps"],
        );
        assert_hidden(&error.to_string());
    }

    #[test]
    fn a_numeric_password_from_the_environment_stays_text() {
        let config = load_from_str_and_env(
            "[broker]\nkind = \"rabbitmq\"\n",
            "config/x.toml",
            [
                (
                    "COURIER_BROKER__RABBITMQ__PASSWORD".to_owned(),
                    "0012345".to_owned(),
                ),
                (
                    "COURIER_BROKER__RABBITMQ__URL".to_owned(),
                    "amqp://orders@127.0.0.1:5672/%2f".to_owned(),
                ),
            ],
        )
        .expect("loads");
        let password = config.broker.rabbitmq.password.as_ref().expect("set");
        assert_eq!(password.expose(), "0012345");
        assert!(!format!("{config:?}").contains("0012345"));
        assert!(!config.redacted_toml().contains("0012345"));
    }

    #[test]
    fn an_error_elsewhere_never_echoes_a_password_given_in_the_environment() {
        let error = load_from_str_and_env(
            "[broker]\nkind = \"rabbitmq\"\n",
            "config/x.toml",
            [
                (
                    "COURIER_BROKER__RABBITMQ__PASSWORD".to_owned(),
                    PASSWORD.to_owned(),
                ),
                (
                    "COURIER_TOPICS__ORDER_PLACED".to_owned(),
                    PASSWORD.to_owned(),
                ),
                (
                    "COURIER_TOPICS__PAYMENT_FAILED".to_owned(),
                    PASSWORD.to_owned(),
                ),
            ],
        )
        .expect_err("two topics with one name");
        assert_eq!(error.key(), Some("topics.payment_failed"));
        assert_hidden(&error.to_string());
    }

    #[test]
    fn both_password_and_password_file_are_refused() {
        let error = error_of(
            "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\npassword = \"x\"\n\
             password_file = \"/run/secrets/p\"\n",
        );
        common::assert_names(&error, "broker.rabbitmq.password_file", &["password"]);
    }
}

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;

    #[test]
    fn librdkafka_password_options_are_absent_from_debug_and_dumps() {
        let config = common::config_of(&format!(
            "[broker]\nkind = \"kafka\"\n[broker.kafka.options]\n\
             \"security.protocol\" = \"sasl_plaintext\"\n\"sasl.mechanism\" = \"PLAIN\"\n\
             \"sasl.username\" = \"orders\"\n\"sasl.password\" = \"{PASSWORD}\"\n"
        ));
        assert_eq!(config.broker.kafka.options["sasl.password"], PASSWORD);
        assert_hidden(&format!("{config:?}"));
        let toml = config.redacted_toml();
        assert_hidden(&toml);
        assert!(toml.contains("\"sasl.password\" = \"***\""), "{toml}");
        assert!(toml.contains("orders"), "{toml}");
        assert_hidden(&config.redacted_json().to_string());
    }

    #[test]
    fn a_wrong_typed_sasl_password_is_not_shown_in_the_error() {
        let error = error_of(&format!(
            "[broker.kafka.options]\n\"sasl.password\" = [\"{PASSWORD}\"]\n"
        ));
        assert_eq!(error.origin(), Some(FILE), "{error}");
        assert_hidden(&error.to_string());
    }
}

/// Store URLs with passwords holding `/`, `?`, `#` and `@` (as generated passwords do) are
/// never shown: not in `Debug`, the dumps, nor an error about the URL.
#[test]
fn store_url_passwords_with_url_characters_are_redacted() {
    for password in ["hunter2/s3c", "hunter2?s3c", "hunter2#s3c", "hunter2@s3c"] {
        let text = format!(
            "[store]\nurl = \"postgres://shop:{password}@127.0.0.1:5432/shop\"\n\
             [services.payment.store]\nurl = \"postgres://pay:{password}@127.0.0.1:5432/pay\"\n"
        );
        let config = load_from_str(&text, FILE).expect("valid");
        assert_eq!(
            config.store_url("order"),
            format!("postgres://shop:{password}@127.0.0.1:5432/shop")
        );
        assert!(config.store_url("payment").contains("pay:"));
        assert_hidden(&format!("{config:?}"));
        let toml = config.redacted_toml();
        assert_hidden(&toml);
        assert!(
            toml.contains("url = \"postgres://shop:***@127.0.0.1:5432/shop\""),
            "{toml}"
        );
        assert_hidden(&config.redacted_json().to_string());
        let error = error_of(&format!(
            "[store]\nurl = \"mysql://shop:{password}@h/db\"\n"
        ));
        common::assert_names(&error, "store.url", &["sqlite://", "postgres://"]);
        assert_hidden(&error.to_string());
    }
}

#[test]
fn a_store_url_per_service_overrides_the_shared_one() {
    let config = load_from_str(
        "[services.inventory.store]\nurl = \"sqlite::memory:\"\n",
        FILE,
    )
    .expect("valid");
    assert_eq!(config.store_url("order"), "sqlite://data/order.db");
    assert_eq!(config.store_url("inventory"), "sqlite::memory:");
    let error = error_of("[services.order.store]\nurl = \"redis://x\"\n");
    common::assert_names(&error, "services.order.store.url", &["sqlite://"]);
}

/// Passwords holding `/`, `?`, `#` and `@` stay hidden on every backend: in the RabbitMQ
/// URL, Kafka's SASL password option, and the ZeroMQ secret, through `Debug`, both dumps,
/// and the error of a connection attempt that fails (RabbitMQ on a closed port).
#[cfg(all(feature = "rabbitmq", feature = "kafka", feature = "zeromq"))]
#[tokio::test]
async fn passwords_with_url_characters_are_redacted_on_every_backend() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    for password in ["hunter2/s3c", "hunter2?s3c", "hunter2#s3c", "hunter2@s3c"] {
        let backends = [
            format!(
                "[broker]\nkind = \"rabbitmq\"\n[broker.rabbitmq]\n\
                 url = \"amqp://shop:{password}@127.0.0.1:{closed_port}/%2f\"\n\
                 connect_timeout_ms = 500\n"
            ),
            format!(
                "[broker]\nkind = \"kafka\"\n[broker.kafka.options]\n\
                 \"sasl.mechanism\" = \"PLAIN\"\n\"sasl.username\" = \"shop\"\n\
                 \"sasl.password\" = \"{password}\"\n"
            ),
            format!("[broker]\nkind = \"zeromq\"\n[broker.zeromq]\nsecret = \"{password}\"\n"),
        ];
        for text in backends {
            // A raw `/`, `?` or `#` ends a URL's authority, so such a URL is invalid (the
            // password must be percent-encoded): the error must not show it either.
            let config = match load_from_str(&text, FILE) {
                Ok(config) => config,
                Err(error) => {
                    assert!(text.contains("amqp://"), "{text}: {error}");
                    assert_hidden(&error.to_string());
                    assert_hidden(&format!("{error:?}"));
                    continue;
                }
            };
            assert_hidden(&format!("{config:?}"));
            assert_hidden(&config.redacted_toml());
            assert_hidden(&config.redacted_json().to_string());
            if text.contains("rabbitmq") {
                let error = courier_config::connect(&config)
                    .await
                    .err()
                    .expect("nothing listens on the port");
                assert_hidden(&error.to_string());
                assert_hidden(&format!("{error:?}"));
            }
        }
    }
}

//! The pass-through table of librdkafka properties: parsing, checking, and keeping the
//! sensitive ones out of sight.

use courier_core::InvalidSetting;
use std::{collections::BTreeMap, fmt};

use rdkafka::{ClientConfig, error::KafkaError};
use serde::{Deserialize, Deserializer, Serializer, ser::SerializeMap};

/// Properties courier sets itself; setting them through `options` would break a guarantee.
const RESERVED: &[(&str, &str)] = &[
    ("bootstrap.servers", "set `brokers` instead"),
    ("metadata.broker.list", "set `brokers` instead"),
    ("group.id", "the group comes from each subscription"),
    ("enable.idempotence", "the producer is always idempotent"),
    (
        "acks",
        "sends are confirmed by all in-sync replicas (acks=all)",
    ),
    (
        "request.required.acks",
        "sends are confirmed by all in-sync replicas (acks=all)",
    ),
    ("enable.auto.commit", "courier commits acknowledged offsets"),
    (
        "enable.auto.offset.store",
        "courier commits acknowledged offsets",
    ),
    (
        "auto.offset.reset",
        "a new group reads from the earliest offset, so declared groups keep every message",
    ),
    ("transactional.id", "transactions are not used"),
];

/// Names of properties whose values are credentials or private keys.
pub(crate) fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password")
        || name.contains("secret")
        || name == "ssl.key.pem"
        || name == "sasl.oauthbearer.config"
}

/// `text` with every sensitive value of `options` replaced by `***`, for error messages that
/// quote what librdkafka was given.
pub(crate) fn redact_values<'a>(
    text: &str,
    sensitive_values: impl IntoIterator<Item = &'a str>,
) -> String {
    sensitive_values
        .into_iter()
        .filter(|v| !v.is_empty())
        .fold(text.to_owned(), |text, value| text.replace(value, "***"))
}

/// The values of the sensitive options.
pub(crate) fn sensitive_values(options: &BTreeMap<String, String>) -> Vec<String> {
    options
        .iter()
        .filter(|(name, _)| is_sensitive(name))
        .map(|(_, value)| value.clone())
        .collect()
}

/// Checks each option: not reserved, known to librdkafka, with a value it accepts.
///
/// # Errors
/// `(name, problem)` for the first bad option.
pub(crate) fn validate(options: &BTreeMap<String, String>) -> Result<(), InvalidSetting> {
    let secrets = sensitive_values(options);
    for (name, value) in options {
        if let Some((_, why)) = RESERVED.iter().find(|(r, _)| r == name) {
            return Err(InvalidSetting::new(
                name.clone(),
                format!("is managed by courier and cannot be set: {why}"),
            ));
        }
        let mut single = ClientConfig::new();
        single.set(name, value);
        if let Err(e) = single.create_native_config() {
            let problem = match e {
                KafkaError::ClientConfig(_, description, _, _) if !is_sensitive(name) => {
                    redact_values(&description, secrets.iter().map(String::as_str))
                }
                _ => "is not accepted by librdkafka".to_owned(),
            };
            return Err(InvalidSetting::new(name.clone(), problem));
        }
    }
    Ok(())
}

/// `Debug` of the options with sensitive values shown as `***`.
pub(crate) struct Redacted<'a>(pub(crate) &'a BTreeMap<String, String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown = if is_sensitive(name) { "***" } else { value };
                (name, shown)
            }))
            .finish()
    }
}

/// Serialises the options with sensitive values written as `***`.
pub(crate) fn serialize_redacted<S: Serializer>(
    options: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(options.len()))?;
    for (name, value) in options {
        let shown = if is_sensitive(name) { "***" } else { value };
        map.serialize_entry(name, shown)?;
    }
    map.end()
}

/// An option value as written in TOML or the environment: text, a number or a boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    Flag(bool),
}

impl From<Scalar> for String {
    fn from(value: Scalar) -> Self {
        match value {
            Scalar::Text(s) => s,
            Scalar::Integer(i) => i.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Flag(b) => b.to_string(),
        }
    }
}

/// Deserialises the options, accepting strings, numbers and booleans as values.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(raw.into_iter().map(|(k, v)| (k, v.into())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_names() {
        for name in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "sasl.oauthbearer.client.secret",
            "ssl.key.pem",
            "SASL.PASSWORD",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in ["sasl.username", "ssl.ca.location", "security.protocol"] {
            assert!(!is_sensitive(name), "{name}");
        }
    }

    #[test]
    fn redacts_quoted_values() {
        assert_eq!(
            redact_values("bad value \"pw1\" near pw1x", ["pw1", ""]),
            "bad value \"***\" near ***x"
        );
    }

    #[test]
    fn a_bad_sensitive_option_is_named_without_its_value() {
        let mut options = BTreeMap::new();
        options.insert("ssl.key.password".to_owned(), "\u{0}".to_owned());
        let InvalidSetting { key: name, problem } =
            validate(&options).expect_err("a NUL byte is refused");
        assert_eq!(name, "ssl.key.password");
        assert!(!problem.contains('\u{0}'), "{problem}");
    }
}

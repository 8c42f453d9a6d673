//! The effective configuration as shown to people (`shop config`): the selected backend's
//! table only, every secret as `***`.

use courier_core::{RuntimeSettings, redact_url};
use serde::{Serialize, Serializer, ser::SerializeStruct};

use crate::{
    BrokerSection, Config, Services, Telemetry, Topics,
    secrets::{REDACTED, is_secret_key, redact_json},
};

/// What the dumps show, in the order of the file.
#[derive(Serialize)]
struct Shown<'a> {
    broker: ShownBroker<'a>,
    topics: &'a Topics,
    runtime: &'a RuntimeSettings,
    services: &'a Services,
    store: &'a courier_outbox::StoreSettings,
    telemetry: &'a Telemetry,
}

/// `[broker]` with the table of the selected backend only.
struct ShownBroker<'a>(&'a BrokerSection);

impl Serialize for ShownBroker<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let broker = self.0;
        let mut out = serializer.serialize_struct("broker", 3)?;
        out.serialize_field("kind", &broker.kind)?;
        out.serialize_field("strict", &broker.strict)?;
        broker.serialize_table(broker.kind, &mut out)?;
        out.end()
    }
}

fn shown(config: &Config) -> Shown<'_> {
    Shown {
        broker: ShownBroker(&config.broker),
        topics: &config.topics,
        runtime: &config.runtime,
        services: &config.services,
        store: &config.store,
        telemetry: &config.telemetry,
    }
}

/// The TOML dump. Backends already serialise their secrets as `***`; on top of that every
/// URL loses its password and every line whose key names a secret shows `***`.
pub(crate) fn toml(config: &Config) -> String {
    let text = match toml::to_string_pretty(&shown(config)) {
        Ok(text) => text,
        Err(e) => return format!("# the configuration cannot be shown as TOML: {e}\n"),
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(&redact_line(line));
        out.push('\n');
    }
    out
}

/// One line of the TOML dump, redacted.
fn redact_line(line: &str) -> String {
    if let Some((key, value)) = line.split_once(" = ") {
        let name = key.trim().trim_matches('"');
        if is_secret_key(name) && value.trim() != format!("\"{REDACTED}\"") {
            return format!("{key} = \"{REDACTED}\"");
        }
    }
    if line.contains("://") {
        redact_url(line)
    } else {
        line.to_owned()
    }
}

/// The JSON dump, redacted the same way.
pub(crate) fn json(config: &Config) -> serde_json::Value {
    let mut value = serde_json::to_value(shown(config)).unwrap_or_else(
        |e| serde_json::json!({ "error": format!("the configuration cannot be shown: {e}") }),
    );
    redact_json(&mut value, false);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_secrets_or_url_passwords_are_redacted() {
        assert_eq!(redact_line("password = \"pw\""), "password = \"***\"");
        assert_eq!(
            redact_line("\"sasl.password\" = \"pw\""),
            "\"sasl.password\" = \"***\""
        );
        assert_eq!(
            redact_line("url = \"amqp://u:pw@h:5672/%2f\""),
            "url = \"amqp://u:***@h:5672/%2f\""
        );
        assert_eq!(
            redact_line("password_file = \"/run/p\""),
            "password_file = \"/run/p\""
        );
        assert_eq!(redact_line("prefetch = 256"), "prefetch = 256");
    }
}

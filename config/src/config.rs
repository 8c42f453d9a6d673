//! [`Config`]: the whole configuration file.

use courier_core::RuntimeSettings;
use serde::{Deserialize, Serialize};

use crate::{
    BrokerSection, ConfigError, Services, Topics,
    key::Origins,
    secrets::{Secrets, redact_json, redact_toml},
    validate,
};

/// The whole configuration: `[broker]`, `[topics]`, `[runtime]` and `[services.*]`. Every
/// key has a default; unknown keys are errors.
///
/// Build it with [`load`](crate::load); `Debug` and the dumps never show a secret.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[broker]`: the backend and its settings.
    pub broker: BrokerSection,
    /// `[topics]`: the name on the broker of each logical topic.
    pub topics: Topics,
    /// `[runtime]`: attempts, backoff, concurrency, prefetch, shutdown deadline.
    pub runtime: RuntimeSettings,
    /// `[services.*]`: per-service settings.
    pub services: Services,
}

impl Config {
    /// Checks every value (the same checks [`load`](crate::load) runs), for a configuration
    /// built or changed in code.
    ///
    /// # Errors
    /// The first bad value, naming its key: a backend not compiled in, a backend's own
    /// `validate()` failure, a runtime setting out of range, a bad topic name, a bad catalog
    /// item.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate::validate(self, &Origins::none(), &Secrets::default())
    }

    /// The effective configuration as TOML, with every secret shown as `***` (passwords in
    /// URLs too). What `shop config` prints.
    pub fn redacted_toml(&self) -> String {
        let mut value = match toml::Value::try_from(self) {
            Ok(value) => value,
            Err(e) => return format!("# the configuration cannot be shown as TOML: {e}\n"),
        };
        redact_toml(&mut value, false);
        toml::to_string_pretty(&value)
            .unwrap_or_else(|e| format!("# the configuration cannot be shown as TOML: {e}\n"))
    }

    /// The effective configuration as JSON, with every secret shown as `***`.
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_else(
            |e| serde_json::json!({ "error": format!("the configuration cannot be shown: {e}") }),
        );
        redact_json(&mut value, false);
        value
    }
}

//! [`Config`]: the whole configuration file.

use courier_core::RuntimeSettings;
use courier_outbox::StoreSettings;
use serde::{Deserialize, Serialize};

use crate::{
    BrokerSection, ConfigError, Services, Telemetry, Topics, dump, key::Origins, secrets::Secrets,
    validate,
};

/// The whole configuration: `[broker]`, `[topics]`, `[runtime]`, `[services.*]`, `[store]` and `[telemetry]`. Every
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
    /// `[store]`: where the services keep their state, and how the outbox relays and
    /// prunes.
    pub store: StoreSettings,
    /// `[telemetry]`: where traces are exported (off by default).
    pub telemetry: Telemetry,
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

    /// The store URL of `service` (`order`, `inventory`, `payment`):
    /// `[services.<service>.store] url` when set, else `[store] url`, with `{service}`
    /// replaced by the name.
    pub fn store_url(&self, service: &str) -> String {
        let own = self.services.store(service).and_then(|s| s.url.as_deref());
        self.store.url_for(service, own)
    }

    /// The effective configuration as TOML, in the order of the file, with the table of the
    /// selected backend only and every secret shown as `***` (passwords in URLs too). What
    /// `shop config` prints; it loads back as the same configuration, secrets aside.
    pub fn redacted_toml(&self) -> String {
        dump::toml(self)
    }

    /// The effective configuration as JSON, as [`redacted_toml`](Self::redacted_toml) shows
    /// it.
    pub fn redacted_json(&self) -> serde_json::Value {
        dump::json(self)
    }
}

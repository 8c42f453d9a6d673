//! Checks that run after extraction, each naming the key at fault and where it came from.

use crate::{
    BrokerKind, Config, ConfigError,
    key::{self, Origins},
    secrets::Secrets,
};
use courier_core::InvalidSetting;

/// The first bad value of `config`.
pub(crate) fn validate(
    config: &Config,
    origins: &Origins,
    secrets: &Secrets,
) -> Result<(), ConfigError> {
    let error = |path: Vec<String>, message: String| {
        let path = origins.canonical(path);
        let origin = origins.of(&path);
        ConfigError::new(Some(key::render(&path)), origin, secrets.scrub(&message))
    };
    let kind = config.broker.kind;
    if !kind.is_compiled_in() {
        let built: Vec<_> = BrokerKind::compiled_in().iter().map(|k| k.name()).collect();
        let built = if built.is_empty() {
            "none".to_owned()
        } else {
            built.join(", ")
        };
        return Err(error(
            key::segments("broker.kind"),
            format!(
                "backend {kind:?} is not compiled into this build: enable the cargo feature \
                 \"{name}\" of courier-config (compiled in: {built})",
                kind = kind.name(),
                name = kind.name()
            ),
        ));
    }
    for backend in BrokerKind::compiled_in() {
        let table = key::segments(&format!("broker.{}", backend.name()));
        if backend != kind && !origins.contains(&table) {
            continue;
        }
        let checked = config.broker.backend(backend).map(|b| b.validate());
        if let Some(Err(InvalidSetting { key, problem })) = checked {
            let mut path = table;
            path.extend(key::segments(&key));
            return Err(error(path, problem));
        }
    }
    if let Err(InvalidSetting {
        key: field,
        problem,
    }) = config.runtime.validate()
    {
        return Err(error(key::segments(&format!("runtime.{field}")), problem));
    }
    let set_by_user = |field: &str| origins.contains(&key::segments(&format!("topics.{field}")));
    if let Err(InvalidSetting {
        key: field,
        problem,
    }) = config.topics.check(set_by_user)
    {
        return Err(error(key::segments(&format!("topics.{field}")), problem));
    }
    if let Err(InvalidSetting {
        key: field,
        problem,
    }) = config.store.validate()
    {
        return Err(error(key::segments(&format!("store.{field}")), problem));
    }
    if let Err(InvalidSetting {
        key: field,
        problem,
    }) = config.services.validate()
    {
        return Err(error(key::segments(&format!("services.{field}")), problem));
    }
    if let Err(InvalidSetting {
        key: field,
        problem,
    }) = config.telemetry.validate()
    {
        return Err(error(key::segments(&format!("telemetry.{field}")), problem));
    }
    Ok(())
}

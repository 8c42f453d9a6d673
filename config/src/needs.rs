//! [`check_needs`]: what a service needs against what the backend guarantees.

use courier_core::{Capabilities, Capability};

use crate::{Config, ConfigError};

/// Checks that the backend gives every guarantee `service` needs.
///
/// When some are missing, each message names the service, the backend and the missing
/// guarantee. With `broker.strict = true` that is an error (the service must not start);
/// otherwise the messages are returned as warnings, one per missing guarantee, for the caller
/// to log with `tracing::warn!`. `Ok` with no warnings when nothing is missing.
///
/// # Errors
/// With `broker.strict = true`, a [`ConfigError`] on key `broker.strict` listing every
/// missing guarantee.
pub fn check_needs(
    config: &Config,
    caps: Capabilities,
    service: &str,
    needs: &[Capability],
) -> Result<Vec<String>, ConfigError> {
    let missing = caps.missing(needs);
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let backend = config.broker.kind.name();
    if config.broker.strict {
        let names: Vec<_> = missing.iter().map(|c| c.name()).collect();
        return Err(ConfigError::new(
            Some("broker.strict".into()),
            None,
            format!(
                "service {service:?} needs {} which backend {backend:?} does not guarantee; \
                 strict mode refuses to start (set broker.strict = false to start with a \
                 warning, or pick another backend)",
                names.join(", ")
            ),
        ));
    }
    Ok(missing
        .iter()
        .map(|c| {
            format!(
                "service {service:?} needs {} which backend {backend:?} does not guarantee; \
                 starting anyway (broker.strict = false)",
                c.name()
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_missing_means_no_warnings() {
        let caps = Capabilities::of(&[Capability::AtLeastOnce]);
        let warnings = check_needs(
            &Config::default(),
            caps,
            "payment",
            &[Capability::AtLeastOnce],
        )
        .expect("ok");
        assert!(warnings.is_empty());
    }
}

//! Helpers shared by the configuration tests.

#![allow(dead_code)]

use courier_config::{Config, ConfigError, load_from_str};

/// The name bad inputs are reported under, as if they came from this file.
pub const FILE: &str = "config/x.toml";

/// Loads `toml` as [`FILE`], expecting an error.
pub fn error_of(toml: &str) -> ConfigError {
    match load_from_str(toml, FILE) {
        Ok(config) => panic!("expected an error for {toml:?}, got {config:?}"),
        Err(error) => error,
    }
}

/// Loads `toml` as [`FILE`], expecting success.
pub fn config_of(toml: &str) -> Config {
    load_from_str(toml, FILE).unwrap_or_else(|e| panic!("{toml:?} should load: {e}"))
}

/// Asserts that `error` is about `key` in [`FILE`], is one line, and mentions every piece of
/// `contains`.
pub fn assert_names(error: &ConfigError, key: &str, contains: &[&str]) {
    let line = error.to_string();
    assert_eq!(error.key(), Some(key), "{line}");
    assert_eq!(error.origin(), Some(FILE), "{line}");
    assert!(
        line.starts_with(&format!("{key} in {FILE}: ")),
        "the line should start with the key and the file: {line}"
    );
    assert!(!line.contains('\n'), "one line: {line:?}");
    for piece in contains {
        assert!(line.contains(piece), "{line:?} should contain {piece:?}");
    }
    assert_eq!(error.exit_code(), 2);
}

/// Reports an absent broker: fails when brokers are required (`CI=true` or
/// `COURIER_REQUIRE_BROKERS=1`), otherwise prints a skip notice. The same rule as
/// `courier_tests::support::broker_absent`, which this crate cannot depend on (courier-tests
/// depends on it).
pub fn broker_absent(backend: &str, why: &str) {
    let set =
        |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v.eq_ignore_ascii_case(value));
    if set("CI", "true") || set("COURIER_REQUIRE_BROKERS", "1") {
        panic!(
            "{backend} broker required (CI=true or COURIER_REQUIRE_BROKERS=1) but absent: {why}"
        );
    }
    eprintln!(
        "SKIP {backend}: broker absent ({why}); set COURIER_REQUIRE_BROKERS=1 to make this a failure"
    );
}

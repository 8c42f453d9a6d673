//! [`ConfigError`]: one line naming the key, where it came from, and what is wrong.

use std::fmt;

/// The exit code of a program that stops on a configuration error.
pub const EXIT_CODE: i32 = 2;

/// A configuration that cannot be used: an unknown key or backend, a wrong type, a value out
/// of range, a missing file.
///
/// It displays as one line naming the key (as a dotted path such as `broker.rabbitmq.url`),
/// where the value came from (a file, an environment variable) and, where there is a list,
/// the valid choices. It never contains a secret value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    key: Option<String>,
    origin: Option<String>,
    message: String,
}

impl ConfigError {
    /// An error about `key` (a dotted path), from `origin` (a file name or an environment
    /// variable), saying `message`.
    pub fn new(key: Option<String>, origin: Option<String>, message: impl Into<String>) -> Self {
        Self {
            key,
            origin,
            message: one_line(&message.into()),
        }
    }

    /// The key at fault, as a dotted path (`services.inventory.catalog[2].sku`), when the
    /// error concerns one key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Where the value came from: a file path, `environment variable COURIER_...`, or the name
    /// given to [`load_from_str`](crate::load_from_str).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// What is wrong, without the key and the origin.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The exit code for a program that stops on this error: 2.
    pub fn exit_code(&self) -> i32 {
        EXIT_CODE
    }

    pub(crate) fn map_message(mut self, f: impl FnOnce(&str) -> String) -> Self {
        self.message = one_line(&f(&self.message));
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.key, &self.origin) {
            (Some(key), Some(origin)) => write!(f, "{key} in {origin}: {}", self.message),
            (Some(key), None) => write!(f, "{key}: {}", self.message),
            (None, Some(origin)) => write!(f, "{origin}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for courier_core::Error {
    fn from(error: ConfigError) -> Self {
        courier_core::Error::new("config", courier_core::ErrorKind::Config, error.to_string())
    }
}

/// The value of `result`, or, on a [`ConfigError`], prints `error: <the one line>` to
/// standard error and exits the process with code 2. For the `main` of binaries.
pub fn exit_on_error<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(error.exit_code());
        }
    }
}

/// `text` on one line: line breaks become `; ` (for errors printed as one line).
pub fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_owned();
    }
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_key_origin_and_message_on_one_line() {
        let e = ConfigError::new(
            Some("broker.kind".into()),
            Some("config/x.toml".into()),
            "unknown backend\n\"rabbit\"",
        );
        assert_eq!(
            e.to_string(),
            "broker.kind in config/x.toml: unknown backend; \"rabbit\""
        );
        assert_eq!(e.exit_code(), 2);
        let e = ConfigError::new(None, Some("a.toml".into()), "file not found");
        assert_eq!(e.to_string(), "a.toml: file not found");
    }
}

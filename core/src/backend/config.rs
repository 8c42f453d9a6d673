//! What every backend's configuration table offers the config crate: one trait, so that
//! loading, validating, showing and connecting are written once for every backend.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Broker, Error, ErrorKind, Result};

/// A setting with a bad value: its key (within the table that holds it, dotted for nested
/// keys) and what is wrong with the value, worded to follow the key: "capacity must be at least
/// 1".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} {problem}")]
pub struct InvalidSetting {
    /// The key at fault, relative to its table.
    pub key: String,
    /// What is wrong with its value; never the value of a secret.
    pub problem: String,
}

impl InvalidSetting {
    /// The problem `problem` with the key `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// The [`ErrorKind::Config`] error of `backend` that reports this setting of the table
    /// `table` (`broker.zeromq`, `runtime`): "broker.zeromq.capacity must be at least 1".
    pub fn to_error(&self, backend: &'static str, table: &str) -> Error {
        Error::new(
            backend,
            ErrorKind::Config,
            format!("{table}.{} {}", self.key, self.problem),
        )
    }

    /// The same problem, its key inside the table `table` (`options` + `acks` =
    /// `options.acks`).
    #[must_use]
    pub fn within(self, table: &str) -> Self {
        Self {
            key: format!("{table}.{}", self.key),
            problem: self.problem,
        }
    }
}

/// A backend's configuration table (`[broker.<name>]`). Implemented once per backend; the
/// config crate lists each implementation in one line of its registry and derives the
/// `broker.kind` choices, validation, `shop config` output and connecting from it.
#[async_trait]
pub trait BackendConfig: Send + Sync {
    /// Checks the settings without connecting.
    ///
    /// # Errors
    /// [`InvalidSetting`] for the first bad value.
    fn validate(&self) -> std::result::Result<(), InvalidSetting>;

    /// Connects to the broker these settings name (for an in-process backend: creates it).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for settings that
    /// [`validate`](Self::validate) rejects; the backend's connection errors (for example
    /// [`ErrorKind::Connection`](crate::ErrorKind::Connection) when the broker is
    /// unreachable).
    ///
    /// # Cancel safety
    /// Dropping the future before it completes leaves no connection open.
    async fn connect(&self) -> Result<Arc<dyn Broker>>;
}

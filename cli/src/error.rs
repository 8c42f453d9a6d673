//! [`CliError`]: one line for standard error, and the exit code that goes with it.

use std::fmt;

use courier_config::{ConfigError, one_line};
use courier_core::ErrorKind;

/// The exit code of a bad command line, a bad configuration, an unreachable broker or a
/// backend that cannot do what was asked.
pub const USAGE: u8 = 2;
/// The exit code of an operation that failed once under way.
pub const FAILED: u8 = 1;

/// Why a command stopped: a message on one line (never a credential) and an exit code,
/// [`USAGE`] or [`FAILED`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliError {
    code: u8,
    message: String,
    closed_output: bool,
}

impl CliError {
    /// A bad argument, configuration or environment: exit code [`USAGE`].
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(USAGE, message)
    }

    /// An operation that failed under way: exit code [`FAILED`].
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(FAILED, message)
    }

    /// The error of a broker operation, `doing` saying what was tried (`reading orders.dlq`).
    /// A bad configuration, an unreachable broker and a backend that lacks what was asked
    /// exit with [`USAGE`], like the services; anything else with [`FAILED`].
    pub fn broker(doing: &str, error: &courier_core::Error) -> Self {
        let code = match error.kind() {
            ErrorKind::Config | ErrorKind::Connection | ErrorKind::Unsupported => USAGE,
            _ => FAILED,
        };
        Self::new(code, format!("{doing}: {error}"))
    }

    /// A failure to write the output.
    pub fn output(error: &std::io::Error) -> Self {
        Self {
            closed_output: error.kind() == std::io::ErrorKind::BrokenPipe,
            ..Self::failed(format!("writing the output failed: {error}"))
        }
    }

    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: one_line(&message.into()),
            closed_output: false,
        }
    }

    /// Whether the output was closed by its reader (`courier tail ... | head`): the command
    /// stopped because nobody reads any more, which is no failure.
    pub fn is_closed_output(&self) -> bool {
        self.closed_output
    }

    /// The process exit code: [`USAGE`] or [`FAILED`].
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// The message, on one line.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<ConfigError> for CliError {
    /// A configuration error (already one line, secrets hidden): exit code [`USAGE`].
    fn from(error: ConfigError) -> Self {
        Self::new(USAGE, error.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        Self::output(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_errors_exit_by_kind_on_one_line() {
        let unreachable =
            courier_core::Error::new("rabbitmq", ErrorKind::Connection, "refused\nat once");
        let error = CliError::broker("connecting", &unreachable);
        assert_eq!(error.exit_code(), USAGE);
        assert_eq!(
            error.to_string(),
            "connecting: rabbitmq: connection failed: refused; at once"
        );
        let timeout = courier_core::Error::new("kafka", ErrorKind::Timeout, "slow");
        assert_eq!(CliError::broker("reading", &timeout).exit_code(), FAILED);
    }
}

//! The one error type of courier.

use std::fmt;

/// Boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with courier's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, broadly. Decides [`Error::is_retryable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection to the broker failed or dropped. Retryable.
    Connection,
    /// The broker did not take responsibility for a message (nack, return, timeout). Retryable.
    Send,
    /// Receiving failed. Retryable.
    Receive,
    /// The delivery was already acked or nacked.
    AlreadySettled,
    /// Acking failed, for example because the consumer holding it has closed.
    Ack,
    /// The producer or consumer is closed.
    Closed,
    /// The group's queue is full and the backend is configured to fail rather than wait.
    /// Retryable.
    Full,
    /// The payload could not be decoded.
    Decode,
    /// The payload could not be encoded.
    Encode,
    /// Invalid configuration or argument.
    Config,
    /// The backend does not support what was asked.
    Unsupported,
    /// An operation did not finish in time. Retryable.
    Timeout,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether retrying the same operation later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Connection | Self::Send | Self::Receive | Self::Full | Self::Timeout
        )
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection failed",
            Self::Send => "send failed",
            Self::Receive => "receive failed",
            Self::AlreadySettled => "delivery already settled",
            Self::Ack => "ack failed",
            Self::Closed => "closed",
            Self::Full => "queue full",
            Self::Decode => "decode failed",
            Self::Encode => "encode failed",
            Self::Config => "invalid configuration",
            Self::Unsupported => "unsupported",
            Self::Timeout => "timed out",
            Self::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from courier or one of its backends.
///
/// It names the backend that failed (`"memory"`, `"rabbitmq"`, `"kafka"`, `"zeromq"`, or
/// `"core"`) and says through [`is_retryable`](Error::is_retryable) whether trying again can
/// help. Backends must never put credentials in the message.
#[derive(Debug, thiserror::Error)]
#[error("{backend}: {kind}: {message}")]
pub struct Error {
    backend: &'static str,
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl Error {
    /// A new error of `kind` from `backend`.
    pub fn new(backend: &'static str, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            backend,
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The backend that failed.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without backend and kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying the same operation later can succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The error for a delivery that was already acked or nacked.
    pub fn already_settled(backend: &'static str) -> Self {
        Self::new(
            backend,
            ErrorKind::AlreadySettled,
            "the delivery was already acked or nacked",
        )
    }

    /// The error for an operation on a closed producer or consumer.
    pub fn closed(backend: &'static str, what: &str) -> Self {
        Self::new(backend, ErrorKind::Closed, format!("{what} is closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_backend_and_kind() {
        let e = Error::new("kafka", ErrorKind::Send, "no delivery report");
        assert_eq!(e.to_string(), "kafka: send failed: no delivery report");
        assert!(e.is_retryable());
        assert!(!Error::already_settled("memory").is_retryable());
    }
}

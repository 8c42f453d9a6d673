//! Turning lapin's errors into courier's, and telling which ones a reconnection can cure.

use courier_core::{Error, ErrorKind};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};

use crate::BACKEND;

/// A courier error of `kind` from the lapin error `source`, prefixed by `context`.
///
/// lapin's errors name no credentials, so their text is safe to show.
pub(crate) fn from_lapin(kind: ErrorKind, context: &str, source: lapin::Error) -> Error {
    Error::new(BACKEND, kind, format!("{context}: {source}")).with_source(source)
}

/// `retryable` when `error` is transient (see [`is_transient`]), else [`ErrorKind::Config`]:
/// the broker refused the request for good (an object exists with other settings, access
/// refused), which no retry cures.
pub(crate) fn kind_of(error: &lapin::Error, retryable: ErrorKind) -> ErrorKind {
    if is_transient(error) {
        retryable
    } else {
        ErrorKind::Config
    }
}

/// Whether retrying after reopening the channel (and reconnecting if need be) can succeed:
/// lost connections and closed channels can; a broker refusal the same request would meet
/// again (access refused, precondition failed, content too large) cannot.
pub(crate) fn is_transient(error: &lapin::Error) -> bool {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(e) => !matches!(
            e.kind(),
            AMQPErrorKind::Soft(
                AMQPSoftError::ACCESSREFUSED
                    | AMQPSoftError::PRECONDITIONFAILED
                    | AMQPSoftError::CONTENTTOOLARGE
            )
        ),
        _ => true,
    }
}

/// Whether the broker refused a queue declaration because the queue exists with other
/// settings (`PRECONDITION_FAILED`).
pub(crate) fn is_precondition_failed(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        lapin::ErrorKind::ProtocolError(e)
            if matches!(e.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
    )
}

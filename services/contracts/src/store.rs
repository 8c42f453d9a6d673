//! [`StoreError`]: a service's repository could not be read or written.

use courier_core::{BoxError, HandlerError};

/// A repository failure (the store is unreachable, a write failed). Transient: the runtime
/// retries the message with backoff.
#[derive(Debug, thiserror::Error)]
#[error("store failed: {0}")]
pub struct StoreError(#[source] pub BoxError);

impl StoreError {
    /// A store failure caused by `error`.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self(error.into())
    }
}

impl From<StoreError> for HandlerError {
    fn from(error: StoreError) -> Self {
        HandlerError::transient(error)
    }
}

//! [`StoreError`]: what can go wrong with a store.

use courier_core::HandlerError;

/// A store failure. Every variant names the store with its password redacted.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not one the crate can open.
    #[error("store {url}: {problem}")]
    Url {
        /// The URL, password redacted.
        url: String,
        /// What is wrong, with the valid choices.
        problem: String,
    },
    /// The database could not be reached or refused the connection.
    #[error("cannot open the store {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database holds a schema written by a newer version of the code.
    #[error(
        "store {url}: the schema of {component} is at version {found}, newer than this build's {supported}; run a newer build or restore a backup"
    )]
    SchemaNewer {
        /// The URL, password redacted.
        url: String,
        /// Whose tables (`outbox`, or a service name).
        component: String,
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// The broker did not confirm a batch of outbox rows; they are sent again later.
    #[error("relaying the outbox failed: {0}")]
    Send(String),
    /// A row held a value the code cannot read (corrupt or hand-edited data).
    #[error("store holds an unreadable row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the error is in the configuration or the schema (fix and restart) rather than
    /// a passing failure of the database.
    pub fn is_config(&self) -> bool {
        matches!(self, Self::Url { .. } | Self::SchemaNewer { .. })
    }
}

impl From<StoreError> for HandlerError {
    /// A database error is transient: the runtime retries the delivery with backoff.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Corrupt(_) => HandlerError::permanent(error),
            _ => HandlerError::transient(error),
        }
    }
}

/// A store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

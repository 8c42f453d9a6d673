//! [`Tx`]: one database transaction of a service, with the messages it sends.

use courier_core::{Message, codec, prometheus_client::metrics::counter::Counter};
use serde::Serialize;
use sqlx::{Any, AnyConnection, Transaction};

use crate::{Dialect, Store, StoreError, dialect::value_groups, error::Result};

/// Rows per multi-row insert into the outbox.
const INSERT_CHUNK: usize = 64;
const OUTBOX_COLUMNS: usize = 6;

type AfterCommit = Box<dyn FnOnce() + Send>;

/// One transaction on a [`Store`]: state changes through [`conn`](Tx::conn), messages through
/// [`send`](Tx::send), and the inbox through [`claim`](Tx::claim). Everything happens at
/// [`commit`](Tx::commit), or not at all: dropping a `Tx` rolls it back.
pub struct Tx {
    store: Store,
    tx: Transaction<'static, Any>,
    outgoing: Vec<(String, Message)>,
    after_commit: Vec<AfterCommit>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("store", &self.store)
            .field("outgoing", &self.outgoing.len())
            .finish_non_exhaustive()
    }
}

impl Tx {
    pub(crate) fn new(store: Store, tx: Transaction<'static, Any>) -> Self {
        Self {
            store,
            tx,
            outgoing: Vec::new(),
            after_commit: Vec::new(),
        }
    }

    /// The connection to run the service's own queries on, inside the transaction.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// The store this transaction runs on.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The database kind, for the rare query that differs.
    pub fn dialect(&self) -> Dialect {
        self.store.dialect()
    }

    /// `{prefix}_{name}`: a table of this store.
    pub fn table(&self, name: &str) -> String {
        self.store.table(name)
    }

    /// Enqueues `message` for `topic`: written to the outbox at commit, sent by the relay
    /// after it. Its id is fixed now, so a resend is recognisable downstream.
    ///
    /// Sent from a traced span, the message carries the context of a `create <topic>` span,
    /// its child: the consumer's span continues the trace of this state change.
    pub fn send(&mut self, topic: impl Into<String>, mut message: Message) {
        let topic = topic.into();
        courier_core::trace::inject_created(&topic, &mut message);
        self.outgoing.push((topic, message));
    }

    /// Enqueues `value` as a JSON message for `topic` (see [`send`](Tx::send)).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when `value` cannot be serialised.
    pub fn send_json<T: Serialize + ?Sized>(
        &mut self,
        topic: impl Into<String>,
        value: &T,
    ) -> Result<()> {
        let message = codec::to_json(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.send(topic, message);
        Ok(())
    }

    /// Runs `f` once the transaction has committed (never when it rolls back).
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.after_commit.push(Box::new(f));
    }

    /// Adds one to `counter` once the transaction has committed: a business counter
    /// counts what happened, never what was rolled back.
    pub fn count_after_commit(&mut self, counter: &Counter) {
        let counter = counter.clone();
        self.after_commit(move || {
            counter.inc();
        });
    }

    /// Claims `(group, message_id)` in the inbox: true the first time, false when the message
    /// was handled before by this group (the caller then changes nothing). Concurrent claims
    /// of one message wait for each other; one wins.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the transaction unusable; drop it too (it rolls back).
    pub async fn claim(&mut self, group: &str, message_id: &str) -> Result<bool> {
        let sql = format!(
            "insert into {} (grp, message_id, claimed_us) values ($1, $2, $3) on conflict do nothing",
            self.table("inbox")
        );
        let done = sqlx::query(&sql)
            .bind(group)
            .bind(message_id)
            .bind(crate::now_us())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes the enqueued messages to the outbox and commits; then wakes the relay (in this
    /// process at once, in other processes through PostgreSQL `NOTIFY`) and runs the
    /// [`after_commit`](Tx::after_commit) hooks.
    ///
    /// # Errors
    /// [`StoreError::Query`] when a write or the commit fails; nothing happened then.
    ///
    /// # Cancel safety
    /// Not cancel safe: dropped before it returns, the commit may or may not have happened.
    pub async fn commit(mut self) -> Result<()> {
        let sends = !self.outgoing.is_empty();
        if sends {
            self.write_outbox().await?;
            if self.store.dialect() == Dialect::Postgres {
                sqlx::query("select pg_notify($1, '')")
                    .bind(crate::relay::channel(self.store.prefix()))
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        self.tx.commit().await?;
        if sends {
            self.store.inner.committed.notify_one();
        }
        for hook in self.after_commit {
            hook();
        }
        Ok(())
    }

    /// Rolls back: nothing changes, nothing is sent.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails (the transaction is gone either way).
    pub async fn rollback(self) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }

    async fn write_outbox(&mut self) -> Result<()> {
        let created = crate::now_us();
        let table = self.table("outbox");
        let outgoing = std::mem::take(&mut self.outgoing);
        for chunk in outgoing.chunks(INSERT_CHUNK) {
            let sql = format!(
                "insert into {table} (id, topic, msg_key, headers, payload, created_us) values {}",
                value_groups(chunk.len(), OUTBOX_COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for (topic, message) in chunk {
                let headers = serde_json::to_string(&message.headers)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                query = query
                    .bind(message.id.to_string())
                    .bind(topic.as_str())
                    .bind(message.key.as_deref())
                    .bind(headers)
                    .bind(&message.payload[..])
                    .bind(created);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}

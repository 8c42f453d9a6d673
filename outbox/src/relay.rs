//! [`Relay`]: sends committed outbox rows through a producer, in order, and marks them sent
//! once the broker confirmed them.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use courier_core::{
    Headers, Message, Producer, SentMessages, prometheus_client::metrics::gauge::Gauge,
};
use hdrhistogram::Histogram;
use sqlx::{AnyConnection, Row};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::{Dialect, Store, StoreError, dialect::placeholders, error::Result};

/// How long one batch may wait for the broker's confirms before the round counts as failed
/// (its rows are sent again later).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL `NOTIFY` channel of the outbox of `prefix`.
pub(crate) fn channel(prefix: &str) -> String {
    format!("courier_outbox_{prefix}")
}

/// What one round did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// This many rows were sent and marked.
    Sent(usize),
    /// Nothing was waiting.
    Idle,
    /// Another relay on the same database holds the outbox; it sends.
    Busy,
}

/// Commit-to-confirm latency of the rows a relay sent, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayLatency {
    /// Rows measured.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
}

/// The `(seq, created)` of a topic's rows, and their messages.
type TopicBatch = (Vec<(i64, i64)>, Vec<Message>);

/// One outbox row on its way.
struct OutboxRow {
    seq: i64,
    topic: String,
    created_us: i64,
    message: Message,
}

/// What a [`Relay`] reports: the messages it sent (`messaging_client_sent_messages_total`)
/// and the rows waiting in its outbox (`courier_outbox_unsent`).
#[derive(Clone, Debug)]
pub struct RelayMetrics {
    /// Confirmed sends, per topic.
    pub sent: SentMessages,
    /// Unsent rows of the outbox.
    pub unsent: Gauge,
}

/// Sends the outbox of one [`Store`] through a producer.
///
/// Rows go out in batches ([`Producer::send_batch`], one per topic, topics in parallel), in
/// sequence order within a topic, so per-key order is commit order. A row is marked sent
/// only after the broker confirmed it; a relay that dies between the two sends the row again
/// (at least once, with the same message id). On PostgreSQL, relays of several instances
/// take turns through an advisory lock held for the round, so no row is sent by two relays
/// at once; on SQLite a store belongs to one process and its one relay.
pub struct Relay {
    store: Store,
    producer: Arc<dyn Producer>,
    sent: AtomicU64,
    /// Where confirmed sends are counted per topic and the backlog is shown, when the service
    /// exposes metrics.
    counted: Option<RelayMetrics>,
    latency: Mutex<Histogram<u64>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("store", &self.store)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay of `store`'s outbox through `producer`.
    pub fn new(store: Store, producer: Arc<dyn Producer>) -> Arc<Self> {
        Self::counted(store, producer, None)
    }

    /// A relay of `store`'s outbox through `producer` that, with `metrics`, counts what the
    /// broker confirmed (once per batch) and samples the outbox's backlog (at most once per
    /// `relay_poll_ms`).
    pub fn counted(
        store: Store,
        producer: Arc<dyn Producer>,
        metrics: Option<RelayMetrics>,
    ) -> Arc<Self> {
        let histogram = Histogram::new_with_bounds(1, 600_000_000, 2)
            .expect("constant histogram bounds are valid");
        Arc::new(Self {
            store,
            producer,
            sent: AtomicU64::new(0),
            counted: metrics,
            latency: Mutex::new(histogram),
        })
    }

    /// Rows this relay sent and marked so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Commit-to-confirm latency of the rows sent so far.
    pub fn latency(&self) -> RelayLatency {
        let h = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        RelayLatency {
            count: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
        }
    }

    /// Runs the relay until `shutdown` is cancelled: a round whenever a commit wakes it (in
    /// this process, or through PostgreSQL `LISTEN`), else every `relay_poll_ms`; pruning
    /// every `prune_every_s`. After the cancel it sends what is left once, then returns.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) -> JoinHandle<()> {
        let relay = self.clone();
        tokio::spawn(async move { relay.run(shutdown).await })
    }

    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let _listener = (self.store.dialect() == Dialect::Postgres).then(|| self.listen());
        let settings = self.store.settings().clone();
        let mut failures = 0u32;
        let mut next_prune = tokio::time::Instant::now() + settings.prune_every();
        let mut next_sample = tokio::time::Instant::now();
        loop {
            let drained = self.drain().await;
            if let Some(counted) = &self.counted
                && tokio::time::Instant::now() >= next_sample
            {
                next_sample = tokio::time::Instant::now() + settings.relay_poll();
                match self.store.unsent().await {
                    Ok(unsent) => {
                        counted.unsent.set(unsent);
                    }
                    Err(e) => debug!(error = %e, "counting the outbox's unsent rows failed"),
                }
            }
            let wait = match drained {
                Ok(_) => {
                    failures = 0;
                    settings.relay_poll()
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    warn!(store = %self.store.url(), error = %e, "outbox relay round failed; retrying");
                    (settings.relay_poll() / 4) * failures.min(8)
                }
            };
            if tokio::time::Instant::now() >= next_prune {
                next_prune = tokio::time::Instant::now() + settings.prune_every();
                match self.store.prune().await {
                    Ok((sent, claimed)) => debug!(sent, claimed, "pruned outbox and inbox"),
                    Err(e) => warn!(error = %e, "pruning the outbox and inbox failed"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.store.inner.committed.notified(), if failures == 0 => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        if let Err(e) = self.drain().await {
            warn!(error = %e, "the outbox relay could not send everything before stopping; the rows stay for the next start");
        }
    }

    /// Forwards PostgreSQL notifications of commits in other processes to this relay.
    fn listen(&self) -> AbortOnDrop {
        let store = self.store.clone();
        AbortOnDrop(tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&store.inner.raw_url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(&channel(store.prefix())).await {
                            warn!(error = %e, "LISTEN on the outbox channel failed; polling");
                        } else {
                            while listener.recv().await.is_ok() {
                                store.inner.committed.notify_one();
                            }
                        }
                    }
                    Err(e) => warn!(error = %e, "no LISTEN connection for the outbox; polling"),
                }
                tokio::time::sleep(store.settings().relay_poll()).await;
            }
        }))
    }

    /// Runs rounds until nothing is waiting (or another relay holds the outbox); how many
    /// rows were sent.
    ///
    /// # Errors
    /// As for [`round`](Relay::round); rows sent before the failure stay marked.
    ///
    /// # Cancel safety
    /// Dropping the future may leave rows sent but not marked: they are sent again.
    pub async fn drain(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            match self.round().await? {
                Round::Sent(n) => total += n,
                Round::Idle | Round::Busy => return Ok(total),
            }
        }
    }

    /// One round: up to `relay_batch` unsent rows, sent and marked.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails; [`StoreError::Send`] when the broker
    /// did not confirm every row (the confirmed ones of other topics are marked).
    ///
    /// # Cancel safety
    /// As for [`drain`](Relay::drain).
    pub async fn round(&self) -> Result<Round> {
        let pool = self.store.pool();
        match self.store.dialect() {
            Dialect::Postgres => {
                let mut tx = pool.begin().await?;
                let locked: bool =
                    sqlx::query("select pg_try_advisory_xact_lock(hashtext($1)::bigint) as locked")
                        .bind(channel(self.store.prefix()))
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("locked")?;
                if !locked {
                    tx.rollback().await?;
                    return Ok(Round::Busy);
                }
                let rows = self.unsent(&mut tx).await?;
                if rows.is_empty() {
                    tx.commit().await?;
                    return Ok(Round::Idle);
                }
                let (sent, failed) = self.send(rows).await;
                self.mark(&mut tx, &sent).await?;
                tx.commit().await?;
                self.finish(sent, failed)
            }
            Dialect::Sqlite => {
                let rows = self.unsent(&mut *pool.acquire().await?).await?;
                if rows.is_empty() {
                    return Ok(Round::Idle);
                }
                let (sent, failed) = self.send(rows).await;
                self.mark(&mut *pool.acquire().await?, &sent).await?;
                self.finish(sent, failed)
            }
        }
    }

    fn finish(&self, sent: Vec<(i64, i64)>, failed: Option<StoreError>) -> Result<Round> {
        let now = crate::now_us();
        {
            let mut h = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
            for (_, created) in &sent {
                let _ = h.record(u64::try_from(now - created).unwrap_or(0).max(1));
            }
        }
        self.sent.fetch_add(sent.len() as u64, Ordering::Relaxed);
        match failed {
            Some(e) => Err(e),
            None => Ok(Round::Sent(sent.len())),
        }
    }

    async fn unsent(&self, conn: &mut AnyConnection) -> Result<Vec<OutboxRow>> {
        let sql = format!(
            "select seq, id, topic, msg_key, headers, payload, created_us from {} \
             where sent_us is null order by seq limit $1",
            self.store.table("outbox")
        );
        let limit = i64::try_from(self.store.settings().relay_batch).unwrap_or(256);
        let rows = sqlx::query(&sql).bind(limit).fetch_all(conn).await?;
        rows.into_iter()
            .map(|row| {
                let headers: String = row.try_get("headers")?;
                let headers: Headers = serde_json::from_str(&headers)
                    .map_err(|e| StoreError::Corrupt(format!("outbox headers: {e}")))?;
                let payload: Vec<u8> = row.try_get("payload")?;
                Ok(OutboxRow {
                    seq: row.try_get("seq")?,
                    topic: row.try_get("topic")?,
                    created_us: row.try_get("created_us")?,
                    message: Message {
                        id: row.try_get::<String, _>("id")?.into(),
                        key: row.try_get("msg_key")?,
                        headers,
                        payload: Bytes::from(payload),
                    },
                })
            })
            .collect()
    }

    /// Sends `rows`, one batch per topic, topics in parallel. Returns the `(seq, created)` of
    /// the rows confirmed and the first failure.
    async fn send(&self, rows: Vec<OutboxRow>) -> (Vec<(i64, i64)>, Option<StoreError>) {
        let mut by_topic: BTreeMap<String, TopicBatch> = BTreeMap::new();
        for row in rows {
            let entry = by_topic.entry(row.topic).or_default();
            entry.0.push((row.seq, row.created_us));
            entry.1.push(row.message);
        }
        let sends = by_topic
            .into_iter()
            .map(|(topic, (seqs, messages))| async move {
                let sent =
                    tokio::time::timeout(SEND_TIMEOUT, self.producer.send_batch(&topic, messages))
                        .await;
                match sent {
                    Ok(Ok(())) => {
                        if let Some(counted) = &self.counted {
                            counted.sent.add(&topic, seqs.len() as u64);
                        }
                        Ok(seqs)
                    }
                    Ok(Err(e)) => Err(StoreError::Send(format!("to {topic}: {e}"))),
                    Err(_) => Err(StoreError::Send(format!(
                        "to {topic}: not confirmed within {SEND_TIMEOUT:?}"
                    ))),
                }
            });
        let mut confirmed = Vec::new();
        let mut failed = None;
        for result in futures::future::join_all(sends).await {
            match result {
                Ok(seqs) => confirmed.extend(seqs),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        (confirmed, failed)
    }

    async fn mark(&self, conn: &mut AnyConnection, sent: &[(i64, i64)]) -> Result<()> {
        let now = crate::now_us();
        let table = self.store.table("outbox");
        for chunk in sent.chunks(1_000) {
            let sql = format!(
                "update {table} set sent_us = $1 where seq in ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(now);
            for (seq, _) in chunk {
                query = query.bind(*seq);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

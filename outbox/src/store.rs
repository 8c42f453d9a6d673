//! [`Store`]: a service's database, with its outbox and inbox.

use courier_core::InvalidSetting;
use std::{
    sync::{Arc, Once},
    time::Duration,
};

use courier_core::redact_url;
use sqlx::{
    AnyPool, Executor, Row,
    any::{AnyConnectOptions, AnyPoolOptions},
};
use tokio::sync::Notify;

use crate::{Dialect, Migration, StoreError, StoreSettings, Tx, error::Result, schema};

/// A service's database: its own tables, its outbox and its inbox, every name prefixed with
/// the service's name so that several services can share one PostgreSQL database.
///
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    pub(crate) prefix: String,
    pub(crate) url: String,
    /// The URL with its secrets, kept for the relay's PostgreSQL listener.
    pub(crate) raw_url: String,
    pub(crate) settings: StoreSettings,
    /// Woken by every commit that enqueued a message.
    pub(crate) committed: Notify,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.inner.url)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// The dialect of `url`, or an error naming the valid schemes.
///
/// # Errors
/// [`StoreError::Url`] for any other scheme.
pub fn dialect_of(url: &str) -> Result<Dialect> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Dialect::Sqlite),
        "postgres" | "postgresql" => Ok(Dialect::Postgres),
        _ => Err(StoreError::Url {
            url: redact_url(url),
            problem: format!(
                "unknown scheme {scheme:?}; valid: sqlite://PATH, sqlite::memory:, postgres://HOST:PORT/DB (user and password before the host)"
            ),
        }),
    }
}

impl Store {
    /// Opens the database at `url` for the service whose tables start with `prefix`, and
    /// applies the outbox's migrations and `migrations` (the service's own, component
    /// `prefix`).
    ///
    /// `{service}` in `url` is replaced by `prefix`. URLs: `sqlite://PATH` (the file and its
    /// folder are created when missing; WAL),
    /// `sqlite::memory:` (gone with the process), `postgres://USER[:PASSWORD]@HOST:PORT/DB`
    /// (`sslmode` and the other libpq parameters pass through).
    ///
    /// # Errors
    /// [`StoreError::Url`] for a bad URL or prefix, [`StoreError::Connect`] when the database
    /// cannot be reached, [`StoreError::SchemaNewer`] when it holds a newer schema, and
    /// [`StoreError::Query`] when a migration fails.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the schema as the last committed migration left it.
    pub async fn open(
        url: &str,
        prefix: &str,
        migrations: &[Migration],
        settings: StoreSettings,
    ) -> Result<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let url = &url.replace("{service}", prefix);
        let redacted = redact_url(url);
        let bad = |problem: String| StoreError::Url {
            url: redacted.clone(),
            problem,
        };
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(bad(format!(
                "the table prefix {prefix:?} must be lowercase letters, digits and _"
            )));
        }
        let mut checked = settings.clone();
        checked.url = url.to_owned();
        if let Err(InvalidSetting { key, problem }) = checked.validate() {
            return Err(bad(format!("store.{key} {problem}")));
        }
        let dialect = dialect_of(url)?;
        let connect_url = match dialect {
            Dialect::Sqlite => sqlite_url(url).map_err(bad)?,
            Dialect::Postgres => url.to_owned(),
        };
        let options: AnyConnectOptions = connect_url
            .parse()
            .map_err(|e| bad(format!("not a valid URL: {e}")))?;
        let pool_options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_millis(settings.connect_timeout_ms));
        let pool_options = match dialect {
            // One connection: SQLite has one writer, and an in-memory database lives as long
            // as its connection.
            Dialect::Sqlite => pool_options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        for pragma in [
                            "pragma journal_mode = wal",
                            "pragma synchronous = normal",
                            "pragma busy_timeout = 5000",
                        ] {
                            conn.execute(pragma).await?;
                        }
                        Ok(())
                    })
                }),
            Dialect::Postgres => pool_options.max_connections(settings.max_connections),
        };
        let pool =
            pool_options
                .connect_with(options)
                .await
                .map_err(|source| StoreError::Connect {
                    url: redacted.clone(),
                    source,
                })?;
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                dialect,
                prefix: prefix.to_owned(),
                url: redacted,
                raw_url: url.to_owned(),
                settings,
                committed: Notify::new(),
            }),
        };
        store
            .migrate(&[("outbox", schema::OUTBOX), (prefix, migrations)])
            .await?;
        Ok(store)
    }

    async fn migrate(&self, components: &[(&str, &[Migration])]) -> Result<()> {
        let mut tx = self.inner.pool.begin().await?;
        if self.inner.dialect == Dialect::Postgres {
            // Instances starting together migrate one after the other.
            sqlx::query("select pg_advisory_xact_lock(hashtext($1)::bigint)")
                .bind(format!("courier-schema:{}", self.inner.prefix))
                .execute(&mut *tx)
                .await?;
        }
        schema::migrate(
            &mut tx,
            self.inner.dialect,
            &self.inner.prefix,
            &self.inner.url,
            components,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The database kind.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// The URL, password redacted.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The table prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The settings.
    pub fn settings(&self) -> &StoreSettings {
        &self.inner.settings
    }

    /// The connection pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// `{prefix}_{name}`: a table of this store.
    pub fn table(&self, name: &str) -> String {
        format!("{}_{name}", self.inner.prefix)
    }

    /// Starts a transaction; what it enqueues is sent once it commits.
    ///
    /// # Errors
    /// [`StoreError::Query`] when no connection can be had.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing has happened until it returns.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx::new(self.clone(), self.inner.pool.begin().await?))
    }

    /// Rows of the outbox not yet sent.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn unsent(&self) -> Result<i64> {
        self.count("outbox", "sent_us is null").await
    }

    /// Rows of the outbox, sent or not.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn outbox_rows(&self) -> Result<i64> {
        self.count("outbox", "1 = 1").await
    }

    /// Entries of the inbox.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn inbox_rows(&self) -> Result<i64> {
        self.count("inbox", "1 = 1").await
    }

    async fn count(&self, table: &str, filter: &str) -> Result<i64> {
        let sql = format!(
            "select count(*) as n from {} where {filter}",
            self.table(table)
        );
        Ok(sqlx::query(&sql)
            .fetch_one(&self.inner.pool)
            .await?
            .try_get("n")?)
    }

    /// Deletes sent outbox rows older than the outbox retention and inbox entries older than
    /// the inbox retention; returns how many of each.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database fails.
    pub async fn prune(&self) -> Result<(u64, u64)> {
        let now = crate::now_us();
        let s = &self.inner.settings;
        let outbox_cutoff = now - secs_us(s.outbox_retention_s);
        let inbox_cutoff = now - secs_us(s.inbox_retention_s);
        let sent = sqlx::query(&format!(
            "delete from {} where sent_us is not null and sent_us <= $1",
            self.table("outbox")
        ))
        .bind(outbox_cutoff)
        .execute(&self.inner.pool)
        .await?
        .rows_affected();
        let claimed = sqlx::query(&format!(
            "delete from {} where claimed_us <= $1",
            self.table("inbox")
        ))
        .bind(inbox_cutoff)
        .execute(&self.inner.pool)
        .await?
        .rows_affected();
        Ok((sent, claimed))
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }
}

fn secs_us(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1_000_000)).unwrap_or(i64::MAX)
}

/// The connect URL of a SQLite store: the folder of the file is created, and a missing
/// `mode` becomes `rwc` (create the file on first start).
fn sqlite_url(url: &str) -> std::result::Result<String, String> {
    let rest = url.trim_start_matches("sqlite:");
    if rest == ":memory:" || rest.starts_with(":memory:?") {
        return Ok(url.to_owned());
    }
    let path_part = rest.trim_start_matches("//");
    let (path, query) = path_part.split_once('?').unwrap_or((path_part, ""));
    if path.is_empty() {
        return Err("no file path; write sqlite://PATH or sqlite::memory:".into());
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create the folder {}: {e}", parent.display()))?;
        }
    }
    let query = if query.split('&').any(|p| p.starts_with("mode=")) {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("sub/order.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(
            sqlite_url(&url).expect("ok"),
            format!("sqlite://{}?mode=rwc", file.display())
        );
        assert!(file.parent().expect("parent").is_dir());
        assert_eq!(
            sqlite_url("sqlite::memory:").expect("ok"),
            "sqlite::memory:"
        );
        assert!(sqlite_url("sqlite://").is_err());
    }

    #[test]
    fn unknown_schemes_name_the_choices_and_hide_passwords() {
        let e = dialect_of("mysql://u:s3cr/et@h/db").expect_err("refused");
        let text = e.to_string();
        assert!(
            text.contains("sqlite://PATH") && text.contains("postgres://"),
            "{text}"
        );
        assert!(!text.contains("s3cr"), "{text}");
    }
}

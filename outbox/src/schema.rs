//! Embedded migrations: each component (the outbox, each service) numbers its own, and a
//! store applies the missing ones at start-up, in one transaction, idempotently.

use sqlx::{AnyConnection, Executor, Row};

use crate::{Dialect, StoreError, error::Result};

/// One schema change: SQL per dialect, statements separated by `;`. `{prefix}`,
/// `{serial_key}` and `{bytes}` are filled in (see [`Dialect::render`]).
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Its number within its component, from 1, in order.
    pub version: i64,
    /// What it does, for people.
    pub description: &'static str,
    /// The SQL on SQLite.
    pub sqlite: &'static str,
    /// The SQL on PostgreSQL.
    pub postgres: &'static str,
}

impl Migration {
    /// A migration whose SQL is the same on both databases.
    pub const fn portable(version: i64, description: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            description,
            sqlite: sql,
            postgres: sql,
        }
    }

    fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// The outbox's and inbox's own tables.
pub(crate) const OUTBOX: &[Migration] = &[Migration::portable(
    1,
    "outbox and inbox",
    "create table if not exists {prefix}_outbox (
            seq {serial_key},
            id text not null,
            topic text not null,
            msg_key text,
            headers text not null,
            payload {bytes} not null,
            created_us bigint not null,
            sent_us bigint
        );
        create index if not exists {prefix}_outbox_unsent on {prefix}_outbox (sent_us, seq);
        create table if not exists {prefix}_inbox (
            grp text not null,
            message_id text not null,
            claimed_us bigint not null,
            primary key (grp, message_id)
        );
        create index if not exists {prefix}_inbox_claimed on {prefix}_inbox (claimed_us)",
)];

/// Applies every migration of `components` not yet applied, after checking that none is
/// newer than this build.
pub(crate) async fn migrate(
    conn: &mut AnyConnection,
    dialect: Dialect,
    prefix: &str,
    url: &str,
    components: &[(&str, &[Migration])],
) -> Result<()> {
    let table = format!("{prefix}_schema");
    conn.execute(
        format!(
            "create table if not exists {table} (component text not null, version bigint not null, \
             description text not null, applied_us bigint not null, primary key (component, version))"
        )
        .as_str(),
    )
    .await?;
    for (component, migrations) in components {
        let current: i64 = sqlx::query(&format!(
            "select coalesce(max(version), 0) as v from {table} where component = $1"
        ))
        .bind(*component)
        .fetch_one(&mut *conn)
        .await?
        .try_get("v")?;
        let supported = migrations.iter().map(|m| m.version).max().unwrap_or(0);
        if current > supported {
            return Err(StoreError::SchemaNewer {
                url: url.to_owned(),
                component: (*component).to_owned(),
                found: current,
                supported,
            });
        }
        for migration in migrations.iter().filter(|m| m.version > current) {
            let sql = dialect.render(migration.sql(dialect), prefix);
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                conn.execute(statement).await?;
            }
            sqlx::query(&format!(
                "insert into {table} (component, version, description, applied_us) values ($1, $2, $3, $4)"
            ))
            .bind(*component)
            .bind(migration.version)
            .bind(migration.description)
            .bind(crate::now_us())
            .execute(&mut *conn)
            .await?;
            tracing::info!(component, version = migration.version, "schema migrated");
        }
    }
    Ok(())
}

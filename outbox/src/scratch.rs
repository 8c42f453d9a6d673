//! [`ScratchDatabase`]: a fresh PostgreSQL database for a test, dropped afterwards.

use sqlx::{Connection, Executor, PgConnection};

use crate::{StoreError, error::Result};

/// The server tests use unless `COURIER_TEST_POSTGRES` names another (a URL without the
/// database name).
pub const DEFAULT_TEST_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A PostgreSQL database made for one test under a fresh name and dropped (with its
/// connections) when this value is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    server: String,
    name: String,
}

impl ScratchDatabase {
    /// Creates `courier_test_<random>` on the test server.
    ///
    /// # Errors
    /// [`StoreError::Connect`] when the server cannot be reached.
    pub async fn create() -> Result<Self> {
        let server = std::env::var("COURIER_TEST_POSTGRES")
            .unwrap_or_else(|_| DEFAULT_TEST_SERVER.to_owned());
        let name = format!("courier_test_{:016x}", rand_u64());
        let mut conn = admin(&server).await?;
        conn.execute(format!("create database {name}").as_str())
            .await?;
        Ok(Self { server, name })
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs outside any runtime's reach: a thread of its own with a small runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = admin(&server).await.ok()?;
                conn.execute(format!("drop database if exists {name} with (force)").as_str())
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            tracing::warn!(database = %self.name, "could not drop a scratch database");
        }
    }
}

async fn admin(server: &str) -> Result<PgConnection> {
    let url = format!("{server}/postgres");
    PgConnection::connect(&url)
        .await
        .map_err(|source| StoreError::Connect {
            url: courier_core::redact_url(&url),
            source,
        })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

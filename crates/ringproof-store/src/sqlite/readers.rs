//! The reader connections of a SQLite store: a small pool of `query_only` connections for
//! plain reads, which WAL lets run beside the writer on a consistent snapshot.
//!
//! Not sqlx's pool, for the same reason the writer is not one: for SQLite every statement
//! is a hop to the connection's worker thread and back, and sqlx's pool adds a hop of its
//! own to every read — it pings each connection as it is returned, from a spawned task. A
//! local file connection does not go stale, and cancellation needs no ping either: a read
//! cut off mid-way has its statement reset by the driver (which also ends the implicit
//! read transaction) before the connection runs anything else. So a connection goes back
//! to the idle list as is; one whose worker thread died is dropped, and a fresh one is
//! opened in its place on the next checkout.

use std::sync::Mutex;
use std::time::Duration;

use ringproof_core::StoreError;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::map;

pub(super) struct Readers {
    options: SqliteConnectOptions,
    /// Connections not checked out. At most as many as the semaphore has permits; fewer
    /// while some are lent out or were never opened (or were dropped after a crash).
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection that may exist; closed when the store shuts down.
    permits: Semaphore,
    acquire_timeout: Duration,
}

impl Readers {
    /// Opens one connection now (so a bad path fails at start); the rest on demand.
    pub(super) async fn connect(
        options: SqliteConnectOptions,
        max: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let first = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| map("open sqlite database", e))?;
        Ok(Self {
            options,
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(max.max(1) as usize),
            acquire_timeout,
        })
    }

    /// Waits (bounded by the acquire timeout) for a reader connection.
    pub(super) async fn acquire(&self) -> Result<ReaderGuard<'_>, StoreError> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| StoreError::Unavailable("timed out waiting for a database reader".into()))?
            .map_err(|_| StoreError::Unavailable("the store is shut down".into()))?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(c) => c,
            None => SqliteConnection::connect_with(&self.options)
                .await
                .map_err(|e| map("open sqlite database", e))?,
        };
        Ok(ReaderGuard {
            readers: self,
            conn: Some(conn),
            crashed: false,
            _permit: permit,
        })
    }

    /// Refuses new checkouts and closes the idle connections; connections still lent out
    /// are dropped when returned.
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle = self
            .idle
            .lock()
            .map(|mut idle| std::mem::take(&mut *idle))
            .unwrap_or_default();
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

/// One reader connection, returned to the pool on drop.
pub(super) struct ReaderGuard<'a> {
    readers: &'a Readers,
    conn: Option<SqliteConnection>,
    crashed: bool,
    _permit: SemaphorePermit<'a>,
}

impl super::Checkout for ReaderGuard<'_> {
    fn parts(&mut self) -> Result<(&mut SqliteConnection, &mut bool), StoreError> {
        // Only `Drop` takes the connection out, so this is always `Some`.
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("the reader connection is gone".into()))?;
        Ok((conn, &mut self.crashed))
    }
}

impl Drop for ReaderGuard<'_> {
    fn drop(&mut self) {
        if self.crashed || self.readers.permits.is_closed() {
            return;
        }
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.readers.idle.lock()) {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use futures_util::StreamExt as _;

    use crate::sqlite::Checkout as _;

    use super::*;

    #[tokio::test]
    async fn a_read_cut_off_mid_way_leaves_no_stale_snapshot_behind() {
        // The database, its -wal and its -shm go with the directory, even if the test fails.
        let dir = tempfile::Builder::new().prefix("ringproof-readers-").tempdir().unwrap();
        let path = dir.path().join("readers.db");
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut writer = SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (x INTEGER PRIMARY KEY); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO t SELECT i FROM n;")
            .execute(&mut writer)
            .await
            .unwrap();
        let readers = Readers::connect(opts.clone().pragma("query_only", "ON"), 1, Duration::from_secs(5))
            .await
            .unwrap();

        // A caller reads one row of many and gives up, leaving the statement unfinished.
        {
            let mut r = readers.acquire().await.unwrap();
            let mut rows = sqlx::query("SELECT x FROM t ORDER BY x").fetch(r.parts().unwrap().0);
            assert!(rows.next().await.is_some());
        }
        sqlx::query("INSERT INTO t (x) VALUES (1000)")
            .execute(&mut writer)
            .await
            .unwrap();
        // The same (only) connection, reused without a ping, sees the new row.
        let mut r = readers.acquire().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(r.parts().unwrap().0)
            .await
            .unwrap();
        assert_eq!(n, 501);
        drop(r);
        readers.close().await;
        assert!(matches!(readers.acquire().await, Err(StoreError::Unavailable(_))));
        writer.close().await.unwrap();
    }
}

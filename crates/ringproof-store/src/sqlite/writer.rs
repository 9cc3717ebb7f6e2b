//! The single writer connection of a SQLite store, and the batches of statements it runs.
//!
//! Every write goes through one connection behind a fair (FIFO) async mutex: exactly a
//! one-connection pool, without the pool's per-checkout costs. (sqlx's pool pings a
//! connection when it is checked out and again when it is returned, from a spawned task.)
//! For SQLite each statement sent is a hop to the connection's worker thread and back, and
//! with one writer that latency *is* the write throughput. So a transaction is sent as few
//! multi-statement [`Batch`]es as possible — `BEGIN IMMEDIATE; …; COMMIT;` in one go when
//! nothing must be read first — which sqlx runs one statement after another on the worker
//! thread, binding each statement's `?` placeholders in turn from one argument list.
//!
//! Transactions begun by a batch are invisible to sqlx's own transaction tracking, so the
//! writer tracks them itself: a transaction that a failed batch or a cancelled caller left
//! open is rolled back before anyone else uses the connection.

use std::time::Duration;

use ringproof_core::StoreError;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteRow};
use sqlx::{Arguments, AssertSqlSafe, Connection, Encode, Sqlite, SqliteConnection, Type};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::map;

/// The statement that opens every write transaction. IMMEDIATE takes the write lock up
/// front, so a transaction never has to upgrade a read lock mid-way (which fails at once
/// with `SQLITE_BUSY` instead of waiting) should another process write to the file.
const BEGIN: &str = "BEGIN IMMEDIATE;";

struct State {
    /// `None` once the store is closed.
    conn: Option<SqliteConnection>,
    /// A batch began a transaction that no batch has ended yet.
    open_tx: bool,
    /// The connection's worker thread died; replace the connection before using it.
    crashed: bool,
}

pub(super) struct Writer {
    options: SqliteConnectOptions,
    state: Mutex<State>,
    acquire_timeout: Duration,
}

impl Writer {
    pub(super) async fn connect(options: SqliteConnectOptions, acquire_timeout: Duration) -> Result<Self, StoreError> {
        let conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| map("open sqlite database", e))?;
        let state = State {
            conn: Some(conn),
            open_tx: false,
            crashed: false,
        };
        Ok(Self {
            options,
            state: Mutex::new(state),
            acquire_timeout,
        })
    }

    /// Waits (in arrival order, bounded by the acquire timeout) for the writer connection,
    /// and makes sure no transaction is left open on it.
    pub(super) async fn lock(&self) -> Result<WriterGuard<'_>, StoreError> {
        let mut state = tokio::time::timeout(self.acquire_timeout, self.state.lock())
            .await
            .map_err(|_| StoreError::Unavailable("timed out waiting for the database writer".into()))?;
        if state.conn.is_none() {
            return Err(StoreError::Unavailable("the store is shut down".into()));
        }
        if state.crashed {
            tracing::warn!("sqlite writer connection crashed; reconnecting");
            let conn = SqliteConnection::connect_with(&self.options)
                .await
                .map_err(|e| map("reopen sqlite database", e))?;
            *state = State {
                conn: Some(conn),
                open_tx: false,
                crashed: false,
            };
        }
        let mut guard = WriterGuard { state };
        if guard.state.open_tx {
            tracing::debug!("rolling back a transaction left open by a cancelled or failed operation");
            guard.rollback().await?;
        }
        Ok(guard)
    }

    pub(super) async fn close(&self) {
        if let Some(conn) = self.state.lock().await.conn.take() {
            let _ = conn.close().await;
        }
    }
}

/// What a batch's caller wants of the rows its statements yield.
#[derive(Clone, Copy)]
enum Fetch {
    None,
    First,
    All,
}

/// Exclusive use of the writer connection.
pub(super) struct WriterGuard<'a> {
    state: MutexGuard<'a, State>,
}

impl WriterGuard<'_> {
    /// The raw connection, for sqlx-managed work (migrations) and single statements that
    /// are transactions of their own.
    pub(super) fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.state
            .conn
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("the store is shut down".into()))
    }

    /// Runs a batch, keeping track of the transaction it opens or closes. On failure an
    /// open transaction is rolled back at once, so nothing of a failed batch is kept.
    pub(super) async fn execute_batch(&mut self, op: &'static str, b: Batch) -> Result<(), StoreError> {
        self.run(op, b, Fetch::None).await.map(|_| ())
    }

    /// Like [`Self::execute_batch`], returning the first row any statement of the batch yields.
    pub(super) async fn fetch_batch(&mut self, op: &'static str, b: Batch) -> Result<Option<SqliteRow>, StoreError> {
        Ok(self.run(op, b, Fetch::First).await?.into_iter().next())
    }

    /// Like [`Self::execute_batch`], returning every row of every statement of the batch,
    /// in order.
    pub(super) async fn fetch_all_batch(&mut self, op: &'static str, b: Batch) -> Result<Vec<SqliteRow>, StoreError> {
        self.run(op, b, Fetch::All).await
    }

    async fn run(&mut self, op: &'static str, b: Batch, fetch: Fetch) -> Result<Vec<SqliteRow>, StoreError> {
        if let Some(e) = b.unencodable {
            // Nothing of this batch is sent, and nothing of a transaction an earlier batch
            // began is kept.
            if self.state.open_tx {
                self.rollback().await?;
            }
            return Err(StoreError::Corrupt(format!("a value cannot be encoded: {e}")));
        }
        if b.sql.is_empty() {
            return Ok(Vec::new());
        }
        // Set before sending: if the caller is cancelled mid-way, the next user of the
        // connection still knows to roll back.
        if b.begins {
            self.state.open_tx = true;
        }
        let query = sqlx::query_with(AssertSqlSafe(b.sql), b.args);
        let conn = self.conn()?;
        let result = match fetch {
            Fetch::None => query.execute(conn).await.map(|_| Vec::new()),
            Fetch::First => query.fetch_optional(conn).await.map(|r| r.into_iter().collect()),
            Fetch::All => query.fetch_all(conn).await,
        };
        match result {
            Ok(row) => {
                if b.ends {
                    self.state.open_tx = false;
                }
                Ok(row)
            }
            Err(e) => {
                let err = super::noticed(&mut self.state.crashed, op, e);
                if self.state.open_tx {
                    self.rollback().await?;
                }
                Err(err)
            }
        }
    }

    /// Ends the open transaction, if any, discarding its changes.
    pub(super) async fn rollback(&mut self) -> Result<(), StoreError> {
        // SQLite may already have ended the transaction (some errors roll back
        // automatically), in which case ROLLBACK fails harmlessly.
        let res = sqlx::raw_sql("ROLLBACK").execute(self.conn()?).await;
        if let Err(sqlx::Error::WorkerCrashed) = res {
            self.state.crashed = true;
            return Err(StoreError::Unavailable(
                "rollback: the database connection was lost".into(),
            ));
        }
        self.state.open_tx = false;
        Ok(())
    }
}

impl super::Checkout for WriterGuard<'_> {
    fn parts(&mut self) -> Result<(&mut SqliteConnection, &mut bool), StoreError> {
        let state = &mut *self.state;
        let conn = state
            .conn
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("the store is shut down".into()))?;
        Ok((conn, &mut state.crashed))
    }
}

/// Statements run in one round trip. Built only from `'static` SQL fragments with `?`
/// placeholders; every value is bound. Placeholders are positional across the whole batch.
pub(super) struct Batch {
    sql: String,
    args: SqliteArguments,
    begins: bool,
    ends: bool,
    /// The first value that could not be bound, reported when the batch is run (as sqlx
    /// does for a query), so binds chain like a query's.
    unencodable: Option<String>,
}

impl Batch {
    /// An empty batch, for statements that are atomic on their own or that continue a
    /// transaction an earlier batch began.
    pub(super) fn new() -> Self {
        Self {
            sql: String::with_capacity(1024),
            args: SqliteArguments::default(),
            begins: false,
            ends: false,
            unencodable: None,
        }
    }

    /// A batch that opens a write transaction.
    pub(super) fn begin() -> Self {
        let mut b = Self::new();
        b.sql(BEGIN);
        b.begins = true;
        b
    }

    /// Appends one complete statement (ending with `;`).
    pub(super) fn sql(&mut self, statement: &'static str) -> &mut Self {
        self.sql.push_str(statement);
        self.sql.push('\n');
        self
    }

    /// Binds the next `?` placeholder.
    pub(super) fn bind<'t, T: Encode<'t, Sqlite> + Type<Sqlite>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value) {
            self.unencodable.get_or_insert(e.to_string());
        }
        self
    }

    /// Ends the batch with COMMIT: its transaction is done when the batch succeeds.
    pub(super) fn commit(mut self) -> Self {
        self.sql("COMMIT;");
        self.ends = true;
        self
    }

    /// Ends the batch with ROLLBACK.
    pub(super) fn rollback(mut self) -> Self {
        self.sql("ROLLBACK;");
        self.ends = true;
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A writer on a fresh database in a temporary directory, which takes the database and
    /// its side files with it when the test ends (even if it failed).
    async fn writer() -> (Writer, tempfile::TempDir) {
        let dir = tempfile::Builder::new().prefix("ringproof-writer-").tempdir().unwrap();
        let path = dir.path().join("writer.db");
        let opts = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        let w = Writer::connect(opts, Duration::from_secs(5)).await.unwrap();
        let mut g = w.lock().await.unwrap();
        let mut b = Batch::new();
        b.sql("CREATE TABLE t (x INTEGER PRIMARY KEY);");
        g.execute_batch("create", b).await.unwrap();
        drop(g);
        (w, dir)
    }

    async fn count(w: &Writer) -> i64 {
        let mut g = w.lock().await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(g.conn().unwrap())
            .await
            .unwrap()
    }

    fn insert(x: i64) -> Batch {
        let mut b = Batch::begin();
        b.sql("INSERT INTO t (x) VALUES (?);").bind(x);
        b
    }

    #[tokio::test]
    async fn a_transaction_abandoned_mid_way_is_rolled_back_before_the_next_use() {
        let (w, _dir) = writer().await;
        // Begun and never committed, as when the caller is cancelled between batches.
        let mut g = w.lock().await.unwrap();
        g.execute_batch("insert", insert(1)).await.unwrap();
        drop(g);
        // The next user can begin its own transaction, and the abandoned row is gone.
        let mut g = w.lock().await.unwrap();
        g.execute_batch("insert", insert(2).commit()).await.unwrap();
        drop(g);
        assert_eq!(count(&w).await, 1);
        w.close().await;
    }

    #[tokio::test]
    async fn a_failed_batch_keeps_nothing_and_leaves_no_transaction_open() {
        let (w, _dir) = writer().await;
        let mut g = w.lock().await.unwrap();
        g.execute_batch("insert", insert(1).commit()).await.unwrap();
        // The second insert fails (duplicate key) after the first of the batch succeeded.
        let mut b = insert(5);
        b.sql("INSERT INTO t (x) VALUES (?);").bind(1);
        let err = g.execute_batch("insert", b.commit()).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(!g.state.open_tx);
        g.execute_batch("insert", insert(2).commit()).await.unwrap();
        drop(g);
        assert_eq!(count(&w).await, 2, "row 5 was rolled back with its batch");
        w.close().await;
        assert!(matches!(w.lock().await, Err(StoreError::Unavailable(_))));
    }

    /// A value whose encoding fails.
    struct Unencodable;

    impl Type<Sqlite> for Unencodable {
        fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
            <i64 as Type<Sqlite>>::type_info()
        }
    }

    impl Encode<'_, Sqlite> for Unencodable {
        fn encode_by_ref(
            &self,
            _: &mut <Sqlite as sqlx::Database>::ArgumentBuffer,
        ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
            Err("cannot encode".into())
        }
    }

    #[tokio::test]
    async fn a_value_that_cannot_be_bound_fails_its_batch_and_ends_the_transaction() {
        let (w, _dir) = writer().await;
        let mut g = w.lock().await.unwrap();
        // A transaction begun by an earlier batch, then a batch with a bad value: binds
        // chain like a query's, and the failure is reported when the batch is run.
        g.execute_batch("insert", insert(1)).await.unwrap();
        let mut b = Batch::new();
        b.sql("INSERT INTO t (x) VALUES (?);").bind(Unencodable).bind(2);
        let err = g.execute_batch("insert", b.commit()).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("cannot be encoded")),
            "{err:?}"
        );
        assert!(!g.state.open_tx);
        drop(g);
        assert_eq!(count(&w).await, 0, "row 1 was rolled back with its transaction");
        w.close().await;
    }
}

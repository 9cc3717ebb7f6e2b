//! The SQLite backend: one database file, for a single server node.
//!
//! All writes go through one *writer* connection (see `writer.rs`): SQLite allows one
//! writer at a time anyway, and queueing writers in order in async code is far cheaper than
//! letting several connections collide on the file lock and spin on `SQLITE_BUSY`. It also
//! serialises every read-modify-write (`update_verification`, `claim_jobs`,
//! `begin_login_attempt`) by construction. A *reader* pool of several `query_only` connections (see `readers.rs`)
//! serves plain reads, which WAL lets run alongside the writer on a consistent snapshot.
//!
//! Pragmas: WAL with `synchronous=NORMAL` (a commit is durable once the WAL is synced at
//! checkpoint; a power cut can lose the last commits but never corrupts), foreign keys,
//! a 5 s busy timeout for the rare outside writer, and `secure_delete` so erased code
//! hashes, sealed codes and job payloads are overwritten instead of lingering in free pages.

mod readers;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ringproof_core::StoreError;
use ringproof_core::delivery::DeliveryRecord;
use ringproof_core::engine::IDEMPOTENCY_WINDOW_S;
use ringproof_core::ids::{ClientId, JobId, VerificationId};
use ringproof_core::job::{Job, JobKind, NewJob};
use ringproof_core::link_session::LinkRecord;
use ringproof_core::ports::{
    CountedMutation, CounterKey, CounterRow, CounterStep, IdempotentResponse, LinkMutation, Mutation, ThrottleStep,
};
use ringproof_core::sessions::LoginFailures;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Effects, NewEvent, Verification};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqliteRow, SqliteSynchronous};
use sqlx::{Connection, Sqlite, SqliteConnection};

use self::readers::{ReaderGuard, Readers};
use self::writer::{Batch, Writer, WriterGuard};
use crate::codec::{self, VerificationCols, verification_columns};
use crate::error::{db, map};
use crate::link_sessions::link_columns;
use crate::migrate;
use crate::query::{
    Backend, Conn, bind_link, bind_verification_fields, check_superseded, counted_transition, dialect,
    rows_in_key_order, select, transition,
};

/// Readers are cheap (a thread and a page cache each); a few cover concurrent API reads
/// on a small machine without starving the writer of CPU.
const READERS: u32 = 4;
/// How long an operation may wait for a connection before the store reports itself
/// unavailable, rather than letting requests pile up without bound.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Migrations use sqlx's own transactions; `writer.rs` says why IMMEDIATE.
const MIGRATION_BEGIN: &str = "BEGIN IMMEDIATE";

// The statements of the writer's multi-statement batches (see `writer.rs`), which are
// SQLite's alone: sending a whole transaction in one round trip to the connection's
// thread is what the single writer's throughput is made of (PostgreSQL gets the same
// from one statement with data-modifying CTEs and arrays). Their `?` placeholders are
// positional across the whole batch.

const SELECT_VERIFICATION_TO_UPDATE: &str =
    select!(verification_columns, "verifications WHERE id = ? AND client_id = ?;");

const INSERT_VERIFICATION: &str = concat!(
    "INSERT INTO verifications (",
    verification_columns!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);"
);
const UPDATE_VERIFICATION: &str = "UPDATE verifications SET to_e164 = ?, status = ?, workflow = ?, locale = ?, \
    brand = ?, code_length = ?, code_hash = ?, code_expires_at = ?, sealed_code = ?, next_step = ?, sends = ?, \
    resends = ?, last_sent_at = ?, wrong_checks = ?, policy = ?, created_at = ?, updated_at = ?, expires_at = ?, \
    options = ? WHERE id = ? AND client_id = ?;";
const INSERT_JOB: &str = "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, \
    max_attempts, state, locked_until, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 'pending', 0, ?);";
const INSERT_EVENT: &str =
    "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) VALUES (?, ?, ?, ?, ?, ?);";
const DELETE_STALE_IDEMPOTENCY: &str =
    "DELETE FROM idempotency WHERE client_id = ? AND idem_key = ? AND created_at < ?;";
const INSERT_IDEMPOTENCY: &str =
    "INSERT INTO idempotency (client_id, idem_key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?);";
/// Every job of a verification that has not run, but its webhooks (they announce what
/// already happened).
const DELETE_PENDING_STEPS: &str =
    "DELETE FROM jobs WHERE verification_id = ? AND client_id = ? AND kind <> ? AND state = 'pending';";
const DELETE_JOB_OF_CLIENT: &str = "DELETE FROM jobs WHERE id = ? AND client_id = ?;";
const DELETE_JOB: &str = "DELETE FROM jobs WHERE id = ?;";
const INSERT_LINK: &str = concat!(
    "INSERT INTO link_sessions (",
    link_columns!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);"
);
/// A job announcing an event of a verification that may have been purged meanwhile; it is
/// then not inserted (like the event, below).
const INSERT_JOB_IF_VERIFICATION: &str = "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, \
    attempts, max_attempts, state, locked_until, created_at) SELECT ?, ?, ?, ?, ?, ?, 0, ?, 'pending', 0, ? \
    WHERE EXISTS (SELECT 1 FROM verifications WHERE id = ? AND client_id = ?);";
/// A send a provider accepted, to match its receipts; dropped with a purged verification.
/// A provider message id seen before (an SMSC whose counter restarted) now names this
/// send: receipts go to the newest, never to an older send of another verification.
const INSERT_DELIVERY: &str = "INSERT OR REPLACE INTO deliveries (provider, provider_message_id, client_id, \
    verification_id, channel, region, sent_at, send_seq, status, updated_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, NULL, ? \
    WHERE EXISTS (SELECT 1 FROM verifications WHERE id = ? AND client_id = ?);";
/// The verification may have been purged meanwhile; the event then has nowhere to go.
/// (Placeholders in a batch are positional across its statements, hence the ids twice.)
const INSERT_EVENT_IF_VERIFICATION: &str = "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
    SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM verifications WHERE id = ? AND client_id = ?);";

/// A [`Store`](ringproof_core::ports::Store) on one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Writer>,
    readers: Arc<Readers>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing, with its parent directory) the database at `path` and
    /// brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::Unavailable(format!("cannot create the database directory: {e}")))?;
        }
        let base = SqliteConnectOptions::new()
            .filename(path)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .synchronous(SqliteSynchronous::Normal)
            .pragma("secure_delete", "ON");
        // Batches come in a few dozen shapes (by their number of jobs and events); keep
        // them all prepared.
        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("cache_size", "-16384")
            .statement_cache_capacity(512);
        let writer = Writer::connect(writer_options, ACQUIRE_TIMEOUT).await?;
        migrate_sqlite(&writer).await?;
        // Opened after the writer switched the file to WAL (a persistent setting), so the
        // readers never need the exclusive lock that changing the journal mode takes.
        let readers = Readers::connect(base.pragma("query_only", "ON"), READERS, ACQUIRE_TIMEOUT).await?;
        Ok(Self {
            writer: Arc::new(writer),
            readers: Arc::new(readers),
        })
    }

    /// Closes the reader pool and the writer connection, checkpointing the WAL into the
    /// database file. Operations after this fail with `Unavailable`.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

async fn migrate_sqlite(writer: &Writer) -> Result<(), StoreError> {
    const OP: &str = "migrate sqlite schema";
    let mut w = writer.lock().await?;
    let conn = w.conn()?;
    for m in migrate::SQLITE {
        let mut tx = conn.begin_with(MIGRATION_BEGIN).await.map_err(db(OP))?;
        if SqliteStore::apply_migration(&mut tx, OP, m).await? {
            tx.commit().await.map_err(db(OP))?;
            tracing::info!(version = m.version, "applied sqlite migration");
        }
    }
    Ok(())
}

/// Binds a new job's columns `id, kind, client_id, verification_id, due_at, payload,
/// max_attempts`, as both job inserts take them first.
fn bind_job<'b>(b: &'b mut Batch, j: &NewJob) -> &'b mut Batch {
    b.bind(j.id.as_str())
        .bind(j.kind.as_str())
        .bind(j.client_id.as_str())
        .bind(j.verification_id.as_ref().map(VerificationId::as_str))
        .bind(j.due_at.millis())
        .bind(j.payload.as_slice())
        .bind(i64::from(j.max_attempts))
}

fn push_jobs(b: &mut Batch, jobs: &[NewJob], now: Timestamp) {
    for j in jobs {
        b.sql(INSERT_JOB);
        bind_job(b, j).bind(now.millis());
    }
}

/// Binds an event's columns `kind, channel, detail, at`, as both event inserts take them
/// after the verification and client ids.
fn bind_event<'b>(b: &'b mut Batch, e: &NewEvent) -> &'b mut Batch {
    b.bind(codec::event_kind(e))
        .bind(e.channel.map(|c| c.as_str()))
        .bind(e.detail.as_deref())
        .bind(e.at.millis())
}

fn push_events(b: &mut Batch, client: &ClientId, id: &VerificationId, events: &[NewEvent]) {
    for e in events {
        b.sql(INSERT_EVENT).bind(id.as_str()).bind(client.as_str());
        bind_event(b, e);
    }
}

/// A new verification with its jobs and events, into a batch inside a transaction.
fn push_verification(b: &mut Batch, v: &Verification, fx: &Effects) -> Result<(), StoreError> {
    b.sql(INSERT_VERIFICATION)
        .bind(v.id.as_str())
        .bind(v.client_id.as_str());
    let cols = VerificationCols::of(v)?;
    bind_verification_fields!(b, v, cols).bind(cols.options.as_str());
    push_jobs(b, &fx.jobs, v.created_at);
    push_events(b, &v.client_id, &v.id, fx.events());
    Ok(())
}

/// The event a finished job leaves on its verification, unless the verification is gone.
fn push_job_event(b: &mut Batch, job: &Job, e: &NewEvent, vid: &VerificationId) {
    b.sql(INSERT_EVENT_IF_VERIFICATION)
        .bind(vid.as_str())
        .bind(job.client_id.as_str());
    bind_event(b, e).bind(vid.as_str()).bind(job.client_id.as_str());
}

/// The middle of `update_verification`, between reading the locked row and committing:
/// decodes it, runs the transition and builds the statements that persist its outcome.
fn apply(
    row: &sqlx::sqlite::SqliteRow,
    client: &ClientId,
    id: &VerificationId,
    done_job: Option<&JobId>,
    f: Mutation<'_>,
) -> Result<(Verification, Batch), StoreError> {
    let before = codec::verification(row)?;
    let (v, fx) = transition(&before, f);
    let b = transition_writes(&before, &v, &fx, client, id, done_job)?;
    Ok((v, b))
}

/// The writes of a transition from `before` to `v` with effects `fx` (and `done_job`
/// deleted, if given), as one batch without BEGIN or COMMIT.
fn transition_writes(
    before: &Verification,
    v: &Verification,
    fx: &Effects,
    client: &ClientId,
    id: &VerificationId,
    done_job: Option<&JobId>,
) -> Result<Batch, StoreError> {
    let mut b = Batch::new();
    if v != before {
        let cols = VerificationCols::of(v)?;
        bind_verification_fields!(b.sql(UPDATE_VERIFICATION), v, cols)
            .bind(cols.options.as_str())
            .bind(id.as_str())
            .bind(client.as_str());
    }
    // Before the new jobs are inserted: only jobs that existed before this transition are
    // cancelled.
    if fx.cancel_pending_steps {
        b.sql(DELETE_PENDING_STEPS)
            .bind(id.as_str())
            .bind(client.as_str())
            .bind(JobKind::Webhook.as_str());
    }
    if let Some(job) = done_job {
        b.sql(DELETE_JOB_OF_CLIENT).bind(job.as_str()).bind(client.as_str());
    }
    push_jobs(&mut b, &fx.jobs, v.updated_at);
    push_events(&mut b, client, id, fx.events());
    Ok(b)
}

/// Reads one limit counter row (a statement per key, so the SQL stays static).
const SELECT_COUNTER: &str = "SELECT client_id, scope, key_hash, state, expires_at FROM guard_counters \
    WHERE client_id = ? AND scope = ? AND key_hash = ?;";

/// Writes one limit counter row back.
const UPSERT_COUNTER: &str = "INSERT INTO guard_counters (client_id, scope, key_hash, state, expires_at) VALUES (?, ?, ?, ?, ?) \
    ON CONFLICT (client_id, scope, key_hash) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at;";

/// Appends the write-back of counter rows to `b`.
fn push_counters(b: &mut Batch, keys: &[CounterKey], rows: &[CounterRow]) {
    for (k, r) in keys.iter().zip(rows) {
        b.sql(UPSERT_COUNTER)
            .bind(k.client_id.as_str().to_owned())
            .bind(k.scope.clone())
            .bind(k.key.to_vec())
            .bind(r.state.clone())
            .bind(r.expires_at.millis());
    }
}

/// A checked-out connection (a reader or the writer) and the flag that marks its worker
/// thread dead, so it is replaced rather than reused.
pub(super) trait Checkout: Send {
    fn parts(&mut self) -> Result<(&mut SqliteConnection, &mut bool), StoreError>;
}

/// Maps a failure of `op`, noting a crashed connection worker in `crashed`.
pub(super) fn noticed(crashed: &mut bool, op: &'static str, e: sqlx::Error) -> StoreError {
    if matches!(e, sqlx::Error::WorkerCrashed) {
        *crashed = true;
    }
    map(op, e)
}

type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments>;

impl<G: Checkout> Conn<Sqlite> for G {
    async fn execute(&mut self, op: &'static str, q: SqliteQuery<'_>) -> Result<u64, StoreError> {
        let (conn, crashed) = self.parts()?;
        let done = q.execute(conn).await.map_err(|e| noticed(crashed, op, e))?;
        Ok(done.rows_affected())
    }

    async fn fetch_optional(&mut self, op: &'static str, q: SqliteQuery<'_>) -> Result<Option<SqliteRow>, StoreError> {
        let (conn, crashed) = self.parts()?;
        q.fetch_optional(conn).await.map_err(|e| noticed(crashed, op, e))
    }

    async fn fetch_one(&mut self, op: &'static str, q: SqliteQuery<'_>) -> Result<SqliteRow, StoreError> {
        let (conn, crashed) = self.parts()?;
        q.fetch_one(conn).await.map_err(|e| noticed(crashed, op, e))
    }

    async fn fetch_all(&mut self, op: &'static str, q: SqliteQuery<'_>) -> Result<Vec<SqliteRow>, StoreError> {
        let (conn, crashed) = self.parts()?;
        q.fetch_all(conn).await.map_err(|e| noticed(crashed, op, e))
    }
}

impl SqliteStore {
    /// A reader connection: plain reads run beside the writer on a WAL snapshot.
    async fn read(&self) -> Result<ReaderGuard<'_>, StoreError> {
        self.readers.acquire().await
    }

    /// The single writer connection, for a write that is one statement.
    async fn write(&self) -> Result<WriterGuard<'_>, StoreError> {
        self.writer.lock().await
    }
}

crate::query::store_impl!(SqliteStore, Sqlite);

impl Backend for SqliteStore {
    // SQLite has no `FOR UPDATE SKIP LOCKED` and needs none: the claim runs on the single
    // writer connection, so no other claim or write can come between the inner SELECT
    // choosing the rows and the UPDATE leasing them, and two claimers can never pick the
    // same job. Its booleans need no cast. `INDEXED BY`: SQLite's planner, once ANALYZE has
    // seen one client hold most jobs, would otherwise probe a client through `jobs_by_due`
    // and filter (PostgreSQL is kept off that path by the row value alone).
    const CLAIM_JOBS: &'static str = dialect!(claim_jobs, "", "", " INDEXED BY jobs_by_client");
    // SQLite's scalar MAX takes two arguments.
    const NEXT_JOB_DUE: &'static str = dialect!(next_job_due, "MAX");
    const BURY_JOB: &'static str = dialect!(bury_job, "X''");
    type Db = Sqlite;

    async fn write_then(
        &self,
        op: &'static str,
        change: SqliteQuery<'_>,
        then: SqliteQuery<'_>,
        always: bool,
    ) -> Result<u64, StoreError> {
        // Three round trips on the single writer (BEGIN, the change, the rest with COMMIT);
        // administrative writes are rare. A failure in the middle leaves the transaction
        // open, and it is rolled back at once.
        let mut w = self.writer.lock().await?;
        w.execute_batch(op, Batch::begin()).await?;
        let result = async {
            let n = w.execute(op, change).await?;
            if n > 0 || always {
                w.execute(op, then).await?;
            }
            w.execute_batch(op, Batch::new().commit()).await?;
            Ok(n)
        }
        .await;
        if result.is_err() {
            w.rollback().await?;
        }
        result
    }

    async fn throttle_step(&self, keys: &[String], f: ThrottleStep<'_>) -> Result<(), StoreError> {
        const OP: &str = "throttle step";
        if keys.is_empty() {
            return Ok(());
        }
        // The single writer connection is the lock: no other write (in particular no other
        // step on these rows) can come between this read and the write-back, and there is no
        // lock order to keep.
        let mut w = self.writer.lock().await?;
        let q = crate::query::throttle_rows(keys, "");
        let rows = w.all(OP, q, codec::throttle_row).await?;
        let before = crate::query::in_key_order(keys, &rows);
        let mut after = before.clone();
        f(&mut after);
        let mut b = Batch::begin();
        let mut changed = false;
        for ((key, old), new) in keys.iter().zip(&before).zip(&after) {
            if old == new {
                continue;
            }
            changed = true;
            if *new == LoginFailures::default() {
                b.sql("DELETE FROM auth_throttle WHERE throttle_key = ?;")
                    .bind(key.as_str());
            } else {
                b.sql(
                    "INSERT INTO auth_throttle (throttle_key, failures, last_failure_at, locked_until) \
                     VALUES (?, ?, ?, ?) ON CONFLICT (throttle_key) DO UPDATE SET failures = excluded.failures, \
                     last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until;",
                )
                .bind(key.as_str())
                .bind(i64::from(new.failures))
                .bind(new.last_failure_at.millis())
                .bind(new.locked_until.map(|t| t.millis()));
            }
        }
        if changed {
            // One round trip, one transaction: every row of the step is written, or none.
            w.execute_batch(OP, b.commit()).await?;
        }
        Ok(())
    }

    async fn update_counters(&self, keys: &[CounterKey], f: CounterStep<'_>) -> Result<(), StoreError> {
        const OP: &str = "update counters";
        // The single writer is the lock: nothing else writes between the reads and the
        // write-back, which is one batch in one transaction.
        // One read of every row (a round trip to the writer thread is the cost that counts
        // here: every write of the server queues behind it).
        let values = vec!["(?, ?, ?)"; keys.len()].join(", ");
        let sql = format!(
            "SELECT client_id, scope, key_hash, state, expires_at FROM guard_counters \
             WHERE (client_id, scope, key_hash) IN (VALUES {values})"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in keys {
            q = q
                .bind(k.client_id.as_str().to_owned())
                .bind(k.scope.clone())
                .bind(k.key.to_vec());
        }
        let mut w = self.writer.lock().await?;
        let found = w
            .all(OP, q, |r| Ok((codec::counter_key(r)?, codec::counter_row(r)?)))
            .await?;
        let mut rows = rows_in_key_order(keys, &found);
        if !f(&mut rows) {
            return Ok(());
        }
        let mut b = Batch::begin();
        push_counters(&mut b, keys, &rows);
        w.execute_batch(OP, b.commit()).await
    }

    async fn insert_verification(
        &self,
        v: &Verification,
        fx: &Effects,
        idem: Option<&IdempotentResponse>,
    ) -> Result<(), StoreError> {
        const OP: &str = "insert verification";
        let mut b = Batch::begin();
        if let Some(i) = idem {
            // A record past its window no longer protects anything: the key may be reused.
            b.sql(DELETE_STALE_IDEMPOTENCY)
                .bind(i.client_id.as_str())
                .bind(i.key.as_str())
                .bind(i.created_at.plus_secs(-IDEMPOTENCY_WINDOW_S).millis());
            // First, so a duplicate key fails before anything else is written.
            b.sql(INSERT_IDEMPOTENCY)
                .bind(i.client_id.as_str())
                .bind(i.key.as_str())
                .bind(i.request_hash.as_slice())
                .bind(i64::from(i.status))
                .bind(i.body.as_str())
                .bind(i.created_at.millis());
        }
        push_verification(&mut b, v, fx)?;
        // One round trip: BEGIN, every insert, COMMIT.
        self.writer.lock().await?.execute_batch(OP, b.commit()).await
    }

    async fn import_verifications(&self, items: &[(Verification, Effects)]) -> Result<(), StoreError> {
        const OP: &str = "import verifications";
        let mut b = Batch::begin();
        for (v, fx) in items {
            push_verification(&mut b, v, fx)?;
        }
        self.writer.lock().await?.execute_batch(OP, b.commit()).await
    }

    async fn update_verification(
        &self,
        client: &ClientId,
        id: &VerificationId,
        done_job: Option<&JobId>,
        f: Mutation<'_>,
    ) -> Result<Option<Verification>, StoreError> {
        const OP: &str = "update verification";
        // The single writer connection is the lock: no other write can come between this
        // read and the write-back. Two round trips: BEGIN + SELECT, then the writes + COMMIT.
        let mut w = self.writer.lock().await?;
        let mut read = Batch::begin();
        read.sql(SELECT_VERIFICATION_TO_UPDATE)
            .bind(id.as_str())
            .bind(client.as_str());
        let Some(row) = w.fetch_batch(OP, read).await? else {
            w.execute_batch(OP, Batch::new().rollback()).await?;
            return Ok(None);
        };
        match apply(&row, client, id, done_job, f) {
            Ok((v, writes)) => {
                w.execute_batch(OP, writes.commit()).await?;
                Ok(Some(v))
            }
            Err(e) => {
                w.rollback().await?;
                Err(e)
            }
        }
    }

    async fn update_verification_counted(
        &self,
        client: &ClientId,
        id: &VerificationId,
        keys: &[CounterKey],
        f: CountedMutation<'_>,
    ) -> Result<Option<Verification>, StoreError> {
        const OP: &str = "update verification with counters";
        // As `update_verification`, the single writer connection is the lock, and two round
        // trips do it all: BEGIN + the record + the rows, then every write + COMMIT.
        let mut w = self.writer.lock().await?;
        let mut read = Batch::begin();
        read.sql(SELECT_VERIFICATION_TO_UPDATE)
            .bind(id.as_str())
            .bind(client.as_str());
        for k in keys {
            read.sql(SELECT_COUNTER)
                .bind(k.client_id.as_str().to_owned())
                .bind(k.scope.clone())
                .bind(k.key.to_vec());
        }
        let rows = w.fetch_all_batch(OP, read).await?;
        let writes = (|| {
            let mut record = None;
            let mut found = Vec::new();
            for r in &rows {
                if sqlx::Row::try_column(r, "key_hash").is_ok() {
                    found.push((codec::counter_key(r)?, codec::counter_row(r)?));
                } else {
                    record = Some(codec::verification(r)?);
                }
            }
            let Some(before) = record else { return Ok(None) };
            let counters = rows_in_key_order(keys, &found);
            let (v, fx, changed_keys, changed) = counted_transition(&before, keys, counters, f);
            let mut b = transition_writes(&before, &v, &fx, client, id, None)?;
            push_counters(&mut b, &changed_keys, &changed);
            Ok(Some((v, b)))
        })();
        match writes {
            Ok(Some((v, b))) => {
                w.execute_batch(OP, b.commit()).await?;
                Ok(Some(v))
            }
            Ok(None) => {
                w.rollback().await?;
                Ok(None)
            }
            Err(e) => {
                w.rollback().await?;
                Err(e)
            }
        }
    }

    async fn insert_verification_superseding(
        &self,
        v: &Verification,
        fx: &Effects,
        supersede: Mutation<'_>,
    ) -> Result<u32, StoreError> {
        const OP: &str = "insert superseding verification";
        const SELECT_PENDING_TO: &str = select!(
            verification_columns,
            "verifications WHERE client_id = ? AND to_e164 = ? AND status = 'pending' \
             ORDER BY created_at LIMIT 1;"
        );
        // The single writer connection is the lock, as in `update_verification`: no other
        // write (another send to this number included) comes between the reads and the
        // commit. One pending record at a time: each is superseded (no longer pending)
        // before the next is read.
        let mut w = self.writer.lock().await?;
        let mut superseded = 0u32;
        let mut read = Batch::begin();
        loop {
            read.sql(SELECT_PENDING_TO).bind(v.client_id.as_str()).bind(v.to.e164());
            let Some(row) = w.fetch_batch(OP, read).await? else {
                break;
            };
            let applied = codec::verification(&row).and_then(|old| {
                let (after, writes) = apply(&row, &v.client_id, &old.id, None, &mut *supersede)?;
                check_superseded(OP, &after)?;
                Ok(writes)
            });
            match applied {
                Ok(writes) => w.execute_batch(OP, writes).await?,
                Err(e) => {
                    w.rollback().await?;
                    return Err(e);
                }
            }
            superseded += 1;
            read = Batch::new();
        }
        // The transaction is open (the first read began it).
        let mut b = Batch::new();
        push_verification(&mut b, v, fx)?;
        w.execute_batch(OP, b.commit()).await?;
        Ok(superseded)
    }

    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError> {
        const OP: &str = "complete job";
        let Some((e, vid)) = event.zip(job.verification_id.as_ref()) else {
            let mut b = Batch::new();
            b.sql(DELETE_JOB).bind(job.id.as_str());
            return self.writer.lock().await?.execute_batch(OP, b).await;
        };
        let mut b = Batch::begin();
        b.sql(DELETE_JOB).bind(job.id.as_str());
        push_job_event(&mut b, job, e, vid);
        self.writer.lock().await?.execute_batch(OP, b.commit()).await
    }

    async fn complete_jobs(
        &self,
        done: &[(&Job, Option<&NewEvent>)],
        new_jobs: &[NewJob],
        deliveries: &[DeliveryRecord],
    ) -> Result<(), StoreError> {
        const OP: &str = "complete jobs";
        // One round trip: BEGIN, a delete (and an event) per job, COMMIT. Jobs with an event
        // go first, so a batch's SQL (and its prepared statements) depends only on how many
        // jobs of each kind it holds.
        let (with_event, without): (Vec<_>, Vec<_>) = done
            .iter()
            .map(|(j, e)| (*j, e.zip(j.verification_id.as_ref())))
            .partition(|(_, e)| e.is_some());
        let mut b = Batch::begin();
        for (job, event) in with_event.iter().chain(&without) {
            b.sql(DELETE_JOB).bind(job.id.as_str());
            if let Some((e, vid)) = event {
                push_job_event(&mut b, job, e, vid);
            }
        }
        for j in new_jobs {
            b.sql(INSERT_JOB_IF_VERIFICATION);
            bind_job(&mut b, j)
                .bind(j.due_at.millis())
                .bind(j.verification_id.as_ref().map(VerificationId::as_str))
                .bind(j.client_id.as_str());
        }
        for d in deliveries {
            b.sql(INSERT_DELIVERY)
                .bind(d.provider.as_str())
                .bind(d.provider_message_id.as_str())
                .bind(d.client_id.as_str())
                .bind(d.verification_id.as_str())
                .bind(d.channel.as_str())
                .bind(d.region.as_deref())
                .bind(d.sent_at.millis())
                .bind(i64::from(d.seq))
                .bind(d.sent_at.millis())
                .bind(d.verification_id.as_str())
                .bind(d.client_id.as_str());
        }
        self.writer.lock().await?.execute_batch(OP, b.commit()).await
    }

    async fn insert_link(&self, l: &LinkRecord, jobs: &[NewJob]) -> Result<(), StoreError> {
        const OP: &str = "insert link";
        let mut b = Batch::begin();
        bind_link!(b.sql(INSERT_LINK), l);
        push_jobs(&mut b, jobs, l.session.created_at);
        // One round trip: BEGIN, the session, its jobs, COMMIT.
        self.writer.lock().await?.execute_batch(OP, b.commit()).await
    }

    async fn update_link(&self, token_hash: &[u8; 32], f: LinkMutation<'_>) -> Result<Option<LinkRecord>, StoreError> {
        // The single writer connection is the lock: no other write (in particular no other
        // click on this link) can come between this read and the write-back, which is one
        // statement and so needs no transaction of its own.
        let select = select!(link_columns, "link_sessions WHERE token_hash = $1");
        Self::click_link(&mut self.writer.lock().await?, select, token_hash, f).await
    }
}

//! The SQLite backend: one database file, for a single server node.
//!
//! It owns two pools over the same file. The *writer* pool has exactly one connection and
//! every write transaction goes through it: SQLite allows one writer at a time anyway, and
//! queueing writers in the pool (fairly, in async code) is far cheaper than letting several
//! connections collide on the file lock and spin on `SQLITE_BUSY`. It also makes every
//! read-modify-write (`update_verification`, `claim_jobs`) serialised by construction. The
//! *reader* pool has several `query_only` connections for plain reads, which WAL lets run
//! alongside the writer on a consistent snapshot.
//!
//! Pragmas: WAL with `synchronous=NORMAL` (a commit is durable once the WAL is synced at
//! checkpoint; a power cut can lose the last commits but never corrupts), foreign keys,
//! a 5 s busy timeout for the rare outside writer, and `secure_delete` so erased code
//! hashes, sealed codes and job payloads are overwritten instead of lingering in free pages.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use ringproof_core::StoreError;
use ringproof_core::client::Client;
use ringproof_core::engine::IDEMPOTENCY_WINDOW_S;
use ringproof_core::ids::{ClientId, JobId, VerificationId};
use ringproof_core::job::{Job, JobKind, JobStats, NewJob};
use ringproof_core::ports::{IdempotentResponse, Mutation, Store};
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Effects, Event, NewEvent, Verification};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection};

use crate::codec::{self, ClientCols, VerificationCols, client_columns, job_columns, verification_columns};
use crate::error::db;
use crate::migrate;

/// Readers are cheap (a thread and a page cache each); a few cover concurrent API reads
/// on a small machine without starving the writer of CPU.
const READERS: u32 = 4;
/// How long an operation may wait for a connection before the store reports itself
/// unavailable, rather than letting requests pile up without bound.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows deleted per purge transaction, so a large purge never holds the single writer
/// for long.
const PURGE_BATCH: i64 = 1000;
/// SQLite takes the write lock at `BEGIN IMMEDIATE`, so a transaction never has to upgrade
/// a read lock mid-way (which fails at once with `SQLITE_BUSY` instead of waiting).
const BEGIN: &str = "BEGIN IMMEDIATE";

/// A [`Store`] on one SQLite database file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
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
        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("cache_size", "-16384");
        // Never recycle the writer: its statement cache is what keeps each write cheap.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(writer_options)
            .await
            .map_err(db("open sqlite database"))?;
        migrate_sqlite(&writer).await?;
        // Opened after the writer switched the file to WAL (a persistent setting), so the
        // readers never need the exclusive lock that changing the journal mode takes.
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.pragma("query_only", "ON"))
            .await
            .map_err(db("open sqlite database"))?;
        Ok(Self { writer, reader })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

async fn migrate_sqlite(writer: &SqlitePool) -> Result<(), StoreError> {
    const OP: &str = "migrate sqlite schema";
    for m in migrate::SQLITE {
        let mut tx = writer.begin_with(BEGIN).await.map_err(db(OP))?;
        sqlx::raw_sql(migrate::CREATE_TABLE).execute(&mut *tx).await.map_err(db(OP))?;
        let applied = sqlx::query("SELECT 1 FROM ringproof_migrations WHERE version = ?1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(OP))?
            .is_some();
        if applied {
            continue;
        }
        for stmt in migrate::statements(m.sql) {
            sqlx::raw_sql(stmt).execute(&mut *tx).await.map_err(db(OP))?;
        }
        sqlx::query("INSERT INTO ringproof_migrations (version, applied_at) VALUES (?1, ?2)")
            .bind(m.version)
            .bind(migrate::now_millis())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        tx.commit().await.map_err(db(OP))?;
        tracing::info!(version = m.version, "applied sqlite migration");
    }
    Ok(())
}

async fn insert_jobs(conn: &mut SqliteConnection, jobs: &[NewJob], now: Timestamp) -> Result<(), StoreError> {
    for j in jobs {
        sqlx::query(
            "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts, \
             state, locked_until, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, 'pending', 0, ?8)",
        )
        .bind(j.id.as_str())
        .bind(j.kind.as_str())
        .bind(j.client_id.as_str())
        .bind(j.verification_id.as_ref().map(VerificationId::as_str))
        .bind(j.due_at.millis())
        .bind(j.payload.as_slice())
        .bind(i64::from(j.max_attempts))
        .bind(now.millis())
        .execute(&mut *conn)
        .await
        .map_err(db("insert job"))?;
    }
    Ok(())
}

async fn insert_events(
    conn: &mut SqliteConnection,
    client: &ClientId,
    id: &VerificationId,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    for e in events {
        sqlx::query(
            "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(id.as_str())
        .bind(client.as_str())
        .bind(e.kind)
        .bind(e.channel.map(|c| c.as_str()))
        .bind(e.detail.as_deref())
        .bind(e.at.millis())
        .execute(&mut *conn)
        .await
        .map_err(db("insert event"))?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db("ping"))?;
        Ok(())
    }

    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let cols = ClientCols::of(c)?;
        sqlx::query(
            "INSERT INTO clients (id, name, brand, api_key, secret_hash, username, password_hash, allowed_origins, \
             templates, policy, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(c.id.as_str())
        .bind(c.name.as_str())
        .bind(c.brand.as_str())
        .bind(c.api_key.as_str())
        .bind(c.secret_hash.as_slice())
        .bind(c.username.as_str())
        .bind(c.password_hash.as_str())
        .bind(cols.allowed_origins)
        .bind(cols.templates)
        .bind(cols.policy)
        .bind(c.created_at.millis())
        .execute(&self.writer)
        .await
        .map_err(db("insert client"))?;
        Ok(())
    }

    async fn client_by_id(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE id = ?1"))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db("client by id"))?
            .map(|r| codec::client(&r))
            .transpose()
    }

    async fn client_by_api_key(&self, api_key: &str) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE api_key = ?1"))
            .bind(api_key)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("client by api key"))?
            .map(|r| codec::client(&r))
            .transpose()
    }

    async fn client_by_username(&self, username: &str) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE username = ?1"))
            .bind(username)
            .fetch_optional(&self.reader)
            .await
            .map_err(db("client by username"))?
            .map(|r| codec::client(&r))
            .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients ORDER BY created_at, id"))
            .fetch_all(&self.reader)
            .await
            .map_err(db("list clients"))?
            .iter()
            .map(codec::client)
            .collect()
    }

    async fn set_client_secret(&self, id: &ClientId, secret_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE clients SET secret_hash = ?1 WHERE id = ?2")
            .bind(secret_hash.as_slice())
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(db("set client secret"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn idempotent_response(
        &self,
        client: &ClientId,
        key: &str,
        not_before: Timestamp,
    ) -> Result<Option<IdempotentResponse>, StoreError> {
        sqlx::query(
            "SELECT client_id, idem_key, request_hash, status, body, created_at FROM idempotency \
             WHERE client_id = ?1 AND idem_key = ?2 AND created_at >= ?3",
        )
        .bind(client.as_str())
        .bind(key)
        .bind(not_before.millis())
        .fetch_optional(&self.reader)
        .await
        .map_err(db("idempotent response"))?
        .map(|r| codec::idempotent_response(&r))
        .transpose()
    }

    async fn insert_verification(
        &self,
        v: &Verification,
        fx: &Effects,
        idem: Option<&IdempotentResponse>,
    ) -> Result<(), StoreError> {
        const OP: &str = "insert verification";
        let cols = VerificationCols::of(v)?;
        let mut tx = self.writer.begin_with(BEGIN).await.map_err(db(OP))?;
        if let Some(i) = idem {
            // A record past its window no longer protects anything; let the key be reused.
            sqlx::query("DELETE FROM idempotency WHERE client_id = ?1 AND idem_key = ?2 AND created_at < ?3")
                .bind(i.client_id.as_str())
                .bind(i.key.as_str())
                .bind(i.created_at.plus_secs(-IDEMPOTENCY_WINDOW_S).millis())
                .execute(&mut *tx)
                .await
                .map_err(db(OP))?;
            // First, so a duplicate key fails before anything else is written.
            sqlx::query(
                "INSERT INTO idempotency (client_id, idem_key, request_hash, status, body, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(i.client_id.as_str())
            .bind(i.key.as_str())
            .bind(i.request_hash.as_slice())
            .bind(i64::from(i.status))
            .bind(i.body.as_str())
            .bind(i.created_at.millis())
            .execute(&mut *tx)
            .await
            .map_err(db("insert idempotency key"))?;
        }
        sqlx::query(concat!(
            "INSERT INTO verifications (",
            verification_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
        ))
        .bind(v.id.as_str())
        .bind(v.client_id.as_str())
        .bind(v.to.e164())
        .bind(v.status.as_str())
        .bind(cols.workflow)
        .bind(v.locale.as_str())
        .bind(v.brand.as_str())
        .bind(cols.code_length)
        .bind(v.code_hash.as_ref().map(|h| h.as_slice()))
        .bind(v.code_expires_at.millis())
        .bind(v.sealed_code.as_deref())
        .bind(cols.next_step)
        .bind(cols.sends)
        .bind(cols.resends)
        .bind(v.last_sent_at.millis())
        .bind(cols.wrong_checks)
        .bind(cols.policy)
        .bind(v.created_at.millis())
        .bind(v.updated_at.millis())
        .bind(v.expires_at.millis())
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        insert_jobs(&mut tx, &fx.jobs, v.created_at).await?;
        insert_events(&mut tx, &v.client_id, &v.id, &fx.events).await?;
        tx.commit().await.map_err(db(OP))?;
        Ok(())
    }

    async fn get_verification(&self, client: &ClientId, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        sqlx::query(concat!("SELECT ", verification_columns!(), " FROM verifications WHERE id = ?1 AND client_id = ?2"))
            .bind(id.as_str())
            .bind(client.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db("get verification"))?
            .map(|r| codec::verification(&r))
            .transpose()
    }

    async fn update_verification(
        &self,
        client: &ClientId,
        id: &VerificationId,
        done_job: Option<&JobId>,
        f: Mutation<'_>,
    ) -> Result<Option<Verification>, StoreError> {
        const OP: &str = "update verification";
        // The single writer connection is the lock: no other write can interleave between
        // this read and the write-back.
        let mut tx = self.writer.begin_with(BEGIN).await.map_err(db(OP))?;
        let row = sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE id = ?1 AND client_id = ?2"
        ))
        .bind(id.as_str())
        .bind(client.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(OP))?;
        let Some(row) = row else {
            tx.rollback().await.map_err(db(OP))?;
            return Ok(None);
        };
        let before = codec::verification(&row)?;
        let mut v = before.clone();
        let fx = f(&mut v);
        // The identity is what the caller was authorised for; a transition cannot move
        // the record to another id or tenant.
        v.id = before.id.clone();
        v.client_id = before.client_id.clone();
        if v != before {
            let cols = VerificationCols::of(&v)?;
            sqlx::query(
                "UPDATE verifications SET to_e164 = ?1, status = ?2, workflow = ?3, locale = ?4, brand = ?5, \
                 code_length = ?6, code_hash = ?7, code_expires_at = ?8, sealed_code = ?9, next_step = ?10, \
                 sends = ?11, resends = ?12, last_sent_at = ?13, wrong_checks = ?14, policy = ?15, \
                 created_at = ?16, updated_at = ?17, expires_at = ?18 WHERE id = ?19 AND client_id = ?20",
            )
            .bind(v.to.e164())
            .bind(v.status.as_str())
            .bind(cols.workflow)
            .bind(v.locale.as_str())
            .bind(v.brand.as_str())
            .bind(cols.code_length)
            .bind(v.code_hash.as_ref().map(|h| h.as_slice()))
            .bind(v.code_expires_at.millis())
            .bind(v.sealed_code.as_deref())
            .bind(cols.next_step)
            .bind(cols.sends)
            .bind(cols.resends)
            .bind(v.last_sent_at.millis())
            .bind(cols.wrong_checks)
            .bind(cols.policy)
            .bind(v.created_at.millis())
            .bind(v.updated_at.millis())
            .bind(v.expires_at.millis())
            .bind(id.as_str())
            .bind(client.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        }
        // Before inserting the new jobs: only steps that existed before this transition
        // are cancelled.
        if fx.cancel_pending_steps {
            sqlx::query(
                "DELETE FROM jobs WHERE verification_id = ?1 AND client_id = ?2 AND kind = ?3 AND state = 'pending'",
            )
            .bind(id.as_str())
            .bind(client.as_str())
            .bind(JobKind::Step.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        }
        if let Some(job) = done_job {
            sqlx::query("DELETE FROM jobs WHERE id = ?1 AND client_id = ?2")
                .bind(job.as_str())
                .bind(client.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db(OP))?;
        }
        insert_jobs(&mut tx, &fx.jobs, v.updated_at).await?;
        insert_events(&mut tx, client, id, &fx.events).await?;
        tx.commit().await.map_err(db(OP))?;
        Ok(Some(v))
    }

    async fn list_events(&self, client: &ClientId, id: &VerificationId) -> Result<Vec<Event>, StoreError> {
        sqlx::query(
            "SELECT id, verification_id, kind, channel, detail, at FROM events \
             WHERE verification_id = ?1 AND client_id = ?2 ORDER BY id",
        )
        .bind(id.as_str())
        .bind(client.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(db("list events"))?
        .iter()
        .map(codec::event)
        .collect()
    }

    async fn claim_jobs(&self, now: Timestamp, lease_ms: i64, limit: u32) -> Result<Vec<Job>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Unlike PostgreSQL's version this needs no `FOR UPDATE SKIP LOCKED` (SQLite has
        // neither): it runs on the single writer connection, so no other claim or write can
        // happen between the inner SELECT choosing the rows and the UPDATE leasing them,
        // and two claimers can never pick the same job.
        let rows = sqlx::query(concat!(
            "UPDATE jobs SET locked_until = ?1 + ?2, attempts = attempts + 1 WHERE id IN (",
            "SELECT id FROM jobs WHERE state = 'pending' AND due_at <= ?1 AND locked_until <= ?1 ",
            "ORDER BY due_at LIMIT ?3) RETURNING ",
            job_columns!()
        ))
        .bind(now.millis())
        .bind(lease_ms.max(0))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .map_err(db("claim jobs"))?;
        let mut jobs = rows.iter().map(codec::job).collect::<Result<Vec<_>, _>>()?;
        codec::sort_claimed(&mut jobs);
        Ok(jobs)
    }

    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError> {
        const OP: &str = "complete job";
        let mut tx = self.writer.begin_with(BEGIN).await.map_err(db(OP))?;
        sqlx::query("DELETE FROM jobs WHERE id = ?1")
            .bind(job.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        if let (Some(e), Some(vid)) = (event, &job.verification_id) {
            // The verification may have been purged meanwhile; the event then has nowhere
            // to go, and the job is still done.
            sqlx::query(
                "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS \
                 (SELECT 1 FROM verifications WHERE id = ?1 AND client_id = ?2)",
            )
            .bind(vid.as_str())
            .bind(job.client_id.as_str())
            .bind(e.kind)
            .bind(e.channel.map(|c| c.as_str()))
            .bind(e.detail.as_deref())
            .bind(e.at.millis())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        }
        tx.commit().await.map_err(db(OP))?;
        Ok(())
    }

    async fn retry_job(&self, id: &JobId, due_at: Timestamp, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET due_at = ?1, locked_until = 0, last_error = ?2 WHERE id = ?3 AND state = 'pending'")
            .bind(due_at.millis())
            .bind(codec::truncate_error(error))
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(db("retry job"))?;
        Ok(())
    }

    async fn bury_job(&self, id: &JobId, error: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'dead', payload = X'', locked_until = 0, last_error = ?1, buried_at = ?2 \
             WHERE id = ?3",
        )
        .bind(codec::truncate_error(error))
        .bind(now.millis())
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(db("bury job"))?;
        Ok(())
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at <= ?1) AS due, \
             (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at > ?1) AS scheduled, \
             (SELECT COUNT(*) FROM jobs WHERE state = 'dead') AS dead",
        )
        .bind(now.millis())
        .fetch_one(&self.reader)
        .await
        .map_err(db("job stats"))?;
        let count = |name: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get(name).map_err(db("job stats"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(JobStats { due: count("due")?, scheduled: count("scheduled")?, dead: count("dead")? })
    }

    async fn next_job_due(&self) -> Result<Option<Timestamp>, StoreError> {
        // A job can next be claimed at max(due_at, locked_until). Jobs are walked in due
        // order only up to the first one without a live lease past its due time: every later
        // job is claimable no earlier than that one, so only the leased jobs before it (the
        // few in flight) need their lease considered.
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(due_at, locked_until)) FROM jobs WHERE state = 'pending' AND due_at <= COALESCE(\
             (SELECT due_at FROM jobs WHERE state = 'pending' AND locked_until <= due_at ORDER BY due_at LIMIT 1), \
             9223372036854775807)",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db("next job due"))?;
        Ok(next.map(Timestamp))
    }

    async fn purge(&self, terminal_before: Timestamp, idempotency_before: Timestamp) -> Result<u64, StoreError> {
        const OP: &str = "purge";
        let mut purged = 0u64;
        loop {
            // A pending record past its expiry is expired in all but name (nothing will
            // touch it again), so it is purged like a terminal one. Its updated_at is before
            // its expires_at, so the index on (status, updated_at) still narrows the scan.
            // Events and jobs go with it through ON DELETE CASCADE.
            let done = sqlx::query(
                "DELETE FROM verifications WHERE id IN (SELECT id FROM verifications \
                 WHERE status IN ('approved', 'canceled', 'expired', 'max_attempts_reached', 'failed', 'pending') \
                 AND updated_at < ?1 AND (status <> 'pending' OR expires_at < ?1) LIMIT ?2)",
            )
            .bind(terminal_before.millis())
            .bind(PURGE_BATCH)
            .execute(&self.writer)
            .await
            .map_err(db(OP))?;
            purged += done.rows_affected();
            if done.rows_affected() < PURGE_BATCH as u64 {
                break;
            }
        }
        sqlx::query("DELETE FROM jobs WHERE state = 'dead' AND verification_id IS NULL AND buried_at < ?1")
            .bind(terminal_before.millis())
            .execute(&self.writer)
            .await
            .map_err(db(OP))?;
        loop {
            let done = sqlx::query(
                "DELETE FROM idempotency WHERE (client_id, idem_key) IN (SELECT client_id, idem_key FROM idempotency \
                 WHERE created_at < ?1 LIMIT ?2)",
            )
            .bind(idempotency_before.millis())
            .bind(PURGE_BATCH)
            .execute(&self.writer)
            .await
            .map_err(db(OP))?;
            if done.rows_affected() < PURGE_BATCH as u64 {
                break;
            }
        }
        Ok(purged)
    }
}

//! The PostgreSQL backend, for several server nodes sharing one database.
//!
//! Unlike SQLite, many connections write at once here, so every read-modify-write takes
//! row locks: `update_verification` locks the record (`FOR NO KEY UPDATE`) for the length
//! of its transaction, and `claim_jobs` leases rows picked with `FOR UPDATE SKIP LOCKED`,
//! so concurrent claimers on any node skip each other's rows instead of waiting or
//! double-claiming. Schema migrations run under a transaction-scoped advisory lock, so
//! nodes starting together apply each migration exactly once.
//!
//! Batches of jobs and events are inserted with one `INSERT ... SELECT FROM UNNEST(...)`
//! statement each: one round trip and one cached prepared statement whatever their number.

use std::str::FromStr;
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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Row};

use crate::codec::{self, ClientCols, VerificationCols, client_columns, job_columns, verification_columns};
use crate::error::db;
use crate::migrate;

/// How long an operation may wait for a connection before the store reports itself
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows deleted per purge transaction, to keep each one short.
const PURGE_BATCH: i64 = 1000;
/// Key of the advisory lock that serialises migrations across nodes ("ringproo" in ASCII).
const MIGRATION_LOCK: i64 = 0x7269_6e67_7072_6f6f;

/// A [`Store`] on a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects with a pool of at most `max_connections` and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        // The parse error could quote the URL, and with it a password.
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::Unavailable("the PostgreSQL URL is not valid".into()))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db("connect to postgresql"))?;
        migrate_pg(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn migrate_pg(pool: &PgPool) -> Result<(), StoreError> {
    const OP: &str = "migrate postgresql schema";
    for m in migrate::POSTGRES {
        let mut tx = pool.begin().await.map_err(db(OP))?;
        // Held until commit: a second node starting now waits here, then sees the
        // migration recorded and skips it. The bookkeeping table is created under the lock
        // too, since concurrent CREATE TABLE IF NOT EXISTS can itself fail.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        sqlx::raw_sql(migrate::CREATE_TABLE).execute(&mut *tx).await.map_err(db(OP))?;
        let applied = sqlx::query("SELECT 1 FROM ringproof_migrations WHERE version = $1")
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
        sqlx::query("INSERT INTO ringproof_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(m.version)
            .bind(migrate::now_millis())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        tx.commit().await.map_err(db(OP))?;
        tracing::info!(version = m.version, "applied postgresql migration");
    }
    Ok(())
}

async fn insert_jobs(conn: &mut PgConnection, jobs: &[NewJob], now: Timestamp) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    let clients: Vec<&str> = jobs.iter().map(|j| j.client_id.as_str()).collect();
    let vids: Vec<Option<&str>> = jobs.iter().map(|j| j.verification_id.as_ref().map(VerificationId::as_str)).collect();
    let due: Vec<i64> = jobs.iter().map(|j| j.due_at.millis()).collect();
    let payloads: Vec<&[u8]> = jobs.iter().map(|j| j.payload.as_slice()).collect();
    let max_attempts: Vec<i64> = jobs.iter().map(|j| i64::from(j.max_attempts)).collect();
    sqlx::query(
        "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts, \
         state, locked_until, created_at) \
         SELECT u.id, u.kind, u.client_id, u.verification_id, u.due_at, u.payload, 0, u.max_attempts, 'pending', 0, $8 \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::bytea[], $7::int8[]) \
         AS u(id, kind, client_id, verification_id, due_at, payload, max_attempts)",
    )
    .bind(ids)
    .bind(kinds)
    .bind(clients)
    .bind(vids)
    .bind(due)
    .bind(payloads)
    .bind(max_attempts)
    .bind(now.millis())
    .execute(&mut *conn)
    .await
    .map_err(db("insert jobs"))?;
    Ok(())
}

async fn insert_events(
    conn: &mut PgConnection,
    client: &ClientId,
    id: &VerificationId,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
    let channels: Vec<Option<&str>> = events.iter().map(|e| e.channel.map(|c| c.as_str())).collect();
    let details: Vec<Option<&str>> = events.iter().map(|e| e.detail.as_deref()).collect();
    let at: Vec<i64> = events.iter().map(|e| e.at.millis()).collect();
    // ORDER BY the array position so identity values follow the order the core emitted.
    sqlx::query(
        "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
         SELECT $1, $2, u.kind, u.channel, u.detail, u.at \
         FROM UNNEST($3::text[], $4::text[], $5::text[], $6::int8[]) WITH ORDINALITY AS u(kind, channel, detail, at, n) \
         ORDER BY u.n",
    )
    .bind(id.as_str())
    .bind(client.as_str())
    .bind(kinds)
    .bind(channels)
    .bind(details)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(db("insert events"))?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db("ping"))?;
        Ok(())
    }

    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let cols = ClientCols::of(c)?;
        sqlx::query(
            "INSERT INTO clients (id, name, brand, api_key, secret_hash, username, password_hash, allowed_origins, \
             templates, policy, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .execute(&self.pool)
        .await
        .map_err(db("insert client"))?;
        Ok(())
    }

    async fn client_by_id(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("client by id"))?
            .map(|r| codec::client(&r))
            .transpose()
    }

    async fn client_by_api_key(&self, api_key: &str) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE api_key = $1"))
            .bind(api_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("client by api key"))?
            .map(|r| codec::client(&r))
            .transpose()
    }

    async fn client_by_username(&self, username: &str) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("client by username"))?
            .map(|r| codec::client(&r))
            .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients ORDER BY created_at, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(db("list clients"))?
            .iter()
            .map(codec::client)
            .collect()
    }

    async fn set_client_secret(&self, id: &ClientId, secret_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE id = $2")
            .bind(secret_hash.as_slice())
            .bind(id.as_str())
            .execute(&self.pool)
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
             WHERE client_id = $1 AND idem_key = $2 AND created_at >= $3",
        )
        .bind(client.as_str())
        .bind(key)
        .bind(not_before.millis())
        .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        if let Some(i) = idem {
            // A record past its window no longer protects anything; let the key be reused.
            sqlx::query("DELETE FROM idempotency WHERE client_id = $1 AND idem_key = $2 AND created_at < $3")
                .bind(i.client_id.as_str())
                .bind(i.key.as_str())
                .bind(i.created_at.plus_secs(-IDEMPOTENCY_WINDOW_S).millis())
                .execute(&mut *tx)
                .await
                .map_err(db(OP))?;
            // First, so a duplicate key fails before anything else is written. A racing
            // insert of the same key waits on the unique index until this one commits,
            // then fails with a unique violation: exactly one wins.
            sqlx::query(
                "INSERT INTO idempotency (client_id, idem_key, request_hash, status, body, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
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
        sqlx::query(concat!("SELECT ", verification_columns!(), " FROM verifications WHERE id = $1 AND client_id = $2"))
            .bind(id.as_str())
            .bind(client.as_str())
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        // FOR NO KEY UPDATE rather than FOR UPDATE: it serialises concurrent transitions of
        // the record just the same, but does not block the KEY SHARE locks that foreign-key
        // checks take, so a worker inserting an event or job for this verification (e.g.
        // `complete_job`) neither waits for the transition nor can deadlock with it.
        let row = sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE id = $1 AND client_id = $2 FOR NO KEY UPDATE"
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
                "UPDATE verifications SET to_e164 = $1, status = $2, workflow = $3, locale = $4, brand = $5, \
                 code_length = $6, code_hash = $7, code_expires_at = $8, sealed_code = $9, next_step = $10, \
                 sends = $11, resends = $12, last_sent_at = $13, wrong_checks = $14, policy = $15, \
                 created_at = $16, updated_at = $17, expires_at = $18 WHERE id = $19 AND client_id = $20",
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
                "DELETE FROM jobs WHERE verification_id = $1 AND client_id = $2 AND kind = $3 AND state = 'pending'",
            )
            .bind(id.as_str())
            .bind(client.as_str())
            .bind(JobKind::Step.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        }
        if let Some(job) = done_job {
            sqlx::query("DELETE FROM jobs WHERE id = $1 AND client_id = $2")
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
             WHERE verification_id = $1 AND client_id = $2 ORDER BY id",
        )
        .bind(id.as_str())
        .bind(client.as_str())
        .fetch_all(&self.pool)
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
        // Several connections (and nodes) claim at once. SKIP LOCKED makes each claimer
        // pass over rows another has just picked instead of queueing behind it; a row whose
        // lease another claimer committed meanwhile is re-checked against `locked_until`
        // when it is locked, so it is not taken twice. (SQLite's version needs none of this:
        // its claims all run on one writer connection.)
        let rows = sqlx::query(concat!(
            "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id IN (",
            "SELECT id FROM jobs WHERE state = 'pending' AND due_at <= $1 AND locked_until <= $1 ",
            "ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
            job_columns!()
        ))
        .bind(now.millis())
        .bind(lease_ms.max(0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("claim jobs"))?;
        let mut jobs = rows.iter().map(codec::job).collect::<Result<Vec<_>, _>>()?;
        codec::sort_claimed(&mut jobs);
        Ok(jobs)
    }

    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError> {
        const OP: &str = "complete job";
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(job.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        if let (Some(e), Some(vid)) = (event, &job.verification_id) {
            // The verification may have been purged meanwhile; the event then has nowhere
            // to go, and the job is still done.
            sqlx::query(
                "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS \
                 (SELECT 1 FROM verifications WHERE id = $1 AND client_id = $2)",
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
        sqlx::query("UPDATE jobs SET due_at = $1, locked_until = 0, last_error = $2 WHERE id = $3 AND state = 'pending'")
            .bind(due_at.millis())
            .bind(codec::truncate_error(error))
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("retry job"))?;
        Ok(())
    }

    async fn bury_job(&self, id: &JobId, error: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'dead', payload = ''::bytea, locked_until = 0, last_error = $1, buried_at = $2 \
             WHERE id = $3",
        )
        .bind(codec::truncate_error(error))
        .bind(now.millis())
        .bind(id.as_str())
        .execute(&self.pool)
        .await
        .map_err(db("bury job"))?;
        Ok(())
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at <= $1) AS due, \
             (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at > $1) AS scheduled, \
             (SELECT COUNT(*) FROM jobs WHERE state = 'dead') AS dead",
        )
        .bind(now.millis())
        .fetch_one(&self.pool)
        .await
        .map_err(db("job stats"))?;
        let count = |name: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get(name).map_err(db("job stats"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(JobStats { due: count("due")?, scheduled: count("scheduled")?, dead: count("dead")? })
    }

    async fn next_job_due(&self) -> Result<Option<Timestamp>, StoreError> {
        // See the SQLite version: walk due order only up to the first job without a lease
        // past its due time; only the leased jobs before it need their lease considered.
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(GREATEST(due_at, locked_until)) FROM jobs WHERE state = 'pending' AND due_at <= COALESCE(\
             (SELECT due_at FROM jobs WHERE state = 'pending' AND locked_until <= due_at ORDER BY due_at LIMIT 1), \
             9223372036854775807)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db("next job due"))?;
        Ok(next.map(Timestamp))
    }

    async fn purge(&self, terminal_before: Timestamp, idempotency_before: Timestamp) -> Result<u64, StoreError> {
        const OP: &str = "purge";
        let mut purged = 0u64;
        loop {
            // See the SQLite version for why expired-but-pending records are included.
            // Events and jobs go with each record through ON DELETE CASCADE.
            let done = sqlx::query(
                "DELETE FROM verifications WHERE id IN (SELECT id FROM verifications \
                 WHERE status IN ('approved', 'canceled', 'expired', 'max_attempts_reached', 'failed', 'pending') \
                 AND updated_at < $1 AND (status <> 'pending' OR expires_at < $1) LIMIT $2)",
            )
            .bind(terminal_before.millis())
            .bind(PURGE_BATCH)
            .execute(&self.pool)
            .await
            .map_err(db(OP))?;
            purged += done.rows_affected();
            if done.rows_affected() < PURGE_BATCH as u64 {
                break;
            }
        }
        sqlx::query("DELETE FROM jobs WHERE state = 'dead' AND verification_id IS NULL AND buried_at < $1")
            .bind(terminal_before.millis())
            .execute(&self.pool)
            .await
            .map_err(db(OP))?;
        loop {
            let done = sqlx::query(
                "DELETE FROM idempotency WHERE (client_id, idem_key) IN (SELECT client_id, idem_key FROM idempotency \
                 WHERE created_at < $1 LIMIT $2)",
            )
            .bind(idempotency_before.millis())
            .bind(PURGE_BATCH)
            .execute(&self.pool)
            .await
            .map_err(db(OP))?;
            if done.rows_affected() < PURGE_BATCH as u64 {
                break;
            }
        }
        Ok(purged)
    }
}

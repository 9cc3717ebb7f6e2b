//! The PostgreSQL backend, for several server nodes sharing one database.
//!
//! Unlike SQLite, many connections write at once here, so every read-modify-write takes
//! row locks: `update_verification` locks the record (`FOR NO KEY UPDATE`) for the length
//! of its transaction, and `claim_jobs` leases rows picked with `FOR UPDATE SKIP LOCKED`,
//! so concurrent claimers on any node skip each other's rows instead of waiting or
//! double-claiming. Schema migrations run under a transaction-scoped advisory lock, so
//! nodes starting together apply each migration exactly once.
//!
//! Round trips are what an operation costs here, so each write is as few statements as it
//! can be: a start is one statement (data-modifying CTEs insert the idempotency record, the
//! verification, its jobs and its events, atomically without an explicit transaction), a
//! transition is lock + one statement + commit, and jobs and events of any number go in
//! through `UNNEST` of bound arrays, so every statement is static and stays prepared.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use ringproof_core::StoreError;
use ringproof_core::client::Client;
use ringproof_core::delivery::{DeliveryRecord, ReceiptMatch};
use ringproof_core::engine::IDEMPOTENCY_WINDOW_S;
use ringproof_core::ids::LinkId;
use ringproof_core::ids::{ClientId, JobId, VerificationId};
use ringproof_core::job::{Job, JobQueue, JobStats, NewJob};
use ringproof_core::link_session::LinkRecord;
use ringproof_core::link_session::LinkSession;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::DeliveryStatus;
use ringproof_core::ports::LinkMutation;
use ringproof_core::ports::{IdempotentResponse, LoginStep, Mutation, Store};
use ringproof_core::sessions::{Gate, TokenRecord};
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Effects, Event, NewEvent, Verification};
use ringproof_core::webhook::WebhookConfig;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::codec::{self, ClientCols, VerificationCols, client_columns, job_columns, verification_columns};
use crate::error::db;
use crate::links::{self, ClickCols, link_columns};
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
        sqlx::raw_sql(migrate::CREATE_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
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

/// A batch of new jobs as column arrays, bound to one `UNNEST` insert.
struct JobArrays<'a> {
    ids: Vec<&'a str>,
    kinds: Vec<&'static str>,
    clients: Vec<&'a str>,
    verifications: Vec<Option<&'a str>>,
    due: Vec<i64>,
    payloads: Vec<&'a [u8]>,
    max_attempts: Vec<i64>,
}

impl<'a> JobArrays<'a> {
    fn of(jobs: &'a [NewJob]) -> Self {
        Self {
            ids: jobs.iter().map(|j| j.id.as_str()).collect(),
            kinds: jobs.iter().map(|j| j.kind.as_str()).collect(),
            clients: jobs.iter().map(|j| j.client_id.as_str()).collect(),
            verifications: jobs
                .iter()
                .map(|j| j.verification_id.as_ref().map(VerificationId::as_str))
                .collect(),
            due: jobs.iter().map(|j| j.due_at.millis()).collect(),
            payloads: jobs.iter().map(|j| j.payload.as_slice()).collect(),
            max_attempts: jobs.iter().map(|j| i64::from(j.max_attempts)).collect(),
        }
    }
}

/// A batch of new events as column arrays, bound to one `UNNEST` insert.
struct EventArrays<'a> {
    kinds: Vec<&'static str>,
    channels: Vec<Option<&'static str>>,
    details: Vec<Option<&'a str>>,
    at: Vec<i64>,
}

impl<'a> EventArrays<'a> {
    fn of(events: &'a [NewEvent]) -> Self {
        Self {
            kinds: events.iter().map(|e| e.kind.as_str()).collect(),
            channels: events.iter().map(|e| e.channel.map(|c| c.as_str())).collect(),
            details: events.iter().map(|e| e.detail.as_deref()).collect(),
            at: events.iter().map(|e| e.at.millis()).collect(),
        }
    }
}

/// A whole start in one statement, so one round trip and no explicit transaction: the
/// idempotency record, the verification, its jobs and its events. The record is upserted
/// over a *stale* row for the same key only; a live one makes the upsert a no-op, and then
/// nothing else is inserted and the statement returns false. (A racing insert of the same
/// key waits on the unique index until the first commits, then finds the live row.)
/// Jobs and events may reference the verification inserted beside them: foreign keys are
/// checked at the end of the statement.
const INSERT_VERIFICATION: &str = concat!(
    "WITH idem AS (",
    "INSERT INTO idempotency (client_id, idem_key, request_hash, status, body, created_at) ",
    "SELECT $33, $34, $35, $36, $37, $38 WHERE $34::text IS NOT NULL ",
    "ON CONFLICT (client_id, idem_key) DO UPDATE SET request_hash = EXCLUDED.request_hash, ",
    "status = EXCLUDED.status, body = EXCLUDED.body, created_at = EXCLUDED.created_at ",
    "WHERE idempotency.created_at < $39 RETURNING 1",
    "), v AS (",
    "INSERT INTO verifications (",
    verification_columns!(),
    ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $40 ",
    "WHERE $34::text IS NULL OR EXISTS (SELECT 1 FROM idem) RETURNING id",
    "), j AS (",
    "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts, state, ",
    "locked_until, created_at) ",
    "SELECT u.id, u.kind, u.client_id, u.verification_id, u.due_at, u.payload, 0, u.max_attempts, 'pending', 0, $28 ",
    "FROM UNNEST($21::text[], $22::text[], $23::text[], $24::text[], $25::int8[], $26::bytea[], $27::int8[]) ",
    "AS u(id, kind, client_id, verification_id, due_at, payload, max_attempts) WHERE EXISTS (SELECT 1 FROM v)",
    "), e AS (",
    "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) ",
    "SELECT $1, $2, u.kind, u.channel, u.detail, u.at ",
    "FROM UNNEST($29::text[], $30::text[], $31::text[], $32::int8[]) WITH ORDINALITY AS u(kind, channel, detail, at, n) ",
    "WHERE EXISTS (SELECT 1 FROM v) ORDER BY u.n",
    ") SELECT EXISTS (SELECT 1 FROM v)"
);

/// Everything a transition writes, in one statement (one round trip while the row is
/// locked): the record (if it changed), the cancelled steps, the finished job, the new
/// jobs and the new events. All parts see the snapshot from before the statement, so the
/// step cancellation cannot touch the jobs inserted beside it.
const WRITE_TRANSITION: &str = "WITH upd AS (\
    UPDATE verifications SET to_e164 = $3, status = $4, workflow = $5, locale = $6, brand = $7, code_length = $8, \
    code_hash = $9, code_expires_at = $10, sealed_code = $11, next_step = $12, sends = $13, resends = $14, \
    last_sent_at = $15, wrong_checks = $16, policy = $17, created_at = $18, updated_at = $19, expires_at = $20, \
    options = $36 WHERE $21::boolean AND id = $1 AND client_id = $2\
    ), steps AS (\
    DELETE FROM jobs WHERE $22::boolean AND verification_id = $1 AND client_id = $2 AND kind <> 'webhook' \
    AND state = 'pending' AND id IS DISTINCT FROM $23::text\
    ), done AS (\
    DELETE FROM jobs WHERE id = $23::text AND client_id = $2\
    ), j AS (\
    INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts, state, \
    locked_until, created_at) \
    SELECT u.id, u.kind, u.client_id, u.verification_id, u.due_at, u.payload, 0, u.max_attempts, 'pending', 0, $31 \
    FROM UNNEST($24::text[], $25::text[], $26::text[], $27::text[], $28::int8[], $29::bytea[], $30::int8[]) \
    AS u(id, kind, client_id, verification_id, due_at, payload, max_attempts)\
    ) INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
    SELECT $1, $2, u.kind, u.channel, u.detail, u.at \
    FROM UNNEST($32::text[], $33::text[], $34::text[], $35::int8[]) WITH ORDINALITY AS u(kind, channel, detail, at, n) \
    ORDER BY u.n";

/// A link session and its jobs in one statement (one round trip, atomic without an
/// explicit transaction); the jobs have no verification.
const INSERT_LINK: &str = concat!(
    "WITH l AS (INSERT INTO link_sessions (",
    link_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)) ",
    "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts, state, ",
    "locked_until, created_at) ",
    "SELECT u.id, u.kind, u.client_id, u.verification_id, u.due_at, u.payload, 0, u.max_attempts, 'pending', 0, $12 ",
    "FROM UNNEST($19::text[], $20::text[], $21::text[], $22::text[], $23::int8[], $24::bytea[], $25::int8[]) ",
    "AS u(id, kind, client_id, verification_id, due_at, payload, max_attempts)"
);

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
             templates, policy, controls, created_at, webhook) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13)",
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
        .bind(cols.controls)
        .bind(c.created_at.millis())
        .bind(cols.webhook)
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
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE api_key = $1"
        ))
        .bind(api_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("client by api key"))?
        .map(|r| codec::client(&r))
        .transpose()
    }

    async fn client_by_username(&self, username: &str) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("client by username"))?
        .map(|r| codec::client(&r))
        .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db("list clients"))?
        .iter()
        .map(codec::client)
        .collect()
    }

    async fn update_client_settings(&self, c: &Client) -> Result<bool, StoreError> {
        let cols = ClientCols::of(c)?;
        let done = sqlx::query(
            "UPDATE clients SET brand = $1, allowed_origins = $2, templates = $3, policy = $4, controls = $5 \
             WHERE id = $6",
        )
        .bind(c.brand.as_str())
        .bind(cols.allowed_origins)
        .bind(cols.templates)
        .bind(cols.policy)
        .bind(cols.controls)
        .bind(c.id.as_str())
        .execute(&self.pool)
        .await
        .map_err(db("update client settings"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_client_webhook(&self, id: &ClientId, webhook: Option<&WebhookConfig>) -> Result<bool, StoreError> {
        let json = webhook.map(|w| codec::to_json(w, "webhook")).transpose()?;
        let done = sqlx::query("UPDATE clients SET webhook = $1 WHERE id = $2")
            .bind(json)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("set client webhook"))?;
        Ok(done.rows_affected() > 0)
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

    async fn insert_access_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, client_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(t.token_hash.as_slice())
        .bind(t.client_id.as_str())
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .execute(&self.pool)
        .await
        .map_err(db("insert access token"))?;
        Ok(())
    }

    async fn client_by_token_hash(&self, token_hash: &[u8; 32], now: Timestamp) -> Result<Option<Client>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE id = (SELECT client_id FROM access_tokens WHERE token_hash = $1 AND expires_at > $2)"
        ))
        .bind(token_hash.as_slice())
        .bind(now.millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("client by token"))?
        .map(|r| codec::client(&r))
        .transpose()
    }

    async fn delete_client_tokens(&self, client: &ClientId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM access_tokens WHERE client_id = $1")
            .bind(client.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("delete client tokens"))?;
        Ok(done.rows_affected())
    }

    async fn begin_login_attempt(&self, username: &str, f: LoginStep<'_>) -> Result<Gate, StoreError> {
        const OP: &str = "begin login attempt";
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        // Make sure there is a row to lock (a zero-failure row is the default state), then
        // lock it: concurrent attempts on this username queue here, each reading the state
        // the previous one committed. (A concurrent insert of the same name waits for the
        // first to commit and then does nothing.)
        sqlx::query(
            "INSERT INTO login_failures (username, failures, last_failure_at, locked_until) \
             VALUES ($1, 0, 0, NULL) ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(db(OP))?;
        let row = sqlx::query(
            "SELECT failures, last_failure_at, locked_until FROM login_failures WHERE username = $1 FOR UPDATE",
        )
        .bind(username)
        .fetch_one(&mut *tx)
        .await
        .map_err(db(OP))?;
        let before = codec::login_failures(&row)?;
        let (gate, after) = f(&before);
        if after != before {
            sqlx::query(
                "UPDATE login_failures SET failures = $2, last_failure_at = $3, locked_until = $4 WHERE username = $1",
            )
            .bind(username)
            .bind(i64::from(after.failures))
            .bind(after.last_failure_at.millis())
            .bind(after.locked_until.map(|t| t.millis()))
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
            tx.commit().await.map_err(db(OP))?;
        } else {
            // Nothing changed: also drops the zero row if this call inserted it.
            tx.rollback().await.map_err(db(OP))?;
        }
        Ok(gate)
    }

    async fn reset_login_failures(&self, username: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(db("reset login failures"))?;
        Ok(())
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
        let inserted = insert_verification_with(&self.pool, v, fx, idem).await?;
        if inserted {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "{OP}: the idempotency key is already used"
            )))
        }
    }

    async fn get_verification(
        &self,
        client: &ClientId,
        id: &VerificationId,
    ) -> Result<Option<Verification>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE id = $1 AND client_id = $2"
        ))
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
        write_transition(&mut tx, &v, v != before, &fx, done_job).await?;
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

    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
        queue: JobQueue,
    ) -> Result<Vec<Job>, StoreError> {
        let (webhooks, others) = queue.includes();
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
            "AND ((kind = 'webhook' AND $4::boolean) OR (kind <> 'webhook' AND $5::boolean)) ",
            "ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING ",
            job_columns!()
        ))
        .bind(now.millis())
        .bind(lease_ms.max(0))
        .bind(i64::from(limit))
        .bind(webhooks)
        .bind(others)
        .fetch_all(&self.pool)
        .await
        .map_err(db("claim jobs"))?;
        let mut jobs = rows.iter().map(codec::job).collect::<Result<Vec<_>, _>>()?;
        codec::sort_claimed(&mut jobs);
        Ok(jobs)
    }

    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError> {
        // One statement, so atomic without an explicit transaction. The verification may
        // have been purged meanwhile; the event then has nowhere to go, and the job is still
        // done.
        let vid = event.and(job.verification_id.as_ref()).map(VerificationId::as_str);
        sqlx::query(
            "WITH d AS (DELETE FROM jobs WHERE id = $1) \
             INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
             SELECT $2, $3, $4, $5, $6, $7 WHERE $2::text IS NOT NULL \
             AND EXISTS (SELECT 1 FROM verifications WHERE id = $2 AND client_id = $3)",
        )
        .bind(job.id.as_str())
        .bind(vid)
        .bind(job.client_id.as_str())
        .bind(event.map(|e| e.kind.as_str()))
        .bind(event.and_then(|e| e.channel).map(|c| c.as_str()))
        .bind(event.and_then(|e| e.detail.as_deref()))
        .bind(event.map(|e| e.at.millis()))
        .execute(&self.pool)
        .await
        .map_err(db("complete job"))?;
        Ok(())
    }

    async fn complete_jobs(
        &self,
        done: &[(&Job, Option<&NewEvent>)],
        new_jobs: &[NewJob],
        deliveries: &[DeliveryRecord],
    ) -> Result<(), StoreError> {
        if done.is_empty() && new_jobs.is_empty() && deliveries.is_empty() {
            return Ok(());
        }
        let nj = JobArrays::of(new_jobs);
        // A provider message id seen before now names the newest send (an SMSC whose
        // counter restarted); within one batch, too, the last one wins (an upsert may not
        // touch one row twice).
        let mut seen = std::collections::HashSet::new();
        let mut deliveries: Vec<&DeliveryRecord> = deliveries
            .iter()
            .rev()
            .filter(|d| seen.insert((d.provider.as_str(), d.provider_message_id.as_str())))
            .collect();
        deliveries.reverse();
        // One statement, as in `complete_job`, with the jobs and events as arrays: every
        // job deleted and every event (whose verification still exists) inserted, or none.
        let ids: Vec<&str> = done.iter().map(|(j, _)| j.id.as_str()).collect();
        let events: Vec<(&Job, &NewEvent, &VerificationId)> = done
            .iter()
            .filter_map(|(j, e)| Some((*j, (*e)?, j.verification_id.as_ref()?)))
            .collect();
        sqlx::query(
            "WITH d AS (DELETE FROM jobs WHERE id = ANY($1)), \
             nj AS (INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts, \
             state, locked_until, created_at) \
             SELECT u.id, u.kind, u.client_id, u.verification_id, u.due_at, u.payload, 0, u.max_attempts, 'pending', \
             0, u.due_at \
             FROM UNNEST($8::text[], $9::text[], $10::text[], $11::text[], $12::int8[], $13::bytea[], $14::int8[]) \
             AS u(id, kind, client_id, verification_id, due_at, payload, max_attempts) \
             WHERE EXISTS (SELECT 1 FROM verifications v WHERE v.id = u.verification_id AND v.client_id = u.client_id)), \
             dl AS (INSERT INTO deliveries (provider, provider_message_id, client_id, verification_id, channel, region, \
             sent_at, send_seq, status, updated_at) \
             SELECT u.provider, u.mid, u.cid, u.vid, u.channel, u.region, u.sent_at, u.seq, NULL, u.sent_at \
             FROM UNNEST($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::int8[], \
             $22::int8[]) AS u(provider, mid, cid, vid, channel, region, sent_at, seq) \
             WHERE EXISTS (SELECT 1 FROM verifications v WHERE v.id = u.vid AND v.client_id = u.cid) \
             ON CONFLICT (provider, provider_message_id) DO UPDATE SET client_id = EXCLUDED.client_id, \
             verification_id = EXCLUDED.verification_id, channel = EXCLUDED.channel, region = EXCLUDED.region, \
             sent_at = EXCLUDED.sent_at, send_seq = EXCLUDED.send_seq, status = NULL, \
             updated_at = EXCLUDED.updated_at) \
             INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
             SELECT e.vid, e.cid, e.kind, e.channel, e.detail, e.at \
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) \
             WITH ORDINALITY AS e (vid, cid, kind, channel, detail, at, n) \
             WHERE EXISTS (SELECT 1 FROM verifications v WHERE v.id = e.vid AND v.client_id = e.cid) \
             ORDER BY e.n",
        )
        .bind(ids)
        .bind(events.iter().map(|(_, _, v)| v.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|(j, _, _)| j.client_id.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|(_, e, _)| e.kind.as_str()).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|(_, e, _)| e.channel.map(|c| c.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|(_, e, _)| e.detail.as_deref()).collect::<Vec<_>>())
        .bind(events.iter().map(|(_, e, _)| e.at.millis()).collect::<Vec<_>>())
        .bind(nj.ids)
        .bind(nj.kinds)
        .bind(nj.clients)
        .bind(nj.verifications)
        .bind(nj.due)
        .bind(nj.payloads)
        .bind(nj.max_attempts)
        .bind(deliveries.iter().map(|d| d.provider.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.provider_message_id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.client_id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.verification_id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.channel.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.region.as_deref()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.sent_at.millis()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| i64::from(d.seq)).collect::<Vec<_>>())
        .execute(&self.pool)
        .await
        .map_err(db("complete jobs"))?;
        Ok(())
    }

    async fn apply_receipt(
        &self,
        provider: &str,
        provider_message_id: &str,
        status: DeliveryStatus,
        at: Timestamp,
    ) -> Result<Option<ReceiptMatch>, StoreError> {
        // One statement: the row lock it takes serialises two receipts for one send, and
        // the second sees the first's status.
        let row = sqlx::query(
            "UPDATE deliveries SET status = $1, updated_at = $2 WHERE provider = $3 AND provider_message_id = $4 \
             AND (status IS NULL OR (status = 'sent' AND $1 <> 'sent')) \
             RETURNING client_id, verification_id, channel, region, sent_at, send_seq",
        )
        .bind(status.as_str())
        .bind(at.millis())
        .bind(provider)
        .bind(provider_message_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("apply receipt"))?;
        row.as_ref().map(codec::receipt_match).transpose()
    }

    async fn retry_job(&self, id: &JobId, due_at: Timestamp, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET due_at = $1, locked_until = 0, last_error = $2 WHERE id = $3 AND state = 'pending'",
        )
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
        Ok(JobStats {
            due: count("due")?,
            scheduled: count("scheduled")?,
            dead: count("dead")?,
        })
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

    async fn insert_link(&self, l: &LinkRecord, jobs: &[NewJob]) -> Result<(), StoreError> {
        const OP: &str = "insert link";
        let s = &l.session;
        let c = ClickCols::of(s);
        let j = JobArrays::of(jobs);
        sqlx::query(INSERT_LINK)
            .bind(l.request_id.as_str())
            .bind(l.session_id.as_str())
            .bind(s.client_id.as_str())
            .bind(s.to.e164())
            .bind(s.target_url.as_str())
            .bind(s.source_ip.map(|i| i.to_string()))
            .bind(s.token_hash.as_slice())
            .bind(c.vfp_hash)
            .bind(s.carrier.as_str())
            .bind(s.line.as_str())
            .bind(l.transaction_id.as_str())
            .bind(s.created_at.millis())
            .bind(s.expires_at.millis())
            .bind(c.clicked_at)
            .bind(c.click_ip)
            .bind(c.user_agent)
            .bind(c.phone_match)
            .bind(c.ip_match)
            .bind(j.ids)
            .bind(j.kinds)
            .bind(j.clients)
            .bind(j.verifications)
            .bind(j.due)
            .bind(j.payloads)
            .bind(j.max_attempts)
            .execute(&self.pool)
            .await
            .map_err(db(OP))?;
        Ok(())
    }

    async fn get_link(
        &self,
        client: &ClientId,
        request_id: &LinkId,
        session_id: &LinkId,
    ) -> Result<Option<LinkRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE request_id = $1 AND session_id = $2 AND client_id = $3"
        ))
        .bind(request_id.as_str())
        .bind(session_id.as_str())
        .bind(client.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("get link"))?
        .map(|r| links::link(&r))
        .transpose()
    }

    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE token_hash = $1"
        ))
        .bind(token_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("link by token"))?
        .map(|r| links::link(&r))
        .transpose()
    }

    async fn link_by_vfp_hash(&self, client: &ClientId, vfp_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE vfp_hash = $1 AND client_id = $2"
        ))
        .bind(vfp_hash.as_slice())
        .bind(client.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("link by vfp"))?
        .map(|r| links::link(&r))
        .transpose()
    }

    async fn update_link(&self, token_hash: &[u8; 32], f: LinkMutation<'_>) -> Result<Option<LinkRecord>, StoreError> {
        const OP: &str = "update link";
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        // Held until commit: a concurrent click on the same link waits here, then sees the
        // click this one wrote.
        let row = sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE token_hash = $1 FOR NO KEY UPDATE"
        ))
        .bind(token_hash.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(OP))?;
        let Some(row) = row else {
            tx.rollback().await.map_err(db(OP))?;
            return Ok(None);
        };
        let before = links::link(&row)?;
        let mut after = before.clone();
        f(&mut after.session);
        if after.session.click != before.session.click || after.session.vfp_hash != before.session.vfp_hash {
            let c = ClickCols::of(&after.session);
            sqlx::query(
                "UPDATE link_sessions SET clicked_at = $1, click_ip = $2, user_agent = $3, phone_match = $4, \
                 ip_match = $5, vfp_hash = $6 WHERE request_id = $7",
            )
            .bind(c.clicked_at)
            .bind(c.click_ip)
            .bind(c.user_agent)
            .bind(c.phone_match)
            .bind(c.ip_match)
            .bind(c.vfp_hash)
            .bind(before.request_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        }
        tx.commit().await.map_err(db(OP))?;
        // Only the click may change; everything else is what was stored.
        Ok(Some(LinkRecord {
            session: LinkSession {
                click: after.session.click,
                vfp_hash: after.session.vfp_hash,
                ..before.session
            },
            ..before
        }))
    }

    async fn purge(
        &self,
        terminal_before: Timestamp,
        idempotency_before: Timestamp,
        tokens_expired_at: Timestamp,
        login_failures_before: Timestamp,
    ) -> Result<u64, StoreError> {
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
        for (sql, before) in [
            (
                "DELETE FROM link_sessions WHERE request_id IN (SELECT request_id FROM link_sessions \
                 WHERE expires_at < $1 LIMIT $2)",
                terminal_before,
            ),
            (
                "DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash FROM access_tokens \
                 WHERE expires_at <= $1 LIMIT $2)",
                tokens_expired_at,
            ),
            (
                "DELETE FROM login_failures WHERE username IN (SELECT username FROM login_failures \
                 WHERE last_failure_at < $1 LIMIT $2)",
                login_failures_before,
            ),
        ] {
            loop {
                let done = sqlx::query(sql)
                    .bind(before.millis())
                    .bind(PURGE_BATCH)
                    .execute(&self.pool)
                    .await
                    .map_err(db(OP))?;
                if done.rows_affected() < PURGE_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(purged)
    }

    async fn insert_verification_superseding(
        &self,
        v: &Verification,
        fx: &Effects,
        supersede: Mutation<'_>,
    ) -> Result<u32, StoreError> {
        const OP: &str = "insert superseding verification";
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        // Row locks alone cannot serialise two sends to a number with nothing pending yet
        // (neither sees the other's uncommitted row); a transaction-scoped advisory lock on
        // (client, number) does. The next sender reads after this one commits, so it finds
        // and supersedes this one's verification.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("supersede:{}:{}", v.client_id.as_str(), v.to.e164()))
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE client_id = $1 AND to_e164 = $2 AND status = 'pending' \
             ORDER BY created_at FOR NO KEY UPDATE"
        ))
        .bind(v.client_id.as_str())
        .bind(v.to.e164())
        .fetch_all(&mut *tx)
        .await
        .map_err(db(OP))?;
        let mut superseded = 0u32;
        for row in &rows {
            let before = codec::verification(row)?;
            let mut after = before.clone();
            let old_fx = supersede(&mut after);
            after.id = before.id.clone();
            after.client_id = before.client_id.clone();
            if after.status == ringproof_core::verification::Status::Pending {
                return Err(StoreError::Corrupt(format!(
                    "{OP}: the superseding transition left a verification pending"
                )));
            }
            write_transition(&mut tx, &after, after != before, &old_fx, None).await?;
            superseded += 1;
        }
        if !insert_verification_with(&mut *tx, v, fx, None).await? {
            return Err(StoreError::Conflict(format!("{OP}: not inserted")));
        }
        tx.commit().await.map_err(db(OP))?;
        Ok(superseded)
    }

    async fn latest_verification_to(
        &self,
        client: &ClientId,
        to: &PhoneNumber,
    ) -> Result<Option<Verification>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE client_id = $1 AND to_e164 = $2 \
             ORDER BY (status = 'pending') DESC, created_at DESC, id DESC LIMIT 1"
        ))
        .bind(client.as_str())
        .bind(to.e164())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("latest verification to a number"))?
        .map(|r| codec::verification(&r))
        .transpose()
    }
}

/// Binds a verification's columns, in the order both [`INSERT_VERIFICATION`] and
/// [`WRITE_TRANSITION`] take them first ($1..$20), to a query of either kind.
macro_rules! bind_verification {
    ($q:expr, $v:expr, $cols:expr) => {
        $q.bind($v.id.as_str())
            .bind($v.client_id.as_str())
            .bind($v.to.e164())
            .bind($v.status.as_str())
            .bind($cols.workflow)
            .bind($v.locale.as_str())
            .bind($v.brand.as_str())
            .bind($cols.code_length)
            .bind($v.code_hash.as_ref().map(|h| h.as_slice()))
            .bind($v.code_expires_at.millis())
            .bind($v.sealed_code.as_deref())
            .bind($cols.next_step)
            .bind($cols.sends)
            .bind($cols.resends)
            .bind($v.last_sent_at.millis())
            .bind($cols.wrong_checks)
            .bind($cols.policy)
            .bind($v.created_at.millis())
            .bind($v.updated_at.millis())
            .bind($v.expires_at.millis())
    };
}

/// Runs [`INSERT_VERIFICATION`]; `false` when a live idempotency record kept it out.
async fn insert_verification_with<'c, E: sqlx::PgExecutor<'c>>(
    conn: E,
    v: &Verification,
    fx: &Effects,
    idem: Option<&IdempotentResponse>,
) -> Result<bool, StoreError> {
    let cols = VerificationCols::of(v)?;
    let jobs = JobArrays::of(&fx.jobs);
    let events = EventArrays::of(fx.events());
    bind_verification!(sqlx::query_scalar(INSERT_VERIFICATION), v, cols)
        .bind(jobs.ids)
        .bind(jobs.kinds)
        .bind(jobs.clients)
        .bind(jobs.verifications)
        .bind(jobs.due)
        .bind(jobs.payloads)
        .bind(jobs.max_attempts)
        .bind(v.created_at.millis())
        .bind(events.kinds)
        .bind(events.channels)
        .bind(events.details)
        .bind(events.at)
        .bind(idem.map(|i| i.client_id.as_str()))
        .bind(idem.map(|i| i.key.as_str()))
        .bind(idem.map(|i| i.request_hash.as_slice()))
        .bind(idem.map(|i| i64::from(i.status)))
        .bind(idem.map(|i| i.body.as_str()))
        .bind(idem.map(|i| i.created_at.millis()))
        // A record past its window no longer protects anything: the key may be reused.
        .bind(idem.map(|i| i.created_at.plus_secs(-IDEMPOTENCY_WINDOW_S).millis()))
        .bind(cols.options)
        .fetch_one(conn)
        .await
        .map_err(db("insert verification"))
}

/// Runs [`WRITE_TRANSITION`] for `v` (locked by the caller's transaction), unless there is
/// nothing to write.
async fn write_transition(
    tx: &mut sqlx::PgConnection,
    v: &Verification,
    changed: bool,
    fx: &Effects,
    done_job: Option<&JobId>,
) -> Result<(), StoreError> {
    let nothing_to_write =
        !changed && !fx.cancel_pending_steps && done_job.is_none() && fx.jobs.is_empty() && fx.events().is_empty();
    if nothing_to_write {
        return Ok(());
    }
    let cols = VerificationCols::of(v)?;
    let jobs = JobArrays::of(&fx.jobs);
    let events = EventArrays::of(fx.events());
    bind_verification!(sqlx::query(WRITE_TRANSITION), v, cols)
        .bind(changed)
        .bind(fx.cancel_pending_steps)
        .bind(done_job.map(JobId::as_str))
        .bind(jobs.ids)
        .bind(jobs.kinds)
        .bind(jobs.clients)
        .bind(jobs.verifications)
        .bind(jobs.due)
        .bind(jobs.payloads)
        .bind(jobs.max_attempts)
        .bind(v.updated_at.millis())
        .bind(events.kinds)
        .bind(events.channels)
        .bind(events.details)
        .bind(events.at)
        .bind(cols.options)
        .execute(tx)
        .await
        .map_err(db("update verification"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use ringproof_core::job::JobKind;

    use super::*;

    #[test]
    fn webhook_jobs_are_named_as_the_core_names_them() {
        assert!(WRITE_TRANSITION.contains(&format!("kind <> '{}'", JobKind::Webhook.as_str())));
    }
}

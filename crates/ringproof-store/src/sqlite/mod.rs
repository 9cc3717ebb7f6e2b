//! The SQLite backend: one database file, for a single server node.
//!
//! All writes go through one *writer* connection (see `writer.rs`): SQLite allows one
//! writer at a time anyway, and queueing writers in order in async code is far cheaper than
//! letting several connections collide on the file lock and spin on `SQLITE_BUSY`. It also
//! serialises every read-modify-write (`update_verification`, `claim_jobs`,
//! `begin_login_attempt`) by
//! construction. A *reader* pool of several `query_only` connections (see `readers.rs`)
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

use async_trait::async_trait;
use ringproof_core::StoreError;
use ringproof_core::client::Client;
use ringproof_core::delivery::{DeliveryRecord, ReceiptMatch};
use ringproof_core::engine::IDEMPOTENCY_WINDOW_S;
use ringproof_core::ids::LinkId;
use ringproof_core::ids::{ClientId, JobId, VerificationId};
use ringproof_core::job::{Job, JobKind, JobQueue, JobStats, NewJob};
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
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Row};

use self::readers::Readers;
use self::writer::{Batch, Writer};
use crate::codec::{self, ClientCols, VerificationCols, client_columns, job_columns, verification_columns};
use crate::error::db;
use crate::links::{self, ClickCols, link_columns};
use crate::migrate;

/// Readers are cheap (a thread and a page cache each); a few cover concurrent API reads
/// on a small machine without starving the writer of CPU.
const READERS: u32 = 4;
/// How long an operation may wait for a connection before the store reports itself
/// unavailable, rather than letting requests pile up without bound.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows deleted per purge transaction, so a large purge never holds the writer for long.
const PURGE_BATCH: i64 = 1000;
/// Migrations use sqlx's own transactions; `writer.rs` says why IMMEDIATE.
const MIGRATION_BEGIN: &str = "BEGIN IMMEDIATE";

const SELECT_VERIFICATION_TO_UPDATE: &str = concat!(
    "SELECT ",
    verification_columns!(),
    " FROM verifications WHERE id = ? AND client_id = ?;"
);

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
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);"
);
/// A job announcing an event of a verification that may have been purged meanwhile; it is
/// then not inserted (like the event, below).
const INSERT_JOB_IF_VERIFICATION: &str = "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, \
    attempts, max_attempts, state, locked_until, created_at) SELECT ?, ?, ?, ?, ?, ?, 0, ?, 'pending', 0, ? \
    WHERE EXISTS (SELECT 1 FROM verifications WHERE id = ? AND client_id = ?);";
/// The verification may have been purged meanwhile; the event then has nowhere to go.
/// (Placeholders in a batch are positional across its statements, hence the ids twice.)
/// A send a provider accepted, to match its receipts; dropped with a purged verification.
/// A provider message id seen before (an SMSC whose counter restarted) now names this
/// send: receipts go to the newest, never to an older send of another verification.
const INSERT_DELIVERY: &str = "INSERT OR REPLACE INTO deliveries (provider, provider_message_id, client_id, \
    verification_id, channel, region, sent_at, send_seq, status, updated_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, NULL, ? \
    WHERE EXISTS (SELECT 1 FROM verifications WHERE id = ? AND client_id = ?);";
const INSERT_EVENT_IF_VERIFICATION: &str = "INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
    SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM verifications WHERE id = ? AND client_id = ?);";

/// A [`Store`] on one SQLite database file.
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
        sqlx::raw_sql(migrate::CREATE_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(db(OP))?;
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

/// Binds the columns of `v` in the order of [`verification_columns`], from `to_e164` on
/// (the identity columns are bound by the caller where its statement needs them).
fn bind_verification_fields(b: &mut Batch, v: &Verification, cols: VerificationCols) -> Result<(), StoreError> {
    b.bind(v.to.e164())?
        .bind(v.status.as_str())?
        .bind(cols.workflow)?
        .bind(v.locale.as_str())?
        .bind(v.brand.as_str())?
        .bind(cols.code_length)?
        .bind(v.code_hash.as_ref().map(|h| h.as_slice()))?
        .bind(v.code_expires_at.millis())?
        .bind(v.sealed_code.as_deref())?
        .bind(cols.next_step)?
        .bind(cols.sends)?
        .bind(cols.resends)?
        .bind(v.last_sent_at.millis())?
        .bind(cols.wrong_checks)?
        .bind(cols.policy)?
        .bind(v.created_at.millis())?
        .bind(v.updated_at.millis())?
        .bind(v.expires_at.millis())?
        .bind(cols.options)?;
    Ok(())
}

fn push_jobs(b: &mut Batch, jobs: &[NewJob], now: Timestamp) -> Result<(), StoreError> {
    for j in jobs {
        b.sql(INSERT_JOB)
            .bind(j.id.as_str())?
            .bind(j.kind.as_str())?
            .bind(j.client_id.as_str())?
            .bind(j.verification_id.as_ref().map(VerificationId::as_str))?
            .bind(j.due_at.millis())?
            .bind(j.payload.as_slice())?
            .bind(i64::from(j.max_attempts))?
            .bind(now.millis())?;
    }
    Ok(())
}

fn push_events(b: &mut Batch, client: &ClientId, id: &VerificationId, events: &[NewEvent]) -> Result<(), StoreError> {
    for e in events {
        b.sql(INSERT_EVENT)
            .bind(id.as_str())?
            .bind(client.as_str())?
            .bind(e.kind.as_str())?
            .bind(e.channel.map(|c| c.as_str()))?
            .bind(e.detail.as_deref())?
            .bind(e.at.millis())?;
    }
    Ok(())
}

/// The event a finished job leaves on its verification, unless the verification is gone.
fn push_job_event(b: &mut Batch, job: &Job, e: &NewEvent, vid: &VerificationId) -> Result<(), StoreError> {
    b.sql(INSERT_EVENT_IF_VERIFICATION)
        .bind(vid.as_str())?
        .bind(job.client_id.as_str())?
        .bind(e.kind.as_str())?
        .bind(e.channel.map(|c| c.as_str()))?
        .bind(e.detail.as_deref())?
        .bind(e.at.millis())?
        .bind(vid.as_str())?
        .bind(job.client_id.as_str())?;
    Ok(())
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
    let mut v = before.clone();
    let fx = f(&mut v);
    // The identity is what the caller was authorised for; a transition cannot move the
    // record to another id or tenant.
    v.id = before.id.clone();
    v.client_id = before.client_id.clone();

    let mut b = Batch::new();
    if v != before {
        b.sql(UPDATE_VERIFICATION);
        bind_verification_fields(&mut b, &v, VerificationCols::of(&v)?)?;
        b.bind(id.as_str())?.bind(client.as_str())?;
    }
    // Before the new jobs are inserted: only jobs that existed before this transition are
    // cancelled.
    if fx.cancel_pending_steps {
        b.sql(DELETE_PENDING_STEPS)
            .bind(id.as_str())?
            .bind(client.as_str())?
            .bind(JobKind::Webhook.as_str())?;
    }
    if let Some(job) = done_job {
        b.sql(DELETE_JOB_OF_CLIENT).bind(job.as_str())?.bind(client.as_str())?;
    }
    push_jobs(&mut b, &fx.jobs, v.updated_at)?;
    push_events(&mut b, client, id, fx.events())?;
    Ok((v, b))
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query("SELECT 1").execute(r.conn()?).await.map_err(r.db("ping"))?;
        Ok(())
    }

    async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        const OP: &str = "insert client";
        let cols = ClientCols::of(c)?;
        let mut w = self.writer.lock().await?;
        sqlx::query(
            "INSERT INTO clients (id, name, brand, api_key, secret_hash, username, password_hash, allowed_origins, \
             templates, policy, controls, created_at, webhook) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
             ?13)",
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
        .execute(w.conn()?)
        .await
        .map_err(w.db(OP))?;
        Ok(())
    }

    async fn client_by_id(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE id = ?1"))
            .bind(id.as_str())
            .fetch_optional(r.conn()?)
            .await
            .map_err(r.db("client by id"))?
            .map(|r| codec::client(&r))
            .transpose()
    }

    async fn client_by_api_key(&self, api_key: &str) -> Result<Option<Client>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE api_key = ?1"
        ))
        .bind(api_key)
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("client by api key"))?
        .map(|r| codec::client(&r))
        .transpose()
    }

    async fn client_by_username(&self, username: &str) -> Result<Option<Client>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE username = ?1"
        ))
        .bind(username)
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("client by username"))?
        .map(|r| codec::client(&r))
        .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients ORDER BY created_at, id"
        ))
        .fetch_all(r.conn()?)
        .await
        .map_err(r.db("list clients"))?
        .iter()
        .map(codec::client)
        .collect()
    }

    async fn update_client_settings(&self, c: &Client) -> Result<bool, StoreError> {
        let cols = ClientCols::of(c)?;
        let mut w = self.writer.lock().await?;
        let done = sqlx::query(
            "UPDATE clients SET brand = ?1, allowed_origins = ?2, templates = ?3, policy = ?4, controls = ?5 \
             WHERE id = ?6",
        )
        .bind(c.brand.as_str())
        .bind(cols.allowed_origins)
        .bind(cols.templates)
        .bind(cols.policy)
        .bind(cols.controls)
        .bind(c.id.as_str())
        .execute(w.conn()?)
        .await
        .map_err(w.db("update client settings"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_client_webhook(&self, id: &ClientId, webhook: Option<&WebhookConfig>) -> Result<bool, StoreError> {
        let json = webhook.map(|w| codec::to_json(w, "webhook")).transpose()?;
        let mut w = self.writer.lock().await?;
        let done = sqlx::query("UPDATE clients SET webhook = ?1 WHERE id = ?2")
            .bind(json)
            .bind(id.as_str())
            .execute(w.conn()?)
            .await
            .map_err(w.db("set client webhook"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_client_secret(&self, id: &ClientId, secret_hash: &[u8; 32]) -> Result<bool, StoreError> {
        let mut w = self.writer.lock().await?;
        let done = sqlx::query("UPDATE clients SET secret_hash = ?1 WHERE id = ?2")
            .bind(secret_hash.as_slice())
            .bind(id.as_str())
            .execute(w.conn()?)
            .await
            .map_err(w.db("set client secret"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_access_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        let mut w = self.writer.lock().await?;
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, client_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(t.token_hash.as_slice())
        .bind(t.client_id.as_str())
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .execute(w.conn()?)
        .await
        .map_err(w.db("insert access token"))?;
        Ok(())
    }

    async fn client_by_token_hash(&self, token_hash: &[u8; 32], now: Timestamp) -> Result<Option<Client>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE id = (SELECT client_id FROM access_tokens WHERE token_hash = ?1 AND expires_at > ?2)"
        ))
        .bind(token_hash.as_slice())
        .bind(now.millis())
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("client by token"))?
        .map(|r| codec::client(&r))
        .transpose()
    }

    async fn delete_client_tokens(&self, client: &ClientId) -> Result<u64, StoreError> {
        let mut w = self.writer.lock().await?;
        let done = sqlx::query("DELETE FROM access_tokens WHERE client_id = ?1")
            .bind(client.as_str())
            .execute(w.conn()?)
            .await
            .map_err(w.db("delete client tokens"))?;
        Ok(done.rows_affected())
    }

    async fn begin_login_attempt(&self, username: &str, f: LoginStep<'_>) -> Result<Gate, StoreError> {
        const OP: &str = "begin login attempt";
        // The single writer connection is the lock: no other write (in particular no other
        // attempt on this username) can come between this read and the write-back. The
        // write is one statement, so it needs no transaction of its own.
        let mut w = self.writer.lock().await?;
        let row = sqlx::query("SELECT failures, last_failure_at, locked_until FROM login_failures WHERE username = ?1")
            .bind(username)
            .fetch_optional(w.conn()?)
            .await
            .map_err(w.db(OP))?;
        let before = row.map(|r| codec::login_failures(&r)).transpose()?.unwrap_or_default();
        let (gate, after) = f(&before);
        if after != before {
            sqlx::query(
                "INSERT INTO login_failures (username, failures, last_failure_at, locked_until) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (username) DO UPDATE SET failures = excluded.failures, \
                 last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
            )
            .bind(username)
            .bind(i64::from(after.failures))
            .bind(after.last_failure_at.millis())
            .bind(after.locked_until.map(|t| t.millis()))
            .execute(w.conn()?)
            .await
            .map_err(w.db(OP))?;
        }
        Ok(gate)
    }

    async fn reset_login_failures(&self, username: &str) -> Result<(), StoreError> {
        let mut w = self.writer.lock().await?;
        sqlx::query("DELETE FROM login_failures WHERE username = ?1")
            .bind(username)
            .execute(w.conn()?)
            .await
            .map_err(w.db("reset login failures"))?;
        Ok(())
    }

    async fn idempotent_response(
        &self,
        client: &ClientId,
        key: &str,
        not_before: Timestamp,
    ) -> Result<Option<IdempotentResponse>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(
            "SELECT client_id, idem_key, request_hash, status, body, created_at FROM idempotency \
             WHERE client_id = ?1 AND idem_key = ?2 AND created_at >= ?3",
        )
        .bind(client.as_str())
        .bind(key)
        .bind(not_before.millis())
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("idempotent response"))?
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
        let mut b = Batch::begin();
        if let Some(i) = idem {
            // A record past its window no longer protects anything: the key may be reused.
            b.sql(DELETE_STALE_IDEMPOTENCY)
                .bind(i.client_id.as_str())?
                .bind(i.key.as_str())?
                .bind(i.created_at.plus_secs(-IDEMPOTENCY_WINDOW_S).millis())?;
            // First, so a duplicate key fails before anything else is written.
            b.sql(INSERT_IDEMPOTENCY)
                .bind(i.client_id.as_str())?
                .bind(i.key.as_str())?
                .bind(i.request_hash.as_slice())?
                .bind(i64::from(i.status))?
                .bind(i.body.as_str())?
                .bind(i.created_at.millis())?;
        }
        b.sql(INSERT_VERIFICATION)
            .bind(v.id.as_str())?
            .bind(v.client_id.as_str())?;
        bind_verification_fields(&mut b, v, VerificationCols::of(v)?)?;
        push_jobs(&mut b, &fx.jobs, v.created_at)?;
        push_events(&mut b, &v.client_id, &v.id, fx.events())?;
        // One round trip: BEGIN, every insert, COMMIT.
        self.writer.lock().await?.execute(OP, b.commit()).await
    }

    async fn get_verification(
        &self,
        client: &ClientId,
        id: &VerificationId,
    ) -> Result<Option<Verification>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE id = ?1 AND client_id = ?2"
        ))
        .bind(id.as_str())
        .bind(client.as_str())
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("get verification"))?
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
        // The single writer connection is the lock: no other write can come between this
        // read and the write-back. Two round trips: BEGIN + SELECT, then the writes + COMMIT.
        let mut w = self.writer.lock().await?;
        let mut read = Batch::begin();
        read.sql(SELECT_VERIFICATION_TO_UPDATE)
            .bind(id.as_str())?
            .bind(client.as_str())?;
        let Some(row) = w.fetch_optional(OP, read).await? else {
            w.execute(OP, Batch::new().rollback()).await?;
            return Ok(None);
        };
        match apply(&row, client, id, done_job, f) {
            Ok((v, writes)) => {
                w.execute(OP, writes.commit()).await?;
                Ok(Some(v))
            }
            Err(e) => {
                w.rollback().await?;
                Err(e)
            }
        }
    }

    async fn list_events(&self, client: &ClientId, id: &VerificationId) -> Result<Vec<Event>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(
            "SELECT id, verification_id, kind, channel, detail, at FROM events \
             WHERE verification_id = ?1 AND client_id = ?2 ORDER BY id",
        )
        .bind(id.as_str())
        .bind(client.as_str())
        .fetch_all(r.conn()?)
        .await
        .map_err(r.db("list events"))?
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
        // Unlike PostgreSQL's version this needs no `FOR UPDATE SKIP LOCKED` (SQLite has
        // neither): it runs on the single writer connection, so no other claim or write can
        // come between the inner SELECT choosing the rows and the UPDATE leasing them, and
        // two claimers can never pick the same job.
        let mut w = self.writer.lock().await?;
        let rows = sqlx::query(concat!(
            "UPDATE jobs SET locked_until = ?1 + ?2, attempts = attempts + 1 WHERE id IN (",
            "SELECT id FROM jobs WHERE state = 'pending' AND due_at <= ?1 AND locked_until <= ?1 ",
            "AND ((kind = 'webhook' AND ?4) OR (kind <> 'webhook' AND ?5)) ",
            "ORDER BY due_at LIMIT ?3) RETURNING ",
            job_columns!()
        ))
        .bind(now.millis())
        .bind(lease_ms.max(0))
        .bind(i64::from(limit))
        .bind(webhooks)
        .bind(others)
        .fetch_all(w.conn()?)
        .await
        .map_err(w.db("claim jobs"))?;
        drop(w);
        let mut jobs = rows.iter().map(codec::job).collect::<Result<Vec<_>, _>>()?;
        codec::sort_claimed(&mut jobs);
        Ok(jobs)
    }

    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError> {
        const OP: &str = "complete job";
        let Some((e, vid)) = event.zip(job.verification_id.as_ref()) else {
            let mut b = Batch::new();
            b.sql(DELETE_JOB).bind(job.id.as_str())?;
            return self.writer.lock().await?.execute(OP, b).await;
        };
        let mut b = Batch::begin();
        b.sql(DELETE_JOB).bind(job.id.as_str())?;
        push_job_event(&mut b, job, e, vid)?;
        self.writer.lock().await?.execute(OP, b.commit()).await
    }

    async fn complete_jobs(
        &self,
        done: &[(&Job, Option<&NewEvent>)],
        new_jobs: &[NewJob],
        deliveries: &[DeliveryRecord],
    ) -> Result<(), StoreError> {
        const OP: &str = "complete jobs";
        if done.is_empty() && new_jobs.is_empty() && deliveries.is_empty() {
            return Ok(());
        }
        // One round trip: BEGIN, a delete (and an event) per job, COMMIT. Jobs with an event
        // go first, so a batch's SQL (and its prepared statements) depends only on how many
        // jobs of each kind it holds.
        let (with_event, without): (Vec<_>, Vec<_>) = done
            .iter()
            .map(|(j, e)| (*j, e.zip(j.verification_id.as_ref())))
            .partition(|(_, e)| e.is_some());
        let mut b = Batch::begin();
        for (job, event) in with_event.iter().chain(&without) {
            b.sql(DELETE_JOB).bind(job.id.as_str())?;
            if let Some((e, vid)) = event {
                push_job_event(&mut b, job, e, vid)?;
            }
        }
        for j in new_jobs {
            let vid = j.verification_id.as_ref().map(VerificationId::as_str);
            b.sql(INSERT_JOB_IF_VERIFICATION)
                .bind(j.id.as_str())?
                .bind(j.kind.as_str())?
                .bind(j.client_id.as_str())?
                .bind(vid)?
                .bind(j.due_at.millis())?
                .bind(j.payload.as_slice())?
                .bind(i64::from(j.max_attempts))?
                .bind(j.due_at.millis())?
                .bind(vid)?
                .bind(j.client_id.as_str())?;
        }
        for d in deliveries {
            b.sql(INSERT_DELIVERY)
                .bind(d.provider.as_str())?
                .bind(d.provider_message_id.as_str())?
                .bind(d.client_id.as_str())?
                .bind(d.verification_id.as_str())?
                .bind(d.channel.as_str())?
                .bind(d.region.as_deref())?
                .bind(d.sent_at.millis())?
                .bind(i64::from(d.seq))?
                .bind(d.sent_at.millis())?
                .bind(d.verification_id.as_str())?
                .bind(d.client_id.as_str())?;
        }
        self.writer.lock().await?.execute(OP, b.commit()).await
    }

    async fn apply_receipt(
        &self,
        provider: &str,
        provider_message_id: &str,
        status: DeliveryStatus,
        at: Timestamp,
    ) -> Result<Option<ReceiptMatch>, StoreError> {
        // One statement on the single writer: the status test and the update are atomic.
        let mut w = self.writer.lock().await?;
        let row = sqlx::query(
            "UPDATE deliveries SET status = ?1, updated_at = ?2 WHERE provider = ?3 AND provider_message_id = ?4 \
             AND (status IS NULL OR (status = 'sent' AND ?1 <> 'sent')) \
             RETURNING client_id, verification_id, channel, region, sent_at, send_seq",
        )
        .bind(status.as_str())
        .bind(at.millis())
        .bind(provider)
        .bind(provider_message_id)
        .fetch_optional(w.conn()?)
        .await
        .map_err(w.db("apply receipt"))?;
        drop(w);
        row.as_ref().map(codec::receipt_match).transpose()
    }

    async fn retry_job(&self, id: &JobId, due_at: Timestamp, error: &str) -> Result<(), StoreError> {
        let mut w = self.writer.lock().await?;
        sqlx::query(
            "UPDATE jobs SET due_at = ?1, locked_until = 0, last_error = ?2 WHERE id = ?3 AND state = 'pending'",
        )
        .bind(due_at.millis())
        .bind(codec::truncate_error(error))
        .bind(id.as_str())
        .execute(w.conn()?)
        .await
        .map_err(w.db("retry job"))?;
        Ok(())
    }

    async fn bury_job(&self, id: &JobId, error: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut w = self.writer.lock().await?;
        sqlx::query(
            "UPDATE jobs SET state = 'dead', payload = X'', locked_until = 0, last_error = ?1, buried_at = ?2 \
             WHERE id = ?3",
        )
        .bind(codec::truncate_error(error))
        .bind(now.millis())
        .bind(id.as_str())
        .execute(w.conn()?)
        .await
        .map_err(w.db("bury job"))?;
        Ok(())
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        let mut r = self.readers.acquire().await?;
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at <= ?1) AS due, \
             (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at > ?1) AS scheduled, \
             (SELECT COUNT(*) FROM jobs WHERE state = 'dead') AS dead",
        )
        .bind(now.millis())
        .fetch_one(r.conn()?)
        .await
        .map_err(r.db("job stats"))?;
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
        let mut r = self.readers.acquire().await?;
        // A job can next be claimed at max(due_at, locked_until). Jobs are walked in due
        // order only up to the first one without a lease past its due time: every later job
        // is claimable no earlier than that one, so only the leased jobs before it (the few
        // in flight) need their lease considered.
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(due_at, locked_until)) FROM jobs WHERE state = 'pending' AND due_at <= COALESCE(\
             (SELECT due_at FROM jobs WHERE state = 'pending' AND locked_until <= due_at ORDER BY due_at LIMIT 1), \
             9223372036854775807)",
        )
        .fetch_one(r.conn()?)
        .await
        .map_err(r.db("next job due"))?;
        Ok(next.map(Timestamp))
    }

    async fn insert_link(&self, l: &LinkRecord, jobs: &[NewJob]) -> Result<(), StoreError> {
        const OP: &str = "insert link";
        let s = &l.session;
        let c = ClickCols::of(s);
        let mut b = Batch::begin();
        b.sql(INSERT_LINK)
            .bind(l.request_id.as_str())?
            .bind(l.session_id.as_str())?
            .bind(s.client_id.as_str())?
            .bind(s.to.e164())?
            .bind(s.target_url.as_str())?
            .bind(s.source_ip.map(|i| i.to_string()))?
            .bind(s.token_hash.as_slice())?
            .bind(c.vfp_hash)?
            .bind(s.carrier.as_str())?
            .bind(s.line.as_str())?
            .bind(l.transaction_id.as_str())?
            .bind(s.created_at.millis())?
            .bind(s.expires_at.millis())?
            .bind(c.clicked_at)?
            .bind(c.click_ip)?
            .bind(c.user_agent)?
            .bind(c.phone_match)?
            .bind(c.ip_match)?;
        push_jobs(&mut b, jobs, s.created_at)?;
        self.writer.lock().await?.execute(OP, b.commit()).await
    }

    async fn get_link(
        &self,
        client: &ClientId,
        request_id: &LinkId,
        session_id: &LinkId,
    ) -> Result<Option<LinkRecord>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE request_id = ?1 AND session_id = ?2 AND client_id = ?3"
        ))
        .bind(request_id.as_str())
        .bind(session_id.as_str())
        .bind(client.as_str())
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("get link"))?
        .map(|r| links::link(&r))
        .transpose()
    }

    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE token_hash = ?1"
        ))
        .bind(token_hash.as_slice())
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("link by token"))?
        .map(|r| links::link(&r))
        .transpose()
    }

    async fn link_by_vfp_hash(&self, client: &ClientId, vfp_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE vfp_hash = ?1 AND client_id = ?2"
        ))
        .bind(vfp_hash.as_slice())
        .bind(client.as_str())
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("link by vfp"))?
        .map(|r| links::link(&r))
        .transpose()
    }

    async fn update_link(&self, token_hash: &[u8; 32], f: LinkMutation<'_>) -> Result<Option<LinkRecord>, StoreError> {
        const OP: &str = "update link";
        // The single writer connection is the lock: no other write (in particular no other
        // click on this link) can come between this read and the write-back, which is one
        // statement and so needs no transaction of its own.
        let mut w = self.writer.lock().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            link_columns!(),
            " FROM link_sessions WHERE token_hash = ?1"
        ))
        .bind(token_hash.as_slice())
        .fetch_optional(w.conn()?)
        .await
        .map_err(w.db(OP))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let before = links::link(&row)?;
        let mut after = before.clone();
        f(&mut after.session);
        if after.session.click != before.session.click || after.session.vfp_hash != before.session.vfp_hash {
            let c = ClickCols::of(&after.session);
            sqlx::query(
                "UPDATE link_sessions SET clicked_at = ?1, click_ip = ?2, user_agent = ?3, phone_match = ?4, \
                 ip_match = ?5, vfp_hash = ?6 WHERE request_id = ?7",
            )
            .bind(c.clicked_at)
            .bind(c.click_ip)
            .bind(c.user_agent)
            .bind(c.phone_match)
            .bind(c.ip_match)
            .bind(c.vfp_hash)
            .bind(before.request_id.as_str())
            .execute(w.conn()?)
            .await
            .map_err(w.db(OP))?;
        }
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
        // One batch per lock: other writers get their turn between batches.
        loop {
            // A pending record past its expiry is expired in all but name (nothing will
            // touch it again), so it is purged like a terminal one. Its updated_at is before
            // its expires_at, so the index on (status, updated_at) still narrows the scan.
            // Events and jobs go with it through ON DELETE CASCADE.
            let mut w = self.writer.lock().await?;
            let done = sqlx::query(
                "DELETE FROM verifications WHERE id IN (SELECT id FROM verifications \
                 WHERE status IN ('approved', 'canceled', 'expired', 'max_attempts_reached', 'failed', 'pending') \
                 AND updated_at < ?1 AND (status <> 'pending' OR expires_at < ?1) LIMIT ?2)",
            )
            .bind(terminal_before.millis())
            .bind(PURGE_BATCH)
            .execute(w.conn()?)
            .await
            .map_err(w.db(OP))?;
            purged += done.rows_affected();
            if done.rows_affected() < PURGE_BATCH as u64 {
                break;
            }
        }
        let mut w = self.writer.lock().await?;
        sqlx::query("DELETE FROM jobs WHERE state = 'dead' AND verification_id IS NULL AND buried_at < ?1")
            .bind(terminal_before.millis())
            .execute(w.conn()?)
            .await
            .map_err(w.db(OP))?;
        drop(w);
        loop {
            let mut w = self.writer.lock().await?;
            let done = sqlx::query(
                "DELETE FROM idempotency WHERE (client_id, idem_key) IN (SELECT client_id, idem_key FROM idempotency \
                 WHERE created_at < ?1 LIMIT ?2)",
            )
            .bind(idempotency_before.millis())
            .bind(PURGE_BATCH)
            .execute(w.conn()?)
            .await
            .map_err(w.db(OP))?;
            if done.rows_affected() < PURGE_BATCH as u64 {
                break;
            }
        }
        for (sql, before) in [
            (
                "DELETE FROM link_sessions WHERE request_id IN (SELECT request_id FROM link_sessions \
                 WHERE expires_at < ?1 LIMIT ?2)",
                terminal_before,
            ),
            (
                "DELETE FROM access_tokens WHERE token_hash IN (SELECT token_hash FROM access_tokens \
                 WHERE expires_at <= ?1 LIMIT ?2)",
                tokens_expired_at,
            ),
            (
                "DELETE FROM login_failures WHERE username IN (SELECT username FROM login_failures \
                 WHERE last_failure_at < ?1 LIMIT ?2)",
                login_failures_before,
            ),
        ] {
            loop {
                let mut w = self.writer.lock().await?;
                let done = sqlx::query(sql)
                    .bind(before.millis())
                    .bind(PURGE_BATCH)
                    .execute(w.conn()?)
                    .await
                    .map_err(w.db(OP))?;
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
        const SELECT_PENDING_TO: &str = concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE client_id = ? AND to_e164 = ? AND status = 'pending' \
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
            read.sql(SELECT_PENDING_TO)
                .bind(v.client_id.as_str())?
                .bind(v.to.e164())?;
            let Some(row) = w.fetch_optional(OP, read).await? else {
                break;
            };
            let applied = codec::verification(&row).and_then(|old| {
                let (after, writes) = apply(&row, &v.client_id, &old.id, None, &mut *supersede)?;
                if after.status == ringproof_core::verification::Status::Pending {
                    return Err(StoreError::Corrupt(format!(
                        "{OP}: the superseding transition left a verification pending"
                    )));
                }
                Ok(writes)
            });
            match applied {
                Ok(writes) => w.execute(OP, writes).await?,
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
        b.sql(INSERT_VERIFICATION)
            .bind(v.id.as_str())?
            .bind(v.client_id.as_str())?;
        bind_verification_fields(&mut b, v, VerificationCols::of(v)?)?;
        push_jobs(&mut b, &fx.jobs, v.created_at)?;
        push_events(&mut b, &v.client_id, &v.id, fx.events())?;
        w.execute(OP, b.commit()).await?;
        Ok(superseded)
    }

    async fn latest_verification_to(
        &self,
        client: &ClientId,
        to: &PhoneNumber,
    ) -> Result<Option<Verification>, StoreError> {
        let mut r = self.readers.acquire().await?;
        sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM verifications WHERE client_id = ?1 AND to_e164 = ?2 \
             ORDER BY status = 'pending' DESC, created_at DESC, id DESC LIMIT 1"
        ))
        .bind(client.as_str())
        .bind(to.e164())
        .fetch_optional(r.conn()?)
        .await
        .map_err(r.db("latest verification to a number"))?
        .map(|r| codec::verification(&r))
        .transpose()
    }
}

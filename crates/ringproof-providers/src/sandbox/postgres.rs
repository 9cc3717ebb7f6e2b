//! The sandbox outbox shared by nodes on one PostgreSQL database.
//!
//! Two nodes that each kept their own SQLite outbox would each show only what their own
//! worker delivered: a verification started on node A whose SMS node B's worker sent would
//! never appear on A's sandbox phone. So nodes on PostgreSQL keep the outbox in that
//! database, in a schema of its own (`ringproof_sandbox`, created here, not by the main
//! migrations: the main schema never holds a code in plaintext, and dropping the sandbox is
//! `DROP SCHEMA ringproof_sandbox CASCADE`). Every insert and purge `NOTIFY`s
//! [`CHANNEL`]; each node listens and bumps its watch, so every sandbox phone page updates
//! live whichever node delivered.

use std::sync::Arc;

use ringproof_core::time::Timestamp;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};
use tokio::task::JoinHandle;

use super::{COLUMNS, Record, SandboxMessage, message_from_row};

/// The `LISTEN`/`NOTIFY` channel of outbox changes.
const CHANNEL: &str = "ringproof_sandbox";

/// Connections: one held by the listener, the rest for sends and pages (the sandbox is a
/// development tool; its load is a person's clicks and a test's sends).
const MAX_CONNECTIONS: u32 = 4;

/// Creates the schema, the table and its index. Idempotent; run under a transaction-level
/// advisory lock so that nodes starting at once do not race on `CREATE SCHEMA` (which
/// otherwise fails one of them with a unique violation in `pg_namespace`).
const SCHEMA: &str = "SELECT pg_advisory_xact_lock(7377746); \
    CREATE SCHEMA IF NOT EXISTS ringproof_sandbox; \
    CREATE TABLE IF NOT EXISTS ringproof_sandbox.messages ( \
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        id TEXT NOT NULL UNIQUE, \
        idempotency_key TEXT NOT NULL UNIQUE, \
        to_e164 TEXT NOT NULL, \
        channel TEXT NOT NULL, \
        text TEXT NOT NULL, \
        created_at BIGINT NOT NULL, \
        sender TEXT, \
        client_id TEXT, \
        verification_id TEXT); \
    CREATE INDEX IF NOT EXISTS messages_to ON ringproof_sandbox.messages (to_e164, seq);";

/// One statement, so one round trip: the insert (a retried job's duplicate key is
/// skipped) and the notification, delivered to listeners when it commits.
const INSERT: &str = "WITH ins AS (INSERT INTO ringproof_sandbox.messages \
    (id, idempotency_key, to_e164, channel, text, created_at, sender, client_id, verification_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1) \
    SELECT pg_notify('ringproof_sandbox', '')";

#[derive(Clone)]
pub(super) struct PgOutbox {
    pool: PgPool,
    /// The listener task; aborted when the last clone of the outbox is dropped.
    _listener: Arc<AbortOnDrop>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PgOutbox {
    pub(super) async fn open(url: &str, changes: tokio::sync::watch::Sender<u64>) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect(url)
            .await?;
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
        tx.commit().await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        let task = tokio::spawn(listen(listener, changes));
        Ok(Self {
            pool,
            _listener: Arc::new(AbortOnDrop(task)),
        })
    }

    pub(super) async fn record(&self, r: &Record) -> Result<(), sqlx::Error> {
        let (client, verification) = match &r.verification {
            Some((c, v)) => (Some(c.as_str()), Some(v.as_str())),
            None => (None, None),
        };
        sqlx::query(INSERT)
            .bind(&r.id)
            .bind(&r.idempotency_key)
            .bind(&r.to)
            .bind(r.channel)
            .bind(&r.text)
            .bind(r.created_at)
            .bind(r.sender.as_deref())
            .bind(client)
            .bind(verification)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn messages(&self, to: Option<&str>, limit: u32) -> Result<Vec<SandboxMessage>, sqlx::Error> {
        let rows = match to {
            Some(to) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM ringproof_sandbox.messages WHERE to_e164 = $1 ORDER BY seq DESC LIMIT $2"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(to)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {COLUMNS} FROM ringproof_sandbox.messages ORDER BY seq DESC LIMIT $1");
                sqlx::query(AssertSqlSafe(sql))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(message_from_row).collect()
    }

    /// Deletes the messages recorded before `before` and tells every node; their ids.
    pub(super) async fn purge(&self, before: Timestamp) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("DELETE FROM ringproof_sandbox.messages WHERE created_at < $1 RETURNING id")
            .bind(before.millis())
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("SELECT pg_notify('ringproof_sandbox', '')")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(|r| r.try_get("id")).collect()
    }
}

/// Bumps `changes` on every notification. A lost connection may have lost notifications,
/// so it bumps then too (the page re-reads; nothing is missed), and the listener
/// reconnects and listens again by itself.
async fn listen(mut listener: PgListener, changes: tokio::sync::watch::Sender<u64>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => {
                // Many notifications at once (a burst of sends) make one page refresh.
                while listener.next_buffered().is_some() {}
                changes.send_modify(|n| *n += 1);
            }
            Ok(None) => changes.send_modify(|n| *n += 1),
            Err(e) => {
                tracing::warn!(error = %e, "sandbox outbox: cannot listen for changes; retrying in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

//! The sandbox phone: a provider that delivers nowhere and records every SMS and call
//! (the words the call would speak) in its own SQLite file, like Mailpit for SMS.
//!
//! Its outbox is deliberately a separate file from the main database: showing messages,
//! codes included, is its whole job, while the main database must never hold a code in
//! plaintext. It is refused in `mode = "production"` (the server checks that).
//!
//! Sends are idempotent by [`OutboundMessage::idempotency_key`]: a job retried after a
//! crash between "sent" and "recorded as sent" shows up once, not twice.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use ringproof_core::crypto::{hex, random_bytes};
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::time::{Clock, Timestamp};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// One recorded message, as `GET /sandbox/api/messages` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SandboxMessage {
    pub id: String,
    pub to: String,
    pub channel: String,
    pub text: String,
    pub created_at: String,
}

#[derive(Clone)]
pub struct SandboxSender {
    /// One connection for writes: a single writer keeps SQLite from ever answering
    /// "database is locked".
    writer: SqlitePool,
    /// Readers for the inbox (WAL lets them run beside the writer).
    readers: SqlitePool,
    clock: Arc<dyn Clock>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sandbox_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    to_e164 TEXT NOT NULL,
    channel TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL
)";

impl SandboxSender {
    /// Opens (creating if needed) the sandbox outbox at `path`.
    pub async fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, sqlx::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::query(SCHEMA).execute(&writer).await?;
        sqlx::query("CREATE INDEX IF NOT EXISTS sandbox_messages_to ON sandbox_messages (to_e164, seq)")
            .execute(&writer)
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Self { writer, readers, clock })
    }

    /// Messages newest first, optionally only those to one number.
    pub async fn messages(&self, to: Option<&str>, limit: u32) -> Result<Vec<SandboxMessage>, sqlx::Error> {
        let rows = match to {
            Some(to) => {
                sqlx::query(
                    "SELECT id, to_e164, channel, text, created_at FROM sandbox_messages
                     WHERE to_e164 = ? ORDER BY seq DESC LIMIT ?",
                )
                .bind(to)
                .bind(i64::from(limit))
                .fetch_all(&self.readers)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, to_e164, channel, text, created_at FROM sandbox_messages ORDER BY seq DESC LIMIT ?",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.readers)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(SandboxMessage {
                    id: r.try_get("id")?,
                    to: r.try_get("to_e164")?,
                    channel: r.try_get("channel")?,
                    text: r.try_get("text")?,
                    created_at: Timestamp(r.try_get("created_at")?).to_rfc3339(),
                })
            })
            .collect()
    }
}

#[async_trait]
impl Sender for SandboxSender {
    fn name(&self) -> &str {
        "sandbox"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let id = format!("SB{}", hex(&random_bytes::<16>()));
        sqlx::query(
            "INSERT INTO sandbox_messages (id, idempotency_key, to_e164, channel, text, created_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&id)
        .bind(&msg.idempotency_key)
        .bind(msg.to.e164())
        .bind(msg.channel.as_str())
        .bind(&msg.text)
        .bind(self.clock.now().millis())
        .execute(&self.writer)
        .await
        .map_err(|e| SendError::Retryable(format!("sandbox outbox: {e}")))?;
        tracing::debug!(to = %msg.to, channel = msg.channel.as_str(), "sandbox recorded a message");
        Ok(SendReceipt {
            provider: "sandbox".into(),
            provider_message_id: Some(id),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ringproof_core::phone::PhoneNumber;
    use ringproof_core::time::ManualClock;
    use ringproof_core::workflow::Channel;

    #[tokio::test]
    async fn records_once_per_key_newest_first_and_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("rp-sandbox-{}", hex(&random_bytes::<8>())));
        let path = dir.join("sandbox.db");
        let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
        let s = SandboxSender::open(&path, clock.clone()).await.unwrap();
        let to = PhoneNumber::parse_e164("+14155550123").unwrap();
        let msg = |key: &str, text: &str| OutboundMessage {
            idempotency_key: key.into(),
            to: to.clone(),
            channel: Channel::Sms,
            text: text.into(),
            locale: "en".into(),
            sender: None,
        };
        s.send(&msg("k1", "first")).await.unwrap();
        s.send(&msg("k1", "first again")).await.unwrap();
        clock.advance_secs(1);
        s.send(&msg("k2", "second")).await.unwrap();
        drop(s);
        let s = SandboxSender::open(&path, clock).await.unwrap();
        let all = s.messages(Some("+14155550123"), 10).await.unwrap();
        assert_eq!(
            all.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            ["second", "first"]
        );
        assert_eq!(all[1].created_at, "1970-01-01T00:00:01.000Z");
        assert!(s.messages(Some("+14155550199"), 10).await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}

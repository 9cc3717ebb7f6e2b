//! The sandbox phone: a provider that delivers nowhere and records every SMS and call
//! (the words the call would speak) in its own outbox, like Mailpit for SMS.
//!
//! The outbox is deliberately apart from the main tables: showing messages, codes
//! included, is its whole job, while the main tables must never hold a code in plaintext.
//! On one node it is its own SQLite file. Nodes sharing a PostgreSQL database share one
//! outbox in that database's own schema `ringproof_sandbox` ([`postgres`]), so a message
//! a worker on one node delivers shows on every node's sandbox phone. It is refused in
//! `mode = "production"` (the server checks that).
//!
//! Sends are idempotent by [`OutboundMessage::idempotency_key`]: a job retried after a
//! crash between "sent" and "recorded as sent" shows up once, not twice.

pub mod audio;
pub mod lookup;
mod postgres;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use ringproof_core::crypto::{hex, random_bytes};
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::time::{Clock, Timestamp};
use ringproof_core::workflow::Channel;
use serde::Serialize;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Arguments, AssertSqlSafe, Connection, Row, SqliteConnection};
use tokio::sync::{Mutex, mpsc, oneshot};

use self::audio::VoiceAudio;

/// One recorded message, as `GET /sandbox/api/messages` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SandboxMessage {
    pub id: String,
    pub to: String,
    pub channel: String,
    /// The sender id the message was sent from, when the verification names one (e.g. the
    /// iDenfy face's `sender_name`); `None` for the provider's default.
    pub sender: Option<String>,
    pub text: String,
    pub created_at: String,
    /// The verification the message belongs to and its client (`None` for a link's SMS).
    pub verification_id: Option<String>,
    #[serde(skip)]
    pub client_id: Option<String>,
}

/// Connections reading the inbox (WAL lets them run beside the writer).
const READERS: usize = 2;
/// Most messages written in one transaction.
const MAX_BATCH: usize = 128;

#[derive(Clone)]
pub struct SandboxSender {
    outbox: Outbox,
    clock: Arc<dyn Clock>,
    /// Renders calls to WAV files, when `espeak-ng` is installed (see [`audio`]).
    audio: Option<Arc<VoiceAudio>>,
    /// Bumped after every committed batch and every purge: the sandbox phone's page
    /// listens to it (server-sent events) to show new messages without a reload.
    changes: tokio::sync::watch::Sender<u64>,
}

/// Where the messages are kept.
#[derive(Clone)]
enum Outbox {
    /// A SQLite file of this node's.
    Sqlite {
        /// The writer task's queue. One connection does every write, so SQLite never
        /// answers "database is locked"; see [`write_loop`].
        writes: mpsc::UnboundedSender<Pending>,
        /// Reader connections, each used by one request at a time. Not sqlx's pool, which
        /// pings a connection on every checkout and return: for SQLite each ping is a hop
        /// to the connection's thread, as costly as the query itself.
        readers: Arc<Readers>,
    },
    /// The schema `ringproof_sandbox` of the PostgreSQL database the nodes share.
    Postgres(postgres::PgOutbox),
}

struct Readers {
    options: SqliteConnectOptions,
    conns: Vec<Mutex<Option<SqliteConnection>>>,
    next: AtomicUsize,
}

/// A message to record.
struct Record {
    id: String,
    idempotency_key: String,
    to: String,
    channel: &'static str,
    sender: Option<String>,
    text: String,
    created_at: i64,
    /// (client id, verification id).
    verification: Option<(String, String)>,
}

/// A message waiting for the SQLite writer task, and where to report the outcome.
struct Pending {
    record: Record,
    done: oneshot::Sender<Result<(), String>>,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sandbox_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    to_e164 TEXT NOT NULL,
    channel TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    sender TEXT,
    client_id TEXT,
    verification_id TEXT
)";

const INSERT: &str = "INSERT INTO sandbox_messages (id, idempotency_key, to_e164, channel, text, created_at, sender, \
    client_id, verification_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING;\n";

impl SandboxSender {
    /// Opens (creating if needed) the sandbox outbox at `path`, and starts its writer task
    /// (which ends when the last clone of the sender is dropped).
    pub async fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, sqlx::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // Purged messages (numbers, codes) are overwritten, not left in free pages.
            .pragma("secure_delete", "ON")
            .busy_timeout(std::time::Duration::from_secs(5));
        let mut writer = SqliteConnection::connect_with(&opts).await?;
        sqlx::query(SCHEMA).execute(&mut writer).await?;
        // Outboxes created before the sender was recorded lack its column.
        let has_sender: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_info('sandbox_messages') WHERE name = 'sender'")
                .fetch_one(&mut writer)
                .await?;
        if has_sender == 0 {
            sqlx::query("ALTER TABLE sandbox_messages ADD COLUMN sender TEXT")
                .execute(&mut writer)
                .await?;
        }
        // … and those created before messages named their verification, its columns.
        let has_verification: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pragma_table_info('sandbox_messages') WHERE name = 'verification_id'",
        )
        .fetch_one(&mut writer)
        .await?;
        if has_verification == 0 {
            sqlx::raw_sql(
                "ALTER TABLE sandbox_messages ADD COLUMN client_id TEXT; \
                 ALTER TABLE sandbox_messages ADD COLUMN verification_id TEXT;",
            )
            .execute(&mut writer)
            .await?;
        }
        sqlx::query("CREATE INDEX IF NOT EXISTS sandbox_messages_to ON sandbox_messages (to_e164, seq)")
            .execute(&mut writer)
            .await?;
        let (writes, queue) = mpsc::unbounded_channel();
        let (changes, _) = tokio::sync::watch::channel(0u64);
        tokio::spawn(write_loop(opts.clone(), writer, queue, changes.clone()));
        let readers = Readers {
            options: opts.read_only(true),
            conns: (0..READERS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        Ok(Self {
            outbox: Outbox::Sqlite {
                writes,
                readers: Arc::new(readers),
            },
            clock,
            audio: None,
            changes,
        })
    }

    /// Opens (creating if needed) the outbox shared by every node on the PostgreSQL
    /// database at `url`: the table `ringproof_sandbox.messages`, apart from the main
    /// schema. Every node's [`changes`](Self::changes) sees every node's messages
    /// (`LISTEN`/`NOTIFY`).
    pub async fn open_postgres(url: &str, clock: Arc<dyn Clock>) -> Result<Self, sqlx::Error> {
        let (changes, _) = tokio::sync::watch::channel(0u64);
        let outbox = postgres::PgOutbox::open(url, changes.clone()).await?;
        Ok(Self {
            outbox: Outbox::Postgres(outbox),
            clock,
            audio: None,
            changes,
        })
    }

    /// Renders each call recorded from now on to a WAV file with `audio`.
    pub fn with_audio(mut self, audio: VoiceAudio) -> Self {
        self.audio = Some(Arc::new(audio));
        self
    }

    /// A receiver that sees a new value whenever messages were added or purged.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Deletes every message (the sandbox phone's "clear" button); how many.
    pub async fn clear(&self) -> Result<u64, sqlx::Error> {
        self.purge(Timestamp::from_millis(i64::MAX)).await
    }

    /// The WAV file of call `id`, if calls are rendered and this one's is complete.
    pub async fn audio_file(&self, id: &str) -> Option<PathBuf> {
        let path = self.audio.as_ref()?.path(id)?;
        tokio::fs::try_exists(&path).await.ok()?.then_some(path)
    }

    /// Messages newest first, optionally only those to one number.
    pub async fn messages(&self, to: Option<&str>, limit: u32) -> Result<Vec<SandboxMessage>, sqlx::Error> {
        match &self.outbox {
            Outbox::Sqlite { readers, .. } => sqlite_messages(readers, to, limit).await,
            Outbox::Postgres(pg) => pg.messages(to, limit).await,
        }
    }
}

/// [`SandboxSender::messages`] from the SQLite file.
async fn sqlite_messages(readers: &Readers, to: Option<&str>, limit: u32) -> Result<Vec<SandboxMessage>, sqlx::Error> {
    let i = readers.next.fetch_add(1, Ordering::Relaxed) % readers.conns.len();
    let mut slot = readers.conns[i].lock().await;
    let conn = match &mut *slot {
        Some(c) => c,
        empty => empty.insert(SqliteConnection::connect_with(&readers.options).await?),
    };
    let rows = match to {
        Some(to) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM sandbox_messages WHERE to_e164 = ? ORDER BY seq DESC LIMIT ?"
            )))
            .bind(to)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
        }
        None => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM sandbox_messages ORDER BY seq DESC LIMIT ?"
            )))
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
        }
    };
    if let Err(sqlx::Error::WorkerCrashed) = rows {
        // Open a fresh connection next time.
        *slot = None;
    }
    drop(slot);
    rows?.iter().map(message_from_row).collect()
}

/// The columns [`message_from_row`] reads (both backends' tables have them).
const COLUMNS: &str = "id, to_e164, channel, sender, text, created_at, client_id, verification_id";

fn message_from_row<'r, R: Row>(r: &'r R) -> Result<SandboxMessage, sqlx::Error>
where
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(SandboxMessage {
        id: r.try_get("id")?,
        to: r.try_get("to_e164")?,
        channel: r.try_get("channel")?,
        sender: r.try_get("sender")?,
        client_id: r.try_get("client_id")?,
        verification_id: r.try_get("verification_id")?,
        text: r.try_get("text")?,
        created_at: Timestamp(r.try_get("created_at")?).to_rfc3339(),
    })
}

impl SandboxSender {
    /// Deletes the messages recorded before `before` (numbers, texts and codes) and the
    /// WAV files of those calls; how many messages. The server's retention job calls it
    /// with the personal-data cut-off (docs/privacy.md). On SQLite it runs on its own
    /// connection: a short write beside the writer task, which waits for it
    /// (`busy_timeout`). With a shared PostgreSQL outbox, any node's purge is every
    /// node's, and a node removes only the WAV files it rendered itself (the others'
    /// retention jobs remove theirs when their turn comes: a file no message names is
    /// shown nowhere).
    pub async fn purge(&self, before: Timestamp) -> Result<u64, sqlx::Error> {
        let ids: Vec<String> = match &self.outbox {
            Outbox::Sqlite { readers, .. } => {
                let mut conn = SqliteConnection::connect_with(&readers.options.clone().read_only(false)).await?;
                let ids = sqlx::query_scalar("DELETE FROM sandbox_messages WHERE created_at < ? RETURNING id")
                    .bind(before.millis())
                    .fetch_all(&mut conn)
                    .await;
                let _ = conn.close().await;
                ids?
            }
            Outbox::Postgres(pg) => pg.purge(before).await?,
        };
        if let Some(audio) = &self.audio {
            for id in &ids {
                if let Some(path) = audio.path(id) {
                    // Texts only have no file; a missing file is what we want anyway.
                    let _ = tokio::fs::remove_file(path).await;
                }
            }
        }
        self.changes.send_modify(|n| *n += 1);
        Ok(ids.len() as u64)
    }
}

/// The writer task: takes every message queued by the time it is free and records them
/// in one transaction (one round trip to the connection's thread), so concurrent sends
/// share a commit. A send is answered only after its transaction committed. The task owns
/// the connection, so a sender that stops waiting cannot leave a transaction half done.
async fn write_loop(
    options: SqliteConnectOptions,
    mut conn: SqliteConnection,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    changes: tokio::sync::watch::Sender<u64>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write_batch(&mut conn, &batch).await;
        if let Err(e) = &result {
            // Whatever failed, leave no transaction open for the next batch.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
            if matches!(e, sqlx::Error::WorkerCrashed) {
                tracing::warn!("sandbox writer connection crashed; reconnecting");
                if let Ok(c) = SqliteConnection::connect_with(&options).await {
                    conn = c;
                }
            }
        }
        if result.is_ok() {
            changes.send_modify(|n| *n += 1);
        }
        let result = result.map_err(|e| e.to_string());
        for p in batch.drain(..) {
            let _ = p.done.send(result.clone());
        }
    }
    let _ = conn.close().await;
}

async fn write_batch(conn: &mut SqliteConnection, batch: &[Pending]) -> Result<(), sqlx::Error> {
    let mut sql = String::with_capacity(32 + batch.len() * INSERT.len());
    let mut args = SqliteArguments::default();
    sql.push_str("BEGIN IMMEDIATE;\n");
    for Pending { record: p, .. } in batch {
        sql.push_str(INSERT);
        args.add(p.id.as_str()).map_err(sqlx::Error::Encode)?;
        args.add(p.idempotency_key.as_str()).map_err(sqlx::Error::Encode)?;
        args.add(p.to.as_str()).map_err(sqlx::Error::Encode)?;
        args.add(p.channel).map_err(sqlx::Error::Encode)?;
        args.add(p.text.as_str()).map_err(sqlx::Error::Encode)?;
        args.add(p.created_at).map_err(sqlx::Error::Encode)?;
        args.add(p.sender.as_deref()).map_err(sqlx::Error::Encode)?;
        let (client, verification) = match &p.verification {
            Some((c, v)) => (Some(c.as_str()), Some(v.as_str())),
            None => (None, None),
        };
        args.add(client).map_err(sqlx::Error::Encode)?;
        args.add(verification).map_err(sqlx::Error::Encode)?;
    }
    sql.push_str("COMMIT;");
    sqlx::query_with(AssertSqlSafe(sql), args).execute(conn).await?;
    Ok(())
}

#[async_trait]
impl Sender for SandboxSender {
    fn name(&self) -> &str {
        "sandbox"
    }

    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let id = format!("SB{}", hex(&random_bytes::<16>()));
        let record = Record {
            id: id.clone(),
            idempotency_key: msg.idempotency_key.clone(),
            to: msg.to.e164().to_owned(),
            channel: msg.channel.as_str(),
            sender: msg.sender.clone(),
            text: msg.text.clone(),
            created_at: self.clock.now().millis(),
            verification: msg
                .verification
                .as_ref()
                .map(|(c, v)| (c.as_str().to_owned(), v.as_str().to_owned())),
        };
        match &self.outbox {
            Outbox::Sqlite { writes, .. } => {
                let stopped = || SendError::Retryable("sandbox outbox: the writer has stopped".into());
                let (done, outcome) = oneshot::channel();
                writes.send(Pending { record, done }).map_err(|_| stopped())?;
                outcome
                    .await
                    .map_err(|_| stopped())?
                    .map_err(|e| SendError::Retryable(format!("sandbox outbox: {e}")))?;
            }
            Outbox::Postgres(pg) => pg
                .record(&record)
                .await
                .map_err(|e| SendError::Retryable(format!("sandbox outbox: {e}")))?,
        }
        tracing::debug!(to = %msg.to, channel = msg.channel.as_str(), "sandbox recorded a message");
        if let (Some(audio), Channel::Voice) = (&self.audio, msg.channel) {
            // A duplicate (same idempotency key) was not stored under this id; its render
            // is a file no message names, shown nowhere.
            audio.queue(&id, &msg.text, &msg.locale);
        }
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

    #[tokio::test]
    async fn purge_deletes_messages_older_than_the_cutoff_and_keeps_newer() {
        let tmp = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(1_000_000)));
        let s = SandboxSender::open(&tmp.path().join("sandbox.db"), clock.clone())
            .await
            .unwrap();
        let msg = |key: &str, to: &str| OutboundMessage {
            idempotency_key: key.into(),
            to: PhoneNumber::parse_e164(to).unwrap(),
            channel: Channel::Sms,
            text: format!("code for {key}"),
            locale: "en".into(),
            sender: None,
            verification: None,
        };
        s.send(&msg("old", "+14155550123")).await.unwrap();
        clock.advance_secs(60);
        let cutoff = clock.now();
        s.send(&msg("new", "+14155550124")).await.unwrap();

        assert_eq!(s.purge(cutoff).await.unwrap(), 1);
        let left = s.messages(None, 10).await.unwrap();
        assert_eq!(left.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), ["+14155550124"]);
        // Sends still work after a purge (the writer task was not disturbed), and a second
        // purge finds nothing more.
        s.send(&msg("later", "+14155550125")).await.unwrap();
        assert_eq!(s.purge(cutoff).await.unwrap(), 0);
        assert_eq!(s.messages(None, 10).await.unwrap().len(), 2);
    }

    /// A call recorded by the sandbox is rendered in its locale's voice (with a stand-in for
    /// espeak-ng, so this runs where it is not installed).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_call_is_rendered_in_its_locales_voice() {
        let tmp = tempfile::tempdir().unwrap();
        let (program, log) = audio::fake::espeak_ng(tmp.path());
        let audio = VoiceAudio::with_program(program.to_str().unwrap(), tmp.path().join("audio"))
            .await
            .unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
        let s = SandboxSender::open(&tmp.path().join("sandbox.db"), clock)
            .await
            .unwrap()
            .with_audio(audio);
        let call = OutboundMessage {
            idempotency_key: "k1".into(),
            to: PhoneNumber::parse_e164("+819012345678").unwrap(),
            channel: Channel::Voice,
            text: "Acmeの にんしょうコードを おしらせします。1、2。くりかえします。1、2。".into(),
            locale: "ja".into(),
            sender: None,
            verification: None,
        };
        let id = s.send(&call).await.unwrap().provider_message_id.unwrap();
        // The render runs off the delivery path, in its own task: wait for it (bounded).
        let mut rendered = false;
        for _ in 0..1000 {
            if s.audio_file(&id).await.is_some() {
                rendered = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(rendered, "no render within 10 s");
        assert_eq!(audio::fake::args(&log), "-v ja --stdout --stdin");
        assert_eq!(std::fs::read_to_string(log.with_extension("stdin")).unwrap(), call.text);
    }

    #[tokio::test]
    async fn records_once_per_key_newest_first_and_survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        // A folder that does not exist yet: opening creates it.
        let dir = tmp.path().join("data");
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
            sender: (key == "k2").then(|| "Acme".to_owned()),
            verification: None,
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
        assert_eq!(
            (all[0].sender.as_deref(), all[1].sender.as_deref()),
            (Some("Acme"), None)
        );
        assert!(s.messages(Some("+14155550199"), 10).await.unwrap().is_empty());
    }

    /// An outbox written before the sender was recorded gains the column and keeps its rows.
    #[tokio::test]
    async fn an_outbox_without_the_sender_column_is_upgraded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("sandbox.db");
        let opts = SqliteConnectOptions::from_str("sqlite:")
            .unwrap()
            .filename(&path)
            .create_if_missing(true);
        let mut c = SqliteConnection::connect_with(&opts).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE sandbox_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
             idempotency_key TEXT NOT NULL UNIQUE, to_e164 TEXT NOT NULL, channel TEXT NOT NULL,
             text TEXT NOT NULL, created_at INTEGER NOT NULL);
             INSERT INTO sandbox_messages (id, idempotency_key, to_e164, channel, text, created_at)
             VALUES ('SB1', 'k0', '+14155550123', 'sms', 'old', 0);",
        )
        .execute(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
        let s = SandboxSender::open(&path, clock).await.unwrap();
        let msg = OutboundMessage {
            idempotency_key: "k1".into(),
            to: PhoneNumber::parse_e164("+14155550123").unwrap(),
            channel: Channel::Sms,
            text: "new".into(),
            locale: "en".into(),
            sender: Some("Acme".into()),
            verification: None,
        };
        s.send(&msg).await.unwrap();
        let all = s.messages(None, 10).await.unwrap();
        let got: Vec<_> = all.iter().map(|m| (m.text.as_str(), m.sender.as_deref())).collect();
        assert_eq!(got, [("new", Some("Acme")), ("old", None)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_share_commits_and_each_is_recorded_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let clock = Arc::new(ManualClock::new(Timestamp(1_000)));
        let s = SandboxSender::open(&dir.join("sandbox.db"), clock).await.unwrap();
        let to = PhoneNumber::parse_e164("+14155550123").unwrap();
        // 40 sends at once, each key twice (a retried job), answered only once written.
        let sends: Vec<_> = (0..40)
            .map(|i| {
                let (s, to) = (s.clone(), to.clone());
                tokio::spawn(async move {
                    let msg = OutboundMessage {
                        idempotency_key: format!("k{}", i % 20),
                        to,
                        channel: Channel::Sms,
                        text: format!("code {}", i % 20),
                        locale: "en".into(),
                        sender: None,
                        verification: None,
                    };
                    s.send(&msg).await.unwrap();
                    s.messages(Some("+14155550123"), 500).await.unwrap()
                })
            })
            .collect();
        for t in sends {
            assert!(!t.await.unwrap().is_empty(), "a send is visible once it returns");
        }
        let all = s.messages(None, 500).await.unwrap();
        let mut texts: Vec<_> = all.iter().map(|m| m.text.clone()).collect();
        texts.sort();
        texts.dedup();
        assert_eq!((all.len(), texts.len()), (20, 20));
    }
}

//! Persistence for ringproof: the two implementations of the core's
//! [`Store`] port.
//!
//! - [`SqliteStore`]: one database file, for a single node. Zero setup; the default.
//! - [`PgStore`]: PostgreSQL, for several nodes sharing one database.
//!
//! Both pass the same conformance suite (`tests/conformance`): the same transactions, the
//! same tenant scoping (every verification query is keyed by id *and* client id, so another
//! client's record is indistinguishable from a missing one), the same error mapping. Every
//! statement whose SQL is the same on both is written once (`query`: the `Store` impl is
//! expanded per backend from one body); each backend keeps only what must differ — its
//! locking, its claims, SQLite's single writer and one-round-trip batches, PostgreSQL's
//! arrays — behind `query::Backend`. What else they share — the row mapping (`codec`,
//! `links`), the error mapping (`error`) and the migrations (`migrate`) — lives here once
//! too. [`open`] picks a backend from a database URL.

mod codec;
mod error;
mod link_sessions;
mod migrate;
pub mod postgres;
mod query;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ports::Store;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Connections per node for a PostgreSQL store opened through [`open`].
pub const PG_MAX_CONNECTIONS: u32 = 16;

/// Whether `database_url` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres(database_url: &str) -> bool {
    database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")
}

/// Opens the store a database URL names and brings its schema up to date:
///
/// - `sqlite:PATH` or `sqlite://PATH` (e.g. `sqlite:///var/lib/ringproof/db.sqlite` for an
///   absolute path, `sqlite:data/ringproof.db` for a relative one);
/// - `postgres://…` or `postgresql://…`, with a pool of [`PG_MAX_CONNECTIONS`].
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if is_postgres(database_url) {
        return Ok(Arc::new(PgStore::connect(database_url, PG_MAX_CONNECTIONS).await?));
    }
    if let Some(rest) = database_url.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(StoreError::Unavailable(
                "the sqlite URL names no file: use sqlite:PATH".into(),
            ));
        }
        if path.contains('?') || path == ":memory:" || path.starts_with("file:") {
            // An in-memory database would give the reader and writer pools two different
            // databases; URL options would be silently ignored.
            return Err(StoreError::Unavailable(
                "the sqlite URL must be sqlite:PATH with a plain file path (no options, no :memory:)".into(),
            ));
        }
        return Ok(Arc::new(SqliteStore::open(Path::new(path)).await?));
    }
    // Deliberately not echoing the URL: it may carry a password.
    Err(StoreError::Unavailable(
        "unsupported database URL: use sqlite:PATH, sqlite://PATH, postgres://... or postgresql://...".into(),
    ))
}

/// Writes a consistent copy of the SQLite database that `database_url` names to `dest`, a
/// new file readable by its owner only, while servers keep using the database: `VACUUM
/// INTO` copies one read snapshot (committed transactions only, the WAL included),
/// compacted. Returns the copy's size in bytes. PostgreSQL has its own tools (`pg_dump`,
/// continuous archiving): docs/deploy.md.
pub async fn backup(database_url: &str, dest: &Path) -> Result<u64, StoreError> {
    use sqlx::Connection as _;
    if is_postgres(database_url) {
        return Err(StoreError::Unavailable(
            "the database is PostgreSQL: back it up with pg_dump or continuous archiving (docs/deploy.md)".into(),
        ));
    }
    let Some(path) = database_url
        .strip_prefix("sqlite:")
        .map(|rest| rest.strip_prefix("//").unwrap_or(rest))
        .filter(|p| !p.is_empty())
    else {
        return Err(StoreError::Unavailable("the database URL is not sqlite:PATH".into()));
    };
    let unavailable = |what: &str, e: &dyn std::fmt::Display| StoreError::Unavailable(format!("{what}: {e}"));
    // Created here, empty and owner-only (VACUUM INTO fills an empty file and keeps its
    // mode); `create_new` refuses to overwrite anything.
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(dest)
        .map_err(|e| unavailable(&format!("cannot create {}", dest.display()), &e))?;
    let copied = async {
        // No create_if_missing: a wrong path fails instead of copying a new empty database.
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(std::time::Duration::from_secs(5));
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| unavailable("cannot open the database", &e))?;
        // Absolute, so SQLite (which opens URIs) cannot read `file:…?…` as anything but the
        // file created above.
        let absolute = std::path::absolute(dest).map_err(|e| unavailable("the backup path", &e))?;
        let dest_str = absolute
            .to_str()
            .ok_or_else(|| StoreError::Unavailable("the backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest_str)
            .execute(&mut conn)
            .await
            .map_err(|e| unavailable("the copy failed", &e))?;
        let _ = conn.close().await;
        std::fs::metadata(dest)
            .map(|m| m.len())
            .map_err(|e| unavailable("the copy", &e))
    }
    .await;
    if copied.is_err() {
        // Nothing half-written is left to be mistaken for a backup.
        let _ = std::fs::remove_file(dest);
    }
    copied
}

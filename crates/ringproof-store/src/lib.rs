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

/// Opens the store a database URL names and brings its schema up to date:
///
/// - `sqlite:PATH` or `sqlite://PATH` (e.g. `sqlite:///var/lib/ringproof/db.sqlite` for an
///   absolute path, `sqlite:data/ringproof.db` for a relative one);
/// - `postgres://…` or `postgresql://…`, with a pool of [`PG_MAX_CONNECTIONS`].
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
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

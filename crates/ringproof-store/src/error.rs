//! Translation of driver errors into the port's [`StoreError`], in one place, so both
//! backends classify failures the same way and no caller ever sees a `sqlx` type.
//!
//! Messages name the operation and the driver's own description of the failure, never a
//! bound value: parameters are always bound, so a phone number or a code cannot end up in
//! the text the database sends back about a statement.

use ringproof_core::StoreError;
use sqlx::error::ErrorKind;

/// Maps a driver error met while doing `op`.
pub(crate) fn map(op: &'static str, e: sqlx::Error) -> StoreError {
    tracing::debug!(op, error = %e, "store operation failed");
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(format!("{op}: {}", db.message())),
            // A broken reference or a violated CHECK/NOT NULL is a bug in the caller or a
            // schema the code does not expect, not something a retry can fix.
            ErrorKind::ForeignKeyViolation | ErrorKind::NotNullViolation | ErrorKind::CheckViolation => {
                StoreError::Corrupt(format!("{op}: {}", db.message()))
            }
            // Busy/locked databases, serialization failures, deadlocks, full disks, lost
            // connections: the database could not do it now.
            _ => StoreError::Unavailable(format!("{op}: {}", db.message())),
        },
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(format!("{op}: {e}")),
        sqlx::Error::PoolTimedOut => {
            StoreError::Unavailable(format!("{op}: timed out waiting for a database connection"))
        }
        sqlx::Error::PoolClosed => StoreError::Unavailable(format!("{op}: the store is shut down")),
        // Configuration errors may quote the connection URL, which can hold a password.
        sqlx::Error::Configuration(_) => StoreError::Unavailable(format!("{op}: invalid database configuration")),
        other => StoreError::Unavailable(format!("{op}: {other}")),
    }
}

/// `map_err` adapter: `.map_err(db("get_verification"))`.
pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| map(op, e)
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

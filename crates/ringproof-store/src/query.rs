//! The query layer both backends share: every statement whose SQL is the same on SQLite and
//! PostgreSQL is written here once (with `$N` placeholders, which sqlx-sqlite reads by
//! number), and each backend keeps only what must differ.
//!
//! Three pieces:
//!
//! - [`Conn`]: a connection a statement runs on, with that backend's way of mapping a
//!   failure (SQLite's connections also notice a crashed worker thread). Its helpers
//!   [`Conn::optional`] and [`Conn::all`] are the bind → fetch → map error → decode chain,
//!   written once.
//! - [`Backend`]: what each backend does its own way, and why (locking, `SKIP LOCKED`
//!   claims, the SQLite single writer and its one-round-trip batches, arrays on
//!   PostgreSQL), as methods, and as the few statements whose SQL differs only in a
//!   fragment (written once in [`dialect!`], each backend passing its fragment).
//! - [`store_impl!`]: expands the whole [`Store`](ringproof_core::ports::Store) impl for one
//!   backend, its shared methods written once here and the others handed to [`Backend`].
//!
//! Why a macro rather than code generic over `sqlx::Database`: in generic sqlx code every
//! bound type needs its own `T: Encode<'_, DB> + Type<DB>` where-clause, which no helper
//! trait can imply (only a trait's bounds on `Self` carry over), so every function would
//! repeat a dozen of them. (Decoding escapes this: `codec::DbRow` has the column types as
//! supertraits of the row.) The macro expands each body once per
//! backend with concrete types (vaultwarden's `db_run!` does the same), so the bodies read
//! as plain sqlx code. `sqlx::Any` is not an option: it knows only a handful of scalar
//! types, and none of the arrays the PostgreSQL statements bind.
//!
//! The macro expects the store type to have two inherent methods, `read()` and `write()`,
//! each an `async fn(&self) -> Result<impl Conn<DB>, StoreError>`: the connection for plain
//! reads and the one for single-statement writes (on SQLite a reader and the single writer,
//! on PostgreSQL both the pool).

use std::future::Future;

use ringproof_core::StoreError;
use ringproof_core::delivery::DeliveryRecord;
use ringproof_core::ids::{ClientId, JobId, VerificationId};
use ringproof_core::job::{Job, NewJob};
use ringproof_core::link_session::LinkRecord;
use ringproof_core::ports::{
    CountedMutation, CounterKey, CounterRow, CounterStep, IdempotentResponse, LinkMutation, Mutation, ThrottleStep,
};
use ringproof_core::sessions::LoginFailures;
use ringproof_core::verification::{Effects, NewEvent, Status, Verification};
use sqlx::Database;
use sqlx::query::Query;

/// Rows deleted per purge statement, so a large purge never holds a lock (SQLite's single
/// writer, PostgreSQL's row locks) for long.
pub(crate) const PURGE_BATCH: i64 = 1000;

/// One statement of the personal-data erasure: `$1` the cut-off, `$2` the batch size; it
/// touches only rows it has not erased yet, so running it in batches until one comes back
/// short terminates.
///
/// - `delete TABLE by KEY (KEY_COLUMNS) where AGE`: rows with `AGE < cut-off` go whole;
/// - `null TABLE.COLUMN by KEY where AGE`: the column is set to NULL in such rows (for a
///   table whose rows are worth keeping without it).
macro_rules! erase {
    (delete $table:literal by $key:literal ($cols:literal) where $age:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE ",
            $key,
            " IN (SELECT ",
            $cols,
            " FROM ",
            $table,
            " WHERE ",
            $age,
            " < $1 LIMIT $2)"
        )
    };
    (null $table:literal . $column:literal by $key:literal where $age:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET ",
            $column,
            " = NULL WHERE ",
            $key,
            " IN (SELECT ",
            $key,
            " FROM ",
            $table,
            " WHERE ",
            $age,
            " < $1 AND ",
            $column,
            " IS NOT NULL LIMIT $2)"
        )
    };
}

/// Everything in the main database that holds a phone number, an IP address, a user agent
/// or a text that may quote a number, and how a row older than the personal-data retention
/// loses it (`Store::erase_personal_data`; docs/privacy.md is the same list for people). A
/// table or a column added later that holds any of these is one more line here:
/// `erase!(null "table"."column" by "id" where "created_at")` for a column of rows worth
/// keeping, `erase!(delete …)` for rows that are nothing without it. (A column added to a
/// table deleted whole, such as `verifications.end_user_ip`, needs no line.)
///
/// Not here, on purpose: `clients.controls` (the test-mode allowlist and the blocklist are
/// numbers an administrator chose to keep, until changed); `audit_log` (never holds a
/// number; purged by its own retention); `deliveries` (region only; goes with its
/// verification); guard counters keyed by an HMAC of the number (no raw number).
pub(crate) const PERSONAL_DATA: &[&str] = &[
    // to_e164 (and any per-request column such as the end user's IP): the row goes, and
    // with it (ON DELETE CASCADE) its events (whose detail may quote a provider's error),
    // jobs (sealed payloads, errors) and deliveries. Whatever its status: a verification
    // 30 days old is long over.
    erase!(delete "verifications" by "id" ("id") where "created_at"),
    // to_e164, source_ip, click_ip, user_agent.
    erase!(delete "link_sessions" by "request_id" ("request_id") where "created_at"),
    // body: the stored response echoes the number.
    erase!(delete "idempotency" by "(client_id, idem_key)" ("client_id, idem_key") where "created_at"),
    // Jobs of no verification (links' SMS, dead jobs): a sealed payload holding the number,
    // and last_error, where a provider's message may quote it.
    erase!(delete "jobs" by "id" ("id") where "created_at"),
];

/// A connection one statement runs on, and how its backend reports a failure of `op`.
pub(crate) trait Conn<DB: Database>: Send {
    /// Runs a statement; the number of rows it changed.
    fn execute(
        &mut self,
        op: &'static str,
        q: Query<'_, DB, DB::Arguments>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    fn fetch_optional(
        &mut self,
        op: &'static str,
        q: Query<'_, DB, DB::Arguments>,
    ) -> impl Future<Output = Result<Option<DB::Row>, StoreError>> + Send;

    fn fetch_one(
        &mut self,
        op: &'static str,
        q: Query<'_, DB, DB::Arguments>,
    ) -> impl Future<Output = Result<DB::Row, StoreError>> + Send;

    fn fetch_all(
        &mut self,
        op: &'static str,
        q: Query<'_, DB, DB::Arguments>,
    ) -> impl Future<Output = Result<Vec<DB::Row>, StoreError>> + Send;

    /// The row a statement yields, if any, decoded.
    fn optional<T: Send>(
        &mut self,
        op: &'static str,
        q: Query<'_, DB, DB::Arguments>,
        decode: impl Fn(&DB::Row) -> Result<T, StoreError> + Send,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send {
        async move { self.fetch_optional(op, q).await?.as_ref().map(decode).transpose() }
    }

    /// Every row a statement yields, decoded.
    fn all<T: Send>(
        &mut self,
        op: &'static str,
        q: Query<'_, DB, DB::Arguments>,
        decode: impl Fn(&DB::Row) -> Result<T, StoreError> + Send,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send {
        async move { self.fetch_all(op, q).await?.iter().map(decode).collect() }
    }
}

/// What each backend writes its own way. Every implementation says at each method why it
/// differs from the other backend's. (Plain `async fn`s: they are only called on a
/// concrete store, where their futures are known to be `Send`, so they cost no boxing
/// beyond the `Store` impl's own.)
pub(crate) trait Backend {
    /// Leases due jobs. Differs only in locking: PostgreSQL picks rows `FOR UPDATE SKIP
    /// LOCKED` (and casts its boolean parameters); SQLite runs it on the single writer.
    /// Parameters: now, lease (ms), limit, include webhooks, include other jobs.
    const CLAIM_JOBS: &'static str;
    /// When a job can next be claimed: `MAX(a, b)` on SQLite is `GREATEST(a, b)` on
    /// PostgreSQL. Parameters: none.
    const NEXT_JOB_DUE: &'static str;
    /// Buries a job, emptying its payload: the empty blob literal differs (`X''` vs
    /// `''::bytea`). Parameters: error, now, id.
    const BURY_JOB: &'static str;

    /// The backend's `sqlx::Database`, for the statements [`Backend::write_then`] takes.
    type Db: Database;

    /// Runs `change`, then `then` if `change` changed a row (or `always`), in one
    /// transaction; the rows `change` changed. An administrative write and its audit entry:
    /// SQLite runs them on the single writer between `BEGIN IMMEDIATE` and `COMMIT`,
    /// PostgreSQL in a transaction of the pool.
    async fn write_then(
        &self,
        op: &'static str,
        change: Query<'_, Self::Db, <Self::Db as Database>::Arguments>,
        then: Query<'_, Self::Db, <Self::Db as Database>::Arguments>,
        always: bool,
    ) -> Result<u64, StoreError>;

    /// Read-modify-write of an attempt's throttle rows: on the single writer (SQLite), or
    /// under row locks taken in key order on rows inserted first if missing (PostgreSQL).
    async fn throttle_step(&self, keys: &[String], f: ThrottleStep<'_>) -> Result<(), StoreError>;

    /// Read-modify-write of limit counter rows: on the single writer, the writes in one
    /// batch (SQLite); under row locks taken in key order on rows inserted first if
    /// missing, over arrays (PostgreSQL).
    async fn update_counters(&self, keys: &[CounterKey], f: CounterStep<'_>) -> Result<(), StoreError>;

    /// A start with its jobs, events and idempotency record, atomically in one round trip:
    /// a `BEGIN…COMMIT` batch (SQLite), one statement of data-modifying CTEs over arrays
    /// (PostgreSQL).
    async fn insert_verification(
        &self,
        v: &Verification,
        fx: &Effects,
        idem: Option<&IdempotentResponse>,
    ) -> Result<(), StoreError>;

    /// Many records with their effects in one transaction: one batch (SQLite), the insert
    /// statement per record in one transaction (PostgreSQL).
    async fn import_verifications(&self, items: &[(Verification, Effects)]) -> Result<(), StoreError>;

    /// A transition under the record's lock (the single writer, or `FOR NO KEY UPDATE`),
    /// its writes in one batch or one statement.
    async fn update_verification(
        &self,
        client: &ClientId,
        id: &VerificationId,
        done_job: Option<&JobId>,
        f: Mutation<'_>,
    ) -> Result<Option<Verification>, StoreError>;

    /// A transition and counter rows in one transaction: on the single writer, the record
    /// and the rows read in one batch and written in one (SQLite); under the rows' locks
    /// (key order, as [`Backend::update_counters`]) and then the record's (PostgreSQL).
    async fn update_verification_counted(
        &self,
        client: &ClientId,
        id: &VerificationId,
        keys: &[CounterKey],
        f: CountedMutation<'_>,
    ) -> Result<Option<Verification>, StoreError>;

    /// Supersedes the pending records to a number and inserts the new one, serialised per
    /// number (the single writer, or an advisory lock plus row locks).
    async fn insert_verification_superseding(
        &self,
        v: &Verification,
        fx: &Effects,
        supersede: Mutation<'_>,
    ) -> Result<u32, StoreError>;

    /// Finished jobs, their events, follow-up jobs and deliveries, atomically in one round
    /// trip: a batch (SQLite), one statement over arrays (PostgreSQL).
    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError>;

    async fn complete_jobs(
        &self,
        done: &[(&Job, Option<&NewEvent>)],
        new_jobs: &[NewJob],
        deliveries: &[DeliveryRecord],
    ) -> Result<(), StoreError>;

    /// A link session and its jobs in one round trip: a batch, or one statement over arrays.
    async fn insert_link(&self, l: &LinkRecord, jobs: &[NewJob]) -> Result<(), StoreError>;

    /// Takes the link's lock its own way (the single writer, or a transaction with `FOR NO
    /// KEY UPDATE`) around the shared `click_link`.
    async fn update_link(&self, token_hash: &[u8; 32], f: LinkMutation<'_>) -> Result<Option<LinkRecord>, StoreError>;
}

/// Runs a transition on a copy of the stored record: the record after it and its
/// effects. The identity stays what the caller was authorised for; a transition cannot
/// move the record to another id or tenant.
pub(crate) fn transition(before: &Verification, f: Mutation<'_>) -> (Verification, Effects) {
    let mut after = before.clone();
    let fx = f(&mut after);
    after.id = before.id.clone();
    after.client_id = before.client_id.clone();
    (after, fx)
}

/// [`transition`] with counter rows: the record after it, its effects, and the keys and
/// rows (changed in place) to write back.
pub(crate) fn counted_transition(
    before: &Verification,
    keys: &[CounterKey],
    mut rows: Vec<CounterRow>,
    f: CountedMutation<'_>,
) -> (Verification, Effects, Vec<CounterKey>, Vec<CounterRow>) {
    let mut after = before.clone();
    let (fx, write) = f(&mut after, &mut rows);
    after.id = before.id.clone();
    after.client_id = before.client_id.clone();
    let (keys, rows) = keys
        .iter()
        .zip(rows)
        .zip(write.into_iter().chain(std::iter::repeat(false)))
        .filter(|(_, w)| *w)
        .map(|((k, r), _)| (k.clone(), r))
        .unzip();
    (after, fx, keys, rows)
}

/// The rows of `keys`, in their order, from those `found` (a missing one: empty).
pub(crate) fn rows_in_key_order(keys: &[CounterKey], found: &[(CounterKey, CounterRow)]) -> Vec<CounterRow> {
    keys.iter()
        .map(|k| {
            found
                .iter()
                .find(|(fk, _)| fk == k)
                .map(|(_, r)| r.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// A superseding transition must leave the record no longer pending (else the next
/// supersede would find it again).
pub(crate) fn check_superseded(op: &str, after: &Verification) -> Result<(), StoreError> {
    if after.status == Status::Pending {
        return Err(StoreError::Corrupt(format!(
            "{op}: the superseding transition left a verification pending"
        )));
    }
    Ok(())
}

/// Binds a verification's columns from `to_e164` to `expires_at`, in the order of
/// `verification_columns!` (each statement binds the identity columns and `options` where
/// it takes them), to a sqlx query or a SQLite batch alike.
macro_rules! bind_verification_fields {
    ($q:expr, $v:expr, $cols:expr) => {
        $q.bind($v.to.e164())
            .bind($v.status.as_str())
            .bind($cols.workflow.as_str())
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
            .bind($cols.policy.as_str())
            .bind($v.created_at.millis())
            .bind($v.updated_at.millis())
            .bind($v.expires_at.millis())
    };
}
pub(crate) use bind_verification_fields;

/// Binds a link session's columns in the order of `link_columns!`, to a sqlx query or a
/// SQLite batch alike.
macro_rules! bind_link {
    ($q:expr, $l:expr) => {{
        let (l, s) = ($l, &$l.session);
        let c = $crate::link_sessions::ClickCols::of(s);
        $q.bind(l.request_id.as_str())
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
            .bind(c.match_reason)
            .bind(c.auth_state_hash)
            .bind(c.auth_deadline)
            .bind(c.auth_sealed)
            .bind(s.sim_swap.map(|r| r.as_str()))
    }};
}
pub(crate) use bind_link;

/// The queue filter of a claim on the jobs aliased `j`: webhooks if `$4`, the other kinds
/// this build runs if `$5`, `$cast` the boolean cast. Kinds are named, not "anything but
/// webhooks": a job of a kind a newer release added is left to the nodes that run it,
/// rather than claimed and failed by this one (a rolling upgrade, docs/deploy.md). The
/// test `claims_name_every_job_kind` keeps the list equal to `JobKind::ALL`.
macro_rules! claim_jobs_queue {
    ($cast:literal) => {
        concat!(
            "((j.kind = 'webhook' AND $4",
            $cast,
            ") OR (j.kind IN ('deliver', 'step', 'expire') AND $5",
            $cast,
            "))"
        )
    };
}

#[cfg(test)]
#[test]
fn claims_name_every_job_kind() {
    use ringproof_core::job::JobKind;
    let filter = claim_jobs_queue!("");
    for k in JobKind::ALL {
        assert!(
            filter.contains(&format!("'{}'", k.as_str())),
            "{} is never claimed",
            k.as_str()
        );
    }
    assert_eq!(
        filter.matches('\'').count(),
        JobKind::ALL.len() * 2,
        "a kind this build does not have"
    );
    let known = known_kinds!();
    for k in JobKind::ALL {
        assert!(
            known.contains(&format!("'{}'", k.as_str())),
            "{} is never waited for",
            k.as_str()
        );
    }
    assert_eq!(known.matches('\'').count(), JobKind::ALL.len() * 2);
}
pub(crate) use claim_jobs_queue;

/// The job kinds this build runs, as a filter on `kind`: when the next job is due is asked
/// of these only, so a newer release's job does not keep an older worker waking to claim
/// nothing (a rolling upgrade).
macro_rules! known_kinds {
    () => {
        "kind IN ('deliver', 'step', 'expire', 'webhook')"
    };
}
pub(crate) use known_kinds;

/// The statements whose SQL differs between the dialects only in a fragment, written once
/// with that fragment as a parameter; each backend's [`Backend`] consts pass theirs and say
/// why.
macro_rules! dialect {
    // Leases due jobs, fairly across clients (ARCHITECTURE.md, "Fair claims"): `$cast`
    // for the boolean parameters, `$lock` for the rows picked, `$by_client` to make SQLite
    // probe a client through `jobs_by_client`.
    //
    // The candidates, each with its turn: (0) the oldest due job of every client with
    // nothing in flight, (1) the oldest due job of every other client, (2) the first
    // `limit` due jobs in due order. The first `limit` by turn, then due time, are leased.
    // So a client with nothing in flight gets the next free slot whatever another client
    // has queued, and a lone client still gets whole batches in due order.
    //
    // Cost: `owners` walks the distinct clients of the pending jobs (one index probe each,
    // a loose index scan), and each client costs two probes of `jobs_by_client`; nothing
    // scans a backlog. A client is probed with `client_id = ` and also the row value
    // `(client_id, due_at) >= (…)`: with the equality alone, the planners (which guess a
    // client holds 1/n of the jobs) may walk `jobs_by_due` and filter, which is a scan
    // through a flooder's backlog when the client probed has one job.
    (claim_jobs, $cast:literal, $lock:literal, $by_client:literal) => {
        concat!(
            "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 WHERE id IN (",
            "WITH RECURSIVE owners (client_id) AS (",
            "SELECT MIN(client_id) FROM jobs WHERE state = 'pending' UNION ALL ",
            "SELECT (SELECT MIN(j.client_id) FROM jobs j WHERE j.state = 'pending' AND j.client_id > owners.client_id) ",
            "FROM owners WHERE owners.client_id IS NOT NULL), ",
            "heads (id, busy) AS (SELECT ",
            // The client's oldest due job that is free to claim.
            "(SELECT j.id FROM jobs j",
            $by_client,
            " WHERE j.state = 'pending' AND j.client_id = owners.client_id ",
            "AND (j.client_id, j.due_at) >= (owners.client_id, -9223372036854775807) ",
            "AND j.due_at <= $1 AND j.locked_until <= $1 AND ",
            $crate::query::claim_jobs_queue!($cast),
            " ORDER BY j.due_at LIMIT 1), ",
            // In flight: the client's oldest pending job is leased (a client's jobs are
            // claimed oldest first, so one in flight is its oldest while it runs).
            "(SELECT j.locked_until > $1 FROM jobs j",
            $by_client,
            " WHERE j.state = 'pending' AND j.client_id = owners.client_id ",
            "AND (j.client_id, j.due_at) >= (owners.client_id, -9223372036854775807) AND ",
            $crate::query::claim_jobs_queue!($cast),
            " ORDER BY j.due_at LIMIT 1) ",
            "FROM owners WHERE owners.client_id IS NOT NULL), ",
            "candidates (id, turn) AS (",
            "SELECT id, CASE WHEN busy THEN 1 ELSE 0 END FROM heads WHERE id IS NOT NULL UNION ALL ",
            "SELECT f.id, 2 FROM (SELECT j.id FROM jobs j WHERE j.state = 'pending' AND j.due_at <= $1 ",
            "AND j.locked_until <= $1 AND ",
            $crate::query::claim_jobs_queue!($cast),
            " ORDER BY j.due_at LIMIT $3) AS f) ",
            "SELECT j.id FROM jobs j JOIN (SELECT id, MIN(turn) AS turn FROM candidates GROUP BY id) AS c ",
            "ON c.id = j.id WHERE j.state = 'pending' AND j.due_at <= $1 AND j.locked_until <= $1 ",
            "ORDER BY c.turn, j.due_at LIMIT $3",
            $lock,
            ") RETURNING ",
            $crate::codec::job_columns!()
        )
    };
    // A job can next be claimed at max(due_at, locked_until) (`$greatest` the two-argument
    // maximum). Jobs are walked in due order only up to the first one without a lease past
    // its due time: every later job is claimable no earlier than that one, so only the
    // leased jobs before it (the few in flight) need their lease considered.
    (next_job_due, $greatest:literal) => {
        concat!(
            "SELECT MIN(",
            $greatest,
            "(due_at, locked_until)) FROM jobs WHERE state = 'pending' AND ",
            $crate::query::known_kinds!(),
            " AND due_at <= COALESCE(",
            "(SELECT due_at FROM jobs WHERE state = 'pending' AND ",
            $crate::query::known_kinds!(),
            " AND locked_until <= due_at ORDER BY due_at LIMIT 1), ",
            "9223372036854775807)"
        )
    };
    // Buries a job, its payload replaced by `$empty_blob`.
    (bury_job, $empty_blob:literal) => {
        concat!(
            "UPDATE jobs SET state = 'dead', payload = ",
            $empty_blob,
            ", locked_until = 0, last_error = $1, buried_at = $2 WHERE id = $3"
        )
    };
}
pub(crate) use dialect;

/// `SELECT <columns> FROM <rest>`, the columns one of the `*_columns!` lists:
/// `select!(link_columns, "link_sessions WHERE token_hash = $1")`.
macro_rules! select {
    ($columns:ident, $rest:literal) => {
        concat!("SELECT ", $columns!(), " FROM ", $rest)
    };
}
pub(crate) use select;

/// The throttle rows with these keys (`$1`…`$n`, one placeholder per key: the only SQL
/// built at run time, from placeholders alone), then `suffix` (a lock clause). The same on
/// both backends.
pub(crate) fn throttle_rows<DB>(keys: &[String], suffix: &str) -> Query<'static, DB, DB::Arguments>
where
    DB: Database,
    String: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT throttle_key, failures, last_failure_at, locked_until FROM auth_throttle \
         WHERE throttle_key IN ({}) ORDER BY throttle_key{suffix}",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for k in keys {
        q = q.bind(k.clone());
    }
    q
}

/// The states of `keys`, in their order, from the rows read (default for a missing one).
pub(crate) fn in_key_order(keys: &[String], rows: &[(String, LoginFailures)]) -> Vec<LoginFailures> {
    keys.iter()
        .map(|k| rows.iter().find(|(rk, _)| rk == k).map(|(_, s)| *s).unwrap_or_default())
        .collect()
}

/// Expands `impl Store for $store`: the statements both backends share, written once, and
/// the rest handed to the store's [`Backend`] impl. See the module doc.
macro_rules! store_impl {
    ($store:ty, $db:ty) => {
        // A block of its own, so the expansion brings its imports with it.
        const _: () = {
            use ringproof_core::StoreError;
            use ringproof_core::access_key::AccessKey;
            use ringproof_core::audit::{AuditEntry, AuditQuery};
            use ringproof_core::client::Client;
            use ringproof_core::delivery::{DeliveryRecord, ReceiptMatch};
            use ringproof_core::ids::{BucketId, ClientId, JobId, LinkId, RateLimitId, ServiceId, VerificationId};
            use ringproof_core::ratelimit::{Bucket, RateLimit};
            use ringproof_core::job::{Job, JobQueue, JobStats, NewJob};
            use ringproof_core::link_session::LinkSession;
            use ringproof_core::link_session::LinkRecord;
            use ringproof_core::phone::PhoneNumber;
            use ringproof_core::service::Service;
            use ringproof_core::ports::{ClientWrite, DeliveryStatus, IdempotentResponse, LinkMutation, Mutation, ThrottleStep};
            use ringproof_core::sessions::{LoginFailures, TokenRecord};
            use ringproof_core::time::Timestamp;
            use ringproof_core::verification::{Effects, Event, NewEvent, Verification};
            use ringproof_core::webhook::WebhookConfig;
            use sqlx::Row as _;
            use $crate::codec::{self, ClientCols, client_columns, verification_columns};
            use $crate::error::db;
            use $crate::link_sessions::{self, ClickCols, link_columns};
            use $crate::migrate::{self, Migration};
            use $crate::query::{Backend, Conn, PERSONAL_DATA, PURGE_BATCH, select};

            /// Helpers of the shared methods below.
            impl $store {
                /// Applies migration `m` in the caller's transaction (begun, and on PostgreSQL
                /// locked, each backend's own way) unless it is recorded already; whether it
                /// was applied, so the caller commits and logs it.
                async fn apply_migration(
                    tx: &mut <$db as sqlx::Database>::Connection,
                    op: &'static str,
                    m: &Migration,
                ) -> Result<bool, StoreError> {
                    sqlx::raw_sql(migrate::CREATE_TABLE).execute(&mut *tx).await.map_err(db(op))?;
                    let applied = sqlx::query("SELECT 1 FROM ringproof_migrations WHERE version = $1")
                        .bind(m.version)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db(op))?;
                    if applied.is_some() {
                        return Ok(false);
                    }
                    for stmt in migrate::statements(m.sql) {
                        sqlx::raw_sql(stmt).execute(&mut *tx).await.map_err(db(op))?;
                    }
                    sqlx::query("INSERT INTO ringproof_migrations (version, applied_at) VALUES ($1, $2)")
                        .bind(m.version)
                        .bind(migrate::now_millis())
                        .execute(&mut *tx)
                        .await
                        .map_err(db(op))?;
                    Ok(true)
                }

                /// The statement of one client write (each plain method runs the same one),
                /// and what it is called in errors.
                fn client_write(
                    w: ClientWrite<'_>,
                ) -> Result<(&'static str, sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>), StoreError> {
                    Ok(match w {
                        ClientWrite::Insert(c) => {
                            let cols = ClientCols::of(c)?;
                            let q = sqlx::query(
                                "INSERT INTO clients (id, name, brand, api_key, secret_hash, username, password_hash, \
                                 allowed_origins, templates, policy, controls, created_at, webhook, brand_color) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
                            .bind(c.brand_color.map(ringproof_core::client::BrandColor::as_hex));
                            ("insert client", q)
                        }
                        ClientWrite::Settings(c) => {
                            let cols = ClientCols::of(c)?;
                            let q = sqlx::query(
                                "UPDATE clients SET brand = $1, allowed_origins = $2, templates = $3, policy = $4, \
                                 controls = $5, brand_color = $6 WHERE id = $7",
                            )
                            .bind(c.brand.as_str())
                            .bind(cols.allowed_origins)
                            .bind(cols.templates)
                            .bind(cols.policy)
                            .bind(cols.controls)
                            .bind(c.brand_color.map(ringproof_core::client::BrandColor::as_hex))
                            .bind(c.id.as_str());
                            ("update client settings", q)
                        }
                        ClientWrite::Secret(id, secret_hash) => {
                            let q = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE id = $2")
                                .bind(secret_hash.as_slice())
                                .bind(id.as_str());
                            ("set client secret", q)
                        }
                        ClientWrite::Webhook(id, webhook) => {
                            let json = webhook.map(|w| codec::to_json(w, "webhook")).transpose()?;
                            let q = sqlx::query("UPDATE clients SET webhook = $1 WHERE id = $2")
                                .bind(json)
                                .bind(id.as_str());
                            ("set client webhook", q)
                        }
                        ClientWrite::RevokeTokens(id) => {
                            let q = sqlx::query("DELETE FROM access_tokens WHERE client_id = $1").bind(id.as_str());
                            ("delete client tokens", q)
                        }
                        ClientWrite::AccessKey(k) => {
                            // A rotation keeps the id and the client: only the secret changes.
                            let q = sqlx::query(
                                "INSERT INTO access_keys (id, client_id, kind, secret_hash, created_at) \
                                 VALUES ($1, $2, $3, $4, $5) \
                                 ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash \
                                 WHERE access_keys.client_id = excluded.client_id",
                            )
                            .bind(k.id.as_str())
                            .bind(k.client_id.as_str())
                            .bind(k.kind.as_str())
                            .bind(k.secret_hash.as_slice())
                            .bind(k.created_at.millis());
                            ("write access key", q)
                        }
                        ClientWrite::VonageApplication(a) => {
                            // Registering an id again replaces its key, for its own client only.
                            let q = sqlx::query(
                                "INSERT INTO vonage_applications (id, client_id, public_key, created_at) \
                                 VALUES ($1, $2, $3, $4) \
                                 ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key \
                                 WHERE vonage_applications.client_id = excluded.client_id",
                            )
                            .bind(a.id.as_str())
                            .bind(a.client_id.as_str())
                            .bind(a.public_key.to_pem())
                            .bind(a.created_at.millis());
                            ("write vonage application", q)
                        }
                        ClientWrite::RevokeApiKey(client, id) => {
                            let q = sqlx::query(
                                "DELETE FROM access_keys WHERE id = $1 AND client_id = $2 AND kind IN ('api_key', 'vonage')",
                            )
                            .bind(id)
                            .bind(client.as_str());
                            ("revoke API key", q)
                        }
                    })
                }

                fn insert_audit_query(
                    a: &AuditEntry,
                ) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments> {
                    sqlx::query(
                        "INSERT INTO audit_log (at, actor, action, client_id, detail) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(a.at.millis())
                    .bind(a.actor.as_str())
                    .bind(a.action.as_str())
                    .bind(a.client_id.as_ref().map(|c| c.as_str()))
                    .bind(a.detail.to_string())
                }

                /// Runs a purge statement (`$1` the cut-off, `$2` the batch size) until it
                /// deletes less than a batch; the rows it deleted. Each batch is a statement of
                /// its own, on a connection taken for it alone, so other writers (SQLite's
                /// single writer included) get their turn between batches.
                async fn purge_batches(&self, sql: &'static str, before: Timestamp) -> Result<u64, StoreError> {
                    let mut purged = 0;
                    loop {
                        let q = sqlx::query(sql).bind(before.millis()).bind(PURGE_BATCH);
                        let n = self.write().await?.execute("purge", q).await?;
                        purged += n;
                        if n < PURGE_BATCH as u64 {
                            return Ok(purged);
                        }
                    }
                }

                /// The middle of `update_link`, on a connection the caller holds locked for the
                /// link (its own way): reads the session with `select` (`$1` the token hash),
                /// applies `f` and writes the click back if it changed.
                async fn click_link(
                    c: &mut impl Conn<$db>,
                    select: &'static str,
                    token_hash: &[u8; 32],
                    f: LinkMutation<'_>,
                ) -> Result<Option<LinkRecord>, StoreError> {
                    const OP: &str = "update link";
                    let q = sqlx::query(select).bind(token_hash.as_slice());
                    let Some(before) = c.optional(OP, q, link_sessions::link).await? else {
                        return Ok(None);
                    };
                    let mut after = before.clone();
                    f(&mut after.session);
                    let (a, b) = (&after.session, &before.session);
                    if a.click != b.click || a.vfp_hash != b.vfp_hash || a.auth != b.auth {
                        let k = ClickCols::of(&after.session);
                        let q = sqlx::query(
                            "UPDATE link_sessions SET clicked_at = $1, click_ip = $2, user_agent = $3, \
                             phone_match = $4, ip_match = $5, vfp_hash = $6, match_reason = $7, \
                             auth_state_hash = $8, auth_deadline = $9, auth_sealed = $10 WHERE request_id = $11",
                        )
                        .bind(k.clicked_at)
                        .bind(k.click_ip)
                        .bind(k.user_agent)
                        .bind(k.phone_match)
                        .bind(k.ip_match)
                        .bind(k.vfp_hash)
                        .bind(k.match_reason)
                        .bind(k.auth_state_hash)
                        .bind(k.auth_deadline)
                        .bind(k.auth_sealed)
                        .bind(before.request_id.as_str());
                        c.execute(OP, q).await?;
                    }
                    // Only the click (with its authentication) may change; everything else is
                    // what was stored.
                    Ok(Some(LinkRecord {
                        session: LinkSession {
                            click: after.session.click,
                            vfp_hash: after.session.vfp_hash,
                            auth: after.session.auth,
                            ..before.session
                        },
                        ..before
                    }))
                }
            }

            #[async_trait::async_trait]
            impl ringproof_core::ports::Store for $store {
                async fn ping(&self) -> Result<(), StoreError> {
                    self.read().await?.execute("ping", sqlx::query("SELECT 1")).await?;
                    Ok(())
                }

                async fn keep_setting(&self, name: &str, value: &str) -> Result<String, StoreError> {
                    // The no-op update makes RETURNING yield the row that was already there.
                    let q = sqlx::query(
                        "INSERT INTO settings (name, value) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value",
                    )
                    .bind(name)
                    .bind(value);
                    let stored = self
                        .write()
                        .await?
                        .optional("keep setting", q, |r| codec::Column::<String>::column(r, "value"))
                        .await?;
                    stored.ok_or_else(|| crate::error::corrupt("keep setting returned no row"))
                }

                async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
                    let q = sqlx::query("SELECT value FROM settings WHERE name = $1").bind(name);
                    self.read()
                        .await?
                        .optional("read setting", q, |r| codec::Column::<String>::column(r, "value"))
                        .await
                }

                async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
                    let (op, q) = Self::client_write(ClientWrite::Insert(c))?;
                    self.write().await?.execute(op, q).await?;
                    Ok(())
                }

                async fn client_by_id(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
                    let q = sqlx::query(select!(client_columns, "clients WHERE id = $1"));
                    self.read().await?.optional("client by id", q.bind(id.as_str()), codec::client).await
                }

                async fn client_by_api_key(&self, api_key: &str) -> Result<Option<Client>, StoreError> {
                    let q = sqlx::query(select!(client_columns, "clients WHERE api_key = $1"));
                    self.read().await?.optional("client by api key", q.bind(api_key), codec::client).await
                }

                async fn client_by_api_key_with_throttle(
                    &self,
                    api_key: &str,
                    throttle_keys: &[String],
                ) -> Result<(Option<Client>, Vec<LoginFailures>), StoreError> {
                    const OP: &str = "client by api key with throttle states";
                    if throttle_keys.is_empty() {
                        return Ok((self.client_by_api_key(api_key).await?, Vec::new()));
                    }
                    // One row per throttle row found (at least one row: the outer side is a
                    // single row), each carrying the client's columns (NULL if no client).
                    let placeholders: Vec<String> = (2..=throttle_keys.len() + 1).map(|i| format!("${i}")).collect();
                    // Every column of both tables (their names differ), decoded by name.
                    let sql = format!(
                        "SELECT * FROM (SELECT 1 AS one) AS o LEFT JOIN clients ON api_key = $1 \
                         LEFT JOIN auth_throttle ON throttle_key IN ({})",
                        placeholders.join(", ")
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(api_key.to_owned());
                    for k in throttle_keys {
                        q = q.bind(k.clone());
                    }
                    let rows = self
                        .read()
                        .await?
                        .all(OP, q, |r| {
                            let client = match codec::col::<Option<String>>(r, "id")? {
                                Some(_) => Some(codec::client(r)?),
                                None => None,
                            };
                            let throttle = match codec::col::<Option<String>>(r, "throttle_key")? {
                                Some(_) => Some(codec::throttle_row(r)?),
                                None => None,
                            };
                            Ok((client, throttle))
                        })
                        .await?;
                    let throttle: Vec<(String, LoginFailures)> = rows.iter().filter_map(|(_, t)| t.clone()).collect();
                    let client = rows.into_iter().next().and_then(|(c, _)| c);
                    Ok((client, $crate::query::in_key_order(throttle_keys, &throttle)))
                }

                async fn client_by_username(&self, username: &str) -> Result<Option<Client>, StoreError> {
                    let q = sqlx::query(select!(client_columns, "clients WHERE username = $1"));
                    self.read().await?.optional("client by username", q.bind(username), codec::client).await
                }

                async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
                    let q = sqlx::query(select!(client_columns, "clients ORDER BY created_at, id"));
                    self.read().await?.all("list clients", q, codec::client).await
                }

                async fn update_client_settings(&self, c: &Client) -> Result<bool, StoreError> {
                    let (op, q) = Self::client_write(ClientWrite::Settings(c))?;
                    Ok(self.write().await?.execute(op, q).await? > 0)
                }

                async fn set_client_webhook(
                    &self,
                    id: &ClientId,
                    webhook: Option<&WebhookConfig>,
                ) -> Result<bool, StoreError> {
                    let (op, q) = Self::client_write(ClientWrite::Webhook(id, webhook))?;
                    Ok(self.write().await?.execute(op, q).await? > 0)
                }

                async fn set_client_secret(&self, id: &ClientId, secret_hash: &[u8; 32]) -> Result<bool, StoreError> {
                    let (op, q) = Self::client_write(ClientWrite::Secret(id, secret_hash))?;
                    Ok(self.write().await?.execute(op, q).await? > 0)
                }

                async fn audited_client_write(&self, w: ClientWrite<'_>, audit: &AuditEntry) -> Result<u64, StoreError> {
                    let always = matches!(w, ClientWrite::RevokeTokens(_));
                    let (op, q) = Self::client_write(w)?;
                    Backend::write_then(self, op, q, Self::insert_audit_query(audit), always).await
                }

                async fn insert_audit(&self, audit: &AuditEntry) -> Result<(), StoreError> {
                    self.write().await?.execute("insert audit", Self::insert_audit_query(audit)).await?;
                    Ok(())
                }

                async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
                    // `$1 IS NULL` needs a type on PostgreSQL; comparing with a sentinel does not.
                    let q = sqlx::query(
                        "SELECT at, actor, action, client_id, detail FROM audit_log \
                         WHERE ($1 = '' OR client_id = $1) AND at >= $2 ORDER BY at DESC, id DESC LIMIT $3",
                    )
                    .bind(query.client_id.as_ref().map_or("", |c| c.as_str()))
                    .bind(query.since.map_or(i64::MIN, |t| t.millis()))
                    .bind(i64::from(query.limit));
                    self.read().await?.all("list audit", q, codec::audit_entry).await
                }

                async fn list_counters(
                    &self,
                    client: Option<&ClientId>,
                    scope: &str,
                    now: Timestamp,
                ) -> Result<Vec<(ClientId, ringproof_core::ports::CounterRow)>, StoreError> {
                    let q = sqlx::query(
                        "SELECT client_id, state, expires_at FROM guard_counters \
                         WHERE ($1 = '' OR client_id = $1) AND scope = $2 AND expires_at > $3 \
                         ORDER BY client_id",
                    )
                    .bind(client.map_or("", |c| c.as_str()))
                    .bind(scope)
                    .bind(now.millis());
                    self.read().await?.all("list counters", q, codec::counter_row_of_client).await
                }

                async fn purge_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
                    self.purge_batches(
                        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 LIMIT $2)",
                        before,
                    )
                    .await
                }

                async fn erase_personal_data(&self, before: Timestamp) -> Result<u64, StoreError> {
                    let mut erased = 0;
                    for sql in PERSONAL_DATA {
                        erased += self.purge_batches(sql, before).await?;
                    }
                    Ok(erased)
                }

                async fn insert_access_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
                    let q = sqlx::query(
                        "INSERT INTO access_tokens (token_hash, client_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(t.token_hash.as_slice())
                    .bind(t.client_id.as_str())
                    .bind(t.created_at.millis())
                    .bind(t.expires_at.millis());
                    self.write().await?.execute("insert access token", q).await?;
                    Ok(())
                }

                async fn client_by_token_hash(
                    &self,
                    token_hash: &[u8; 32],
                    now: Timestamp,
                ) -> Result<Option<Client>, StoreError> {
                    let q = sqlx::query(select!(
                        client_columns,
                        "clients WHERE id = (SELECT client_id FROM access_tokens WHERE token_hash = $1 \
                         AND expires_at > $2)"
                    ))
                    .bind(token_hash.as_slice())
                    .bind(now.millis());
                    self.read().await?.optional("client by token", q, codec::client).await
                }

                async fn delete_client_tokens(&self, client: &ClientId) -> Result<u64, StoreError> {
                    let (op, q) = Self::client_write(ClientWrite::RevokeTokens(client))?;
                    self.write().await?.execute(op, q).await
                }

                async fn throttle_step(&self, keys: &[String], f: ThrottleStep<'_>) -> Result<(), StoreError> {
                    Backend::throttle_step(self, keys, f).await
                }

                async fn update_counters(&self, keys: &[CounterKey], f: CounterStep<'_>) -> Result<(), StoreError> {
                    if keys.is_empty() {
                        return Ok(());
                    }
                    Backend::update_counters(self, keys, f).await
                }

                async fn throttle_states(&self, keys: &[String]) -> Result<Vec<LoginFailures>, StoreError> {
                    if keys.is_empty() {
                        return Ok(Vec::new());
                    }
                    let q = $crate::query::throttle_rows(keys, "");
                    let rows = self.read().await?.all("throttle states", q, codec::throttle_row).await?;
                    Ok($crate::query::in_key_order(keys, &rows))
                }

                async fn idempotent_response(
                    &self,
                    client: &ClientId,
                    key: &str,
                    not_before: Timestamp,
                ) -> Result<Option<IdempotentResponse>, StoreError> {
                    let q = sqlx::query(
                        "SELECT client_id, idem_key, request_hash, status, body, created_at FROM idempotency \
                         WHERE client_id = $1 AND idem_key = $2 AND created_at >= $3",
                    )
                    .bind(client.as_str())
                    .bind(key)
                    .bind(not_before.millis());
                    self.read().await?.optional("idempotent response", q, codec::idempotent_response).await
                }

                async fn import_verifications(&self, items: &[(Verification, Effects)]) -> Result<(), StoreError> {
                    if items.is_empty() {
                        return Ok(());
                    }
                    Backend::import_verifications(self, items).await
                }

                async fn insert_verification(
                    &self,
                    v: &Verification,
                    fx: &Effects,
                    idem: Option<&IdempotentResponse>,
                ) -> Result<(), StoreError> {
                    Backend::insert_verification(self, v, fx, idem).await
                }

                async fn get_verification(
                    &self,
                    client: &ClientId,
                    id: &VerificationId,
                ) -> Result<Option<Verification>, StoreError> {
                    let q = sqlx::query(select!(verification_columns, "verifications WHERE id = $1 AND client_id = $2"))
                        .bind(id.as_str())
                        .bind(client.as_str());
                    self.read().await?.optional("get verification", q, codec::verification).await
                }

                async fn update_verification(
                    &self,
                    client: &ClientId,
                    id: &VerificationId,
                    done_job: Option<&JobId>,
                    f: Mutation<'_>,
                ) -> Result<Option<Verification>, StoreError> {
                    Backend::update_verification(self, client, id, done_job, f).await
                }

                async fn update_verification_counted(
                    &self,
                    client: &ClientId,
                    id: &VerificationId,
                    keys: &[CounterKey],
                    f: CountedMutation<'_>,
                ) -> Result<Option<Verification>, StoreError> {
                    Backend::update_verification_counted(self, client, id, keys, f).await
                }

                async fn list_events(&self, client: &ClientId, id: &VerificationId) -> Result<Vec<Event>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, verification_id, kind, channel, detail, at FROM events \
                         WHERE verification_id = $1 AND client_id = $2 ORDER BY id",
                    )
                    .bind(id.as_str())
                    .bind(client.as_str());
                    self.read().await?.all("list events", q, codec::event).await
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
                    let q = sqlx::query(<Self as Backend>::CLAIM_JOBS)
                        .bind(now.millis())
                        .bind(lease_ms.max(0))
                        .bind(i64::from(limit))
                        .bind(webhooks)
                        .bind(others);
                    let mut jobs = self.write().await?.all("claim jobs", q, codec::job).await?;
                    codec::sort_claimed(&mut jobs);
                    Ok(jobs)
                }

                async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError> {
                    Backend::complete_job(self, job, event).await
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
                    Backend::complete_jobs(self, done, new_jobs, deliveries).await
                }

                async fn apply_receipt(
                    &self,
                    provider: &str,
                    provider_message_id: &str,
                    status: DeliveryStatus,
                    at: Timestamp,
                ) -> Result<Option<ReceiptMatch>, StoreError> {
                    // One statement, so the status test and the update are atomic (the single
                    // writer on SQLite; on PostgreSQL the row lock it takes serialises two
                    // receipts for one send, and the second sees the first's status).
                    let q = sqlx::query(
                        "UPDATE deliveries SET status = $1, updated_at = $2 WHERE provider = $3 \
                         AND provider_message_id = $4 AND (status IS NULL OR (status = 'sent' AND $1 <> 'sent')) \
                         RETURNING client_id, verification_id, channel, region, sent_at, send_seq",
                    )
                    .bind(status.as_str())
                    .bind(at.millis())
                    .bind(provider)
                    .bind(provider_message_id);
                    self.write().await?.optional("apply receipt", q, codec::receipt_match).await
                }

                async fn retry_job(&self, id: &JobId, due_at: Timestamp, error: &str) -> Result<(), StoreError> {
                    let q = sqlx::query(
                        "UPDATE jobs SET due_at = $1, locked_until = 0, last_error = $2 WHERE id = $3 \
                         AND state = 'pending'",
                    )
                    .bind(due_at.millis())
                    .bind(codec::truncate_error(error))
                    .bind(id.as_str());
                    self.write().await?.execute("retry job", q).await?;
                    Ok(())
                }

                async fn bury_job(&self, id: &JobId, error: &str, now: Timestamp) -> Result<(), StoreError> {
                    let q = sqlx::query(<Self as Backend>::BURY_JOB)
                        .bind(codec::truncate_error(error))
                        .bind(now.millis())
                        .bind(id.as_str());
                    self.write().await?.execute("bury job", q).await?;
                    Ok(())
                }

                async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
                    const OP: &str = "job stats";
                    let q = sqlx::query(
                        "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at <= $1) AS due, \
                         (SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND due_at > $1) AS scheduled, \
                         (SELECT COUNT(*) FROM jobs WHERE state = 'dead') AS dead",
                    )
                    .bind(now.millis());
                    let row = self.read().await?.fetch_one(OP, q).await?;
                    let count = |name: &str| -> Result<u64, StoreError> {
                        let n: i64 = row.try_get(name).map_err(db(OP))?;
                        Ok(u64::try_from(n).unwrap_or(0))
                    };
                    Ok(JobStats {
                        due: count("due")?,
                        scheduled: count("scheduled")?,
                        dead: count("dead")?,
                    })
                }

                async fn next_job_due(&self) -> Result<Option<Timestamp>, StoreError> {
                    const OP: &str = "next job due";
                    let row = self.read().await?.fetch_one(OP, sqlx::query(<Self as Backend>::NEXT_JOB_DUE)).await?;
                    let next: Option<i64> = row.try_get(0).map_err(db(OP))?;
                    Ok(next.map(Timestamp))
                }

                async fn insert_link(&self, l: &LinkRecord, jobs: &[NewJob]) -> Result<(), StoreError> {
                    Backend::insert_link(self, l, jobs).await
                }

                async fn get_link(
                    &self,
                    client: &ClientId,
                    request_id: &LinkId,
                    session_id: &LinkId,
                ) -> Result<Option<LinkRecord>, StoreError> {
                    let q = sqlx::query(select!(
                        link_columns,
                        "link_sessions WHERE request_id = $1 AND session_id = $2 AND client_id = $3"
                    ))
                        .bind(request_id.as_str())
                        .bind(session_id.as_str())
                        .bind(client.as_str());
                    self.read().await?.optional("get link", q, link_sessions::link).await
                }

                async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError> {
                    let q = sqlx::query(select!(link_columns, "link_sessions WHERE token_hash = $1"))
                        .bind(token_hash.as_slice());
                    self.read().await?.optional("link by token", q, link_sessions::link).await
                }

                async fn link_by_auth_state(&self, state_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError> {
                    let q = sqlx::query(select!(link_columns, "link_sessions WHERE auth_state_hash = $1"))
                        .bind(state_hash.as_slice());
                    self.read().await?.optional("link by auth state", q, link_sessions::link).await
                }

                async fn link_by_vfp_hash(
                    &self,
                    client: &ClientId,
                    vfp_hash: &[u8; 32],
                ) -> Result<Option<LinkRecord>, StoreError> {
                    let q = sqlx::query(select!(link_columns, "link_sessions WHERE vfp_hash = $1 AND client_id = $2"))
                        .bind(vfp_hash.as_slice())
                        .bind(client.as_str());
                    self.read().await?.optional("link by vfp", q, link_sessions::link).await
                }

                async fn update_link(
                    &self,
                    token_hash: &[u8; 32],
                    f: LinkMutation<'_>,
                ) -> Result<Option<LinkRecord>, StoreError> {
                    Backend::update_link(self, token_hash, f).await
                }

                async fn purge(
                    &self,
                    terminal_before: Timestamp,
                    idempotency_before: Timestamp,
                    tokens_expired_at: Timestamp,
                    login_failures_before: Timestamp,
                ) -> Result<u64, StoreError> {
                    // A pending record past its expiry is expired in all but name (nothing will
                    // touch it again), so it is purged like a terminal one. Its updated_at is
                    // before its expires_at, so the index on (status, updated_at) still narrows
                    // the scan. Events and jobs go with it through ON DELETE CASCADE.
                    let purged = self
                        .purge_batches(
                            "DELETE FROM verifications WHERE id IN (SELECT id FROM verifications \
                             WHERE status IN ('approved', 'canceled', 'expired', 'max_attempts_reached', 'failed', \
                             'pending') AND updated_at < $1 AND (status <> 'pending' OR expires_at < $1) LIMIT $2)",
                            terminal_before,
                        )
                        .await?;
                    // Dead jobs of no verification (those of one went with it above).
                    let q = sqlx::query(
                        "DELETE FROM jobs WHERE state = 'dead' AND verification_id IS NULL AND buried_at < $1",
                    )
                    .bind(terminal_before.millis());
                    self.write().await?.execute("purge", q).await?;
                    for (sql, before) in [
                        (
                            "DELETE FROM idempotency WHERE (client_id, idem_key) IN (SELECT client_id, idem_key \
                             FROM idempotency WHERE created_at < $1 LIMIT $2)",
                            idempotency_before,
                        ),
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
                            "DELETE FROM auth_throttle WHERE throttle_key IN (SELECT throttle_key FROM auth_throttle \
                             WHERE last_failure_at < $1 LIMIT $2) AND last_failure_at < $1",
                            login_failures_before,
                        ),
                        (
                            // The outer condition again: on PostgreSQL a row refreshed by a
                            // counter step the DELETE waited for is re-checked, not deleted.
                            "DELETE FROM guard_counters WHERE (client_id, scope, key_hash) IN (SELECT client_id, \
                             scope, key_hash FROM guard_counters WHERE expires_at <= $1 LIMIT $2) AND expires_at <= $1",
                            tokens_expired_at,
                        ),
                    ] {
                        self.purge_batches(sql, before).await?;
                    }
                    Ok(purged)
                }

                async fn insert_verification_superseding(
                    &self,
                    v: &Verification,
                    fx: &Effects,
                    supersede: Mutation<'_>,
                ) -> Result<u32, StoreError> {
                    Backend::insert_verification_superseding(self, v, fx, supersede).await
                }

                async fn latest_verification_to(
                    &self,
                    client: &ClientId,
                    to: &PhoneNumber,
                ) -> Result<Option<Verification>, StoreError> {
                    let q = sqlx::query(select!(
                        verification_columns,
                        "verifications WHERE client_id = $1 AND to_e164 = $2 \
                         ORDER BY (status = 'pending') DESC, created_at DESC, id DESC LIMIT 1"
                    ))
                    .bind(client.as_str())
                    .bind(to.e164());
                    let op = "latest verification to a number";
                    self.read().await?.optional(op, q, codec::verification).await
                }

                async fn latest_verification_in_service(
                    &self,
                    client: &ClientId,
                    service: &ServiceId,
                    to: &PhoneNumber,
                ) -> Result<Option<Verification>, StoreError> {
                    // `service_id` is derived from `options` (migration 0018), indexed.
                    let q = sqlx::query(select!(
                        verification_columns,
                        "verifications WHERE client_id = $1 AND service_id = $2 AND to_e164 = $3 \
                         ORDER BY (status = 'pending') DESC, created_at DESC, id DESC LIMIT 1"
                    ))
                    .bind(client.as_str())
                    .bind(service.as_str())
                    .bind(to.e164());
                    let op = "latest verification to a number in a service";
                    self.read().await?.optional(op, q, codec::verification).await
                }

                async fn access_key(&self, id: &str) -> Result<Option<AccessKey>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, kind, secret_hash, created_at FROM access_keys WHERE id = $1",
                    )
                    .bind(id);
                    self.read().await?.optional("access key", q, codec::access_key).await
                }

                async fn access_keys(&self, client: &ClientId) -> Result<Vec<AccessKey>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, kind, secret_hash, created_at FROM access_keys \
                         WHERE client_id = $1 ORDER BY created_at, id",
                    )
                    .bind(client.as_str());
                    self.read().await?.all("access keys of a client", q, codec::access_key).await
                }

                async fn insert_service(&self, s: &Service) -> Result<(), StoreError> {
                    let q = sqlx::query(
                        "INSERT INTO services (id, client_id, settings, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(s.id.as_str())
                    .bind(s.client_id.as_str())
                    .bind(codec::to_json(&s.settings, "settings")?)
                    .bind(s.created_at.millis())
                    .bind(s.updated_at.millis());
                    self.write().await?.execute("insert service", q).await?;
                    Ok(())
                }

                async fn service(&self, client: &ClientId, id: &ServiceId) -> Result<Option<Service>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, settings, created_at, updated_at FROM services \
                         WHERE id = $1 AND client_id = $2",
                    )
                    .bind(id.as_str())
                    .bind(client.as_str());
                    self.read().await?.optional("service", q, codec::service).await
                }

                async fn list_services(
                    &self,
                    client: &ClientId,
                    offset: u64,
                    limit: u64,
                ) -> Result<Vec<Service>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, settings, created_at, updated_at FROM services \
                         WHERE client_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
                    )
                    .bind(client.as_str())
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX));
                    self.read().await?.all("list services", q, codec::service).await
                }

                async fn update_service(&self, s: &Service, read_at: Timestamp) -> Result<bool, StoreError> {
                    let q = sqlx::query(
                        "UPDATE services SET settings = $1, updated_at = $2 \
                         WHERE id = $3 AND client_id = $4 AND updated_at = $5",
                    )
                    .bind(codec::to_json(&s.settings, "settings")?)
                    .bind(s.updated_at.millis())
                    .bind(s.id.as_str())
                    .bind(s.client_id.as_str())
                    .bind(read_at.millis());
                    Ok(self.write().await?.execute("update service", q).await? > 0)
                }

                async fn delete_service(&self, client: &ClientId, id: &ServiceId) -> Result<bool, StoreError> {
                    let q = sqlx::query("DELETE FROM services WHERE id = $1 AND client_id = $2")
                        .bind(id.as_str())
                        .bind(client.as_str());
                    Ok(self.write().await?.execute("delete service", q).await? > 0)
                }

                async fn insert_rate_limit(&self, r: &RateLimit) -> Result<(), StoreError> {
                    let q = sqlx::query(
                        "INSERT INTO rate_limits (id, client_id, service_id, unique_name, description, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(r.id.as_str())
                    .bind(r.client_id.as_str())
                    .bind(r.service_id.as_str())
                    .bind(r.unique_name.as_str())
                    .bind(r.description.as_deref())
                    .bind(r.created_at.millis())
                    .bind(r.updated_at.millis());
                    self.write().await?.execute("insert rate limit", q).await?;
                    Ok(())
                }

                async fn rate_limit(
                    &self,
                    client: &ClientId,
                    service: &ServiceId,
                    id: &RateLimitId,
                ) -> Result<Option<RateLimit>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, service_id, unique_name, description, created_at, updated_at \
                         FROM rate_limits WHERE id = $1 AND client_id = $2 AND service_id = $3",
                    )
                    .bind(id.as_str())
                    .bind(client.as_str())
                    .bind(service.as_str());
                    self.read().await?.optional("rate limit", q, codec::rate_limit).await
                }

                async fn list_rate_limits(
                    &self,
                    client: &ClientId,
                    service: &ServiceId,
                    offset: u64,
                    limit: u64,
                ) -> Result<Vec<RateLimit>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, service_id, unique_name, description, created_at, updated_at \
                         FROM rate_limits WHERE client_id = $1 AND service_id = $2 \
                         ORDER BY created_at, id LIMIT $3 OFFSET $4",
                    )
                    .bind(client.as_str())
                    .bind(service.as_str())
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX));
                    self.read().await?.all("list rate limits", q, codec::rate_limit).await
                }

                async fn update_rate_limit(&self, r: &RateLimit) -> Result<bool, StoreError> {
                    let q = sqlx::query(
                        "UPDATE rate_limits SET description = $1, updated_at = $2 \
                         WHERE id = $3 AND client_id = $4 AND service_id = $5",
                    )
                    .bind(r.description.as_deref())
                    .bind(r.updated_at.millis())
                    .bind(r.id.as_str())
                    .bind(r.client_id.as_str())
                    .bind(r.service_id.as_str());
                    Ok(self.write().await?.execute("update rate limit", q).await? > 0)
                }

                async fn delete_rate_limit(
                    &self,
                    client: &ClientId,
                    service: &ServiceId,
                    id: &RateLimitId,
                ) -> Result<bool, StoreError> {
                    // Its buckets go with it (ON DELETE CASCADE, migration 0019).
                    let q = sqlx::query("DELETE FROM rate_limits WHERE id = $1 AND client_id = $2 AND service_id = $3")
                        .bind(id.as_str())
                        .bind(client.as_str())
                        .bind(service.as_str());
                    Ok(self.write().await?.execute("delete rate limit", q).await? > 0)
                }

                async fn insert_bucket(&self, b: &Bucket) -> Result<(), StoreError> {
                    let q = sqlx::query(
                        "INSERT INTO rate_limit_buckets (id, client_id, service_id, rate_limit_id, max, interval_s, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(b.id.as_str())
                    .bind(b.client_id.as_str())
                    .bind(b.service_id.as_str())
                    .bind(b.rate_limit_id.as_str())
                    .bind(i64::from(b.max))
                    .bind(i64::from(b.interval_s))
                    .bind(b.created_at.millis())
                    .bind(b.updated_at.millis());
                    self.write().await?.execute("insert bucket", q).await?;
                    Ok(())
                }

                async fn bucket(
                    &self,
                    client: &ClientId,
                    service: &ServiceId,
                    rate_limit: &RateLimitId,
                    id: &BucketId,
                ) -> Result<Option<Bucket>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, service_id, rate_limit_id, max, interval_s, created_at, updated_at \
                         FROM rate_limit_buckets WHERE id = $1 AND client_id = $2 AND service_id = $3 AND rate_limit_id = $4",
                    )
                    .bind(id.as_str())
                    .bind(client.as_str())
                    .bind(service.as_str())
                    .bind(rate_limit.as_str());
                    self.read().await?.optional("bucket", q, codec::bucket).await
                }

                async fn list_buckets(
                    &self,
                    client: &ClientId,
                    service: &ServiceId,
                    rate_limit: Option<&RateLimitId>,
                    offset: u64,
                    limit: u64,
                ) -> Result<Vec<Bucket>, StoreError> {
                    // `$3 IS NULL`: every rate limit of the service (a start's admission).
                    let q = sqlx::query(
                        "SELECT id, client_id, service_id, rate_limit_id, max, interval_s, created_at, updated_at \
                         FROM rate_limit_buckets WHERE client_id = $1 AND service_id = $2 \
                         AND (rate_limit_id = $3 OR $4) ORDER BY created_at, id LIMIT $5 OFFSET $6",
                    )
                    .bind(client.as_str())
                    .bind(service.as_str())
                    .bind(rate_limit.map_or("", |r| r.as_str()))
                    .bind(rate_limit.is_none())
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX));
                    self.read().await?.all("list buckets", q, codec::bucket).await
                }

                async fn update_bucket(&self, b: &Bucket) -> Result<bool, StoreError> {
                    let q = sqlx::query(
                        "UPDATE rate_limit_buckets SET max = $1, interval_s = $2, updated_at = $3 \
                         WHERE id = $4 AND client_id = $5 AND service_id = $6 AND rate_limit_id = $7",
                    )
                    .bind(i64::from(b.max))
                    .bind(i64::from(b.interval_s))
                    .bind(b.updated_at.millis())
                    .bind(b.id.as_str())
                    .bind(b.client_id.as_str())
                    .bind(b.service_id.as_str())
                    .bind(b.rate_limit_id.as_str());
                    Ok(self.write().await?.execute("update bucket", q).await? > 0)
                }

                async fn delete_bucket(
                    &self,
                    client: &ClientId,
                    service: &ServiceId,
                    rate_limit: &RateLimitId,
                    id: &BucketId,
                ) -> Result<bool, StoreError> {
                    let q = sqlx::query(
                        "DELETE FROM rate_limit_buckets WHERE id = $1 AND client_id = $2 AND service_id = $3 AND rate_limit_id = $4",
                    )
                    .bind(id.as_str())
                    .bind(client.as_str())
                    .bind(service.as_str())
                    .bind(rate_limit.as_str());
                    Ok(self.write().await?.execute("delete bucket", q).await? > 0)
                }

                async fn insert_vonage_template(
                    &self,
                    t: &ringproof_core::vonage_template::VonageTemplate,
                ) -> Result<(), StoreError> {
                    // The first template of a client is its default, decided here so two
                    // concurrent first templates cannot both be.
                    let q = sqlx::query(
                        "INSERT INTO vonage_templates (id, client_id, name, is_default, created_at, updated_at) \
                         SELECT $1, $2, $3, NOT EXISTS (SELECT 1 FROM vonage_templates WHERE client_id = $2), $4, $5",
                    )
                    .bind(t.id.as_str())
                    .bind(t.client_id.as_str())
                    .bind(t.name.as_str())
                    .bind(t.created_at.millis())
                    .bind(t.updated_at.millis());
                    self.write().await?.execute("insert vonage template", q).await?;
                    Ok(())
                }

                async fn vonage_template(
                    &self,
                    client: &ClientId,
                    id: &str,
                ) -> Result<Option<ringproof_core::vonage_template::VonageTemplate>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, name, is_default, created_at, updated_at FROM vonage_templates \
                         WHERE id = $1 AND client_id = $2",
                    )
                    .bind(id)
                    .bind(client.as_str());
                    self.read().await?.optional("vonage template", q, codec::vonage_template).await
                }

                async fn default_vonage_template(
                    &self,
                    client: &ClientId,
                ) -> Result<Option<ringproof_core::vonage_template::VonageTemplate>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, name, is_default, created_at, updated_at FROM vonage_templates \
                         WHERE client_id = $1 AND is_default = $2 ORDER BY created_at, id LIMIT 1",
                    )
                    .bind(client.as_str())
                    .bind(true);
                    self.read().await?.optional("default vonage template", q, codec::vonage_template).await
                }

                async fn list_vonage_templates(
                    &self,
                    client: &ClientId,
                    offset: u64,
                    limit: u64,
                ) -> Result<Vec<ringproof_core::vonage_template::VonageTemplate>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, name, is_default, created_at, updated_at FROM vonage_templates \
                         WHERE client_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
                    )
                    .bind(client.as_str())
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX));
                    self.read().await?.all("list vonage templates", q, codec::vonage_template).await
                }

                async fn count_vonage_templates(&self, client: &ClientId) -> Result<u64, StoreError> {
                    const OP: &str = "count vonage templates";
                    let q = sqlx::query("SELECT COUNT(*) AS n FROM vonage_templates WHERE client_id = $1")
                        .bind(client.as_str());
                    let row = self.read().await?.fetch_one(OP, q).await?;
                    let n: i64 = row.try_get("n").map_err(db(OP))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn update_vonage_template(
                    &self,
                    t: &ringproof_core::vonage_template::VonageTemplate,
                ) -> Result<bool, StoreError> {
                    let change = sqlx::query(
                        "UPDATE vonage_templates SET name = $1, is_default = $2, updated_at = $3 \
                         WHERE id = $4 AND client_id = $5",
                    )
                    .bind(t.name.as_str())
                    .bind(t.is_default)
                    .bind(t.updated_at.millis())
                    .bind(t.id.as_str())
                    .bind(t.client_id.as_str());
                    if !t.is_default {
                        return Ok(self.write().await?.execute("update vonage template", change).await? > 0);
                    }
                    // The new default, then no other: one transaction.
                    let others = sqlx::query(
                        "UPDATE vonage_templates SET is_default = $1 WHERE client_id = $2 AND id <> $3 AND is_default = $4",
                    )
                    .bind(false)
                    .bind(t.client_id.as_str())
                    .bind(t.id.as_str())
                    .bind(true);
                    Ok(Backend::write_then(self, "update vonage template", change, others, false).await? > 0)
                }

                async fn delete_vonage_template(&self, client: &ClientId, id: &str) -> Result<bool, StoreError> {
                    let q = sqlx::query(
                        "DELETE FROM vonage_templates WHERE id = $1 AND client_id = $2 \
                         AND NOT EXISTS (SELECT 1 FROM vonage_template_fragments WHERE template_id = $1)",
                    )
                    .bind(id)
                    .bind(client.as_str());
                    Ok(self.write().await?.execute("delete vonage template", q).await? > 0)
                }

                async fn insert_template_fragment(
                    &self,
                    f: &ringproof_core::vonage_template::TemplateFragment,
                ) -> Result<(), StoreError> {
                    let q = sqlx::query(
                        "INSERT INTO vonage_template_fragments \
                         (id, client_id, template_id, channel, locale, text, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(f.id.as_str())
                    .bind(f.client_id.as_str())
                    .bind(f.template_id.as_str())
                    .bind(f.channel.as_str())
                    .bind(f.locale.as_str())
                    .bind(f.text.as_str())
                    .bind(f.created_at.millis())
                    .bind(f.updated_at.millis());
                    self.write().await?.execute("insert template fragment", q).await?;
                    Ok(())
                }

                async fn template_fragment(
                    &self,
                    client: &ClientId,
                    template_id: &str,
                    id: &str,
                ) -> Result<Option<ringproof_core::vonage_template::TemplateFragment>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, template_id, channel, locale, text, created_at, updated_at \
                         FROM vonage_template_fragments WHERE id = $1 AND template_id = $2 AND client_id = $3",
                    )
                    .bind(id)
                    .bind(template_id)
                    .bind(client.as_str());
                    self.read().await?.optional("template fragment", q, codec::template_fragment).await
                }

                async fn list_template_fragments(
                    &self,
                    client: &ClientId,
                    template_id: &str,
                    offset: u64,
                    limit: u64,
                ) -> Result<Vec<ringproof_core::vonage_template::TemplateFragment>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, template_id, channel, locale, text, created_at, updated_at \
                         FROM vonage_template_fragments WHERE template_id = $1 AND client_id = $2 \
                         ORDER BY created_at, id LIMIT $3 OFFSET $4",
                    )
                    .bind(template_id)
                    .bind(client.as_str())
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX));
                    self.read().await?.all("list template fragments", q, codec::template_fragment).await
                }

                async fn count_template_fragments(&self, client: &ClientId, template_id: &str) -> Result<u64, StoreError> {
                    const OP: &str = "count template fragments";
                    let q = sqlx::query(
                        "SELECT COUNT(*) AS n FROM vonage_template_fragments WHERE template_id = $1 AND client_id = $2",
                    )
                    .bind(template_id)
                    .bind(client.as_str());
                    let row = self.read().await?.fetch_one(OP, q).await?;
                    let n: i64 = row.try_get("n").map_err(db(OP))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn update_template_fragment(
                    &self,
                    f: &ringproof_core::vonage_template::TemplateFragment,
                ) -> Result<bool, StoreError> {
                    let q = sqlx::query(
                        "UPDATE vonage_template_fragments SET text = $1, updated_at = $2 \
                         WHERE id = $3 AND template_id = $4 AND client_id = $5",
                    )
                    .bind(f.text.as_str())
                    .bind(f.updated_at.millis())
                    .bind(f.id.as_str())
                    .bind(f.template_id.as_str())
                    .bind(f.client_id.as_str());
                    Ok(self.write().await?.execute("update template fragment", q).await? > 0)
                }

                async fn delete_template_fragment(
                    &self,
                    client: &ClientId,
                    template_id: &str,
                    id: &str,
                ) -> Result<bool, StoreError> {
                    let q = sqlx::query(
                        "DELETE FROM vonage_template_fragments WHERE id = $1 AND template_id = $2 AND client_id = $3",
                    )
                    .bind(id)
                    .bind(template_id)
                    .bind(client.as_str());
                    Ok(self.write().await?.execute("delete template fragment", q).await? > 0)
                }

                async fn vonage_application(
                    &self,
                    id: &str,
                ) -> Result<Option<ringproof_core::vonage_app::VonageApplication>, StoreError> {
                    let q = sqlx::query(
                        "SELECT id, client_id, public_key, created_at FROM vonage_applications WHERE id = $1",
                    )
                    .bind(id);
                    self.read().await?.optional("vonage application", q, codec::vonage_application).await
                }

                async fn use_token_once(
                    &self,
                    key: &[u8; 32],
                    keep_until: Timestamp,
                    now: Timestamp,
                ) -> Result<bool, StoreError> {
                    let mut w = self.write().await?;
                    let purge = sqlx::query("DELETE FROM used_token_ids WHERE keep_until <= $1").bind(now.millis());
                    w.execute("purge used token ids", purge).await?;
                    let q = sqlx::query(
                        "INSERT INTO used_token_ids (key, keep_until) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key.as_slice())
                    .bind(keep_until.millis());
                    Ok(w.execute("use token id", q).await? == 1)
                }
            }
        };
    };
}
pub(crate) use store_impl;

#[cfg(test)]
mod tests {
    use ringproof_core::job::JobKind;

    use super::Backend;
    use crate::postgres::PgStore;
    use crate::sqlite::SqliteStore;

    /// The statements each backend writes its own way differ only where the comment beside
    /// them says, so neither can be edited without the other.
    #[test]
    fn per_backend_statements_differ_only_in_their_dialect() {
        let pg_as_sqlite = |pg: &str| {
            pg.replace(" FOR UPDATE OF j SKIP LOCKED", "")
                .replace(
                    "FROM jobs j WHERE j.state = 'pending' AND j.client_id = ",
                    "FROM jobs j INDEXED BY jobs_by_client WHERE j.state = 'pending' AND j.client_id = ",
                )
                .replace("::boolean", "")
                .replace("GREATEST(", "MAX(")
                .replace("''::bytea", "X''")
        };
        for (sqlite, pg) in [
            (SqliteStore::CLAIM_JOBS, PgStore::CLAIM_JOBS),
            (SqliteStore::NEXT_JOB_DUE, PgStore::NEXT_JOB_DUE),
            (SqliteStore::BURY_JOB, PgStore::BURY_JOB),
        ] {
            assert_eq!(sqlite, pg_as_sqlite(pg));
        }
        assert!(PgStore::CLAIM_JOBS.contains("FOR UPDATE OF j SKIP LOCKED"));
        // The queues are told apart by the kind the core names webhook jobs with.
        let webhook = format!("j.kind = '{}'", JobKind::Webhook.as_str());
        assert!(SqliteStore::CLAIM_JOBS.contains(&webhook));
    }
}

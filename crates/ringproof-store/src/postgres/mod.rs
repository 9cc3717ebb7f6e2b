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
//! Limit counter steps of a node are batched, many per transaction ([`counters`]).

mod counters;

use std::str::FromStr;
use std::time::Duration;

use ringproof_core::StoreError;
use ringproof_core::delivery::DeliveryRecord;
use ringproof_core::engine::IDEMPOTENCY_WINDOW_S;
use ringproof_core::ids::{ClientId, JobId, VerificationId};
use ringproof_core::job::{Job, NewJob};
use ringproof_core::link_session::LinkRecord;
use ringproof_core::ports::{
    CountedMutation, CounterKey, CounterRow, CounterStep, IdempotentResponse, LinkMutation, Mutation, ThrottleStep,
};
use ringproof_core::verification::{Effects, NewEvent, Verification};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row as _};

use crate::codec::{self, VerificationCols, verification_columns};
use crate::error::db;
use crate::link_sessions::link_columns;
use crate::migrate;
use crate::query::{
    Backend, Conn, bind_link, bind_verification_fields, check_superseded, counted_transition, dialect, select,
    transition,
};

/// How long an operation may wait for a connection before the store reports itself
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Key of the advisory lock that serialises migrations across nodes ("ringproo" in ASCII).
const MIGRATION_LOCK: i64 = 0x7269_6e67_7072_6f6f;

/// A [`Store`](ringproof_core::ports::Store) on a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// `update_counters`, batched (see [`counters`]).
    counters: counters::CounterQueue,
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
            // Every statement is prepared once per connection and run thousands of times.
            // After five runs PostgreSQL may switch a statement to a generic plan, made for
            // the table sizes of that moment, and keeps it until the table is analysed: on a
            // fresh database that is a sequential scan of a then-tiny table, kept while the
            // table grows (and never replaced where autovacuum is off). Custom plans are
            // made per run from the table's current size, and so use the indexes as soon
            // as they pay (BENCHMARKS.md, "A fresh PostgreSQL database"). A SET rather than
            // a startup option, which connection poolers such as PgBouncer refuse.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(conn, "SET plan_cache_mode = force_custom_plan").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(db("connect to postgresql"))?;
        migrate_pg(&pool).await?;
        let counters = counters::CounterQueue::start(pool.clone());
        Ok(Self { pool, counters })
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
        let lock = sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK);
        tx.execute(OP, lock).await?;
        if PgStore::apply_migration(&mut tx, OP, m).await? {
            tx.commit().await.map_err(db(OP))?;
            tracing::info!(version = m.version, "applied postgresql migration");
        }
    }
    Ok(())
}

/// The bindings several statements below share: a verification's columns, and new jobs and
/// events as column arrays for one `UNNEST` insert each (arrays keep every statement static,
/// and so prepared, whatever the number of rows).
trait PgBinds {
    /// A verification's columns, in the order both [`INSERT_VERIFICATION`] and
    /// [`WRITE_TRANSITION`] take them first ($1..$20).
    fn bind_verification(self, v: &Verification, cols: &VerificationCols) -> Self;
    /// `id, kind, client_id, verification_id, due_at, payload, max_attempts`.
    fn bind_jobs(self, jobs: &[NewJob]) -> Self;
    /// `kind, channel, detail, at`.
    fn bind_events(self, events: &[NewEvent]) -> Self;
}

impl PgBinds for PgQuery<'_> {
    fn bind_verification(self, v: &Verification, cols: &VerificationCols) -> Self {
        bind_verification_fields!(self.bind(v.id.as_str()).bind(v.client_id.as_str()), v, cols)
    }

    fn bind_jobs(self, jobs: &[NewJob]) -> Self {
        self.bind(jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.client_id.as_str()).collect::<Vec<_>>())
            .bind(
                jobs.iter()
                    .map(|j| j.verification_id.as_ref().map(VerificationId::as_str))
                    .collect::<Vec<_>>(),
            )
            .bind(jobs.iter().map(|j| j.due_at.millis()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.payload.as_slice()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| i64::from(j.max_attempts)).collect::<Vec<_>>())
    }

    fn bind_events(self, events: &[NewEvent]) -> Self {
        self.bind(events.iter().map(codec::event_kind).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.channel.map(|c| c.as_str())).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.detail.as_deref()).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.at.millis()).collect::<Vec<_>>())
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
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)) ",
    "INSERT INTO jobs (id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts, state, ",
    "locked_until, created_at) ",
    "SELECT u.id, u.kind, u.client_id, u.verification_id, u.due_at, u.payload, 0, u.max_attempts, 'pending', 0, $12 ",
    "FROM UNNEST($24::text[], $25::text[], $26::text[], $27::text[], $28::int8[], $29::bytea[], $30::int8[]) ",
    "AS u(id, kind, client_id, verification_id, due_at, payload, max_attempts)"
);

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

impl Conn<Postgres> for &PgPool {
    async fn execute(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<u64, StoreError> {
        Ok(q.execute(*self).await.map_err(db(op))?.rows_affected())
    }

    async fn fetch_optional(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<Option<PgRow>, StoreError> {
        q.fetch_optional(*self).await.map_err(db(op))
    }

    async fn fetch_one(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<PgRow, StoreError> {
        q.fetch_one(*self).await.map_err(db(op))
    }

    async fn fetch_all(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<Vec<PgRow>, StoreError> {
        q.fetch_all(*self).await.map_err(db(op))
    }
}

/// A connection inside a transaction (`&mut *tx`).
impl Conn<Postgres> for PgConnection {
    async fn execute(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<u64, StoreError> {
        Ok(q.execute(self).await.map_err(db(op))?.rows_affected())
    }

    async fn fetch_optional(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<Option<PgRow>, StoreError> {
        q.fetch_optional(self).await.map_err(db(op))
    }

    async fn fetch_one(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<PgRow, StoreError> {
        q.fetch_one(self).await.map_err(db(op))
    }

    async fn fetch_all(&mut self, op: &'static str, q: PgQuery<'_>) -> Result<Vec<PgRow>, StoreError> {
        q.fetch_all(self).await.map_err(db(op))
    }
}

impl PgStore {
    /// Plain reads and single-statement writes all go to the pool: PostgreSQL serialises
    /// them itself.
    async fn read(&self) -> Result<&PgPool, StoreError> {
        Ok(&self.pool)
    }

    async fn write(&self) -> Result<&PgPool, StoreError> {
        Ok(&self.pool)
    }
}

crate::query::store_impl!(PgStore, Postgres);

impl Backend for PgStore {
    // Several connections (and nodes) claim at once. SKIP LOCKED makes each claimer pass
    // over rows another has just picked instead of queueing behind it; a row whose lease
    // another claimer committed meanwhile is re-checked against `locked_until` when it is
    // locked, so it is not taken twice. (SQLite's version needs none of this: its claims
    // all run on one writer connection.) The parameters' types must be spelled out for
    // PostgreSQL to compare them with booleans. `OF j`: the statement picks its candidates
    // in CTEs with aggregates (which cannot be locked); only the jobs taken are.
    const CLAIM_JOBS: &'static str = dialect!(claim_jobs, "::boolean", " FOR UPDATE OF j SKIP LOCKED", "");
    // PostgreSQL's MAX is only the aggregate.
    const NEXT_JOB_DUE: &'static str = dialect!(next_job_due, "GREATEST");
    const BURY_JOB: &'static str = dialect!(bury_job, "''::bytea");
    type Db = Postgres;

    async fn write_then(
        &self,
        op: &'static str,
        change: PgQuery<'_>,
        then: PgQuery<'_>,
        always: bool,
    ) -> Result<u64, StoreError> {
        // A transaction of the pool; dropped uncommitted on an error, it rolls back.
        let mut tx = self.pool.begin().await.map_err(db(op))?;
        let n = (*tx).execute(op, change).await?;
        if n > 0 || always {
            (*tx).execute(op, then).await?;
        }
        tx.commit().await.map_err(db(op))?;
        Ok(n)
    }

    async fn throttle_step(&self, keys: &[String], f: ThrottleStep<'_>) -> Result<(), StoreError> {
        const OP: &str = "throttle step";
        if keys.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        // Make sure every row exists (a zero row is the default state), then lock them all.
        // Both in key order, so two steps over overlapping keys (one address, two names; two
        // nodes) always queue on the first key they share and never deadlock. (A concurrent
        // insert of the same key waits for the first to commit and then does nothing.)
        let q = sqlx::query(
            "INSERT INTO auth_throttle (throttle_key, failures, last_failure_at, locked_until) \
             SELECT k, 0, 0, NULL FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT (throttle_key) DO NOTHING",
        );
        tx.execute(OP, q.bind(keys)).await?;
        let q = crate::query::throttle_rows(keys, " FOR UPDATE");
        let rows = tx.all(OP, q, codec::throttle_row).await?;
        let before = crate::query::in_key_order(keys, &rows);
        let mut after = before.clone();
        f(&mut after);
        for ((key, old), new) in keys.iter().zip(&before).zip(&after) {
            if old != new {
                let q = sqlx::query(
                    "UPDATE auth_throttle SET failures = $2, last_failure_at = $3, locked_until = $4 \
                     WHERE throttle_key = $1",
                )
                .bind(key.as_str())
                .bind(i64::from(new.failures))
                .bind(new.last_failure_at.millis())
                .bind(new.locked_until.map(|t| t.millis()));
                tx.execute(OP, q).await?;
            }
        }
        // Rows at the default state (inserted above and left so, or reset) are not kept.
        let q = sqlx::query(
            "DELETE FROM auth_throttle WHERE throttle_key = ANY($1) AND failures = 0 AND locked_until IS NULL",
        );
        tx.execute(OP, q.bind(keys)).await?;
        tx.commit().await.map_err(db(OP))?;
        Ok(())
    }

    async fn update_counters(&self, keys: &[CounterKey], f: CounterStep<'_>) -> Result<(), StoreError> {
        self.counters.update(keys, f).await
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

    async fn import_verifications(&self, items: &[(Verification, Effects)]) -> Result<(), StoreError> {
        const OP: &str = "import verifications";
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        for (v, fx) in items {
            insert_verification_with(&mut *tx, v, fx, None).await?;
        }
        tx.commit().await.map_err(db(OP))
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
        let Some(before) = lock_verification(&mut tx, OP, client, id).await? else {
            tx.rollback().await.map_err(db(OP))?;
            return Ok(None);
        };
        let (v, fx) = transition(&before, f);
        write_transition(&mut tx, &v, v != before, &fx, done_job).await?;
        tx.commit().await.map_err(db(OP))?;
        Ok(Some(v))
    }

    async fn update_verification_counted(
        &self,
        client: &ClientId,
        id: &VerificationId,
        keys: &[CounterKey],
        f: CountedMutation<'_>,
    ) -> Result<Option<Verification>, StoreError> {
        const OP: &str = "update verification with counters";
        // The counter rows first (key order, as every `update_counters`), then the record
        // (as every `update_verification`): one order for all, so no deadlock.
        let (mut tx, rows) = begin_with_counters(&self.pool, OP, keys).await?;
        let Some(before) = lock_verification(&mut tx, OP, client, id).await? else {
            tx.rollback().await.map_err(db(OP))?;
            return Ok(None);
        };
        let (v, fx, changed_keys, changed) = counted_transition(&before, keys, rows, f);
        write_transition(&mut tx, &v, v != before, &fx, None).await?;
        if !changed.is_empty() {
            write_counters(&mut tx, OP, &changed_keys, &changed).await?;
        }
        // Rows this call inserted empty and did not write stay empty: the purge removes
        // them (expires_at 0), as it does those a rolled-back `update_counters` leaves.
        tx.commit().await.map_err(db(OP))?;
        Ok(Some(v))
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
        let q = sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(format!(
            "supersede:{}:{}",
            v.client_id.as_str(),
            v.to.e164()
        ));
        tx.execute(OP, q).await?;
        let q = sqlx::query(select!(
            verification_columns,
            "verifications WHERE client_id = $1 AND to_e164 = $2 AND status = 'pending' \
             ORDER BY created_at FOR NO KEY UPDATE"
        ))
        .bind(v.client_id.as_str())
        .bind(v.to.e164());
        let rows = tx.fetch_all(OP, q).await?;
        let mut superseded = 0u32;
        for row in &rows {
            let before = codec::verification(row)?;
            let (after, old_fx) = transition(&before, &mut *supersede);
            check_superseded(OP, &after)?;
            write_transition(&mut tx, &after, after != before, &old_fx, None).await?;
            superseded += 1;
        }
        if !insert_verification_with(&mut *tx, v, fx, None).await? {
            return Err(StoreError::Conflict(format!("{OP}: not inserted")));
        }
        tx.commit().await.map_err(db(OP))?;
        Ok(superseded)
    }

    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError> {
        // One statement, so atomic without an explicit transaction. The verification may
        // have been purged meanwhile; the event then has nowhere to go, and the job is still
        // done.
        let vid = event.and(job.verification_id.as_ref()).map(VerificationId::as_str);
        let q = sqlx::query(
            "WITH d AS (DELETE FROM jobs WHERE id = $1) \
             INSERT INTO events (verification_id, client_id, kind, channel, detail, at) \
             SELECT $2, $3, $4, $5, $6, $7 WHERE $2::text IS NOT NULL \
             AND EXISTS (SELECT 1 FROM verifications WHERE id = $2 AND client_id = $3)",
        )
        .bind(job.id.as_str())
        .bind(vid)
        .bind(job.client_id.as_str())
        .bind(event.map(codec::event_kind))
        .bind(event.and_then(|e| e.channel).map(|c| c.as_str()))
        .bind(event.and_then(|e| e.detail.as_deref()))
        .bind(event.map(|e| e.at.millis()));
        self.write().await?.execute("complete job", q).await?;
        Ok(())
    }

    async fn complete_jobs(
        &self,
        done: &[(&Job, Option<&NewEvent>)],
        new_jobs: &[NewJob],
        deliveries: &[DeliveryRecord],
    ) -> Result<(), StoreError> {
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
        let q = sqlx::query(
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
        .bind(events.iter().map(|(_, e, _)| codec::event_kind(e)).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|(_, e, _)| e.channel.map(|c| c.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|(_, e, _)| e.detail.as_deref()).collect::<Vec<_>>())
        .bind(events.iter().map(|(_, e, _)| e.at.millis()).collect::<Vec<_>>())
        .bind_jobs(new_jobs)
        .bind(deliveries.iter().map(|d| d.provider.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.provider_message_id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.client_id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.verification_id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.channel.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.region.as_deref()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.sent_at.millis()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| i64::from(d.seq)).collect::<Vec<_>>());
        self.write().await?.execute("complete jobs", q).await?;
        Ok(())
    }

    async fn insert_link(&self, l: &LinkRecord, jobs: &[NewJob]) -> Result<(), StoreError> {
        const OP: &str = "insert link";
        let q = bind_link!(sqlx::query(INSERT_LINK), l).bind_jobs(jobs);
        self.write().await?.execute(OP, q).await?;
        Ok(())
    }

    async fn update_link(&self, token_hash: &[u8; 32], f: LinkMutation<'_>) -> Result<Option<LinkRecord>, StoreError> {
        const OP: &str = "update link";
        let mut tx = self.pool.begin().await.map_err(db(OP))?;
        // The row lock is held until commit: a concurrent click on the same link waits
        // here, then sees the click this one wrote. (Without a row, nothing was written and
        // the commit ends a read-only transaction.)
        let select = select!(link_columns, "link_sessions WHERE token_hash = $1 FOR NO KEY UPDATE");
        let link = Self::click_link(&mut *tx, select, token_hash, f).await?;
        tx.commit().await.map_err(db(OP))?;
        Ok(link)
    }
}

/// Runs [`INSERT_VERIFICATION`]; `false` when a live idempotency record kept it out.
async fn insert_verification_with<'c, E: sqlx::PgExecutor<'c>>(
    conn: E,
    v: &Verification,
    fx: &Effects,
    idem: Option<&IdempotentResponse>,
) -> Result<bool, StoreError> {
    const OP: &str = "insert verification";
    let cols = VerificationCols::of(v)?;
    let row = sqlx::query(INSERT_VERIFICATION)
        .bind_verification(v, &cols)
        .bind_jobs(&fx.jobs)
        .bind(v.created_at.millis())
        .bind_events(fx.events())
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
        .map_err(db(OP))?;
    row.try_get(0).map_err(db(OP))
}

/// Runs [`WRITE_TRANSITION`] for `v` (locked by the caller's transaction), unless there is
/// nothing to write.
/// Begins a transaction holding the locks of the counter rows with these keys, and
/// returns them in the order of `keys` (a row that was missing is inserted empty).
/// Rows are inserted (if missing) and locked in key order, so two calls over
/// overlapping keys queue on the first shared row instead of deadlocking.
pub(super) async fn begin_with_counters(
    pool: &PgPool,
    op: &'static str,
    keys: &[CounterKey],
) -> Result<(sqlx::Transaction<'static, Postgres>, Vec<CounterRow>), StoreError> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    order.dedup_by(|a, b| keys[*a] == keys[*b]);
    let clients: Vec<&str> = order.iter().map(|&i| keys[i].client_id.as_str()).collect();
    let scopes: Vec<&str> = order.iter().map(|&i| keys[i].scope.as_str()).collect();
    let hashes: Vec<&[u8]> = order.iter().map(|&i| keys[i].key.as_slice()).collect();
    // A row can vanish between the insert and the lock (the purge deletes an expired
    // one; a step that inserted it may roll back). Then the whole transaction starts
    // again, so no insert ever waits while this one holds row locks (locks are only
    // ever taken in key order).
    let mut attempt = 0;
    let (tx, found) = loop {
        attempt += 1;
        let mut tx = pool.begin().await.map_err(db(op))?;
        let q = sqlx::query(
            "INSERT INTO guard_counters (client_id, scope, key_hash, state, expires_at) \
             SELECT c, s, k, ''::bytea, 0 FROM UNNEST($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS t(c, s, k, n) \
             ORDER BY n ON CONFLICT (client_id, scope, key_hash) DO NOTHING",
        )
        .bind(&clients)
        .bind(&scopes)
        .bind(&hashes);
        tx.execute(op, q).await?;
        let q = sqlx::query(
            "SELECT client_id, scope, key_hash, state, expires_at FROM guard_counters \
             WHERE (client_id, scope, key_hash) IN (SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[])) \
             ORDER BY client_id, scope, key_hash FOR UPDATE",
        )
        .bind(&clients)
        .bind(&scopes)
        .bind(&hashes);
        let found = tx
            .all(op, q, |r| Ok((codec::counter_key(r)?, codec::counter_row(r)?)))
            .await?;
        if found.len() == order.len() {
            break (tx, found);
        }
        tx.rollback().await.map_err(db(op))?;
        if attempt == 3 {
            return Err(StoreError::Unavailable(
                "a counter row was deleted under every retry".into(),
            ));
        }
    };
    let mut rows = Vec::with_capacity(keys.len());
    for k in keys {
        let (_, row) = found
            .iter()
            .find(|(fk, _)| fk == k)
            .ok_or_else(|| StoreError::Corrupt("a counter row missing under its lock".into()))?;
        rows.push(row.clone());
    }
    Ok((tx, rows))
}

/// The record `id` of `client`, locked until the transaction ends; `None` if there is none.
/// FOR NO KEY UPDATE rather than FOR UPDATE: it serialises concurrent transitions of the
/// record just the same, but does not block the KEY SHARE locks that foreign-key checks
/// take, so a worker inserting an event or job for this verification (e.g. `complete_job`)
/// neither waits for the transition nor can deadlock with it.
async fn lock_verification(
    tx: &mut PgConnection,
    op: &'static str,
    client: &ClientId,
    id: &VerificationId,
) -> Result<Option<Verification>, StoreError> {
    let q = sqlx::query(select!(
        verification_columns,
        "verifications WHERE id = $1 AND client_id = $2 FOR NO KEY UPDATE"
    ))
    .bind(id.as_str())
    .bind(client.as_str());
    match tx.fetch_optional(op, q).await? {
        Some(row) => Ok(Some(codec::verification(&row)?)),
        None => Ok(None),
    }
}

/// Writes counter rows back (they are locked by [`begin_with_counters`]).
pub(super) async fn write_counters(
    tx: &mut sqlx::PgConnection,
    op: &'static str,
    keys: &[CounterKey],
    rows: &[CounterRow],
) -> Result<(), StoreError> {
    let states: Vec<&[u8]> = rows.iter().map(|r| r.state.as_slice()).collect();
    let expiries: Vec<i64> = rows.iter().map(|r| r.expires_at.millis()).collect();
    let clients: Vec<&str> = keys.iter().map(|k| k.client_id.as_str()).collect();
    let scopes: Vec<&str> = keys.iter().map(|k| k.scope.as_str()).collect();
    let hashes: Vec<&[u8]> = keys.iter().map(|k| k.key.as_slice()).collect();
    let q = sqlx::query(
        "UPDATE guard_counters g SET state = t.st, expires_at = t.e \
         FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::int8[]) AS t(c, s, k, st, e) \
         WHERE g.client_id = t.c AND g.scope = t.s AND g.key_hash = t.k",
    )
    .bind(&clients)
    .bind(&scopes)
    .bind(&hashes)
    .bind(&states)
    .bind(&expiries);
    tx.execute(op, q).await?;
    Ok(())
}

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
    let q = sqlx::query(WRITE_TRANSITION)
        .bind_verification(v, &cols)
        .bind(changed)
        .bind(fx.cancel_pending_steps)
        .bind(done_job.map(JobId::as_str))
        .bind_jobs(&fx.jobs)
        .bind(v.updated_at.millis())
        .bind_events(fx.events())
        .bind(cols.options);
    tx.execute("update verification", q).await?;
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

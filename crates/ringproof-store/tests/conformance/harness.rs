//! The backends the suite runs against, and the fixtures every test builds its data from.
//!
//! SQLite: a fresh file in a fresh temporary directory per test, removed afterwards.
//! PostgreSQL (when `RINGPROOF_TEST_DATABASE_URL` is set; its tests are reported as ignored
//! otherwise): a fresh database `rp_test_<random>` per test, created through that URL and
//! dropped (`WITH (FORCE)`) when the test ends, even if it panicked (`../support/pg.rs`). Tests therefore run in parallel without sharing
//! rows. A set but unreachable URL fails the test: a suite that silently skips would let a
//! broken PostgreSQL backend pass.

use std::path::PathBuf;
use std::sync::Arc;

use ringproof_core::client::Client;
use ringproof_core::code::ScriptedCodeSource;
use ringproof_core::crypto::{Keys, hex, random_bytes};
use ringproof_core::ids::{ClientId, JobId, VerificationId};
use ringproof_core::job::{Job, JobKind, JobQueue, NewJob};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::policy::Policy;
use ringproof_core::ports::Store;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Effects, StartParams, Verification};
use ringproof_core::workflow::{Channel, Workflow};
use ringproof_store::{PgStore, SqliteStore};
use sqlx::{Connection, PgConnection};

pub use crate::pg::PgDatabase;

/// A fixed "now" so tests can reason about due times exactly.
pub const NOW: Timestamp = Timestamp(1_800_000_000_000);
pub const CODE: &str = "123456";
pub const WRONG: &str = "000000";

/// A temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        Self(std::env::temp_dir().join(format!("ringproof-store-test-{}", random_name())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

enum Kind {
    Sqlite { file: PathBuf, _dir: TempDir },
    Postgres(PgDatabase),
}

/// One backend under test. Fields drop in order: the store's pools, then the database.
pub struct Backend {
    pub store: Arc<dyn Store>,
    kind: Kind,
}

fn random_name() -> String {
    hex(&random_bytes::<8>())
}

impl Backend {
    pub async fn sqlite() -> Self {
        let dir = TempDir::new();
        // A nested path also checks that `open` creates missing parent directories.
        let file = dir.0.join("nested").join("ringproof.db");
        let store = SqliteStore::open(&file).await.expect("open sqlite store");
        Self {
            store: Arc::new(store),
            kind: Kind::Sqlite { file, _dir: dir },
        }
    }

    /// Panics when the variable is unset or PostgreSQL is unusable (see `support/pg.rs`).
    pub async fn postgres() -> Self {
        let db = PgDatabase::create("test").await;
        let store = PgStore::connect(&db.url, 8)
            .await
            .expect("connect to the test database");
        Self {
            store: Arc::new(store),
            kind: Kind::Postgres(db),
        }
    }

    /// A second store on the same database, as another start of the server would open it.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        match &self.kind {
            Kind::Sqlite { file, .. } => Arc::new(SqliteStore::open(file).await.expect("reopen sqlite")),
            Kind::Postgres(db) => Arc::new(PgStore::connect(&db.url, 4).await.expect("reconnect postgres")),
        }
    }

    /// The URL `ringproof_store::open` takes for this database.
    pub fn url(&self) -> String {
        match &self.kind {
            Kind::Sqlite { file, .. } => format!("sqlite://{}", file.display()),
            Kind::Postgres(db) => db.url.clone(),
        }
    }

    /// Reads a job's stored payload and state behind the port's back, to check erasure.
    pub async fn raw_job(&self, id: &JobId) -> Option<(Vec<u8>, String)> {
        use sqlx::Row;
        match &self.kind {
            Kind::Sqlite { file, .. } => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(file);
                let mut c = sqlx::SqliteConnection::connect_with(&opts)
                    .await
                    .expect("raw sqlite connection");
                let row = sqlx::query("SELECT payload, state FROM jobs WHERE id = ?1")
                    .bind(id.as_str())
                    .fetch_optional(&mut c)
                    .await
                    .expect("raw job query");
                row.map(|r| (r.get("payload"), r.get("state")))
            }
            Kind::Postgres(db) => {
                let mut c = PgConnection::connect(&db.url).await.expect("raw postgres connection");
                let row = sqlx::query("SELECT payload, state FROM jobs WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut c)
                    .await
                    .expect("raw job query");
                row.map(|r| (r.get("payload"), r.get("state")))
            }
        }
    }
}

impl Backend {
    /// Runs one statement (no parameters, portable SQL) behind the port's back, to store
    /// what this build's port cannot (a row another release wrote).
    pub async fn raw_execute(&self, sql: &'static str) {
        match &self.kind {
            Kind::Sqlite { file, .. } => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(file);
                let mut c = sqlx::SqliteConnection::connect_with(&opts)
                    .await
                    .expect("raw sqlite connection");
                sqlx::query(sql).execute(&mut c).await.expect("raw statement");
            }
            Kind::Postgres(db) => {
                let mut c = PgConnection::connect(&db.url).await.expect("raw postgres connection");
                sqlx::query(sql).execute(&mut c).await.expect("raw statement");
            }
        }
    }

    /// Runs a scalar `SELECT` (no parameters, portable SQL) behind the port's back, to
    /// check what is stored, whatever the port shows.
    pub async fn raw_count(&self, sql: &'static str) -> i64 {
        match &self.kind {
            Kind::Sqlite { file, .. } => {
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(file);
                let mut c = sqlx::SqliteConnection::connect_with(&opts)
                    .await
                    .expect("raw sqlite connection");
                sqlx::query_scalar(sql).fetch_one(&mut c).await.expect("raw count")
            }
            Kind::Postgres(db) => {
                let mut c = PgConnection::connect(&db.url).await.expect("raw postgres connection");
                sqlx::query_scalar(sql).fetch_one(&mut c).await.expect("raw count")
            }
        }
    }
}

/// Runs each named suite function against SQLite and PostgreSQL, as the tests
/// `<name>::sqlite` and `<name>::postgres` (ignored, with the reason, when
/// `RINGPROOF_TEST_DATABASE_URL` is unset). `store:` functions take the store,
/// `backend:` functions the whole [`Backend`].
#[macro_export]
macro_rules! conformance {
    (@run store, $f:path, $b:expr) => { $f($b.store.clone()).await };
    (@run backend, $f:path, $b:expr) => { $f(&$b).await };
    ($how:ident: $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    let b = $crate::harness::Backend::sqlite().await;
                    $crate::conformance!(@run $how, super::$name, b);
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
                async fn postgres() {
                    let b = $crate::harness::Backend::postgres().await;
                    $crate::conformance!(@run $how, super::$name, b);
                }
            }
        )+
    };
}

// ----- fixtures -----

pub fn keys() -> Keys {
    Keys::derive(b"test secret")
}

pub fn phone() -> PhoneNumber {
    PhoneNumber::parse_e164("+14155550123").expect("valid test number")
}

/// A client with fresh credentials (and a unique name, hence username), inserted.
pub async fn client(store: &Arc<dyn Store>) -> Client {
    let c = Client::create(&format!("Client {}", random_name()), vec![], NOW).client;
    store.insert_client(&c).await.expect("insert client");
    c
}

/// A started verification (code [`CODE`]) with its effects, not yet stored.
pub fn start_with(client: &ClientId, workflow: Workflow, now: Timestamp) -> (Verification, Effects) {
    Verification::start(
        StartParams {
            client_id: client.clone(),
            to: phone(),
            workflow,
            locale: "en".into(),
            brand: "Acme".into(),
            code_length: 6,
            policy: Policy::default(),
            sms_template: None,
            options: Default::default(),
            sim_swap: None,
            now,
        },
        &keys(),
        &ScriptedCodeSource::new([CODE]),
    )
}

pub fn sms(client: &ClientId, now: Timestamp) -> (Verification, Effects) {
    start_with(client, Workflow::single(Channel::Sms, &Policy::default()), now)
}

/// The three-step timeline: SMS now, the same code by voice at +120 s, a new code at +300 s.
pub fn three_steps(client: &ClientId, now: Timestamp) -> (Verification, Effects) {
    let w = Workflow::sms_then_voice_then_new_code(120, 300, 300).expect("valid workflow");
    start_with(client, w, now)
}

/// Starts and stores an SMS verification.
pub async fn stored_sms(store: &Arc<dyn Store>, client: &ClientId) -> (Verification, Effects) {
    let (v, fx) = sms(client, NOW);
    store
        .insert_verification(&v, &fx, None)
        .await
        .expect("insert verification");
    (v, fx)
}

/// A bare deliver job for `v`, due at `due_at`.
pub fn job_for(v: &Verification, due_at: Timestamp) -> NewJob {
    NewJob {
        id: JobId::generate(),
        kind: JobKind::Deliver,
        client_id: v.client_id.clone(),
        verification_id: Some(v.id.clone()),
        due_at,
        payload: random_bytes::<16>().to_vec(),
        max_attempts: 8,
    }
}

/// The ids of every job claimable at `at` (leasing them for 1 ms). Each call must use a
/// later `at` than the previous one for the leases to have lapsed.
pub async fn claimable(store: &Arc<dyn Store>, at: Timestamp) -> Vec<JobId> {
    let mut ids: Vec<JobId> = store
        .claim_jobs(at, 1, 10_000, JobQueue::All)
        .await
        .expect("claim")
        .into_iter()
        .map(|j| j.id)
        .collect();
    ids.sort();
    ids
}

/// The one job claimable at `at` that a test expects (the newest, when there are several),
/// leased for a minute.
pub async fn claim_one(store: &Arc<dyn Store>, at: Timestamp) -> Job {
    let mut jobs = store.claim_jobs(at, 60_000, 10, JobQueue::All).await.expect("claim");
    jobs.pop().expect("a job is due")
}

/// The kinds of a verification's events, oldest first.
pub async fn event_kinds(store: &Arc<dyn Store>, client: &ClientId, v: &VerificationId) -> Vec<&'static str> {
    let events = store.list_events(client, v).await.expect("list events");
    events.into_iter().map(|e| e.kind.as_str()).collect()
}

pub fn sorted(mut ids: Vec<JobId>) -> Vec<JobId> {
    ids.sort();
    ids
}

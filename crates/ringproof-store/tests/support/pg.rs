//! The PostgreSQL half of the tests: a fresh database per test, dropped when its guard is.
//!
//! One file shared by every test crate that runs against PostgreSQL (the store's
//! conformance suite, the server's API tests, the CLI tests), each including it with
//! `#[path]`, so there is no test-only crate to publish or version.
//!
//! A test of the PostgreSQL half carries
//! `#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]`.
//! The crate's build script (`crates/ringproof-store/build.rs`, used by all three) sets the
//! `ringproof_pg` cfg when `RINGPROOF_TEST_DATABASE_URL` is set at build time, so without
//! it `cargo test` reports those tests as ignored, with the reason, instead of passing
//! them untouched. With it, a PostgreSQL that cannot be reached fails the test: a suite
//! that skips silently would let a broken PostgreSQL backend pass. Under CI (`CI` set), a
//! missing variable fails [`the_postgresql_half_runs_under_ci`].
#![allow(dead_code)]

use ringproof_core::crypto::{hex, random_bytes};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The variable naming the PostgreSQL server the tests create their databases on.
pub const PG_URL_VAR: &str = "RINGPROOF_TEST_DATABASE_URL";

/// A fresh PostgreSQL database `rp_<tag>_<random>`, dropped (`WITH (FORCE)`, so even with
/// a server still connected) when this guard is dropped, even if the test panicked.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    /// The URL of this database.
    pub url: String,
}

impl PgDatabase {
    /// Creates the database. Panics when [`PG_URL_VAR`] is unset (the test should have been
    /// ignored: it was built with the variable and run without it), when PostgreSQL cannot
    /// be reached, or when the database cannot be created.
    pub async fn create(tag: &str) -> Self {
        let admin_url = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
            panic!("{PG_URL_VAR} is not set, but this test binary was built with it: set it or rebuild")
        });
        let name = format!("rp_{tag}_{}", hex(&random_bytes::<8>()));
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but PostgreSQL cannot be reached: {e}"));
        // The name is our own tag and hex, not input.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = pg_url_for(&admin_url, &name);
        Self { admin_url, name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await and may run inside the test's runtime: use a thread with a
        // runtime of its own, and wait for it so no database outlives the test.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}

/// `admin_url` with its database replaced by `db`, keeping any query string.
pub fn pg_url_for(admin_url: &str, db: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// CI (`CI` set, as every CI service does) must run the PostgreSQL half: a missing
/// variable there is a failure, not a column of ignored tests nobody reads.
#[test]
fn the_postgresql_half_runs_under_ci() {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !ci || std::env::var_os(PG_URL_VAR).is_some(),
        "CI is set but {PG_URL_VAR} is not: the PostgreSQL half of the tests would be skipped (.ci/run sets it)"
    );
    assert!(
        !ci || cfg!(ringproof_pg),
        "CI is set but this test binary was built without {PG_URL_VAR}: the PostgreSQL half is ignored"
    );
}

//! The conformance suite of the `Store` port: every behaviour the core relies on, written
//! once as async functions over `Arc<dyn Store>` and run against each backend.
//!
//! `cargo test -p ringproof-store` runs it on SQLite and reports the PostgreSQL variants as
//! ignored; with `RINGPROOF_TEST_DATABASE_URL=postgres://user@host:port/db` set it also runs
//! every test on PostgreSQL, each in a database of its own created through that URL
//! (`support/pg.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
#[path = "../support/pg.rs"]
mod pg;

mod access_keys_services;
mod audit;
mod cancellation;
mod clients;
mod guard_counters;
mod idempotency;
mod jobs;
mod link_sessions;
mod migrations;
mod purge;
mod rate_limits;
mod retention;
mod sessions;
mod sqlite_file;
mod supersede;
mod verifications;
mod vonage_applications;
mod vonage_templates;

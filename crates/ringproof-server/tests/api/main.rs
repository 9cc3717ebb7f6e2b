//! Black-box tests through the real server (one test binary to save link time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod at_rest;
mod concurrency;
mod errors;
mod helpers;
mod idempotency;
mod idenfy;
mod isolation;
mod link_pages;
mod links;
mod multinode;
mod ops;
mod providers;
mod receipts;
mod sandbox_audio;
mod signzy_auth;
mod signzy_links;
mod signzy_otp;
mod signzy_seed_replay;
mod timing;
mod verifications;
mod webhooks;

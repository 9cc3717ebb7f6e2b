//! Black-box tests through the real server (one test binary to save link time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod at_rest;
mod auth_throttle;
mod browser;
mod concurrency;
mod demo;
mod errors;
#[path = "../../../ringproof-store/tests/support/eventually.rs"]
mod eventually;
mod fairness;
mod guard;
mod helpers;
mod idempotency;
mod idenfy;
mod isolation;
mod link_engine;
mod link_pages;
mod locales;
mod multinode;
mod network_auth;
mod network_auth_camara;
mod ops;
#[path = "../../../ringproof-store/tests/support/pg.rs"]
mod pg;
mod providers;
mod pumping;
mod pumping_simulation;
mod receipts;
mod retention;
mod sandbox_audio;
mod signzy_auth;
mod signzy_instant_link;
mod signzy_otp;
mod signzy_sample_replay;
mod sim_swap;
mod timing;
mod twilio;
mod twilio_sdk;
mod verifications;
mod vonage;
mod vonage_sdk;
mod webhooks;

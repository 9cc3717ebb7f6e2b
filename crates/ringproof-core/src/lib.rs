//! The verification engine of ringproof, with no I/O.
//!
//! This crate owns every rule: how codes are made, hashed and compared; the verification
//! state machine and its workflows of channel steps; policies; clients and their
//! credentials; and the *ports* (traits) through which the outside world is reached —
//! [`ports::Store`] for persistence, [`ports::Sender`] for delivery, [`time::Clock`] for time
//! and [`code::CodeSource`] for randomness. Adapters (stores, providers, HTTP faces) depend on
//! this crate; it depends on none of them, and its manifest has no HTTP, SQL or vendor crate.
//!
//! The entry point for callers is [`engine::Engine`]: one method per use case
//! (start, check, cancel, resend, run a job). Every API face calls the same methods.

pub mod access_key;
pub mod audit;
pub mod client;
pub mod code;
pub mod countries;
pub mod crypto;
pub mod delivery;
pub mod engine;
pub mod error;
pub mod event;
pub mod guard;
pub mod i18n;
pub mod ids;
pub mod job;
pub mod jose;
pub mod link_session;
pub mod lookup;
pub mod message;
pub mod netauth;
pub mod phone;
pub mod policy;
pub mod ports;
pub mod ratelimit;
pub mod service;
pub mod sessions;
pub mod simswap;
pub mod status;
pub mod templates;
pub mod throttle;
pub mod time;
pub mod verification;
pub mod vonage_app;
pub mod vonage_template;
pub mod webhook;
pub mod webhook_format;
pub mod workflow;

pub use error::{CoreError, StoreError};

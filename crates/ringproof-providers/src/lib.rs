//! Delivery providers behind the core [`Sender`](ringproof_core::ports::Sender) port.
//!
//! Providers: [`twilio`], [`vonage`] (SMS and voice), [`smpp`] (SMS through an SMSC over
//! SMPP 3.4), [`http`] (any one-request SMS gateway, by templates), and the [`sandbox`],
//! which keeps what would have been sent so a developer needs no provider account.
//!
//! # One shape per provider
//!
//! Every vendor's folder is laid out the same way, so adding a provider is copying one:
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | a doc link to the vendor's API reference, the file list, classification and idempotency notes; re-exports |
//! | `config.rs` | `<Vendor>Config`, its `kind = "…"` table, and `settings(name)`: every check of the table, secrets resolved (through [`secret`]) |
//! | `client.rs` | `<Vendor>Sender::new(name, &config, …)` over those settings, the [`Sender`](ringproof_core::ports::Sender): requests, how answers classify ([`classify`]), `healthcheck()` |
//! | `callback.rs` | `<Vendor>Callbacks` (`from_config`), the [`CallbackParser`](ringproof_core::ports::CallbackParser) of its delivery receipts, where the vendor sends them over HTTP |
//!
//! Unit tests sit in a `#[cfg(test)] mod tests` of the file they test; wire tests (against
//! wiremock, or the npm `smpp` SMSC) are `tests/<vendor>.rs`. Then one variant of
//! [`registry::ProviderConfig`] and one arm of [`registry::build`] (and of
//! [`registry::build_callback_parser`]) wire it in. A folder may hold more files of its
//! own (`vonage/jwt.rs`, `http/template.rs`, `smpp/{pdu,encoding}.rs`); [`smpp`]'s
//! receipts are `receipt.rs`, as they arrive on its session rather than as callbacks.
//!
//! The [`sandbox`] is not a vendor and does not follow that shape: it has no API to link
//! to, no config table (its file is `<data_dir>/sandbox.db`), no remote client and no
//! receipts; its `mod.rs` is the sender (the outbox), beside `audio.rs` and `lookup.rs`.
//!
//! # Layers
//!
//! [`error`] (the [`BuildError`](error::BuildError) of a config that cannot be built)
//! depends on nothing here; [`secret`], [`classify`], [`router`] and the provider folders
//! build on it. What several vendors share sits beside them, not in one vendor's folder
//! ([`classify`], [`secret`], [`lenient`], [`gsm7`]), so no folder reaches into another.
//! [`registry`] builds the configured providers and, when routes are given, a
//! [`router::Router`] over them (failover and a circuit breaker per provider). Nothing
//! depends on [`registry`], so the modules form no cycle.
//!
//! [`webhook`] is the HTTP client that delivers signed webhooks to clients' endpoints.

pub mod camara;
pub mod classify;
pub mod error;
pub mod gsm7;
pub mod http;
pub mod lenient;
pub mod registry;
pub mod router;
pub mod sandbox;
pub mod secret;
pub mod smpp;
pub mod twilio;
pub mod vonage;
pub mod webhook;

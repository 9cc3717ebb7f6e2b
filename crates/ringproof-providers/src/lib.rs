//! Delivery providers behind the core [`Sender`](ringproof_core::ports::Sender) port.
//!
//! Each provider lives in its own module with one shape: a doc link to the vendor's API,
//! its config, its client, and how its errors classify (retryable or permanent; see
//! [`classify`]). The [`sandbox`] keeps what would have been sent so a developer needs no
//! provider account; [`twilio`] is the first real vendor. [`registry`] builds the configured providers, and [`router`] routes
//! over them with failover and a circuit breaker per provider.
//!
//! [`smpp`] sends SMS through an SMSC over SMPP 3.4.
//! Providers: [`sandbox`], [`vonage`] (SMS and voice), [`http`] (any one-request SMS
//! gateway, by templates).
//!
//! [`webhook`] is the HTTP client that delivers signed webhooks to clients' endpoints.

pub mod classify;
pub mod error;
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

//! The generic HTTP provider (`kind = "http"`): SMS through any gateway that takes one
//! HTTP request per message — the many regional aggregators without a provider of their
//! own here. The request is described by templates ([`template`]); the answer is judged
//! by its status and, optionally, by regexes on its body.
//!
//! There is no vendor API reference: the gateway's own documentation is the reference,
//! and docs/providers.md (section "Generic HTTP") shows how to map one onto this config.
//!
//! - [`config`]: the `kind = "http"` table ([`HttpConfig`]) and its checks (templates
//!   parsed, regexes compiled, the secret resolved).
//! - [`client`]: [`HttpSender`], the [`Sender`](ringproof_core::ports::Sender): the
//!   request and how its answer classifies.
//! - [`template`]: the checked templates of the URL, headers and body.
//! - no `callback`: see "delivery receipts" below.
//!
//! Wire tests (a mock gateway): `tests/http.rs`.
//!
//! What it does not do:
//! - **voice**: it sends SMS only; a voice message fails permanently (give its routes
//!   `channel = "sms"`);
//! - **delivery receipts**: gateways' callbacks have no common shape;
//! - **echo a body into an error**: many gateways echo the request (the text, so the
//!   code, and the number) in their answers, so an error says only the status and which
//!   rule failed, never a part of the body.
//!
//! Classification: a status outside `success_status` follows [`crate::classify`] (408,
//! 425, 429, 5xx retryable; other 4xx permanent; a 2xx outside the list permanent); an
//! accepted status whose body fails `success_regex` is the "HTTP 200 with an error in the
//! body": retryable if `retry_regex` matches, else permanent. Timeouts and connection
//! failures are retryable.
//!
//! Idempotency: only as good as the gateway's. `{idempotency_key}` (stable across retries
//! of one job) can be put in the body or a header for gateways that deduplicate.

pub mod client;
pub mod config;
pub mod template;

pub use client::HttpSender;
pub use config::{HttpConfig, HttpMethod};

//! Delivery providers behind the core [`Sender`](ringproof_core::ports::Sender) port.
//!
//! Each provider lives in its own module with one shape: a doc link to the vendor's API,
//! its config, its client, and how its errors classify (retryable or permanent). So far
//! there is the [`sandbox`], which keeps what would have been sent so a developer needs no
//! provider account. Real vendors (Twilio, Vonage, SMPP, generic HTTP) come next.
//!
//! [`webhook`] is the HTTP client that delivers signed webhooks to clients' endpoints.

pub mod sandbox;
pub mod webhook;

//! Vonage (formerly Nexmo): SMS through the SMS API, voice calls through the Voice API,
//! delivery reports through [`callback`].
//!
//! API references:
//! - SMS API: <https://developer.vonage.com/en/api/sms> (`POST https://rest.nexmo.com/sms/json`;
//!   status codes: <https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms>)
//! - Voice API: <https://developer.vonage.com/en/api/voice> (`POST https://api.nexmo.com/v1/calls`,
//!   authenticated by a JWT: <https://developer.vonage.com/en/getting-started/concepts/authentication>)
//! - Delivery receipts: <https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts>
//!
//! - [`config`]: the `kind = "vonage"` table ([`VonageConfig`]) and its checks.
//! - [`client`]: [`VonageSender`], the [`Sender`](ringproof_core::ports::Sender): the
//!   requests and how their answers classify; `jwt` signs the Voice API's tokens.
//! - [`callback`]: [`VonageCallbacks`], the
//!   [`CallbackParser`](ringproof_core::ports::CallbackParser) of delivery reports and
//!   call events.
//!
//! Wire tests (a mock SMS API and Voice API): `tests/vonage.rs`.
//!
//! Classification ([`crate::classify`] for the HTTP status, then the body):
//! - SMS: the API answers HTTP 200 even when it refuses, with a `status` per message part
//!   ("HTTP 200 with an error in the body"): `0` is success; 1 (throttled), 5 (internal
//!   error), 9 (out of credit) and 10 (too many binds) are retryable; the rest are
//!   permanent (see `client::sms_status_error`). The description in the error is ours:
//!   Vonage's `error-text` is never copied, as it may quote the request.
//! - Voice: 2xx is a started call (its `uuid` is the message id); 408/429/5xx retryable;
//!   other 4xx permanent, with only the problem's generic `title`.
//!
//! Idempotency: the SMS API has no idempotency key. Our key is sent as `client-ref`, so
//! receipts and Vonage support can match a message to its job; but a timeout after Vonage
//! accepted a message means the job retries and the person may get it twice (at least
//! once, never zero). The same holds for calls.
//!
//! Text: a text outside the GSM 03.38 alphabet is sent as `type=unicode` (else Vonage
//! would garble it). Calls speak the text with the locale's voice (`pt-BR`, or a bare
//! language's usual region; Vonage's default otherwise).

pub mod callback;
pub mod client;
pub mod config;
mod jwt;

pub use callback::VonageCallbacks;
pub use client::VonageSender;
pub use config::VonageConfig;

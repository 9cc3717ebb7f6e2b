//! Twilio: SMS through the [Messages API] and voice calls through the [Calls API] (with
//! inline TwiML `<Say>`), delivery receipts from Twilio's [status callbacks], verified by
//! their [`X-Twilio-Signature`].
//!
//! [Messages API]: https://www.twilio.com/docs/messaging/api/message-resource
//! [Calls API]: https://www.twilio.com/docs/voice/api/call-resource
//! [status callbacks]: https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks
//! [`X-Twilio-Signature`]: https://www.twilio.com/docs/usage/webhooks/webhooks-security
//!
//! - [`config`]: the `kind = "twilio"` table ([`TwilioConfig`]) and its validation.
//! - [`client`]: [`TwilioSender`], the [`Sender`](ringproof_core::ports::Sender): the
//!   requests and how their answers classify.
//! - [`callback`]: [`TwilioCallbacks`], the
//!   [`CallbackParser`](ringproof_core::ports::CallbackParser) of the status callbacks.
//!
//! Wire tests (a mock Twilio): `tests/twilio.rs`.
//!
//! # Requests
//!
//! `POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json` (or `Calls.json`),
//! form-encoded, HTTP Basic with the Account SID and Auth Token — or an API key's SID and
//! secret, the path still naming the Account SID. SMS: `To`, `From` or
//! `MessagingServiceSid`, `Body`, `StatusCallback`. Calls: `To`, `From`, `Twiml`,
//! `StatusCallback`, `StatusCallbackEvent=completed`.
//!
//! # Idempotency: at least once
//!
//! Each request carries the job's idempotency key in `I-Twilio-Idempotency-Token`. Twilio
//! documents that header on the webhooks *it* sends (the same token on a retried webhook);
//! its API reference does not say that the Messages or Calls API deduplicates on it. So a
//! send whose answer was lost (a timeout after Twilio accepted it) is retried and may reach
//! the phone twice. What Twilio does guarantee: a request answered with HTTP 429 (code
//! 20429) was never processed and is safe to retry.
//!
//! # Classification
//!
//! | answer | class |
//! |---|---|
//! | 2xx with a `sid` | sent; the sid (`SM…`, `CA…`) is the receipt's message id |
//! | 2xx without a `sid`, or with `status` `failed`/`canceled` | error in a 200: permanent, unless its `error_code` is retryable |
//! | 408, 425, 429, 5xx; timeouts; connection failures | retryable |
//! | other 4xx | permanent (21211 invalid number, 21610 unsubscribed, 21614 not mobile, 20003 bad credentials, …) |
//! | Twilio codes 14107, 20429, 20500, 20503, 21611, 30001, 63017, whatever the status | retryable (throttling, queues, Twilio's own errors) |
//!
//! Error strings name well-known codes with our own words; an unknown code's Twilio
//! message is quoted with every phone-number-like run of digits masked, since Twilio's
//! messages repeat the number.

pub mod callback;
pub mod client;
pub mod config;

pub use callback::TwilioCallbacks;
pub use client::TwilioSender;
pub use config::TwilioConfig;

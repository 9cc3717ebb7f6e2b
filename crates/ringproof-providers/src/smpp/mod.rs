//! SMPP 3.4: SMS through an SMSC over one persistent `bind_transceiver` session.
//!
//! Reference: [SMPP v3.4 specification, issue 1.2](https://smpp.org/SMPP_v3_4_Issue1_2.pdf)
//! (§4 PDUs, §5.1.3 command statuses, §5.2.12 esm_class, Appendix B delivery receipts).
//!
//! - [`config`]: `kind = "smpp"` settings (password inline or `password_file`).
//! - [`client`]: the session (connect, bind, `enquire_link`, reconnect with backoff) and
//!   the [`Sender`](ringproof_core::ports::Sender); its error classification is
//!   [`client::classify_submit`] and [`client::classify_bind`].
//! - [`encoding`]: GSM-7 or UCS-2 by content, and the split into concatenated parts.
//! - [`pdu`]: the handful of PDUs we exchange, encoded by hand.
//! - [`receipt`]: delivery receipts in `deliver_sm` to [`DeliveryStatus`](ringproof_core::ports::DeliveryStatus)
//!   (the other providers' `callback.rs`; not named so, as SMPP receipts arrive on the
//!   session itself, not as HTTP callbacks).
//!
//! Wire tests (an independent SMSC, `tests/smsc/`): `tests/smpp.rs`.
//!
//! The PDUs are written here rather than taken from `rusmpp`/`rusmppc`: we need seven of
//! them, and owning the session loop keeps the window, the reconnect policy and
//! [`Sender::available`](ringproof_core::ports::Sender::available) in one place, without
//! a second TLS stack in the tree (docs/providers.md).
//!
//! SMPP has no idempotency key: a crash between `submit_sm_resp` and recording the send
//! resends the message (at least once).

pub mod client;
pub mod config;
pub mod encoding;
pub mod pdu;
pub mod receipt;

pub use client::SmppSender;
pub use config::SmppConfig;

//! Delivery receipts: what a provider later reports about a message it accepted
//! (delivered to the handset, undeliverable, failed), matched to the send by the
//! provider's message id.
//!
//! When a provider accepts a message, the send is recorded as a [`DeliveryRecord`] beside
//! its `sent` event (same transaction). A receipt then moves the record's status forward —
//! `sent` → `delivered` | `undelivered` | `failed`, never back and never twice, so a
//! repeated or late callback changes nothing — and adds an event to the verification:
//! `delivered`, or `delivery_failed` (which fails the verification when no step is left,
//! as a refused send does).

use crate::ids::{ClientId, VerificationId};
use crate::time::Timestamp;
use crate::workflow::Channel;

/// What a provider reported about a message it accepted (a delivery receipt: a Twilio or
/// Vonage status callback, an SMPP `deliver_sm` receipt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Handed on by the provider to the carrier (not yet on the handset).
    Sent,
    /// On the handset (SMS) or the call was answered (voice).
    Delivered,
    /// The carrier could not deliver it (phone off for too long, unknown subscriber, …).
    Undelivered,
    /// The provider gave up on it (refused, expired, rejected).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Undelivered => "undelivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// An accepted send, kept to match its receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The configured provider name that accepted it.
    pub provider: String,
    pub provider_message_id: String,
    pub client_id: ClientId,
    pub verification_id: VerificationId,
    pub channel: Channel,
    /// ISO 3166 region of the destination (`US`, `GB`), for per-country metrics; no number.
    pub region: Option<String>,
    pub sent_at: Timestamp,
    /// Which send of the verification it was ([`crate::job::DeliverPayload::seq`]).
    pub seq: u32,
}

/// The send a receipt matched, after its status moved forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptMatch {
    pub client_id: ClientId,
    pub verification_id: VerificationId,
    pub channel: Channel,
    pub region: Option<String>,
    pub sent_at: Timestamp,
    pub seq: u32,
}

/// Whether a receipt of `status` may replace a record's current status (`None`: only
/// sent so far). Final statuses never change; `sent` never replaces anything but nothing.
pub fn moves_forward(current: Option<DeliveryStatus>, status: DeliveryStatus) -> bool {
    match current {
        None => true,
        Some(DeliveryStatus::Sent) => status != DeliveryStatus::Sent,
        Some(_) => false,
    }
}

/// What a receipt did, for the caller's metrics and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// No send with that provider and message id is known (another system's message, or
    /// purged), or the receipt does not move its status forward (a repeat).
    Ignored,
    Recorded {
        provider: String,
        status: DeliveryStatus,
        channel: Channel,
        region: Option<String>,
        /// From the send to this receipt.
        latency_ms: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward_once() {
        use DeliveryStatus::*;
        assert!(moves_forward(None, Sent));
        assert!(moves_forward(None, Delivered));
        assert!(moves_forward(Some(Sent), Delivered));
        assert!(moves_forward(Some(Sent), Failed));
        assert!(!moves_forward(Some(Sent), Sent));
        for done in [Delivered, Undelivered, Failed] {
            for s in [Sent, Delivered, Undelivered, Failed] {
                assert!(!moves_forward(Some(done), s), "{done:?} → {s:?}");
            }
        }
    }
}

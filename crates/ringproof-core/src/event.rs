//! What happened to a verification: its events, and their kinds as one closed list.
//!
//! An event kind is part of two contracts, the events list of the native API
//! (`GET /v1/verifications/{id}/events`, `kind`) and the webhooks (`type` is
//! `verification.<kind>`, docs/webhooks.md); both read [`EventKind::as_str`], and the
//! stores keep the same string. A new kind is added here, and nowhere else.

use crate::ids::VerificationId;
use crate::time::Timestamp;
use crate::workflow::Channel;

/// The kind of an event, stored and announced as its [`as_str`](EventKind::as_str) form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    /// The operator was asked about a recent SIM swap ([`crate::simswap`]); the detail
    /// says what it answered (`swapped within 240 h`, `not swapped within 240 h`,
    /// `unknown (unreachable)`).
    SimSwapChecked,
    /// The device opened the `check_url` of a silent step and was sent to the operator
    /// (network authentication, docs/network-auth.md).
    SilentAuthStarted,
    /// Silent network authentication's verdict; the detail is its reason (`verified`,
    /// `not_verified`, `unidentified`, `deadline`, …). `verified` is followed by
    /// `approved`; anything else by the next step.
    SilentAuth,
    SendQueued,
    Sent,
    Delivered,
    DeliveryFailed,
    StepSkipped,
    /// A resend refused by a limit across verifications (a blocked range, a country, a
    /// rate): nothing was sent.
    SendRefused,
    CheckWrong,
    CheckNoLiveCode,
    Approved,
    MaxAttemptsReached,
    Canceled,
    Expired,
    Failed,
}

impl EventKind {
    /// Every kind, in the order of a verification's life.
    pub const ALL: [EventKind; 17] = [
        EventKind::Created,
        EventKind::SimSwapChecked,
        EventKind::SilentAuthStarted,
        EventKind::SilentAuth,
        EventKind::SendQueued,
        EventKind::Sent,
        EventKind::Delivered,
        EventKind::DeliveryFailed,
        EventKind::StepSkipped,
        EventKind::SendRefused,
        EventKind::CheckWrong,
        EventKind::CheckNoLiveCode,
        EventKind::Approved,
        EventKind::MaxAttemptsReached,
        EventKind::Canceled,
        EventKind::Expired,
        EventKind::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::SimSwapChecked => "sim_swap_checked",
            EventKind::SilentAuthStarted => "silent_auth_started",
            EventKind::SilentAuth => "silent_auth",
            EventKind::SendQueued => "send_queued",
            EventKind::Sent => "sent",
            EventKind::Delivered => "delivered",
            EventKind::DeliveryFailed => "delivery_failed",
            EventKind::StepSkipped => "step_skipped",
            EventKind::SendRefused => "send_refused",
            EventKind::CheckWrong => "check_wrong",
            EventKind::CheckNoLiveCode => "check_no_live_code",
            EventKind::Approved => "approved",
            EventKind::MaxAttemptsReached => "max_attempts_reached",
            EventKind::Canceled => "canceled",
            EventKind::Expired => "expired",
            EventKind::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a verification, for its history and its webhooks. A transition
/// records it through [`Effects::record`](crate::verification::Effects::record), which
/// queues its webhook in the same breath.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub channel: Option<Channel>,
    pub detail: Option<String>,
    pub at: Timestamp,
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub verification_id: VerificationId,
    pub kind: EventKind,
    pub channel: Option<Channel>,
    pub detail: Option<String>,
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_string() {
        let strings: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            strings,
            [
                "created",
                "sim_swap_checked",
                "silent_auth_started",
                "silent_auth",
                "send_queued",
                "sent",
                "delivered",
                "delivery_failed",
                "step_skipped",
                "send_refused",
                "check_wrong",
                "check_no_live_code",
                "approved",
                "max_attempts_reached",
                "canceled",
                "expired",
                "failed",
            ]
        );
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!(EventKind::parse("verification.approved"), None);
        assert_eq!(EventKind::parse("Approved"), None);
    }

    #[test]
    fn the_docs_list_every_kind() {
        let webhooks = include_str!("../../../docs/webhooks.md");
        let api = include_str!("../../../docs/api.md");
        for k in EventKind::ALL {
            assert!(
                webhooks.contains(&format!("`verification.{k}`")),
                "docs/webhooks.md lacks {k}"
            );
            assert!(api.contains(&format!("`{k}`")), "docs/api.md lacks {k}");
        }
    }
}

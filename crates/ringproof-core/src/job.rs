//! Durable jobs (the transactional outbox). A job row is written in the same transaction
//! as the state change that causes it; workers claim due jobs, run them, and delete them on
//! success. Payloads that carry a code are sealed (see [`crate::crypto::Keys::seal`]).

use serde::{Deserialize, Serialize};

use crate::ids::{ClientId, JobId, VerificationId};
use crate::time::Timestamp;
use crate::workflow::Channel;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Hand one message or call to a provider. Payload: sealed [`DeliverPayload`].
    Deliver,
    /// Run workflow step N of a verification. Payload: [`StepPayload`] (plain JSON).
    Step,
    /// POST one event to the client's webhook. Payload: the JSON body (no code, no number).
    Webhook,
    /// Persist (and so announce) a verification's expiry when it falls due; rescheduled if
    /// a resend moved it. Payload: empty.
    Expire,
}

impl JobKind {
    /// Every kind this build runs. A worker claims only these (the store's claim names
    /// them), so during a rolling upgrade an older node leaves a newer release's kinds to
    /// the nodes that know them (docs/deploy.md).
    pub const ALL: [JobKind; 4] = [JobKind::Deliver, JobKind::Step, JobKind::Webhook, JobKind::Expire];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Deliver => "deliver",
            JobKind::Step => "step",
            JobKind::Webhook => "webhook",
            JobKind::Expire => "expire",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deliver" => Some(JobKind::Deliver),
            "step" => Some(JobKind::Step),
            "webhook" => Some(JobKind::Webhook),
            "expire" => Some(JobKind::Expire),
            _ => None,
        }
    }
}

/// Which jobs a claim may take. Webhooks are claimed apart from the rest, by their own
/// worker slots, so a slow or dead client endpoint can never hold up SMS, calls and steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobQueue {
    /// Every kind (tests that drain the queue, tools).
    All,
    /// Deliveries, steps and expiries: everything but webhooks.
    Messages,
    Webhooks,
}

impl JobQueue {
    /// Whether the claim includes (webhook jobs, every other kind).
    pub fn includes(self) -> (bool, bool) {
        match self {
            JobQueue::All => (true, true),
            JobQueue::Messages => (false, true),
            JobQueue::Webhooks => (true, false),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    pub id: JobId,
    pub kind: JobKind,
    pub client_id: ClientId,
    pub verification_id: Option<VerificationId>,
    pub due_at: Timestamp,
    pub payload: Vec<u8>,
    pub max_attempts: u32,
}

/// A claimed job. `attempts` already counts the claim that returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    pub client_id: ClientId,
    pub verification_id: Option<VerificationId>,
    pub due_at: Timestamp,
    pub payload: Vec<u8>,
    pub attempts: u32,
    pub max_attempts: u32,
}

/// What a deliver job hands to a provider, before sealing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverPayload {
    pub to: String,
    pub channel: Channel,
    pub text: String,
    pub locale: String,
    pub sender: Option<String>,
    /// Index of the workflow step this send belongs to; `None` for a resend.
    pub step: Option<u8>,
    /// Whether the verification notifies a webhook (its `sent` event is queued as one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notify: bool,
    /// Which send of the verification this is (1 for the first; 0 when unknown), so a late
    /// failure of an earlier send does not end a verification a later send still serves.
    #[serde(default)]
    pub seq: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPayload {
    pub index: u8,
}

/// Queue counters for metrics and readiness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Due now and waiting for a worker.
    pub due: u64,
    /// Scheduled for later (e.g. fallback steps).
    pub scheduled: u64,
    /// Gave up after their last attempt.
    pub dead: u64,
}

/// Exponential backoff with "full jitter": a uniform wait in
/// `[0, min(cap, base * 2^(attempt-1))]`, given a uniform random `unit` in `[0, 1)`.
pub fn backoff_ms(attempt: u32, base_ms: u64, cap_ms: u64, unit: f64) -> u64 {
    let exp = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
    let ceiling = exp.min(cap_ms);
    // At least one base step, so a failing job is never retried in a hot loop.
    ((ceiling as f64) * unit.clamp(0.0, 1.0)) as u64 + base_ms.min(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.0), 1000);
        assert_eq!(backoff_ms(1, 1000, 60_000, 0.999), 1999);
        assert_eq!(backoff_ms(4, 1000, 60_000, 0.5), 5000);
        assert!(backoff_ms(40, 1000, 60_000, 0.999) <= 61_000);
    }
}

//! The verification state machine. Every rule about attempts, expiry, resends and
//! workflow steps lives here, as pure functions of the record, `now` and the injected code
//! source. The store runs each transition inside one transaction with the row locked, so
//! counters and state changes are atomic (see [`crate::ports::Store::update_verification`]).
//!
//! ```text
//!                 check ok, or approve (the integrator's word)
//!        ┌──────────────────────────────► approved
//!        │        wrong check #max_checks
//!   pending ─────────────────────────────► max_attempts_reached   (code burned)
//!     │  │ ▲      cancel
//!     │  │ └─┐  ─────────────────────────► canceled
//!     │  │   │    now ≥ expires_at
//!     │  │   │  ─────────────────────────► expired                 (code erased)
//!     │  │   │    last delivery failed, no step left
//!     │  │   │  ─────────────────────────► failed
//!     │  └───┘ wrong check (< max), resend (after cooldown), workflow step
//! ```
//!
//! Terminal states never change again. Leaving `pending` erases the code hash and the
//! sealed code and cancels the workflow steps not yet run.

use serde::{Deserialize, Serialize};

use crate::code::{Code, CodeSource};
use crate::crypto::{Keys, ct_eq};
use crate::error::CoreError;
use crate::ids::{ClientId, JobId, VerificationId};
use crate::job::{DeliverPayload, JobKind, NewJob, StepPayload};
use crate::link_session::PhoneMatch;
use crate::message;
use crate::netauth::Verdict;
use crate::phone::PhoneNumber;
use crate::policy::Policy;
use crate::time::Timestamp;
use crate::workflow::{Channel, CodeMode, Workflow};

pub use crate::status::Status;

/// The detail of the `approved` event of [`Verification::approve`].
pub const APPROVED_BY_CLIENT: &str = "approved by the client, without a code";

/// How many times a job may be tried before it is dead-lettered.
pub const DEFAULT_JOB_ATTEMPTS: u32 = 8;

/// One verification. Fields are public for the stores; change them only through the
/// transition methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub id: VerificationId,
    pub client_id: ClientId,
    pub to: PhoneNumber,
    pub status: Status,
    pub workflow: Workflow,
    pub locale: String,
    pub brand: String,
    pub code_length: u8,
    /// HMAC of the current code; `None` once no code may be accepted.
    pub code_hash: Option<[u8; 32]>,
    pub code_expires_at: Timestamp,
    /// The current code, sealed, kept only while a later step must repeat it.
    pub sealed_code: Option<Vec<u8>>,
    /// Index of the next workflow step to run.
    pub next_step: u8,
    /// Messages and calls issued (steps and resends).
    pub sends: u32,
    pub resends: u32,
    pub last_sent_at: Timestamp,
    pub wrong_checks: u32,
    pub policy: Policy,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Timestamp,
    /// Per-verification delivery options, fixed at start.
    pub options: Options,
}

/// Options a face sets at start that every later send of the verification keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// The sender id shown on the SMS (an alphanumeric sender id), when the face sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The SMS text template for every SMS of this verification (see
    /// [`crate::message::sms_text`]); overrides the client's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_template: Option<String>,
    /// The words of every call of this verification (see
    /// [`crate::message::voice_text_from`]): a Vonage template fragment's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_template: Option<String>,
    /// Whether the client had a webhook when the verification started: every event of the
    /// verification is then also queued as a webhook job, and its expiry is scheduled so
    /// `expired` is announced when it happens rather than when someone next looks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notify: bool,
    /// What the operator said about a recent SIM swap when the verification started
    /// ([`crate::simswap`]); `None` when the client does not check. Set by
    /// [`Verification::start`] from [`StartParams::sim_swap`], never changed after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_swap: Option<crate::simswap::SimSwapResult>,
    /// Set when the workflow starts with a silent step (network authentication through
    /// the operator before any code is sent); changed only by the `silent_*` transitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent: Option<SilentAuth>,
    /// The service the verification was started in (the Twilio face's `service_sid`),
    /// which reads and checks of it name ([`crate::service`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// With no text of the client's or the request's, the SMS is the language's text with
    /// a warning not to share the code ([`crate::message::do_not_share_template`]): a
    /// service's `DoNotShareWarningEnabled`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub do_not_share: bool,
    /// The code was brought by the integrator, not drawn: its approval proves nothing about
    /// delivery, so it is no conversion for the SMS-pumping guard (whoever pumps a range
    /// could check their own codes).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub custom_code: bool,
    /// The shape of this verification's webhooks, fixed at start with `notify`: the
    /// client's format when the verification has the names it needs ([`Options::face`]),
    /// else ringproof's ([`crate::webhook_format::WebhookFormat::for_face`]).
    #[serde(skip_serializing_if = "crate::webhook_format::WebhookFormat::is_ringproof")]
    pub webhook_format: crate::webhook_format::WebhookFormat,
    /// The names a vendor's face gave the verification (a Twilio Account SID, a Vonage
    /// `client_ref`), which that vendor's webhook format carries. Set at start, never changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<crate::webhook_format::FaceIds>,
}

/// How long the `check_url` of a silent step may wait to be opened before the first
/// delivery step runs anyway, in seconds.
pub const SILENT_WINDOW_S: i64 = 60;

/// The state of a silent step's network authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SilentAuth {
    /// SHA-256 (hex) of the `state` sent through the operator, once the device opened the
    /// `check_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_hash: Option<String>,
    /// After this (ms), the verdict is "indeterminate" whatever the operator says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<i64>,
    /// What the authenticator needs to finish, sealed (base64url); gone once settled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    /// The address that opened the `check_url`: the operator's callback must come from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The verdict's reason, once settled (`verified`, `not_verified`, `deadline`, …;
    /// `not_opened` / `no_callback` when the first delivery step ran without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// What [`Verification::silent_start`] records.
#[derive(Clone, Debug)]
pub struct SilentPending {
    pub state_hash: String,
    pub deadline: Timestamp,
    pub sealed: String,
    /// The address that opened the `check_url`.
    pub ip: Option<std::net::IpAddr>,
}

/// Why a silent step's transition was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SilentError {
    #[error("this verification has no silent step")]
    NoSilentStep,
    /// The `check_url` was opened already, or the verification went on to its next step.
    #[error("this check URL was already used")]
    AlreadyUsed,
    #[error("the verification is {}", .0.as_str())]
    NotPending(Status),
}

pub use crate::event::{Event, EventKind, NewEvent};

/// Side effects of a transition, persisted by the store in the same transaction.
///
/// Events go in only through [`Effects::record`], which queues the event's webhook job
/// beside it when the verification notifies: every recorded event is announced, by
/// construction, and nothing else queues a webhook.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub jobs: Vec<NewJob>,
    events: Vec<NewEvent>,
    /// It left `pending`: delete every job of this verification that has not run — later
    /// steps, deliveries not yet sent, the expiry — but its webhooks (they announce what
    /// already happened).
    pub cancel_pending_steps: bool,
}

impl Effects {
    /// Records `event` of `v` and, if `v` notifies, the webhook jobs announcing it in its
    /// format ([`crate::webhook::announce`]).
    pub fn record(&mut self, v: &Verification, event: NewEvent) {
        if v.options.notify {
            self.jobs.extend(crate::webhook::announce(v, &event));
        }
        self.events.push(event);
    }

    /// The events recorded, in order.
    pub fn events(&self) -> &[NewEvent] {
        &self.events
    }
}

/// The webhook job announcing the worker's `sent` event of verification `vid` (written with
/// its finished job rather than by a transition), when `notify` (the delivery's
/// [`DeliverPayload::notify`], set only where `sent` is announced: in ringproof's format).
pub fn announcement(client: &ClientId, vid: &VerificationId, notify: bool, event: &NewEvent) -> Option<NewJob> {
    notify.then(|| crate::webhook::job(client, vid, event))
}

/// The job that announces expiry when it is due (only for verifications that notify).
pub fn expire_job(v: &Verification) -> NewJob {
    NewJob {
        id: JobId::generate(),
        kind: JobKind::Expire,
        client_id: v.client_id.clone(),
        verification_id: Some(v.id.clone()),
        due_at: v.expires_at,
        payload: Vec::new(),
        max_attempts: DEFAULT_JOB_ATTEMPTS,
    }
}

/// The result of a check that was evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    pub valid: bool,
    pub status: Status,
    pub remaining_attempts: u32,
}

/// Everything a start needs besides the record's identity.
pub struct StartParams<'a> {
    pub client_id: ClientId,
    pub to: PhoneNumber,
    pub workflow: Workflow,
    pub locale: String,
    pub brand: String,
    pub code_length: u8,
    pub policy: Policy,
    pub sms_template: Option<&'a str>,
    pub options: Options,
    /// The SIM-swap check made before the start, if the client checks: stored in
    /// [`Options::sim_swap`] and recorded as a `sim_swap_checked` event.
    pub sim_swap: Option<crate::simswap::SimSwapOutcome>,
    pub now: Timestamp,
}

/// Context every transition that sends needs: keys to hash and seal, a code source, and
/// the client's SMS template.
pub struct Ctx<'a> {
    pub keys: &'a Keys,
    pub codes: &'a dyn CodeSource,
    pub sms_template: Option<&'a str>,
    pub now: Timestamp,
}

impl Verification {
    /// Starts a verification: issues the first code, queues its delivery and schedules
    /// the later workflow steps, all as effects of one transaction.
    pub fn start(p: StartParams<'_>, keys: &Keys, codes: &dyn CodeSource) -> (Self, Effects) {
        let lifetime = i64::from(p.workflow.lifetime_s());
        let mut v = Verification {
            id: VerificationId::generate(),
            client_id: p.client_id,
            to: p.to,
            status: Status::Pending,
            workflow: p.workflow,
            locale: p.locale,
            brand: p.brand,
            code_length: p.code_length,
            code_hash: None,
            code_expires_at: p.now,
            sealed_code: None,
            next_step: 0,
            sends: 0,
            resends: 0,
            last_sent_at: p.now,
            wrong_checks: 0,
            policy: p.policy,
            created_at: p.now,
            updated_at: p.now,
            expires_at: p.now.plus_secs(lifetime),
            options: Options {
                sim_swap: p.sim_swap.map(|o| o.result),
                ..p.options
            },
        };
        let mut fx = Effects::default();
        fx.record(
            &v,
            NewEvent {
                kind: EventKind::Created,
                channel: None,
                detail: None,
                at: p.now,
            },
        );
        if let Some(o) = &p.sim_swap {
            fx.record(
                &v,
                NewEvent {
                    kind: EventKind::SimSwapChecked,
                    channel: None,
                    detail: Some(o.detail()),
                    at: p.now,
                },
            );
        }
        let ctx = Ctx {
            keys,
            codes,
            sms_template: p.sms_template,
            now: p.now,
        };
        if v.options.silent.is_some() {
            // The first delivery step waits for the silent step: it runs when network
            // authentication fails, or at the end of the window if nobody opens the check URL.
            let due = v.created_at.plus_secs(SILENT_WINDOW_S);
            fx.jobs.push(v.step_job(0, due));
        } else {
            v.run_step(0, &ctx, &mut fx);
        }
        for (i, step) in v.workflow.steps().iter().enumerate().skip(1) {
            let job = v.step_job(i as u8, v.created_at.plus_secs(i64::from(step.after_s)));
            fx.jobs.push(job);
        }
        if v.options.notify {
            fx.jobs.push(expire_job(&v));
        }
        (v, fx)
    }

    /// The durable job that runs workflow step `index` at `due`.
    fn step_job(&self, index: u8, due: Timestamp) -> NewJob {
        NewJob {
            id: JobId::generate(),
            kind: JobKind::Step,
            client_id: self.client_id.clone(),
            verification_id: Some(self.id.clone()),
            due_at: due,
            payload: serde_json::to_vec(&StepPayload { index }).unwrap_or_default(),
            max_attempts: DEFAULT_JOB_ATTEMPTS,
        }
    }

    /// The device opened the silent step's `check_url` and goes to the operator: records
    /// the round trip's state (once, while the first delivery step has not run) and
    /// schedules that step for the deadline, in case the operator never calls back.
    pub fn silent_start(
        &mut self,
        now: Timestamp,
        pending: SilentPending,
        fx: &mut Effects,
    ) -> Result<(), SilentError> {
        self.silent_open(now, fx)?;
        let due = pending.deadline;
        if let Some(s) = self.options.silent.as_mut() {
            s.state_hash = Some(pending.state_hash);
            s.deadline = Some(pending.deadline.millis());
            s.sealed = Some(pending.sealed);
            s.ip = pending.ip.map(|ip| ip.to_canonical().to_string());
        }
        self.updated_at = now;
        fx.record(
            self,
            NewEvent {
                kind: EventKind::SilentAuthStarted,
                channel: None,
                detail: None,
                at: now,
            },
        );
        fx.jobs.push(self.step_job(0, due));
        Ok(())
    }

    /// The silent step's verdict (once): `true` approves the verification, with no code
    /// sent; anything else (or the deadline passed) runs the first delivery step now.
    /// Returns whether it approved.
    pub fn silent_settle(&mut self, now: Timestamp, verdict: &Verdict, fx: &mut Effects) -> Result<bool, SilentError> {
        self.refresh(now, fx);
        let Some(s) = self.options.silent.as_mut() else {
            return Err(SilentError::NoSilentStep);
        };
        if s.result.is_some() {
            return Err(SilentError::AlreadyUsed);
        }
        let late = s.deadline.is_some_and(|d| now.millis() >= d);
        let (matched, reason) = if late {
            (false, "deadline".to_owned())
        } else {
            (verdict.phone_match == PhoneMatch::True, verdict.reason.clone())
        };
        s.result = Some(reason.clone());
        s.sealed = None;
        self.updated_at = now;
        if self.status != Status::Pending {
            return Err(SilentError::NotPending(self.status));
        }
        fx.record(
            self,
            NewEvent {
                kind: EventKind::SilentAuth,
                channel: None,
                detail: Some(reason),
                at: now,
            },
        );
        if matched && self.next_step == 0 {
            self.finish(Status::Approved, now, fx);
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::Approved,
                    channel: None,
                    detail: Some("silent".into()),
                    at: now,
                },
            );
            return Ok(true);
        }
        if self.next_step == 0 {
            fx.jobs.push(self.step_job(0, now));
        }
        Ok(false)
    }

    /// Whether step `index` must wait for the silent step: the first delivery step, while
    /// the device is at the operator and the deadline has not passed (the deadline's own
    /// job runs it then).
    fn silent_holds(&self, index: u8, now: Timestamp) -> bool {
        index == 0
            && self.options.silent.as_ref().is_some_and(|s| {
                s.state_hash.is_some() && s.result.is_none() && s.deadline.is_some_and(|d| now.millis() < d)
            })
    }

    /// The first delivery step runs with the silent step unsettled: nobody opened the
    /// `check_url` in its window, or the operator never called back by the deadline.
    fn silent_gave_up(&mut self, now: Timestamp, fx: &mut Effects) {
        let Some(s) = self.options.silent.as_mut().filter(|s| s.result.is_none()) else {
            return;
        };
        let reason = if s.state_hash.is_some() {
            "no_callback"
        } else {
            "not_opened"
        };
        s.result = Some(reason.into());
        s.sealed = None;
        fx.record(
            self,
            NewEvent {
                kind: EventKind::SilentAuth,
                channel: None,
                detail: Some(reason.into()),
                at: now,
            },
        );
    }

    /// Checks that the silent step may start: pending, not opened, first step not run.
    fn silent_open(&mut self, now: Timestamp, fx: &mut Effects) -> Result<(), SilentError> {
        self.refresh(now, fx);
        let s = self.options.silent.as_ref().ok_or(SilentError::NoSilentStep)?;
        if self.status != Status::Pending {
            return Err(SilentError::NotPending(self.status));
        }
        if s.state_hash.is_some() || s.result.is_some() || self.next_step > 0 {
            return Err(SilentError::AlreadyUsed);
        }
        Ok(())
    }

    /// Whether the silent step may start now (see [`Self::silent_start`]), without
    /// changing anything: the engine asks before it asks the operator.
    pub fn silent_may_start(&self, now: Timestamp) -> Result<(), SilentError> {
        let s = self.options.silent.as_ref().ok_or(SilentError::NoSilentStep)?;
        let status = self.status_at(now);
        if status != Status::Pending {
            return Err(SilentError::NotPending(status));
        }
        if s.state_hash.is_some() || s.result.is_some() || self.next_step > 0 {
            return Err(SilentError::AlreadyUsed);
        }
        Ok(())
    }

    /// The status as of `now`, without changing the record.
    pub fn status_at(&self, now: Timestamp) -> Status {
        if self.status == Status::Pending && now >= self.expires_at {
            Status::Expired
        } else {
            self.status
        }
    }

    pub fn remaining_attempts(&self) -> u32 {
        self.policy.max_checks.saturating_sub(self.wrong_checks)
    }

    /// Persists expiry if it is due. Every transition calls this first.
    pub fn refresh(&mut self, now: Timestamp, fx: &mut Effects) {
        if self.status == Status::Pending && now >= self.expires_at {
            self.finish(Status::Expired, now, fx);
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::Expired,
                    channel: None,
                    detail: None,
                    at: now,
                },
            );
        }
    }

    fn finish(&mut self, status: Status, now: Timestamp, fx: &mut Effects) {
        self.status = status;
        self.code_hash = None;
        self.sealed_code = None;
        self.updated_at = now;
        fx.cancel_pending_steps = true;
    }

    /// Checks a code. Exactly `max_checks` wrong codes are evaluated; the last of them
    /// ends the verification and burns the code, so even the right code fails afterwards.
    /// A code outside its window is refused without counting: no code can match then.
    pub fn check(
        &mut self,
        candidate: &str,
        keys: &Keys,
        now: Timestamp,
        fx: &mut Effects,
    ) -> Result<CheckOutcome, CoreError> {
        self.refresh(now, fx);
        if self.status != Status::Pending {
            return Err(CoreError::NotPending { status: self.status });
        }
        let live = self.code_hash.filter(|_| now < self.code_expires_at);
        let Some(expected) = live else {
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::CheckNoLiveCode,
                    channel: None,
                    detail: None,
                    at: now,
                },
            );
            return Ok(CheckOutcome {
                valid: false,
                status: self.status,
                remaining_attempts: self.remaining_attempts(),
            });
        };
        // Hash whatever was sent, even a malformed value, so the time taken does not
        // depend on the input's shape.
        let got = keys.code_hash(self.id.as_str(), candidate);
        self.updated_at = now;
        if ct_eq(&got, &expected) {
            self.finish(Status::Approved, now, fx);
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::Approved,
                    channel: None,
                    detail: None,
                    at: now,
                },
            );
            return Ok(CheckOutcome {
                valid: true,
                status: Status::Approved,
                remaining_attempts: self.remaining_attempts(),
            });
        }
        self.wrong_checks += 1;
        fx.record(
            self,
            NewEvent {
                kind: EventKind::CheckWrong,
                channel: None,
                detail: None,
                at: now,
            },
        );
        if self.wrong_checks >= self.policy.max_checks {
            self.finish(Status::MaxAttemptsReached, now, fx);
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::MaxAttemptsReached,
                    channel: None,
                    detail: None,
                    at: now,
                },
            );
        }
        Ok(CheckOutcome {
            valid: false,
            status: self.status,
            remaining_attempts: self.remaining_attempts(),
        })
    }

    pub fn cancel(&mut self, now: Timestamp, fx: &mut Effects) -> Result<(), CoreError> {
        self.cancel_because(None, now, fx)
    }

    /// Approves a pending verification on the integrator's word, with no code (Twilio's
    /// `Status=approved`: the integrator verified the person some other way). Its
    /// `approved` event says so in its detail.
    pub fn approve(&mut self, now: Timestamp, fx: &mut Effects) -> Result<(), CoreError> {
        self.refresh(now, fx);
        if self.status != Status::Pending {
            return Err(CoreError::NotPending { status: self.status });
        }
        self.finish(Status::Approved, now, fx);
        fx.record(
            self,
            NewEvent {
                kind: EventKind::Approved,
                channel: None,
                detail: Some(APPROVED_BY_CLIENT.to_owned()),
                at: now,
            },
        );
        Ok(())
    }

    /// [`Verification::cancel`], with `detail` on its `canceled` event (why it was canceled).
    pub fn cancel_because(
        &mut self,
        detail: Option<String>,
        now: Timestamp,
        fx: &mut Effects,
    ) -> Result<(), CoreError> {
        self.refresh(now, fx);
        if self.status != Status::Pending {
            return Err(CoreError::NotPending { status: self.status });
        }
        self.finish(Status::Canceled, now, fx);
        fx.record(
            self,
            NewEvent {
                kind: EventKind::Canceled,
                channel: None,
                detail,
                at: now,
            },
        );
        Ok(())
    }

    /// When the next resend is allowed: `cooldown * 2^resends` after the last send.
    pub fn next_resend_at(&self) -> Timestamp {
        let factor = 1i64 << self.resends.min(20);
        self.last_sent_at
            .plus_secs(i64::from(self.policy.resend_cooldown_s) * factor)
    }

    /// Sends a fresh code (the previous one stops working) on `channel`, or the first
    /// step's channel. Refused inside the cooldown or once all sends are used.
    /// Whether a resend at `now` would be accepted: pending, sends left, past the cooldown;
    /// else the error it is refused with. (Asked before a resend is admitted by the limits
    /// across verifications, so a refused resend counts nowhere.)
    pub fn may_resend(&self, now: Timestamp) -> Result<(), CoreError> {
        let status = self.status_at(now);
        if status != Status::Pending {
            return Err(CoreError::NotPending { status });
        }
        if self.sends >= self.policy.max_sends {
            return Err(CoreError::MaxSendsReached);
        }
        let allowed_at = self.next_resend_at();
        if now < allowed_at {
            return Err(CoreError::ResendCooldown {
                retry_after_s: now.secs_until_ceil(allowed_at),
            });
        }
        Ok(())
    }

    pub fn resend(&mut self, channel: Option<Channel>, ctx: &Ctx<'_>, fx: &mut Effects) -> Result<(), CoreError> {
        let now = ctx.now;
        self.refresh(now, fx);
        self.may_resend(now)?;
        let channel = channel.unwrap_or_else(|| self.workflow.first_channel());
        let code = self.issue_code(ctx, now.plus_secs(i64::from(self.policy.validity_s)));
        if self.code_expires_at > self.expires_at {
            self.expires_at = self.code_expires_at;
        }
        self.resends += 1;
        self.send(channel, &code, None, ctx, fx);
        Ok(())
    }

    /// Whether [`Self::run_step`] of `index` at `now` would get as far as deciding to send
    /// (the verification pending, the step not overtaken, sends left), so the send is worth
    /// admitting by the limits across verifications first.
    pub fn would_run_step(&self, index: u8, now: Timestamp) -> bool {
        !self.silent_holds(index, now)
            && self.status_at(now) == Status::Pending
            && index >= self.next_step
            && (index as usize) < self.workflow.steps().len()
            && self.sends < self.policy.max_sends
    }

    /// Runs workflow step `index` (from its scheduled job). Idempotent: a step that
    /// already ran is a no-op; steps it overtakes are recorded as skipped. A step whose code
    /// would already be out of its window is skipped, not sent.
    pub fn run_step(&mut self, index: u8, ctx: &Ctx<'_>, fx: &mut Effects) {
        self.run_or_refuse_step(index, ctx, None, fx);
    }

    /// Records a resend on `channel` that a limit across verifications refused (`why`);
    /// nothing else changes.
    pub fn record_refused_send(&mut self, channel: Channel, why: &str, now: Timestamp, fx: &mut Effects) {
        self.refresh(now, fx);
        if self.status != Status::Pending {
            return;
        }
        fx.record(
            self,
            NewEvent {
                kind: EventKind::SendRefused,
                channel: Some(channel),
                detail: Some(why.to_owned()),
                at: now,
            },
        );
    }

    /// [`Self::run_step`], or with `refused` (why a limit across verifications refused its
    /// send) the step is skipped with that reason instead of sending; later steps still run
    /// at their time.
    pub fn run_or_refuse_step(&mut self, index: u8, ctx: &Ctx<'_>, refused: Option<&str>, fx: &mut Effects) {
        let now = ctx.now;
        self.refresh(now, fx);
        if self.status != Status::Pending || index < self.next_step || self.silent_holds(index, now) {
            return;
        }
        if index == 0 {
            self.silent_gave_up(now, fx);
        }
        let Some(step) = self.workflow.steps().get(index as usize).copied() else {
            return;
        };
        for skipped in self.next_step..index {
            let ch = self.workflow.steps().get(skipped as usize).map(|s| s.channel);
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::StepSkipped,
                    channel: ch,
                    detail: Some(format!("step {} overtaken", skipped + 1)),
                    at: now,
                },
            );
        }
        self.next_step = index + 1;
        self.updated_at = now;
        let skip = |fx: &mut Effects, why: &str| {
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::StepSkipped,
                    channel: Some(step.channel),
                    detail: Some(format!("step {}: {why}", index + 1)),
                    at: now,
                },
            );
        };
        if let Some(why) = refused {
            skip(fx, why);
            return self.keep_sealed_only_if_needed();
        }
        if self.sends >= self.policy.max_sends {
            skip(fx, "all sends used");
            return self.keep_sealed_only_if_needed();
        }
        let code = match step.code {
            CodeMode::New => {
                let scheduled = self.created_at.plus_secs(i64::from(step.after_s));
                let until = scheduled.plus_secs(i64::from(step.valid_for_s.unwrap_or(self.policy.validity_s)));
                if now >= until {
                    skip(fx, "its code window has passed");
                    return self.keep_sealed_only_if_needed();
                }
                self.issue_code(ctx, until)
            }
            CodeMode::Same => {
                let current = self
                    .sealed_code
                    .as_deref()
                    .filter(|_| self.code_hash.is_some() && now < self.code_expires_at)
                    .and_then(|s| ctx.keys.open(self.id.as_str(), s).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| Code::from_digits(&s));
                match current {
                    Some(c) => c,
                    None => {
                        skip(fx, "the code it repeats is no longer valid");
                        return self.keep_sealed_only_if_needed();
                    }
                }
            }
        };
        self.keep_sealed_only_if_needed();
        self.send(step.channel, &code, Some(index), ctx, fx);
    }

    /// Records a delivery that failed for good. If it was the latest send (`seq`, the
    /// send's number, equals `sends`; `None` when unknown) and no step is left to try, the
    /// verification has failed; an earlier send's failure is only recorded, as a later
    /// message may still reach the person.
    pub fn delivery_failed(
        &mut self,
        channel: Option<Channel>,
        reason: &str,
        seq: Option<u32>,
        now: Timestamp,
        fx: &mut Effects,
    ) {
        self.refresh(now, fx);
        if self.status != Status::Pending {
            // A message of an ended verification: nothing to record after its final event.
            return;
        }
        fx.record(
            self,
            NewEvent {
                kind: EventKind::DeliveryFailed,
                channel,
                detail: Some(reason.to_owned()),
                at: now,
            },
        );
        let latest = seq.is_none_or(|s| s == 0 || s == self.sends);
        if latest && self.status == Status::Pending && usize::from(self.next_step) >= self.workflow.steps().len() {
            self.finish(Status::Failed, now, fx);
            fx.record(
                self,
                NewEvent {
                    kind: EventKind::Failed,
                    channel: None,
                    detail: None,
                    at: now,
                },
            );
        }
    }

    /// Generates and installs a new current code valid until `until`; seals it if the next
    /// step must repeat it.
    fn issue_code(&mut self, ctx: &Ctx<'_>, until: Timestamp) -> Code {
        let code = ctx.codes.generate(self.code_length);
        self.code_hash = Some(ctx.keys.code_hash(self.id.as_str(), code.expose()));
        self.code_expires_at = until;
        self.sealed_code = self
            .workflow
            .repeats_current_code_from(usize::from(self.next_step))
            .then(|| ctx.keys.seal(self.id.as_str(), code.expose().as_bytes()));
        code
    }

    fn keep_sealed_only_if_needed(&mut self) {
        if !self.workflow.repeats_current_code_from(usize::from(self.next_step)) {
            self.sealed_code = None;
        }
    }

    fn send(&mut self, channel: Channel, code: &Code, step: Option<u8>, ctx: &Ctx<'_>, fx: &mut Effects) {
        let text = match channel {
            Channel::Sms => message::sms_text(
                &self.brand,
                code,
                self.options.sms_template.as_deref().or(ctx.sms_template).or_else(|| {
                    self.options
                        .do_not_share
                        .then(|| message::do_not_share_template(&self.locale))
                }),
                &self.locale,
            ),
            Channel::Voice => match &self.options.voice_template {
                Some(t) => message::voice_text_from(t, &self.brand, code, &self.locale),
                None => message::voice_text(&self.brand, code, &self.locale),
            },
        };
        let payload = DeliverPayload {
            to: self.to.e164().to_owned(),
            channel,
            text,
            locale: self.locale.clone(),
            sender: self.options.sender.clone(),
            step,
            // `sent` is announced in ringproof's format only (no vendor's has it).
            notify: self.options.notify && self.options.webhook_format.is_ringproof(),
            seq: self.sends + 1,
        };
        let id = JobId::generate();
        let plain = serde_json::to_vec(&payload).unwrap_or_default();
        fx.jobs.push(NewJob {
            payload: ctx.keys.seal(id.as_str(), &plain),
            id,
            kind: JobKind::Deliver,
            client_id: self.client_id.clone(),
            verification_id: Some(self.id.clone()),
            due_at: ctx.now,
            max_attempts: DEFAULT_JOB_ATTEMPTS,
        });
        self.sends += 1;
        self.last_sent_at = ctx.now;
        self.updated_at = ctx.now;
        let detail = step.map_or_else(|| "resend".to_owned(), |i| format!("step {}", i + 1));
        fx.record(
            self,
            NewEvent {
                kind: EventKind::SendQueued,
                channel: Some(channel),
                detail: Some(detail),
                at: ctx.now,
            },
        );
    }
}

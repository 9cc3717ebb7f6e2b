#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The silent step's transitions: the first delivery step waits for it; the network's yes
//! approves with no code, anything else (or the deadline) runs that step now; it starts
//! and settles once.

use ringproof_core::code::OsCodeSource;
use ringproof_core::crypto::Keys;
use ringproof_core::ids::ClientId;
use ringproof_core::job::{JobKind, StepPayload};
use ringproof_core::link_session::PhoneMatch;
use ringproof_core::netauth::Verdict;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::policy::Policy;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{
    Ctx, Effects, EventKind, Options, SILENT_WINDOW_S, SilentAuth, SilentError, SilentPending, StartParams, Status,
    Verification,
};
use ringproof_core::workflow::{Channel, Workflow};

fn t(secs: i64) -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000 + secs * 1000)
}

fn start() -> (Verification, Effects) {
    Verification::start(
        StartParams {
            client_id: ClientId::generate(),
            to: PhoneNumber::parse_e164("+14155550100").unwrap(),
            workflow: Workflow::single(Channel::Sms, &Policy::default()),
            locale: "en".into(),
            brand: "Shop".into(),
            code_length: 6,
            policy: Policy::default(),
            sms_template: None,
            options: Options {
                silent: Some(SilentAuth::default()),
                ..Options::default()
            },
            sim_swap: None,
            now: t(0),
        },
        &Keys::derive(b"0123456789abcdef0123456789abcdef"),
        &OsCodeSource,
    )
}

fn pending(deadline_s: i64) -> SilentPending {
    SilentPending {
        state_hash: "ab".into(),
        deadline: t(deadline_s),
        sealed: "sealed".into(),
        ip: Some("198.51.100.4".parse().unwrap()),
    }
}

/// The step jobs of `fx`: (index, due).
fn steps(fx: &Effects) -> Vec<(u8, Timestamp)> {
    fx.jobs
        .iter()
        .filter(|j| j.kind == JobKind::Step)
        .map(|j| {
            (
                serde_json::from_slice::<StepPayload>(&j.payload).unwrap().index,
                j.due_at,
            )
        })
        .collect()
}

#[test]
fn nothing_is_sent_at_start_and_the_first_step_waits_for_the_window() {
    let (v, fx) = start();
    assert_eq!(v.sends, 0);
    assert!(v.code_hash.is_none(), "no code before the network answers");
    assert!(fx.jobs.iter().all(|j| j.kind != JobKind::Deliver));
    assert_eq!(steps(&fx), [(0, t(SILENT_WINDOW_S))]);
}

#[test]
fn yes_approves_without_a_code() {
    let (mut v, _) = start();
    let mut fx = Effects::default();
    v.silent_start(t(1), pending(11), &mut fx).unwrap();
    assert_eq!(steps(&fx), [(0, t(11))], "the fallback at the deadline");
    assert_eq!(
        v.silent_start(t(2), pending(12), &mut Effects::default()),
        Err(SilentError::AlreadyUsed)
    );
    let mut fx = Effects::default();
    assert_eq!(v.silent_settle(t(3), &Verdict::of(true), &mut fx), Ok(true));
    assert_eq!(v.status, Status::Approved);
    assert!(fx.cancel_pending_steps, "the fallback steps are dropped");
    let kinds: Vec<EventKind> = fx.events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::SilentAuth, EventKind::Approved]);
    assert_eq!(
        v.options.silent.as_ref().unwrap().sealed,
        None,
        "the secret state is gone"
    );
    assert_eq!(
        v.silent_settle(t(4), &Verdict::of(true), &mut Effects::default()),
        Err(SilentError::AlreadyUsed),
        "once"
    );
}

#[test]
fn anything_else_runs_the_first_step_now() {
    for verdict in [
        Verdict::of(false),
        Verdict::indeterminate("unidentified"),
        Verdict::new(PhoneMatch::Indeterminate, "operator_error"),
    ] {
        let (mut v, _) = start();
        v.silent_start(t(1), pending(11), &mut Effects::default()).unwrap();
        let mut fx = Effects::default();
        assert_eq!(v.silent_settle(t(2), &verdict, &mut fx), Ok(false));
        assert_eq!(v.status, Status::Pending);
        assert_eq!(steps(&fx), [(0, t(2))], "{verdict:?}");
        assert_eq!(
            v.options.silent.as_ref().unwrap().result.as_deref(),
            Some(verdict.reason.as_str())
        );
    }
    // Past the deadline, even a yes is too late.
    let (mut v, _) = start();
    v.silent_start(t(1), pending(11), &mut Effects::default()).unwrap();
    let mut fx = Effects::default();
    assert_eq!(v.silent_settle(t(11), &Verdict::of(true), &mut fx), Ok(false));
    assert_eq!(v.options.silent.as_ref().unwrap().result.as_deref(), Some("deadline"));
    assert_eq!(steps(&fx), [(0, t(11))]);
}

#[test]
fn a_verification_without_a_silent_step_refuses_them() {
    let (mut v, _) = start();
    v.options.silent = None;
    assert_eq!(
        v.silent_start(t(1), pending(11), &mut Effects::default()),
        Err(SilentError::NoSilentStep)
    );
}

#[test]
fn the_first_step_waits_while_the_device_is_at_the_operator() {
    let (mut v, _) = start();
    v.silent_start(t(55), pending(65), &mut Effects::default()).unwrap();
    let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
    let ctx = |now| Ctx {
        keys: &keys,
        codes: &OsCodeSource,
        sms_template: None,
        now,
    };
    // The window's job at 60 s: held (the deadline's job runs it).
    assert!(!v.would_run_step(0, t(60)));
    let mut fx = Effects::default();
    v.run_step(0, &ctx(t(60)), &mut fx);
    assert_eq!((v.next_step, v.sends), (0, 0), "held");
    // The deadline's job at 65 s: the operator never called back.
    assert!(v.would_run_step(0, t(65)));
    let mut fx = Effects::default();
    v.run_step(0, &ctx(t(65)), &mut fx);
    assert_eq!((v.next_step, v.sends), (1, 1));
    let s = v.options.silent.as_ref().unwrap();
    assert_eq!((s.result.as_deref(), s.sealed.as_deref()), (Some("no_callback"), None));
    let kinds: Vec<EventKind> = fx.events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::SilentAuth, EventKind::SendQueued]);
    assert_eq!(
        v.silent_settle(t(66), &Verdict::of(true), &mut Effects::default()),
        Err(SilentError::AlreadyUsed),
        "too late: the SMS went"
    );
}

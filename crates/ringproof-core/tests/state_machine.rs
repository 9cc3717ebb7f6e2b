#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The verification state machine against a small, independent reference model
//! (property test), plus deterministic timelines with an injected clock.
//!
//! No test sleeps: every transition takes `now` as data.

use std::sync::Mutex;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use ringproof_core::code::{Code, CodeSource, ScriptedCodeSource};
use ringproof_core::crypto::Keys;
use ringproof_core::error::CoreError;
use ringproof_core::ids::ClientId;
use ringproof_core::job::{DeliverPayload, JobKind, StepPayload};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::policy::Policy;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{CheckOutcome, Ctx, Effects, EventKind, StartParams, Status, Verification};
use ringproof_core::workflow::{Channel, CodeMode, Step, StepInput, Workflow};

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

const T0_MS: i64 = 1_800_000_000_000;
const BRAND: &str = "Acme";
const TO: &str = "+14155550123";

fn t0() -> Timestamp {
    Timestamp::from_millis(T0_MS)
}

fn at(secs: i64) -> Timestamp {
    t0().plus_secs(secs)
}

fn keys() -> Keys {
    Keys::derive(b"ringproof state machine tests: a secret of 32+ bytes")
}

fn idenfy() -> Workflow {
    Workflow::sms_then_voice_then_new_code(120, 300, 300).unwrap()
}

/// Hands out distinct codes in order — the n-th (from 0) is `n + 1` zero-padded — and
/// records every code it issued, so a test always knows the last one.
#[derive(Default)]
struct SeqCodes {
    issued: Mutex<Vec<String>>,
}

impl SeqCodes {
    fn nth(n: usize, len: u8) -> String {
        format!("{:0>width$}", n + 1, width = usize::from(len))
    }
    fn issued(&self) -> Vec<String> {
        self.issued.lock().unwrap().clone()
    }
    fn last(&self) -> Option<String> {
        self.issued.lock().unwrap().last().cloned()
    }
}

impl CodeSource for SeqCodes {
    fn generate(&self, len: u8) -> Code {
        let mut issued = self.issued.lock().unwrap();
        let digits = Self::nth(issued.len(), len);
        issued.push(digits.clone());
        Code::from_digits(&digits).unwrap()
    }
}

fn start_with(
    workflow: Workflow,
    policy: Policy,
    template: Option<&str>,
    keys: &Keys,
    codes: &dyn CodeSource,
    now: Timestamp,
) -> (Verification, Effects) {
    Verification::start(
        StartParams {
            client_id: ClientId::generate(),
            to: PhoneNumber::parse_e164(TO).unwrap(),
            workflow,
            locale: "en".into(),
            brand: BRAND.into(),
            code_length: policy.code_length,
            policy,
            sms_template: template,
            options: Default::default(),
            sim_swap: None,
            now,
        },
        keys,
        codes,
    )
}

fn ctx<'a>(keys: &'a Keys, codes: &'a dyn CodeSource, template: Option<&'a str>, now: Timestamp) -> Ctx<'a> {
    Ctx {
        keys,
        codes,
        sms_template: template,
        now,
    }
}

/// The deliver jobs of a transition, opened and decoded, after checking their envelope.
fn deliveries(fx: &Effects, keys: &Keys, v: &Verification, now: Timestamp) -> Vec<DeliverPayload> {
    fx.jobs
        .iter()
        .filter(|j| j.kind == JobKind::Deliver)
        .map(|j| {
            assert_eq!(j.verification_id.as_ref(), Some(&v.id));
            assert_eq!(j.client_id, v.client_id);
            assert_eq!(j.due_at, now, "a delivery is due at once");
            let plain = keys
                .open(j.id.as_str(), &j.payload)
                .expect("deliver payload opens with its job id");
            assert!(
                keys.open(v.id.as_str(), &j.payload).is_err(),
                "payload is bound to its job id"
            );
            serde_json::from_slice(&plain).unwrap()
        })
        .collect()
}

fn spaced(code: &str) -> String {
    code.chars().map(String::from).collect::<Vec<_>>().join(", ")
}

/// The text carries `code` and no other digits: once for SMS, spaced (and possibly
/// repeated) for voice.
fn assert_text_carries(p: &DeliverPayload, code: &str) {
    let digits: String = p.text.chars().filter(char::is_ascii_digit).collect();
    match p.channel {
        Channel::Sms => {
            assert!(p.text.contains(code), "sms text {:?} lacks code {code}", p.text);
            assert_eq!(digits, code, "sms text {:?} carries other digits", p.text);
        }
        Channel::Voice => {
            assert!(
                p.text.contains(&spaced(code)),
                "voice text {:?} lacks {:?}",
                p.text,
                spaced(code)
            );
            assert!(
                !digits.is_empty()
                    && digits.len().is_multiple_of(code.len())
                    && digits.as_bytes().chunks(code.len()).all(|c| c == code.as_bytes()),
                "voice text {:?} carries other digits",
                p.text
            );
        }
    }
}

fn open_sealed(keys: &Keys, v: &Verification) -> Option<String> {
    v.sealed_code
        .as_ref()
        .map(|s| String::from_utf8(keys.open(v.id.as_str(), s).expect("sealed code opens")).unwrap())
}

// ---------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------

/// One send the model expects: exactly one deliver job with this content.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Send {
    channel: Channel,
    code: String,
    step: Option<u8>,
}

/// The rules, written as plainly as possible. Times are milliseconds.
#[derive(Clone, Debug)]
struct Model {
    steps: Vec<Step>,
    policy: Policy,
    status: Status,
    /// The code that is accepted now (while `now < code_exp`); `None` once burned/erased.
    code: Option<String>,
    code_exp: i64,
    /// How many codes were issued so far (predicts the next [`SeqCodes`] code).
    issued: usize,
    wrong: u32,
    sends: u32,
    resends: u32,
    last_sent: i64,
    next_step: usize,
    created: i64,
    expires_at: i64,
}

impl Model {
    /// Starts like `Verification::start`: step 0 runs at once.
    fn start(steps: Vec<Step>, policy: Policy, now: i64) -> (Self, Option<Send>) {
        // The verification lives until the last scheduled code window closes.
        let lifetime_ms = steps
            .iter()
            .filter(|s| s.code == CodeMode::New)
            .map(|s| (i64::from(s.after_s) + i64::from(s.valid_for_s.unwrap_or(policy.validity_s))) * 1000)
            .max()
            .unwrap_or(0);
        let mut m = Model {
            steps,
            policy,
            status: Status::Pending,
            code: None,
            code_exp: now,
            issued: 0,
            wrong: 0,
            sends: 0,
            resends: 0,
            last_sent: now,
            next_step: 0,
            created: now,
            expires_at: now + lifetime_ms,
        };
        let send = m.run_step(0, now);
        (m, send)
    }

    fn pending(&self) -> bool {
        self.status == Status::Pending
    }

    fn status_at(&self, now: i64) -> Status {
        if self.pending() && now >= self.expires_at {
            Status::Expired
        } else {
            self.status
        }
    }

    fn remaining(&self) -> u32 {
        self.policy.max_checks.saturating_sub(self.wrong)
    }

    /// Leaving `pending` erases the code.
    fn end(&mut self, status: Status) {
        self.status = status;
        self.code = None;
    }

    /// Every transition first turns a due pending verification into `expired`.
    fn expire_if_due(&mut self, now: i64) {
        if self.pending() && now >= self.expires_at {
            self.end(Status::Expired);
        }
    }

    fn not_pending(&self) -> CoreError {
        CoreError::NotPending { status: self.status }
    }

    fn issue(&mut self, until: i64) -> String {
        let c = SeqCodes::nth(self.issued, self.policy.code_length);
        self.issued += 1;
        self.code = Some(c.clone());
        self.code_exp = until;
        self.expires_at = self.expires_at.max(until);
        c
    }

    fn send(&mut self, channel: Channel, code: String, step: Option<u8>, now: i64) -> Option<Send> {
        self.sends += 1;
        self.last_sent = now;
        Some(Send { channel, code, step })
    }

    fn check(&mut self, candidate: &str, now: i64) -> Result<CheckOutcome, CoreError> {
        self.expire_if_due(now);
        if !self.pending() {
            return Err(self.not_pending());
        }
        let live = self.code.clone().filter(|_| now < self.code_exp);
        let Some(code) = live else {
            // No code can match: refused without counting.
            return Ok(CheckOutcome {
                valid: false,
                status: Status::Pending,
                remaining_attempts: self.remaining(),
            });
        };
        if candidate == code {
            self.end(Status::Approved);
            return Ok(CheckOutcome {
                valid: true,
                status: Status::Approved,
                remaining_attempts: self.remaining(),
            });
        }
        self.wrong += 1;
        if self.wrong >= self.policy.max_checks {
            self.end(Status::MaxAttemptsReached);
        }
        Ok(CheckOutcome {
            valid: false,
            status: self.status,
            remaining_attempts: self.remaining(),
        })
    }

    fn cancel(&mut self, now: i64) -> Result<(), CoreError> {
        self.expire_if_due(now);
        if !self.pending() {
            return Err(self.not_pending());
        }
        self.end(Status::Canceled);
        Ok(())
    }

    fn resend(&mut self, channel: Option<Channel>, now: i64) -> (Result<(), CoreError>, Option<Send>) {
        self.expire_if_due(now);
        if !self.pending() {
            return (Err(self.not_pending()), None);
        }
        if self.sends >= self.policy.max_sends {
            return (Err(CoreError::MaxSendsReached), None);
        }
        let allowed_at = self.last_sent + i64::from(self.policy.resend_cooldown_s) * 1000 * (1i64 << self.resends);
        if now < allowed_at {
            let retry_after_s = ((allowed_at - now) + 999) / 1000;
            return (
                Err(CoreError::ResendCooldown {
                    retry_after_s: retry_after_s as u64,
                }),
                None,
            );
        }
        let code = self.issue(now + i64::from(self.policy.validity_s) * 1000);
        self.resends += 1;
        let channel = channel.unwrap_or(self.steps[0].channel);
        (Ok(()), self.send(channel, code, None, now))
    }

    fn run_step(&mut self, index: u8, now: i64) -> Option<Send> {
        self.expire_if_due(now);
        let i = usize::from(index);
        if !self.pending() || i < self.next_step || i >= self.steps.len() {
            return None;
        }
        self.next_step = i + 1;
        if self.sends >= self.policy.max_sends {
            return None;
        }
        let step = self.steps[i];
        match step.code {
            CodeMode::New => {
                let valid_ms = i64::from(step.valid_for_s.unwrap_or(self.policy.validity_s)) * 1000;
                let until = self.created + i64::from(step.after_s) * 1000 + valid_ms;
                if now >= until {
                    return None;
                }
                let code = self.issue(until);
                self.send(step.channel, code, Some(index), now)
            }
            CodeMode::Same => {
                let live = self.code.clone().filter(|_| now < self.code_exp)?;
                self.send(step.channel, live, Some(index), now)
            }
        }
    }

    fn delivery_failed(&mut self, now: i64) {
        self.expire_if_due(now);
        if self.pending() && self.next_step >= self.steps.len() {
            self.end(Status::Failed);
        }
    }

    /// Every instant at which some rule flips: the verification's and the code's expiry,
    /// the end of the resend cooldown, and each step's start and code window end.
    fn deadlines(&self) -> Vec<i64> {
        let mut d = vec![
            self.expires_at,
            self.code_exp,
            self.last_sent + i64::from(self.policy.resend_cooldown_s) * 1000 * (1i64 << self.resends),
        ];
        for s in &self.steps {
            let start = self.created + i64::from(s.after_s) * 1000;
            d.push(start);
            d.push(start + i64::from(s.valid_for_s.unwrap_or(self.policy.validity_s)) * 1000);
        }
        d
    }

    /// The sealed code is kept exactly while a remaining step may repeat the current code
    /// (any remaining `same` step: the `new` steps before it may all be skipped).
    fn expects_sealed(&self) -> bool {
        self.pending()
            && self.code.is_some()
            && self.steps.iter().skip(self.next_step).any(|s| s.code == CodeMode::Same)
    }
}

#[derive(Clone, Debug)]
enum Op {
    CheckRight,
    CheckWrong,
    /// The code issued before the last one (a superseded code), if any.
    CheckOld,
    Resend(Option<Channel>),
    Cancel,
    /// Step `pick % (steps + 1)`: any step, or one past the last.
    RunStep(u8),
    /// The next step not yet run, as the worker would run it.
    RunNextStep,
    Advance(u32),
    AdvanceMillis(u32),
    /// Jump to exactly one of the model's deadlines (or 1 ms before it), to hit the
    /// `now >= deadline` boundaries that random steps of time rarely land on.
    ToDeadline {
        pick: u8,
        one_ms_early: bool,
    },
    DeliveryFailed,
}

fn channel_strategy() -> impl Strategy<Value = Channel> {
    prop_oneof![Just(Channel::Sms), Just(Channel::Voice)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Weighted so that most sequences stay pending long enough to get somewhere.
        2 => Just(Op::CheckRight),
        8 => Just(Op::CheckWrong),
        3 => Just(Op::CheckOld),
        12 => proptest::option::of(channel_strategy()).prop_map(Op::Resend),
        1 => Just(Op::Cancel),
        8 => any::<u8>().prop_map(Op::RunStep),
        6 => Just(Op::RunNextStep),
        8 => (0u32..400).prop_map(Op::Advance),
        4 => (0u32..1500).prop_map(Op::AdvanceMillis),
        5 => (any::<u8>(), any::<bool>()).prop_map(|(pick, one_ms_early)| Op::ToDeadline { pick, one_ms_early }),
        1 => Just(Op::DeliveryFailed),
    ]
}

fn policy_strategy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        1 => Just(Policy::default()),
        2 => (4u8..=8, 30u32..=700, 1u32..=6, 1u32..=6, 0u32..=90).prop_map(
            |(code_length, validity_s, max_checks, max_sends, resend_cooldown_s)| Policy {
                code_length,
                validity_s,
                max_checks,
                max_sends,
                resend_cooldown_s,
            }
        ),
    ]
}

fn step_input_strategy() -> impl Strategy<Value = (Channel, u32, CodeMode, Option<u32>)> {
    (
        channel_strategy(),
        1u32..300,
        prop_oneof![Just(CodeMode::New), Just(CodeMode::Same)],
        proptest::option::of(1u32..700),
    )
}

/// A workflow of `n` steps built from random inputs (first step at 0, strictly later
/// steps), keeping only those `Workflow::build` accepts.
fn built_workflow(n: usize, policy: Policy) -> impl Strategy<Value = Workflow> {
    (
        channel_strategy(),
        proptest::option::of(1u32..700),
        proptest::collection::vec(step_input_strategy(), n - 1),
    )
        .prop_filter_map("workflow rejected by Workflow::build", move |(ch0, valid0, rest)| {
            let mut input = vec![StepInput {
                channel: Some(ch0),
                after_s: Some(0),
                code: Some(CodeMode::New),
                valid_for_s: valid0,
            }];
            let mut after = 0;
            for (channel, gap, code, valid) in rest {
                after += gap;
                let valid_for_s = if code == CodeMode::New { valid } else { None };
                input.push(StepInput {
                    channel: Some(channel),
                    after_s: Some(after),
                    code: Some(code),
                    valid_for_s,
                });
            }
            Workflow::build(&input, &policy).ok()
        })
}

fn scenario_strategy() -> impl Strategy<Value = (Workflow, Policy, Option<&'static str>, Vec<Op>)> {
    policy_strategy()
        .prop_flat_map(move |policy| {
            let single = channel_strategy().prop_map(move |ch| Workflow::single(ch, &policy));
            let three = built_workflow(3, policy);
            let workflow = prop_oneof![
                2 => single,
                3 => Just(idenfy()),
                3 => built_workflow(2, policy),
                2 => three,
            ];
            let template = prop_oneof![
                Just(None),
                Just(Some("{brand}: {code} is your code")),
                Just(Some("Your code:"))
            ];
            (
                workflow,
                Just(policy),
                template,
                proptest::collection::vec(op_strategy(), 1..40),
            )
        })
        .boxed()
}

/// Runs `ops` on a real verification and on the model side by side, comparing after every
/// operation.
fn run_scenario(workflow: Workflow, policy: Policy, template: Option<&str>, ops: &[Op]) {
    let keys = keys();
    let codes = SeqCodes::default();
    let mut now = t0();
    let (mut v, fx) = start_with(workflow.clone(), policy, template, &keys, &codes, now);
    let (mut m, first) = Model::start(workflow.steps().to_vec(), policy, now.millis());

    // Start: the first send, and one step job per later step, due at its offset.
    compare_sends(&fx, &keys, &v, now, first.as_slice(), "start");
    let step_jobs: Vec<_> = fx.jobs.iter().filter(|j| j.kind == JobKind::Step).collect();
    assert_eq!(step_jobs.len(), workflow.steps().len() - 1);
    for (job, (i, step)) in step_jobs.iter().zip(workflow.steps().iter().enumerate().skip(1)) {
        assert_eq!(job.due_at, now.plus_secs(i64::from(step.after_s)));
        let p: StepPayload = serde_json::from_slice(&job.payload).unwrap();
        assert_eq!(usize::from(p.index), i);
    }
    assert!(!fx.cancel_pending_steps);
    compare_state(&v, &m, &keys, &codes, now, "start");

    for (n, op) in ops.iter().enumerate() {
        let what = format!("op #{n} {op:?} at +{} ms", now.millis() - T0_MS);
        let was_pending = m.pending();
        let mut fx = Effects::default();
        let mut expected_sends = Vec::new();
        match op {
            Op::CheckRight | Op::CheckWrong | Op::CheckOld => {
                let issued = codes.issued();
                let wrong = "9".repeat(usize::from(policy.code_length));
                let candidate = match op {
                    Op::CheckRight => codes.last().unwrap(),
                    Op::CheckOld if issued.len() >= 2 => issued[issued.len() - 2].clone(),
                    _ => wrong,
                };
                let expected = m.check(&candidate, now.millis());
                let got = v.check(&candidate, &keys, now, &mut fx);
                assert_eq!(got, expected, "{what}");
                if let Ok(out) = got {
                    assert_eq!(out.remaining_attempts, v.remaining_attempts(), "{what}");
                }
            }
            Op::Resend(channel) => {
                let (expected, send) = m.resend(*channel, now.millis());
                let got = v.resend(*channel, &ctx(&keys, &codes, template, now), &mut fx);
                assert_eq!(got, expected, "{what}");
                expected_sends.extend(send);
            }
            Op::Cancel => {
                let expected = m.cancel(now.millis());
                assert_eq!(v.cancel(now, &mut fx), expected, "{what}");
            }
            Op::RunStep(_) | Op::RunNextStep => {
                let i = match op {
                    Op::RunStep(pick) => *pick % (workflow.steps().len() as u8 + 1),
                    _ => m.next_step as u8,
                };
                expected_sends.extend(m.run_step(i, now.millis()));
                v.run_step(i, &ctx(&keys, &codes, template, now), &mut fx);
            }
            Op::Advance(secs) => now = now.plus_secs(i64::from(*secs)),
            Op::AdvanceMillis(ms) => now = now.plus_millis(i64::from(*ms)),
            Op::ToDeadline { pick, one_ms_early } => {
                // Only deadlines still ahead: time never runs backwards.
                let ahead: Vec<i64> = m
                    .deadlines()
                    .into_iter()
                    .map(|d| d - i64::from(*one_ms_early))
                    .filter(|&d| d >= now.millis())
                    .collect();
                if !ahead.is_empty() {
                    now = Timestamp::from_millis(ahead[usize::from(*pick) % ahead.len()]);
                }
            }
            Op::DeliveryFailed => {
                m.delivery_failed(now.millis());
                v.delivery_failed(None, "provider said no", None, now, &mut fx);
            }
        }
        compare_sends(&fx, &keys, &v, now, &expected_sends, &what);
        assert!(
            fx.jobs.iter().all(|j| j.kind == JobKind::Deliver),
            "{what}: only start schedules steps"
        );
        let left_pending = was_pending && !m.pending();
        assert_eq!(fx.cancel_pending_steps, left_pending, "{what}: cancel_pending_steps");
        let expired_now = left_pending && m.status == Status::Expired;
        assert_eq!(
            fx.events().iter().any(|e| e.kind == EventKind::Expired),
            expired_now,
            "{what}: expired event"
        );
        compare_state(&v, &m, &keys, &codes, now, &what);
    }
}

fn compare_sends(fx: &Effects, keys: &Keys, v: &Verification, now: Timestamp, expected: &[Send], what: &str) {
    let got = deliveries(fx, keys, v, now);
    assert_eq!(
        got.len(),
        expected.len(),
        "{what}: deliver jobs {got:?} vs expected {expected:?}"
    );
    for (p, e) in got.iter().zip(expected) {
        assert_eq!(p.channel, e.channel, "{what}");
        assert_eq!(p.step, e.step, "{what}");
        assert_eq!(p.to, TO, "{what}");
        assert_eq!(p.locale, "en", "{what}");
        assert_text_carries(p, &e.code);
    }
}

fn compare_state(v: &Verification, m: &Model, keys: &Keys, codes: &SeqCodes, now: Timestamp, what: &str) {
    assert_eq!(v.status, m.status, "{what}: status");
    assert_eq!(v.status_at(now), m.status_at(now.millis()), "{what}: status_at");
    assert_eq!(v.wrong_checks, m.wrong, "{what}: wrong_checks");
    assert_eq!(v.remaining_attempts(), m.remaining(), "{what}: remaining_attempts");
    assert_eq!(v.sends, m.sends, "{what}: sends");
    assert_eq!(v.resends, m.resends, "{what}: resends");
    assert_eq!(usize::from(v.next_step), m.next_step, "{what}: next_step");
    assert_eq!(v.last_sent_at.millis(), m.last_sent, "{what}: last_sent_at");
    assert_eq!(v.expires_at.millis(), m.expires_at, "{what}: expires_at");
    assert_eq!(codes.issued().len(), m.issued, "{what}: codes issued");
    match &m.code {
        Some(code) => {
            assert_eq!(
                v.code_hash,
                Some(keys.code_hash(v.id.as_str(), code)),
                "{what}: current code"
            );
            assert_eq!(v.code_expires_at.millis(), m.code_exp, "{what}: code_expires_at");
        }
        None => assert_eq!(v.code_hash, None, "{what}: code erased"),
    }
    if v.status.is_terminal() {
        assert!(
            v.code_hash.is_none() && v.sealed_code.is_none(),
            "{what}: terminal keeps no code"
        );
    }
    match open_sealed(keys, v) {
        Some(sealed) => {
            assert!(
                m.expects_sealed(),
                "{what}: sealed code kept though no remaining step repeats it"
            );
            assert_eq!(
                Some(&sealed),
                m.code.as_ref(),
                "{what}: sealed code is not the current code"
            );
        }
        None => assert!(
            !m.expects_sealed(),
            "{what}: sealed code missing though a remaining step may repeat the current code"
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Single-step, iDenfy, random 2-step and random 3-step workflows, random policies and
    /// random operation sequences.
    #[test]
    fn verification_matches_reference_model((workflow, policy, template, ops) in scenario_strategy()) {
        run_scenario(workflow, policy, template, &ops);
    }
}

// ---------------------------------------------------------------------------------------
// Bugs found by the model, kept as regression tests
// ---------------------------------------------------------------------------------------

/// Workflow: sms new (valid 600 s) at 0; sms new (valid 5 s) at 10 s; voice same at 12 s.
/// The step-2 job runs late, at 20 s (a worker was down), after step 1's window closed,
/// so step 2 is skipped. Step 3 must repeat the code that is current — code A from step 1,
/// valid until 600 s. (An earlier version sealed a code only when the *next* step repeated
/// it, so A was never sealed and the call was skipped; the same happened when step 3's job
/// overtook step 2's, or a resend issued the current code while step 2 was next.)
#[test]
fn same_step_after_skipped_new_step_repeats_the_live_code() {
    let k = keys();
    let codes = ScriptedCodeSource::new(["111111", "222222"]);
    let p = Policy::default();
    let step = |channel, after_s, code, valid_for_s| StepInput {
        channel: Some(channel),
        after_s: Some(after_s),
        code: Some(code),
        valid_for_s,
    };
    let wf = Workflow::build(
        &[
            step(Channel::Sms, 0, CodeMode::New, Some(600)),
            step(Channel::Sms, 10, CodeMode::New, Some(5)),
            step(Channel::Voice, 12, CodeMode::Same, None),
        ],
        &p,
    )
    .unwrap();
    let (mut v, _) = start_with(wf, p, None, &k, &codes, t0());

    let mut fx = Effects::default();
    v.run_step(1, &ctx(&k, &codes, None, at(20)), &mut fx);
    assert!(fx.jobs.is_empty(), "step 2's window has passed: skipped");
    v.run_step(2, &ctx(&k, &codes, None, at(20)), &mut fx);

    // Code A is still the current, live code ...
    let mut probe = v.clone();
    let ok = probe.check("111111", &k, at(20), &mut Effects::default()).unwrap();
    assert!(ok.valid, "code A is live at 20 s");
    // ... so the voice step must speak it.
    let sent = deliveries(&fx, &k, &v, at(20));
    assert_eq!(sent.len(), 1, "step 3 repeats the live code A; got no call");
    assert_text_carries(&sent[0], "111111");
}

// ---------------------------------------------------------------------------------------
// Deterministic timelines
// ---------------------------------------------------------------------------------------

const A: &str = "482916";
const B: &str = "735104";

/// Starts the iDenfy workflow with codes A then B and checks the start's effects.
fn start_idenfy(k: &Keys, codes: &ScriptedCodeSource) -> Verification {
    let (v, fx) = start_with(idenfy(), Policy::default(), None, k, codes, t0());
    let sent = deliveries(&fx, k, &v, t0());
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].channel, sent[0].step), (Channel::Sms, Some(0)));
    assert_text_carries(&sent[0], A);
    let steps: Vec<(Timestamp, u8)> = fx
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Step)
        .map(|j| {
            (
                j.due_at,
                serde_json::from_slice::<StepPayload>(&j.payload).unwrap().index,
            )
        })
        .collect();
    assert_eq!(steps, vec![(at(120), 1), (at(300), 2)]);
    assert_eq!(v.expires_at, at(600));
    assert_eq!(v.code_expires_at, at(300));
    v
}

fn scripted_ab() -> ScriptedCodeSource {
    ScriptedCodeSource::new([A, B])
}

fn run(v: &mut Verification, k: &Keys, codes: &dyn CodeSource, index: u8, now: Timestamp) -> Vec<DeliverPayload> {
    let mut fx = Effects::default();
    v.run_step(index, &ctx(k, codes, None, now), &mut fx);
    deliveries(&fx, k, v, now)
}

fn approved(remaining_attempts: u32) -> CheckOutcome {
    CheckOutcome {
        valid: true,
        status: Status::Approved,
        remaining_attempts,
    }
}

fn refused(remaining_attempts: u32) -> CheckOutcome {
    CheckOutcome {
        valid: false,
        status: Status::Pending,
        remaining_attempts,
    }
}

#[test]
fn idenfy_verified_at_1_min_with_code_a() {
    let (k, codes) = (keys(), scripted_ab());
    let mut v = start_idenfy(&k, &codes);
    let mut fx = Effects::default();
    assert_eq!(v.check(A, &k, at(60), &mut fx), Ok(approved(5)));
    assert!(fx.cancel_pending_steps, "the voice steps not yet run are cancelled");
    assert_eq!(
        (v.status, v.code_hash, v.sealed_code.clone()),
        (Status::Approved, None, None)
    );
    // Were a step job still to run, it would do nothing.
    assert!(run(&mut v, &k, &codes, 1, at(120)).is_empty());
    assert!(run(&mut v, &k, &codes, 2, at(300)).is_empty());
    assert_eq!(v.status, Status::Approved);
    assert_eq!(
        v.check(A, &k, at(130), &mut Effects::default()),
        Err(CoreError::NotPending {
            status: Status::Approved
        })
    );
}

#[test]
fn idenfy_verified_at_3_min_with_code_a_after_the_call() {
    let (k, codes) = (keys(), scripted_ab());
    let mut v = start_idenfy(&k, &codes);
    let call = run(&mut v, &k, &codes, 1, at(120));
    assert_eq!(call.len(), 1);
    assert_eq!((call[0].channel, call[0].step), (Channel::Voice, Some(1)));
    assert!(call[0].text.contains("4, 8, 2, 9, 1, 6"), "{}", call[0].text);
    assert_text_carries(&call[0], A);
    assert_eq!(v.code_expires_at, at(300), "repeating a code keeps its window");
    // Running the same step again (a retried job) is a no-op.
    assert!(run(&mut v, &k, &codes, 1, at(121)).is_empty());
    assert_eq!(v.sends, 2);
    let mut fx = Effects::default();
    assert_eq!(v.check(A, &k, at(180), &mut fx), Ok(approved(5)));
    assert!(fx.cancel_pending_steps);
}

#[test]
fn idenfy_verified_at_6_min_with_code_b_after_step_3() {
    let (k, codes) = (keys(), scripted_ab());
    let mut v = start_idenfy(&k, &codes);
    assert_eq!(run(&mut v, &k, &codes, 1, at(120)).len(), 1);
    // At 4:59.999 A still works; at 5:00, before step 3 ran, no code is live: refused
    // without counting.
    let mut probe = v.clone();
    assert_eq!(
        probe.check(A, &k, at(300).plus_millis(-1), &mut Effects::default()),
        Ok(approved(5))
    );
    assert_eq!(v.check(A, &k, at(300), &mut Effects::default()), Ok(refused(5)));
    assert_eq!(v.wrong_checks, 0);

    let call = run(&mut v, &k, &codes, 2, at(300));
    assert_eq!(call.len(), 1);
    assert_eq!((call[0].channel, call[0].step), (Channel::Voice, Some(2)));
    assert!(call[0].text.contains("7, 3, 5, 1, 0, 4"), "{}", call[0].text);
    assert_text_carries(&call[0], B);
    assert_eq!(v.code_expires_at, at(600));

    assert_eq!(
        v.check(A, &k, at(360), &mut Effects::default()),
        Ok(refused(4)),
        "A stopped working"
    );
    let mut fx = Effects::default();
    assert_eq!(v.check(B, &k, at(360), &mut fx), Ok(approved(4)));
    assert!(fx.cancel_pending_steps);
    assert_eq!(v.status, Status::Approved);
}

#[test]
fn idenfy_expired_at_11_min() {
    let (k, codes) = (keys(), scripted_ab());
    let mut v = start_idenfy(&k, &codes);
    run(&mut v, &k, &codes, 1, at(120));
    run(&mut v, &k, &codes, 2, at(300));
    assert_eq!(v.status_at(at(600).plus_millis(-1)), Status::Pending);
    assert_eq!(v.status_at(at(600)), Status::Expired);
    assert_eq!(v.status_at(at(660)), Status::Expired);
    assert_eq!(v.status, Status::Pending, "status_at does not change the record");

    let mut fx = Effects::default();
    assert_eq!(
        v.check(B, &k, at(660), &mut fx),
        Err(CoreError::NotPending {
            status: Status::Expired
        })
    );
    assert!(fx.cancel_pending_steps);
    assert!(fx.events().iter().any(|e| e.kind == EventKind::Expired));
    assert_eq!(
        (v.status, v.code_hash, v.sealed_code.clone()),
        (Status::Expired, None, None)
    );
    let mut fx = Effects::default();
    assert_eq!(
        v.resend(None, &ctx(&k, &codes, None, at(661)), &mut fx),
        Err(CoreError::NotPending {
            status: Status::Expired
        })
    );
    assert_eq!(
        v.cancel(at(662), &mut fx),
        Err(CoreError::NotPending {
            status: Status::Expired
        })
    );
    assert!(
        fx.jobs.is_empty() && !fx.cancel_pending_steps,
        "a terminal verification does not change"
    );
}

#[test]
fn single_step_expires_at_exactly_validity() {
    for validity_s in [600u32, 90] {
        let k = keys();
        let codes = ScriptedCodeSource::new(["123456"]);
        let p = Policy {
            validity_s,
            ..Policy::default()
        };
        let (mut v, fx) = start_with(Workflow::single(Channel::Sms, &p), p, None, &k, &codes, t0());
        assert_eq!(deliveries(&fx, &k, &v, t0()).len(), 1);
        assert!(fx.jobs.iter().all(|j| j.kind == JobKind::Deliver), "no later steps");
        let end = at(i64::from(validity_s));
        assert_eq!(v.expires_at, end);
        assert_eq!(v.code_expires_at, end);

        let mut just_before = v.clone();
        assert_eq!(
            just_before.check("123456", &k, end.plus_millis(-1), &mut Effects::default()),
            Ok(approved(5))
        );

        assert_eq!(v.status_at(end), Status::Expired);
        let mut fx = Effects::default();
        assert_eq!(
            v.check("123456", &k, end, &mut fx),
            Err(CoreError::NotPending {
                status: Status::Expired
            })
        );
        assert!(fx.cancel_pending_steps);
        assert_eq!((v.status, v.code_hash), (Status::Expired, None));
    }
}

#[test]
fn resend_cooldown_doubles_and_sends_are_capped() {
    let k = keys();
    let codes = ScriptedCodeSource::new(["100001", "200002", "300003", "400004", "500005"]);
    let p = Policy::default();
    let (mut v, _) = start_with(Workflow::single(Channel::Sms, &p), p, None, &k, &codes, t0());
    let resend = |v: &mut Verification, channel, now| {
        let mut fx = Effects::default();
        let r = v.resend(channel, &ctx(&k, &codes, None, now), &mut fx);
        (r, deliveries(&fx, &k, v, now))
    };
    let cooldown = |s| Err(CoreError::ResendCooldown { retry_after_s: s });

    // First resend: 30 s after the first send.
    assert_eq!(resend(&mut v, None, at(0)).0, cooldown(30));
    assert_eq!(resend(&mut v, None, at(10)).0, cooldown(20));
    assert_eq!(resend(&mut v, None, at(29)).0, cooldown(1));
    assert_eq!(resend(&mut v, None, at(29).plus_millis(1)).0, cooldown(1), "rounded up");
    let (r, sent) = resend(&mut v, None, at(30));
    assert_eq!(r, Ok(()));
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].channel, sent[0].step), (Channel::Sms, None));
    assert_text_carries(&sent[0], "200002");
    assert_eq!(v.code_expires_at, at(630));
    assert_eq!(v.expires_at, at(630), "the resent code extends the verification");

    // Second: 60 s after the last send.
    assert_eq!(resend(&mut v, None, at(30)).0, cooldown(60));
    assert_eq!(resend(&mut v, None, at(89).plus_millis(500)).0, cooldown(1));
    let (r, sent) = resend(&mut v, Some(Channel::Voice), at(90));
    assert_eq!(r, Ok(()));
    assert_eq!((sent[0].channel, sent[0].step), (Channel::Voice, None));
    assert_text_carries(&sent[0], "300003");

    // Third: 120 s.
    assert_eq!(resend(&mut v, None, at(90)).0, cooldown(120));
    assert_eq!(resend(&mut v, None, at(209)).0, cooldown(1));
    assert_eq!(resend(&mut v, None, at(210)).0, Ok(()));
    // Fourth: 240 s; that is the fifth send.
    assert_eq!(resend(&mut v, None, at(210)).0, cooldown(240));
    let (r, sent) = resend(&mut v, None, at(450));
    assert_eq!(r, Ok(()));
    assert_text_carries(&sent[0], "500005");
    assert_eq!((v.sends, v.resends), (5, 4));
    assert_eq!(v.expires_at, at(1050));

    // All five sends used: refused whether or not the cooldown has passed.
    let (r, sent) = resend(&mut v, None, at(450));
    assert_eq!(r, Err(CoreError::MaxSendsReached));
    assert!(sent.is_empty());
    assert_eq!(resend(&mut v, None, at(1000)).0, Err(CoreError::MaxSendsReached));
    assert_eq!(
        resend(&mut v, None, at(1050)).0,
        Err(CoreError::NotPending {
            status: Status::Expired
        })
    );

    // Only the last code works.
    let (k2, codes2) = (keys(), ScriptedCodeSource::new(["100001", "200002"]));
    let (mut w, _) = start_with(Workflow::single(Channel::Sms, &p), p, None, &k2, &codes2, t0());
    w.resend(None, &ctx(&k2, &codes2, None, at(30)), &mut Effects::default())
        .unwrap();
    assert_eq!(w.check("100001", &k2, at(31), &mut Effects::default()), Ok(refused(4)));
    assert_eq!(w.check("200002", &k2, at(32), &mut Effects::default()), Ok(approved(4)));
}

#[test]
fn steps_and_resends_share_max_sends() {
    let (k, codes) = (keys(), ScriptedCodeSource::new([A, "111111", "222222", "333333", B]));
    let mut v = start_with(idenfy(), Policy::default(), None, &k, &codes, t0()).0;
    let resend = |v: &mut Verification, now| v.resend(None, &ctx(&k, &codes, None, now), &mut Effects::default());
    assert_eq!(resend(&mut v, at(30)), Ok(()));
    assert_eq!(resend(&mut v, at(90)), Ok(()));
    // The call repeats the resent code and counts as a send; the cooldown counts from it.
    let call = run(&mut v, &k, &codes, 1, at(120));
    assert_text_carries(&call[0], "222222");
    assert_eq!(
        resend(&mut v, at(200)),
        Err(CoreError::ResendCooldown { retry_after_s: 40 })
    );
    assert_eq!(resend(&mut v, at(240)), Ok(()));
    assert_eq!(v.sends, 5);
    // Step 3 finds every send used: skipped, and the resent code stays current.
    assert!(run(&mut v, &k, &codes, 2, at(300)).is_empty());
    assert_eq!(v.next_step, 3);
    assert_eq!(v.check("333333", &k, at(400), &mut Effects::default()), Ok(approved(5)));
}

#[test]
fn sealed_code_is_kept_only_while_the_next_step_repeats_it() {
    let (k, codes) = (keys(), scripted_ab());
    let mut v = start_idenfy(&k, &codes);
    assert!(v.sealed_code.is_some(), "step 2 will repeat code A");
    assert_eq!(open_sealed(&k, &v).as_deref(), Some(A));
    assert!(
        !v.sealed_code
            .as_ref()
            .unwrap()
            .windows(A.len())
            .any(|w| w == A.as_bytes()),
        "sealed, not plain"
    );
    run(&mut v, &k, &codes, 1, at(120));
    assert_eq!(v.sealed_code, None, "step 3 issues a new code: nothing left to repeat");
    run(&mut v, &k, &codes, 2, at(300));
    assert_eq!(v.sealed_code, None);

    let p = Policy::default();
    for channel in [Channel::Sms, Channel::Voice] {
        let codes = ScriptedCodeSource::new(["123456"]);
        let (mut v, _) = start_with(Workflow::single(channel, &p), p, None, &k, &codes, t0());
        assert_eq!(v.sealed_code, None, "a single step never repeats its code");
        v.resend(None, &ctx(&k, &codes, None, at(30)), &mut Effects::default())
            .unwrap();
        assert_eq!(v.sealed_code, None);
    }

    // A resend while the call is still to come seals the new code for it.
    let codes = ScriptedCodeSource::new([A, "111111", B]);
    let mut v = start_with(idenfy(), p, None, &k, &codes, t0()).0;
    v.resend(None, &ctx(&k, &codes, None, at(30)), &mut Effects::default())
        .unwrap();
    assert_eq!(open_sealed(&k, &v).as_deref(), Some("111111"));
    let mut fx = Effects::default();
    v.cancel(at(40), &mut fx).unwrap();
    assert!(fx.cancel_pending_steps);
    assert_eq!(
        (v.code_hash, v.sealed_code),
        (None, None),
        "leaving pending erases the sealed code"
    );
}

#[test]
fn new_step_is_skipped_at_exactly_its_window_end() {
    let k = keys();
    let codes = ScriptedCodeSource::new([A, "111111", B]);
    let mut v = start_with(idenfy(), Policy::default(), None, &k, &codes, t0()).0;
    // A resend at 30 s issues a code valid until 630 s and extends the verification.
    v.resend(None, &ctx(&k, &codes, None, at(30)), &mut Effects::default())
        .unwrap();
    assert_eq!(v.expires_at, at(630));
    let call = run(&mut v, &k, &codes, 1, at(120));
    assert_text_carries(&call[0], "111111");

    // Step 3's window is 300 s + 300 s = 600 s after the start, whatever ran before.
    let mut late = v.clone();
    assert!(
        run(&mut late, &k, &codes, 2, at(600)).is_empty(),
        "at its window end: skipped"
    );
    assert_eq!((late.next_step, late.sends), (3, 3));
    assert_eq!(late.code_expires_at, at(630), "the resent code stays current");
    assert_eq!(
        late.check("111111", &k, at(610), &mut Effects::default()),
        Ok(approved(5))
    );

    let sent = run(&mut v, &k, &codes, 2, at(600).plus_millis(-1));
    assert_eq!(sent.len(), 1, "1 ms before its window end: sent");
    assert_text_carries(&sent[0], B);
    assert_eq!(v.code_expires_at, at(600));
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Per-verification options: the sender id and SMS template every send keeps, and
//! `notify` — every event queued as a webhook job in the same effects, plus an expiry job.

use ringproof_core::code::{Code, CodeSource};
use ringproof_core::crypto::Keys;
use ringproof_core::ids::ClientId;
use ringproof_core::job::{DeliverPayload, JobKind};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::policy::Policy;
use ringproof_core::simswap::{SimSwapError, SimSwapOutcome, SimSwapResult};
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Ctx, Effects, Options, StartParams, Status, Verification};
use ringproof_core::workflow::Workflow;
use serde_json::Value;

const TO: &str = "+14155550123";

struct Fixed(&'static str);
impl CodeSource for Fixed {
    fn generate(&self, _len: u8) -> Code {
        Code::from_digits(self.0).unwrap()
    }
}

fn keys() -> Keys {
    Keys::derive(b"ringproof notify tests: a secret of at least 32 bytes")
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000).plus_secs(secs)
}

fn start(options: Options, codes: &Fixed) -> (Verification, Effects) {
    start_checked(options, None, codes)
}

fn start_checked(options: Options, sim_swap: Option<SimSwapOutcome>, codes: &Fixed) -> (Verification, Effects) {
    let policy = Policy {
        code_length: 4,
        ..Policy::default()
    };
    Verification::start(
        StartParams {
            client_id: ClientId::generate(),
            to: PhoneNumber::parse_e164(TO).unwrap(),
            workflow: Workflow::sms_then_voice_then_new_code(120, 300, 300).unwrap(),
            locale: "en".into(),
            brand: "Shop".into(),
            code_length: 4,
            policy,
            sms_template: Some("client template {code}"),
            options,
            sim_swap,
            now: t(0),
        },
        &keys(),
        codes,
    )
}

fn kinds(fx: &Effects, kind: JobKind) -> usize {
    fx.jobs.iter().filter(|j| j.kind == kind).count()
}

fn webhook_types(fx: &Effects) -> Vec<String> {
    fx.jobs
        .iter()
        .filter(|j| j.kind == JobKind::Webhook)
        .map(|j| {
            let body: Value = serde_json::from_slice(&j.payload).unwrap();
            body["type"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn without_notify_no_webhook_or_expiry_job_is_queued() {
    let (_, fx) = start(Options::default(), &Fixed("4821"));
    assert_eq!(kinds(&fx, JobKind::Webhook), 0);
    assert_eq!(kinds(&fx, JobKind::Expire), 0);
    assert_eq!(kinds(&fx, JobKind::Deliver), 1);
    assert_eq!(kinds(&fx, JobKind::Step), 2);
}

#[test]
fn with_notify_every_event_is_a_webhook_and_expiry_is_scheduled() {
    let options = Options {
        sender: Some("The Sender".into()),
        sms_template: Some("{brand} code: {code}. Valid for 5 minutes.".into()),
        voice_template: None,
        notify: true,
        sim_swap: None,
        silent: None,
        service: None,
        // The verification's own text wins over the do-not-share default.
        do_not_share: true,
        custom_code: false,
        webhook_format: Default::default(),
        face: None,
    };
    let (v, fx) = start(options, &Fixed("4821"));
    assert_eq!(webhook_types(&fx), ["verification.created", "verification.send_queued"]);
    assert_eq!(fx.events().len(), 2);
    let expire: Vec<_> = fx.jobs.iter().filter(|j| j.kind == JobKind::Expire).collect();
    assert_eq!(expire.len(), 1);
    assert_eq!(expire[0].due_at, v.expires_at);
    assert_eq!(v.expires_at, t(600));

    // The delivery carries the sender and uses the verification's template, not the
    // client's; it is marked so its `sent` event is announced too.
    let k = keys();
    let d = fx.jobs.iter().find(|j| j.kind == JobKind::Deliver).unwrap();
    let p: DeliverPayload = serde_json::from_slice(&k.open(d.id.as_str(), &d.payload).unwrap()).unwrap();
    assert_eq!(p.text, "Shop code: 4821. Valid for 5 minutes.");
    assert_eq!(p.sender.as_deref(), Some("The Sender"));
    assert!(p.notify);

    // No webhook body carries the number or the code.
    for j in fx.jobs.iter().filter(|j| j.kind == JobKind::Webhook) {
        let body = String::from_utf8(j.payload.clone()).unwrap();
        assert!(!body.contains("4155550123") && !body.contains("4821"), "{body}");
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            parsed["id"],
            j.id.as_str(),
            "the body's id is the job id (the dedupe key)"
        );
        assert_eq!(parsed["data"]["verification_id"], v.id.as_str());
    }
}

/// A service's do-not-share text replaces only the catalogue's default: the client's own
/// text for the language (this start has one) still comes first (docs/locales.md).
#[test]
fn the_do_not_share_text_does_not_override_the_clients() {
    let options = Options {
        do_not_share: true,
        ..Options::default()
    };
    let (_, fx) = start(options, &Fixed("4821"));
    let k = keys();
    let d = fx.jobs.iter().find(|j| j.kind == JobKind::Deliver).unwrap();
    let p: DeliverPayload = serde_json::from_slice(&k.open(d.id.as_str(), &d.payload).unwrap()).unwrap();
    assert_eq!(p.text, "client template 4821");
}

#[test]
fn later_transitions_queue_one_webhook_per_event_they_record() {
    let options = Options {
        notify: true,
        ..Options::default()
    };
    let k = keys();
    let codes = Fixed("4821");
    let (mut v, _) = start(options, &codes);

    let mut fx = Effects::default();
    v.check("1111", &k, t(10), &mut fx).unwrap();
    assert_eq!(webhook_types(&fx), ["verification.check_wrong"]);

    // The step that speaks code A again, then approval.
    let mut fx = Effects::default();
    let ctx = Ctx {
        keys: &k,
        codes: &codes,
        sms_template: None,
        now: t(120),
    };
    v.run_step(1, &ctx, &mut fx);
    assert_eq!(webhook_types(&fx), ["verification.send_queued"]);
    let mut fx = Effects::default();
    v.check("4821", &k, t(130), &mut fx).unwrap();
    assert_eq!(v.status, Status::Approved);
    assert_eq!(webhook_types(&fx), ["verification.approved"]);
    assert!(fx.cancel_pending_steps);
}

#[test]
fn the_options_survive_a_json_round_trip_and_default_to_nothing() {
    let o = Options {
        sender: Some("Acme".into()),
        sms_template: None,
        voice_template: Some("{brand}: {code}".into()),
        notify: true,
        sim_swap: Some(SimSwapResult::NotSwapped),
        silent: Some(ringproof_core::verification::SilentAuth {
            state_hash: Some("ab".into()),
            deadline: Some(5),
            sealed: None,
            ip: None,
            result: Some("verified".into()),
        }),
        service: Some("VA00000000000000000000000000000000".into()),
        do_not_share: true,
        custom_code: true,
        webhook_format: ringproof_core::webhook::WebhookFormat::Twilio,
        face: Some(ringproof_core::webhook_format::FaceIds::Twilio {
            account_sid: "AC00000000000000000000000000000000".into(),
        }),
    };
    let s = serde_json::to_string(&o).unwrap();
    assert_eq!(
        s,
        r#"{"sender":"Acme","voice_template":"{brand}: {code}","notify":true,"sim_swap":"not_swapped","silent":{"state_hash":"ab","deadline":5,"result":"verified"},"service":"VA00000000000000000000000000000000","do_not_share":true,"custom_code":true,"webhook_format":"twilio","face":{"face":"twilio","account_sid":"AC00000000000000000000000000000000"}}"#
    );
    assert_eq!(serde_json::from_str::<Options>(&s).unwrap(), o);
    assert_eq!(serde_json::from_str::<Options>("{}").unwrap(), Options::default());
}

/// A SIM-swap check made before the start is kept in the options and recorded (and
/// announced) as `sim_swap_checked` right after `created`, with no number in its detail.
#[test]
fn a_sim_swap_check_is_stored_and_recorded_after_created() {
    let notify = Options {
        notify: true,
        ..Options::default()
    };
    let unreachable = SimSwapOutcome::of(&Err(SimSwapError::Unreachable("timeout".into())), 240);
    let (v, fx) = start_checked(notify, Some(unreachable), &Fixed("4821"));
    assert_eq!(v.options.sim_swap, Some(SimSwapResult::Unknown));
    let events: Vec<(&str, Option<&str>)> = fx
        .events()
        .iter()
        .map(|e| (e.kind.as_str(), e.detail.as_deref()))
        .collect();
    assert_eq!(
        events,
        [
            ("created", None),
            ("sim_swap_checked", Some("unknown (unreachable)")),
            ("send_queued", Some("step 1"))
        ]
    );
    assert_eq!(
        webhook_types(&fx),
        [
            "verification.created",
            "verification.sim_swap_checked",
            "verification.send_queued"
        ]
    );
    // Not checked: no event, nothing stored.
    let (v, fx) = start(Options::default(), &Fixed("4821"));
    assert_eq!(v.options.sim_swap, None);
    assert!(fx.events().iter().all(|e| e.kind.as_str() != "sim_swap_checked"));
}

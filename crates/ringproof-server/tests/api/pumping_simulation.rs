//! The SMS-pumping simulation (issue 10 §3): a simulated day of one client's traffic
//! through the engine and the real SQLite store, on the injected clock (no sleeping):
//! 10 000 legitimate verifications across 68 countries and 1 700 prefixes, about 85 %
//! approved, mixed with pumping attacks: sequential numbers in two prefixes of each of
//! three countries (one the client serves, two it never does), never approved, ramping
//! from one send in 10 minutes to one in 10 seconds; and one attack spread thin over many
//! prefixes of one country the client serves (one send in 5 minutes to one in 5 s). It prints what share of each was refused
//! and by which rule, and SMS spent per approved verification; it fails below 95 % of
//! the attack refused or above 1 % of the legitimate sends refused.
//!
//! Run: `cargo test -p ringproof-server --test api pumping_simulation -- --nocapture`
//! (the figures are in docs/security.md, "SMS pumping").

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ringproof_core::CoreError;
use ringproof_core::client::Client;
use ringproof_core::code::ScriptedCodeSource;
use ringproof_core::engine::{StartOutcome, StartRequest};
use ringproof_core::ids::VerificationId;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::time::Timestamp;

use crate::helpers::{Opts, T0, TestApp};

const CODE: &str = "123456";

/// Example mobile numbers of libphonenumber's metadata, one per country: numbers are made
/// by varying their digits, each checked by `PhoneNumber::parse_e164`.
const COUNTRIES: &[(&str, &str)] = &[
    ("US", "+12015550123"),
    ("GB", "+447400123456"),
    ("DE", "+4915123456789"),
    ("FR", "+33612345678"),
    ("IN", "+918123456789"),
    ("BR", "+5511961234567"),
    ("MX", "+522221234567"),
    ("ES", "+34612345678"),
    ("IT", "+393123456789"),
    ("NL", "+31612345678"),
    ("BE", "+32450001234"),
    ("PL", "+48512345678"),
    ("PT", "+351912345678"),
    ("SE", "+46701234567"),
    ("NO", "+4740612345"),
    ("DK", "+4534412345"),
    ("FI", "+358412345678"),
    ("IE", "+353850123456"),
    ("AT", "+43664123456"),
    ("CH", "+41781234567"),
    ("CZ", "+420601123456"),
    ("RO", "+40712034567"),
    ("HU", "+36201234567"),
    ("GR", "+306912345678"),
    ("TR", "+905012345678"),
    ("RU", "+79123456789"),
    ("UA", "+380501234567"),
    ("ZA", "+27711234567"),
    ("NG", "+2348021234567"),
    ("KE", "+254712123456"),
    ("EG", "+201001234567"),
    ("MA", "+212650123456"),
    ("SA", "+966512345678"),
    ("AE", "+971501234567"),
    ("IL", "+972502345678"),
    ("PK", "+923012345678"),
    ("BD", "+8801812345678"),
    ("ID", "+62812345678"),
    ("MY", "+60123456789"),
    ("PH", "+639051234567"),
    ("TH", "+66812345678"),
    ("VN", "+84912345678"),
    ("KR", "+821020000000"),
    ("JP", "+819012345678"),
    ("AU", "+61412345678"),
    ("NZ", "+64211234567"),
    ("CA", "+15062345678"),
    ("AR", "+5491123456789"),
    ("CL", "+56221234567"),
    ("CO", "+573211234567"),
    ("PE", "+51912345678"),
    ("VE", "+584121234567"),
    ("EC", "+593991234567"),
    ("GH", "+233231234567"),
    ("TZ", "+255621234567"),
    ("UG", "+256712345678"),
    ("ET", "+251911234567"),
    ("SN", "+221701234567"),
    ("CI", "+2250123456789"),
    ("CM", "+237671234567"),
    ("DZ", "+213551234567"),
    ("TN", "+21620123456"),
    ("KZ", "+77710009998"),
    ("UZ", "+998912345678"),
    ("AZ", "+994401234567"),
    ("GE", "+995555123456"),
    ("LK", "+94712345678"),
    ("NP", "+9779841234567"),
    // Never served by the client: only attacked.
    ("MM", "+9592123456"),
    ("KH", "+85591234567"),
];
const ATTACK_ONLY: [&str; 2] = ["MM", "KH"];
const LEGIT_PREFIXES_PER_COUNTRY: usize = 25;

/// xorshift64: deterministic, so the figures are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// `base` with the `width` digits before its last four replaced by `v`: a prefix of the
/// country (the number minus its last four digits), if numbers under it are valid.
fn prefix_variant(base: &str, width: usize, v: u64) -> Option<String> {
    let cut = base.len() - 4 - width;
    let p = format!("{}{:0width$}", &base[..cut], v, width = width);
    ["1234", "5678", "0000"]
        .iter()
        .all(|t| PhoneNumber::parse_e164(&format!("{p}{t}")).is_ok())
        .then_some(p)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Legit,
    /// Sequential numbers in a few prefixes.
    Sequential,
    /// Spread thin over many prefixes of one country.
    Spread,
}

#[derive(Clone, Debug)]
enum Act {
    Start {
        who: Who,
        to: String,
        verification: Option<usize>,
        resend_at: Option<i64>,
        approve_at: Option<i64>,
    },
    Resend {
        verification: usize,
    },
    Check {
        verification: usize,
    },
}

#[derive(Default)]
struct Tally {
    attempts: u64,
    refused: BTreeMap<String, u64>,
}

impl Tally {
    fn refused(&self) -> u64 {
        self.refused.values().sum()
    }
}

#[tokio::test]
async fn pumping_simulation() {
    let started = Instant::now();
    let app = TestApp::spawn_with(Opts {
        codes: Some(Arc::new(ScriptedCodeSource::new([CODE]))),
        ..Opts::default()
    })
    .await;
    let client: Client = app.demo().await;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut plan: Vec<(i64, u64, Act)> = Vec::new();
    let push = |plan: &mut Vec<(i64, u64, Act)>, t: i64, a: Act| {
        plan.push((t, plan.len() as u64, a));
    };

    // Legitimate traffic: countries weighted 1/rank (a few big markets, a long tail),
    // prefixes within a country weighted 1/rank too.
    let legit: Vec<(&str, Vec<String>)> = COUNTRIES
        .iter()
        .filter(|(r, _)| !ATTACK_ONLY.contains(r))
        .map(|(r, base)| {
            let prefixes: Vec<String> = (0..100)
                .filter_map(|v| prefix_variant(base, 2, (v * 37 + 11) % 100))
                .take(LEGIT_PREFIXES_PER_COUNTRY)
                .collect();
            assert!(prefixes.len() >= 20, "{r}: {} prefixes", prefixes.len());
            (*r, prefixes)
        })
        .collect();
    let pick = |rng: &mut Rng, n: usize| -> usize {
        let total: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
        let mut x = (rng.below(1_000_000) as f64 / 1_000_000.0) * total;
        for k in 1..=n {
            x -= 1.0 / k as f64;
            if x <= 0.0 {
                return k - 1;
            }
        }
        n - 1
    };
    let mut used_prefixes = std::collections::BTreeSet::new();
    let mut verifications = 0_usize;
    for _ in 0..10_000 {
        let t = rng.below(86_400_000) as i64;
        let (_, prefixes) = &legit[pick(&mut rng, legit.len())];
        let prefix = &prefixes[pick(&mut rng, prefixes.len())];
        used_prefixes.insert(prefix.clone());
        let to = format!("{prefix}{:04}", rng.below(10_000));
        let resend_at = rng.chance(5).then(|| t + 45_000 + rng.below(30_000) as i64);
        let approve_at = rng
            .chance(85)
            .then(|| resend_at.unwrap_or(t) + 15_000 + rng.below(105_000) as i64);
        push(
            &mut plan,
            t,
            Act::Start {
                who: Who::Legit,
                to,
                verification: Some(verifications),
                resend_at,
                approve_at,
            },
        );
        verifications += 1;
    }
    let countries_served = legit.len();

    // Sequential pumping: two prefixes in each of three countries (NG is served by the
    // client; MM and KH never are), numbers counted up from …0000, never approved; one
    // send every 10 minutes at first, every 10 s after 6 hours, for 7 hours, each prefix
    // starting at its own hour.
    let mut attack_prefixes = Vec::new();
    for (i, region) in ["NG", "MM", "KH"].iter().enumerate() {
        let base = COUNTRIES.iter().find(|(r, _)| r == region).unwrap().1;
        let mut found = 0;
        for v in (0..100).rev() {
            if let Some(p) = prefix_variant(base, 2, v)
                && !used_prefixes.contains(&p)
            {
                attack_prefixes.push((i, p));
                found += 1;
                if found == 2 {
                    break;
                }
            }
        }
    }
    for (k, (i, prefix)) in attack_prefixes.iter().enumerate() {
        let start = (2 + 3 * *i as i64 + k as i64 % 2) * 3_600_000;
        let ramp_ms = 6.0 * 3_600_000_f64;
        let (mut t, mut n) = (0_f64, 0);
        while t < 7.0 * 3_600_000.0 {
            let interval = 600_000.0 * (10_000.0_f64 / 600_000.0).powf((t / ramp_ms).min(1.0));
            let to = format!("{prefix}{n:04}");
            n += 1;
            if PhoneNumber::parse_e164(&to).is_ok() {
                push(
                    &mut plan,
                    start + t as i64,
                    Act::Start {
                        who: Who::Sequential,
                        to,
                        verification: None,
                        resend_at: None,
                        approve_at: None,
                    },
                );
            }
            t += interval;
        }
    }

    // Spread thin: random numbers under many prefixes of PH (a country the client serves),
    // never approved, from one send every 5 minutes to one every 5 s over 5 hours, for 6.
    let ph = COUNTRIES.iter().find(|(r, _)| *r == "PH").unwrap().1;
    let legit_ph = &legit.iter().find(|(r, _)| *r == "PH").unwrap().1;
    let spread: Vec<String> = (0..1000)
        .filter_map(|v| prefix_variant(ph, 3, v))
        .filter(|p| !legit_ph.iter().any(|l| l == p))
        .collect();
    assert!(spread.len() >= 300, "{} spread prefixes", spread.len());
    let (mut t, ramp_ms) = (0_f64, 5.0 * 3_600_000.0);
    while t < 6.0 * 3_600_000.0 {
        let interval = 300_000.0 * (5_000.0_f64 / 300_000.0).powf((t / ramp_ms).min(1.0));
        let p = &spread[rng.below(spread.len() as u64) as usize];
        let to = format!("{p}{:04}", rng.below(10_000));
        push(
            &mut plan,
            12 * 3_600_000 + t as i64,
            Act::Start {
                who: Who::Spread,
                to,
                verification: None,
                resend_at: None,
                approve_at: None,
            },
        );
        t += interval;
    }
    // Play the day, in time order (later checks and resends join the queue as they are
    // planned).
    let mut acts: Vec<Act> = Vec::with_capacity(plan.len() * 2);
    let mut queue = std::collections::BinaryHeap::new();
    for (t, s, a) in plan {
        queue.push(std::cmp::Reverse((t, s, acts.len())));
        acts.push(a);
    }
    let mut ids: Vec<Option<VerificationId>> = vec![None; verifications];
    let mut seq = acts.len() as u64;
    let mut tally: BTreeMap<Who, Tally> = BTreeMap::new();
    let (mut delivered, mut approved, mut legit_started) = (0_u64, 0_u64, 0_u64);
    let mut later = |queue: &mut std::collections::BinaryHeap<_>, acts: &mut Vec<Act>, at: i64, a: Act| {
        seq += 1;
        queue.push(std::cmp::Reverse((at, seq, acts.len())));
        acts.push(a);
    };
    while let Some(std::cmp::Reverse((t, _, k))) = queue.pop() {
        let act = acts[k].clone();
        app.clock.set(Timestamp(T0.millis() + t));
        match act {
            Act::Start {
                who,
                to,
                verification,
                resend_at,
                approve_at,
            } => {
                let e = tally.entry(who).or_default();
                e.attempts += 1;
                let req = StartRequest {
                    to: Some(PhoneNumber::parse_e164(&to).unwrap()),
                    ..StartRequest::default()
                };
                match app.engine.start(&client, req, None).await {
                    Ok(StartOutcome::Created(v)) => {
                        delivered += 1;
                        if let Some(k) = verification {
                            legit_started += 1;
                            ids[k] = Some(v.id.clone());
                            if let Some(at) = resend_at {
                                later(&mut queue, &mut acts, at, Act::Resend { verification: k });
                            }
                            if let Some(at) = approve_at {
                                later(&mut queue, &mut acts, at, Act::Check { verification: k });
                            }
                        }
                    }
                    Ok(StartOutcome::Replayed { .. }) => unreachable!("no idempotency keys here"),
                    Err(CoreError::Limited(r)) => *e.refused.entry(r.rule.as_str().to_owned()).or_default() += 1,
                    Err(other) => panic!("{who:?} start to a valid number failed: {other}"),
                }
            }
            Act::Resend { verification } => {
                let id = ids[verification].clone().unwrap();
                let e = tally.entry(Who::Legit).or_default();
                e.attempts += 1;
                match app.engine.resend(&client, &id, None).await {
                    Ok(_) => delivered += 1,
                    Err(CoreError::Limited(r)) => *e.refused.entry(r.rule.as_str().to_owned()).or_default() += 1,
                    Err(other) => panic!("resend failed: {other}"),
                }
            }
            Act::Check { verification } => {
                let id = ids[verification].clone().unwrap();
                let (o, _) = app.engine.check(&client, &id, CODE).await.unwrap();
                assert!(o.valid);
                approved += 1;
            }
        }
    }

    let share = |t: &Tally| 100.0 * t.refused() as f64 / t.attempts.max(1) as f64;
    let legit_t = &tally[&Who::Legit];
    let mut attack = Tally::default();
    for w in [Who::Sequential, Who::Spread] {
        let t = &tally[&w];
        attack.attempts += t.attempts;
        for (rule, n) in &t.refused {
            *attack.refused.entry(rule.clone()).or_default() += n;
        }
    }
    println!(
        "pumping simulation: {} legitimate verifications ({} started) in {countries_served} countries \
         and {} prefixes, {approved} approved ({:.1} %)",
        verifications,
        legit_started,
        used_prefixes.len(),
        100.0 * approved as f64 / verifications as f64
    );
    for (who, t) in &tally {
        println!(
            "  {who:?}: {} sends attempted, {} refused ({:.2} %) by {:?}",
            t.attempts,
            t.refused(),
            share(t),
            t.refused
        );
    }
    println!(
        "  attack sends refused: {:.2} % of {}; legitimate sends refused: {:.3} % of {}",
        share(&attack),
        attack.attempts,
        share(legit_t),
        legit_t.attempts
    );
    println!(
        "  SMS spent per approved verification: {:.3} ({delivered} sent, {approved} approved); {:.1} s",
        delivered as f64 / approved.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    assert!(countries_served >= 50 && used_prefixes.len() >= 1000);
    let conversion = 100 * approved / verifications as u64;
    assert!((80..=90).contains(&conversion), "{conversion} % approved");
    assert!(
        share(&attack) >= 95.0,
        "only {:.2} % of the attack refused",
        share(&attack)
    );
    assert!(
        share(legit_t) <= 1.0,
        "{:.3} % of legitimate sends refused",
        share(legit_t)
    );
    for w in [Who::Sequential, Who::Spread] {
        assert!(share(&tally[&w]) >= 90.0, "{w:?}: {:.2} %", share(&tally[&w]));
    }
}

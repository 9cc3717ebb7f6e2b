//! Verifications: the round trip, tenant scoping, serialised transitions under contention,
//! and the effects `update_verification` applies in its transaction.

use ringproof_core::job::JobQueue;
use std::sync::Arc;

use ringproof_core::CoreError;
use ringproof_core::code::ScriptedCodeSource;
use ringproof_core::ids::{JobId, VerificationId};
use ringproof_core::job::JobKind;
use ringproof_core::ports::Store;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{CheckOutcome, Ctx, Effects, Options, Status, Verification};
use ringproof_core::workflow::Channel;

use crate::conformance;
use crate::harness::{CODE, NOW, WRONG, claimable, client, event_kinds, keys, sms, sorted, stored_sms, three_steps};

conformance!(
    store: round_trip_with_jobs_and_events,
    tenant_scoping,
    fifty_concurrent_wrong_checks,
    transitions_persist,
    cancel_deletes_the_pending_jobs_of_that_verification_only,
    done_job_is_deleted_with_the_transition,
    a_step_finding_the_verification_expired_cancels_the_rest,
    options_round_trip,
    an_import_stores_all_or_nothing
);

/// `import_verifications`: every record with its events and jobs, in one transaction, so a
/// record that cannot be stored (here a duplicate id) keeps the whole import out.
async fn an_import_stores_all_or_nothing(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let items: Vec<(Verification, Effects)> = (0..3).map(|i| sms(&c.id, NOW.plus_secs(i))).collect();
    store.import_verifications(&items).await.unwrap();
    for (v, fx) in &items {
        assert_eq!(store.get_verification(&c.id, &v.id).await.unwrap().as_ref(), Some(v));
        assert_eq!(store.list_events(&c.id, &v.id).await.unwrap().len(), fx.events().len());
    }
    assert_eq!(
        claimable(&store, NOW.plus_secs(10)).await.len(),
        3,
        "each import's delivery job"
    );

    let fresh = sms(&c.id, NOW);
    let again = vec![fresh.clone(), items[0].clone()];
    assert!(
        store.import_verifications(&again).await.is_err(),
        "a duplicate id was imported"
    );
    assert_eq!(
        store.get_verification(&c.id, &fresh.0.id).await.unwrap(),
        None,
        "half an import was kept"
    );
    store.import_verifications(&[]).await.unwrap();
}

/// Runs `check` through the store, returning what the transition returned.
async fn check(
    store: &Arc<dyn Store>,
    v: &Verification,
    code: &str,
    now: ringproof_core::time::Timestamp,
) -> Result<CheckOutcome, CoreError> {
    let keys = keys();
    let mut out = None;
    let mut m = |v: &mut Verification| {
        let mut fx = Effects::default();
        out = Some(v.check(code, &keys, now, &mut fx));
        fx
    };
    store
        .update_verification(&v.client_id, &v.id, None, &mut m)
        .await
        .unwrap()
        .expect("verification exists");
    out.expect("the transition ran")
}

async fn round_trip_with_jobs_and_events(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, fx) = three_steps(&c.id, NOW);
    // The three-step timeline keeps the code sealed for the voice step: every nullable
    // column is filled, so the round trip covers them all.
    assert!(v.code_hash.is_some() && v.sealed_code.is_some());
    assert_eq!(fx.jobs.len(), 3);
    store.insert_verification(&v, &fx, None).await.unwrap();

    let got = store.get_verification(&c.id, &v.id).await.unwrap().expect("stored");
    assert_eq!(got, v);
    assert_eq!(got.workflow, v.workflow);
    assert_eq!(got.policy, v.policy);
    assert_eq!(got.sealed_code, v.sealed_code);
    assert_eq!(got.code_hash, v.code_hash);
    assert_eq!(got.to.e164(), "+14155550123");

    // The first delivery is due now; the two steps later.
    let now_jobs = store.claim_jobs(NOW, 60_000, 10, JobQueue::All).await.unwrap();
    assert_eq!(now_jobs.len(), 1);
    let j = &now_jobs[0];
    let nj = &fx.jobs[0];
    assert_eq!(
        (&j.id, j.kind, &j.client_id, &j.verification_id),
        (&nj.id, JobKind::Deliver, &nj.client_id, &nj.verification_id)
    );
    assert_eq!(
        (j.due_at, &j.payload, j.attempts, j.max_attempts),
        (nj.due_at, &nj.payload, 1, nj.max_attempts)
    );

    let later = store
        .claim_jobs(NOW.plus_secs(3600), 60_000, 10, JobQueue::All)
        .await
        .unwrap();
    let mut expected: Vec<_> = fx
        .jobs
        .iter()
        .map(|j| (j.id.clone(), j.kind, j.due_at, j.payload.clone()))
        .collect();
    expected.sort_by_key(|e| e.2);
    let got: Vec<_> = later
        .iter()
        .map(|j| (j.id.clone(), j.kind, j.due_at, j.payload.clone()))
        .collect();
    assert_eq!(got, expected, "all three, oldest due first");

    let events = store.list_events(&c.id, &v.id).await.unwrap();
    let got: Vec<_> = events
        .iter()
        .map(|e| (e.kind, e.channel, e.detail.clone(), e.at, &e.verification_id))
        .collect();
    let want: Vec<_> = fx
        .events()
        .iter()
        .map(|e| (e.kind, e.channel, e.detail.clone(), e.at, &v.id))
        .collect();
    assert_eq!(got, want);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));

    // An identity transition returns the record unchanged.
    let mut noop = |_: &mut Verification| Effects::default();
    assert_eq!(
        store.update_verification(&c.id, &v.id, None, &mut noop).await.unwrap(),
        Some(v.clone())
    );
    assert_eq!(store.get_verification(&c.id, &v.id).await.unwrap(), Some(v));
}

async fn tenant_scoping(store: Arc<dyn Store>) {
    let owner = client(&store).await;
    let other = client(&store).await;
    let (v, fx) = stored_sms(&store, &owner.id).await;
    let unknown = VerificationId::generate();

    assert_eq!(store.get_verification(&other.id, &v.id).await.unwrap(), None);
    assert_eq!(store.get_verification(&owner.id, &unknown).await.unwrap(), None);

    let mut called = 0;
    let mut cancel = |v: &mut Verification| {
        called += 1;
        let mut fx = Effects::default();
        let _ = v.cancel(NOW, &mut fx);
        fx
    };
    let job = &fx.jobs[0].id;
    assert_eq!(
        store
            .update_verification(&other.id, &v.id, Some(job), &mut cancel)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .update_verification(&owner.id, &unknown, None, &mut cancel)
            .await
            .unwrap(),
        None
    );
    assert_eq!(called, 0, "the transition never sees another client's record");
    assert_eq!(store.get_verification(&owner.id, &v.id).await.unwrap(), Some(v.clone()));
    // Nor was the job it named deleted.
    assert_eq!(claimable(&store, NOW).await, vec![job.clone()]);

    assert!(store.list_events(&other.id, &v.id).await.unwrap().is_empty());
    assert!(store.list_events(&owner.id, &unknown).await.unwrap().is_empty());
    assert_eq!(
        store.list_events(&owner.id, &v.id).await.unwrap().len(),
        fx.events().len()
    );
}

async fn fifty_concurrent_wrong_checks(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, _) = stored_sms(&store, &c.id).await;
    let now = NOW.plus_secs(1);

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, v) = (store.clone(), v.clone());
            tokio::spawn(async move { check(&store, &v, WRONG, now).await })
        })
        .collect();
    let mut evaluated = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(outcome) => evaluated.push(outcome),
            Err(CoreError::NotPending {
                status: Status::MaxAttemptsReached,
            }) => refused += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(evaluated.len(), 5, "exactly max_checks wrong codes are evaluated");
    assert_eq!(refused, 45);
    assert!(evaluated.iter().all(|o| !o.valid));
    // Serialised: each evaluation saw the previous one's counter.
    let mut remaining: Vec<_> = evaluated.iter().map(|o| o.remaining_attempts).collect();
    remaining.sort_unstable();
    assert_eq!(remaining, vec![0, 1, 2, 3, 4]);

    // The code is burned: even the right one fails now.
    assert_eq!(
        check(&store, &v, CODE, now).await,
        Err(CoreError::NotPending {
            status: Status::MaxAttemptsReached
        })
    );
    let stored = store.get_verification(&c.id, &v.id).await.unwrap().unwrap();
    assert_eq!(stored.status, Status::MaxAttemptsReached);
    assert_eq!(stored.wrong_checks, 5);
    assert_eq!(stored.code_hash, None);
    let kinds = event_kinds(&store, &c.id, &v.id).await;
    assert_eq!(kinds.iter().filter(|k| **k == "check_wrong").count(), 5);
    assert_eq!(kinds.iter().filter(|k| **k == "max_attempts_reached").count(), 1);
}

async fn transitions_persist(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, _) = stored_sms(&store, &c.id).await;
    let now = NOW.plus_secs(5);

    let wrong = check(&store, &v, WRONG, now).await.unwrap();
    assert_eq!((wrong.valid, wrong.remaining_attempts), (false, 4));
    let ok = check(&store, &v, CODE, now).await.unwrap();
    assert_eq!((ok.valid, ok.status), (true, Status::Approved));

    let stored = store.get_verification(&c.id, &v.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.wrong_checks, stored.updated_at),
        (Status::Approved, 1, now)
    );
    assert_eq!((stored.code_hash, stored.sealed_code.as_deref()), (None, None));

    // The record returned by the update is the record stored.
    let mut out = None;
    let mut cancel = |v: &mut Verification| {
        let mut fx = Effects::default();
        out = Some(v.cancel(now, &mut fx));
        fx
    };
    let returned = store
        .update_verification(&c.id, &v.id, None, &mut cancel)
        .await
        .unwrap();
    assert_eq!(
        out,
        Some(Err(CoreError::NotPending {
            status: Status::Approved
        }))
    );
    assert_eq!(returned, Some(stored));
}

async fn cancel_deletes_the_pending_jobs_of_that_verification_only(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, fx) = three_steps(&c.id, NOW);
    store.insert_verification(&v, &fx, None).await.unwrap();
    let (other, other_fx) = three_steps(&c.id, NOW);
    store.insert_verification(&other, &other_fx, None).await.unwrap();
    let deliver: Vec<JobId> = fx
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Deliver)
        .map(|j| j.id.clone())
        .collect();
    assert_eq!(deliver.len(), 1);

    let mut cancel = |v: &mut Verification| {
        let mut fx = Effects::default();
        v.cancel(NOW.plus_secs(1), &mut fx).unwrap();
        assert!(fx.cancel_pending_steps);
        fx
    };
    let after = store
        .update_verification(&c.id, &v.id, None, &mut cancel)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, Status::Canceled);

    // The steps and the unsent delivery are gone (a message to an ended verification is
    // worthless; one already handed to a worker still goes out and is recorded). The other
    // verification's jobs are untouched.
    let other_ids: Vec<JobId> = other_fx.jobs.iter().map(|j| j.id.clone()).collect();
    let left = claimable(&store, NOW.plus_secs(3600)).await;
    assert!(!deliver.is_empty() && deliver.iter().all(|d| !left.contains(d)));
    assert_eq!(left, sorted(other_ids));
    let kinds = event_kinds(&store, &c.id, &v.id).await;
    assert_eq!(kinds.last().copied(), Some("canceled"));
}

async fn done_job_is_deleted_with_the_transition(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, fx) = three_steps(&c.id, NOW);
    store.insert_verification(&v, &fx, None).await.unwrap();
    let at = NOW.plus_secs(121);
    let claimed = store.claim_jobs(at, 60_000, 10, JobQueue::All).await.unwrap();
    let step = claimed
        .iter()
        .find(|j| j.kind == JobKind::Step)
        .expect("voice step due")
        .clone();
    let first_deliver = claimed
        .iter()
        .find(|j| j.kind == JobKind::Deliver)
        .expect("sms delivery due")
        .id
        .clone();
    let last_step = fx
        .jobs
        .iter()
        .find(|j| j.kind == JobKind::Step && j.id != step.id)
        .unwrap()
        .id
        .clone();

    // Unknown verification: nothing happens, and the job is not deleted.
    let mut never = |_: &mut Verification| -> Effects { panic!("must not run") };
    let gone = VerificationId::generate();
    assert_eq!(
        store
            .update_verification(&c.id, &gone, Some(&step.id), &mut never)
            .await
            .unwrap(),
        None
    );
    let other = client(&store).await;
    assert_eq!(
        store
            .update_verification(&other.id, &v.id, Some(&step.id), &mut never)
            .await
            .unwrap(),
        None
    );
    // Still there: claimable again once its lease (60 s from `at`) lapses.
    let again = claimable(&store, at.plus_secs(61)).await;
    assert!(
        again.contains(&step.id),
        "done_job must survive an update that found nothing"
    );

    // Run the voice step the way the engine does: its job is deleted in the transaction
    // that records the step, and the step's delivery is queued in it too.
    let mut run = |v: &mut Verification| run_second_step(v, at);
    let after = store
        .update_verification(&c.id, &v.id, Some(&step.id), &mut run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.next_step, after.sends), (2, 2));
    assert_eq!(
        after.sealed_code, None,
        "the code was repeated; the next step issues a new one"
    );

    let remaining = store
        .claim_jobs(NOW.plus_secs(3600), 60_000, 10, JobQueue::All)
        .await
        .unwrap();
    let ids = sorted(remaining.iter().map(|j| j.id.clone()).collect());
    let voice: Vec<_> = remaining
        .iter()
        .filter(|j| !fx.jobs.iter().any(|n| n.id == j.id))
        .collect();
    assert_eq!(voice.len(), 1, "the voice delivery was queued");
    assert_eq!((voice[0].kind, voice[0].due_at), (JobKind::Deliver, at));
    let want = sorted(vec![first_deliver, last_step, voice[0].id.clone()]);
    assert_eq!(ids, want, "the finished step job is gone, the others remain");
    let events = store.list_events(&c.id, &v.id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.channel),
        ("send_queued", Some(Channel::Voice))
    );
}

/// Runs step 1 (the second) of `v` at `now` as the engine does, issuing code 654321 if the
/// step asks for a new one.
fn run_second_step(v: &mut Verification, now: Timestamp) -> Effects {
    let (keys, codes) = (keys(), ScriptedCodeSource::new(["654321"]));
    let ctx = Ctx {
        keys: &keys,
        codes: &codes,
        sms_template: None,
        now,
    };
    let mut fx = Effects::default();
    v.run_step(1, &ctx, &mut fx);
    fx
}

/// The finished job and the cancelled steps can be the same kind of row in one
/// transaction: a step job that runs after expiry ends the verification.
async fn a_step_finding_the_verification_expired_cancels_the_rest(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, fx) = three_steps(&c.id, NOW);
    store.insert_verification(&v, &fx, None).await.unwrap();
    let late = NOW.plus_secs(700);
    let claimed = store.claim_jobs(late, 60_000, 10, JobQueue::All).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let step = claimed.iter().find(|j| j.kind == JobKind::Step).unwrap();
    let deliver = claimed.iter().find(|j| j.kind == JobKind::Deliver).unwrap().id.clone();

    let mut run = |v: &mut Verification| {
        let fx = run_second_step(v, late);
        assert!(fx.cancel_pending_steps && fx.jobs.is_empty());
        fx
    };
    let after = store
        .update_verification(&c.id, &v.id, Some(&step.id), &mut run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after.status, after.code_hash), (Status::Expired, None));
    let left = claimable(&store, late.plus_secs(61)).await;
    assert!(!left.contains(&deliver), "expiry took the unsent delivery with it");
    assert!(left.is_empty());
    let kinds = event_kinds(&store, &c.id, &v.id).await;
    assert_eq!(kinds.last().copied(), Some("expired"));
}

/// Per-verification options (sender id, SMS and voice templates, notify, the SIM-swap result, a silent step, the service, the do-not-share and custom-code flags, the webhook format and the face's names) are stored with the
/// verification and survive an update.
async fn options_round_trip(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (mut v, fx) = sms(&c.id, NOW);
    v.options = Options {
        sender: Some("ACME".into()),
        sms_template: Some("{brand}: {code} é ✓".into()),
        voice_template: Some("{brand} says {code}".into()),
        notify: true,
        sim_swap: Some(ringproof_core::simswap::SimSwapResult::Swapped),
        silent: Some(ringproof_core::verification::SilentAuth {
            state_hash: Some("5e".repeat(32)),
            deadline: Some(NOW.plus_secs(10).millis()),
            sealed: Some("c2VhbGVk".into()),
            ip: Some("198.51.100.4".into()),
            result: None,
        }),
        service: Some(ringproof_core::ids::ServiceId::generate().as_str().to_owned()),
        do_not_share: true,
        custom_code: true,
        webhook_format: ringproof_core::webhook::WebhookFormat::Vonage,
        face: Some(ringproof_core::webhook_format::FaceIds::Vonage {
            client_ref: Some("order-42 é".into()),
            channel_timeout_s: 120,
        }),
    };
    store.insert_verification(&v, &fx, None).await.unwrap();
    assert_eq!(store.get_verification(&c.id, &v.id).await.unwrap().as_ref(), Some(&v));

    let now = NOW.plus_secs(5);
    let _wrong = check(&store, &v, WRONG, now).await;
    let got = store.get_verification(&c.id, &v.id).await.unwrap().unwrap();
    assert_eq!((got.wrong_checks, &got.options), (1, &v.options));

    // The default (no options) reads back as the default.
    let (plain, fx) = sms(&c.id, NOW);
    store.insert_verification(&plain, &fx, None).await.unwrap();
    let got = store.get_verification(&c.id, &plain.id).await.unwrap().unwrap();
    assert_eq!(got.options, Options::default());
}

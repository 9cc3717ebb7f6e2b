//! The job queue: exclusive claims under concurrency, leases, retry, burial, completion,
//! counters and the next due time.

use std::collections::HashSet;
use std::sync::Arc;

use ringproof_core::ids::VerificationId;
use ringproof_core::job::{Job, JobKind, JobQueue, JobStats, NewJob};
use ringproof_core::ports::Store;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{EventKind, NewEvent};
use ringproof_core::webhook;
use ringproof_core::workflow::Channel;

use crate::conformance;
use crate::harness::{Backend, NOW, claim_one, client, job_for, sms, stored_sms};

conformance!(store: two_claimers_never_share_a_job);
conformance!(store: a_backlog_of_one_client_does_not_hold_up_another);
conformance!(store: two_claimers_never_share_a_job_of_several_clients);
conformance!(backend: lease_retry_bury_complete_and_counters);
conformance!(backend: complete_jobs_records_a_batch_in_one_go);
conformance!(backend: complete_jobs_adds_new_jobs_in_the_same_transaction);
conformance!(store: webhooks_are_claimed_apart_from_messages);
conformance!(store: receipts_move_a_delivery_forward_once);
conformance!(backend: a_job_of_a_kind_this_build_lacks_is_left_for_others);

/// A rolling upgrade: a newer release queued a job of a kind this build does not have. The
/// claim leaves it (pending, unleased, no attempt counted) and still takes the others.
async fn a_job_of_a_kind_this_build_lacks_is_left_for_others(b: &Backend) {
    let store = &b.store;
    let c = client(store).await;
    let (v, mut fx) = sms(&c.id, NOW);
    fx.jobs = (0..3).map(|i| job_for(&v, NOW.plus_millis(-1000 + i))).collect();
    let future_id = fx.jobs[0].id.clone();
    store.insert_verification(&v, &fx, None).await.unwrap();
    // Its kind as a newer release would write it.
    b.raw_execute("UPDATE jobs SET kind = 'from_the_future' WHERE due_at = (SELECT MIN(due_at) FROM jobs)")
        .await;
    assert_eq!(
        b.raw_count("SELECT COUNT(*) FROM jobs WHERE kind = 'from_the_future'")
            .await,
        1
    );
    let got = store.claim_jobs(NOW, 60_000, 10, JobQueue::All).await.unwrap();
    assert!(
        got.iter().all(|j| j.id != future_id),
        "claimed a job of an unknown kind"
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        b.raw_count("SELECT COUNT(*) FROM jobs WHERE kind = 'from_the_future' AND attempts = 0 AND locked_until = 0")
            .await,
        1
    );
    // Once the others are done, nothing is due for this build: a worker sleeps its full
    // poll interval instead of waking at once for a job it will not claim.
    for j in &got {
        store.complete_job(j, None).await.unwrap();
    }
    assert_eq!(store.next_job_due().await.unwrap(), None);
}

async fn two_claimers_never_share_a_job(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, mut fx) = sms(&c.id, NOW);
    fx.jobs = (0..30).map(|i| job_for(&v, NOW.plus_millis(-1000 + i))).collect();
    store.insert_verification(&v, &fx, None).await.unwrap();

    for round in 0..3u32 {
        // Each round starts after the previous round's 60 s leases lapsed.
        let at = NOW.plus_secs(61 * i64::from(round));
        let claimers: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine: Vec<Job> = Vec::new();
                    loop {
                        let got = store.claim_jobs(at, 60_000, 10, JobQueue::All).await.unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        assert!(got.len() <= 10);
                        mine.extend(got);
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in claimers {
            all.extend(t.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().map(|j| j.id.clone()).collect();
        assert_eq!(all.len(), 30, "round {round}: every job claimed exactly once");
        assert_eq!(unique.len(), 30);
        assert!(
            all.iter().all(|j| j.attempts == round + 1),
            "round {round}: one attempt per claim"
        );
        assert!(
            store
                .claim_jobs(at, 60_000, 10, JobQueue::All)
                .await
                .unwrap()
                .is_empty(),
            "leased jobs are not claimable"
        );
    }
}

/// Fair claims (ARCHITECTURE.md): client A has 300 due jobs, all older than client B's
/// one. B's job is in the first batch, and once A has a job in flight, a claim of a single
/// job takes B's; under FIFO it would come after all 300 of A's.
async fn a_backlog_of_one_client_does_not_hold_up_another(store: Arc<dyn Store>) {
    let (a, b) = (client(&store).await, client(&store).await);
    let (va, mut fx) = sms(&a.id, NOW);
    fx.jobs = (0..300).map(|i| job_for(&va, NOW.plus_millis(-10_000 + i))).collect();
    store.insert_verification(&va, &fx, None).await.unwrap();
    let (vb, mut fx) = sms(&b.id, NOW);
    let bj = job_for(&vb, NOW.plus_millis(-1));
    fx.jobs = vec![bj.clone()];
    store.insert_verification(&vb, &fx, None).await.unwrap();

    let first = store.claim_jobs(NOW, 60_000, 10, JobQueue::All).await.unwrap();
    assert_eq!(first.len(), 10);
    // In turns: each client's oldest first (A's is older), then A's next in due order.
    assert_eq!(first[1].id, bj.id, "B's job is in the first batch, second in turn");
    assert_eq!(first[0].client_id, a.id);
    assert!(first[2..].iter().all(|j| j.client_id == a.id));

    // Claims of one job, as a worker with one free slot makes: with A busy (nine in
    // flight) and B not (its job done), B's next job goes first.
    store.complete_job(&first[1], None).await.unwrap();
    let (vb2, mut fx) = sms(&b.id, NOW);
    let bj2 = job_for(&vb2, NOW.plus_millis(500));
    fx.jobs = vec![bj2.clone()];
    store.insert_verification(&vb2, &fx, None).await.unwrap();
    let at = NOW.plus_secs(1);
    let next = store.claim_jobs(at, 60_000, 1, JobQueue::All).await.unwrap();
    assert_eq!(next.iter().map(|j| &j.id).collect::<Vec<_>>(), vec![&bj2.id]);
    // B is busy too now: the oldest due job of the busy clients, A's.
    let next = store.claim_jobs(at, 60_000, 1, JobQueue::All).await.unwrap();
    assert_eq!(next[0].client_id, a.id);
    assert_eq!(next[0].due_at, NOW.plus_millis(-10_000 + 9));
}

/// The fair claim keeps the exclusive one: two claimers over the jobs of three clients
/// never receive the same job.
async fn two_claimers_never_share_a_job_of_several_clients(store: Arc<dyn Store>) {
    for n in [20, 7, 3] {
        let c = client(&store).await;
        let (v, mut fx) = sms(&c.id, NOW);
        fx.jobs = (0..n).map(|i| job_for(&v, NOW.plus_millis(-1000 + i))).collect();
        store.insert_verification(&v, &fx, None).await.unwrap();
    }
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine: Vec<Job> = Vec::new();
                loop {
                    let got = store.claim_jobs(NOW, 60_000, 3, JobQueue::All).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    assert!(got.len() <= 3);
                    mine.extend(got);
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in claimers {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().map(|j| j.id.clone()).collect();
    assert_eq!((all.len(), unique.len()), (30, 30), "every job claimed exactly once");
}

/// Claims up to 10 jobs due at `at` from every queue, leasing them for 5 s.
async fn claim(store: &Arc<dyn Store>, at: Timestamp) -> Vec<Job> {
    store.claim_jobs(at, 5000, 10, JobQueue::All).await.unwrap()
}

fn ids(jobs: &[Job]) -> Vec<String> {
    jobs.iter().map(|j| j.id.to_string()).collect()
}

async fn lease_retry_bury_complete_and_counters(b: &Backend) {
    let store = &b.store;
    let c = client(store).await;
    let (v, mut fx) = sms(&c.id, NOW);
    let (a, bj, cj) = (
        job_for(&v, NOW.plus_millis(-10)),
        job_for(&v, NOW),
        job_for(&v, NOW.plus_millis(1000)),
    );
    fx.jobs = vec![cj.clone(), bj.clone(), a.clone()];
    store.insert_verification(&v, &fx, None).await.unwrap();
    let at = |ms: i64| NOW.plus_millis(ms);
    let stats = |due, scheduled, dead| JobStats { due, scheduled, dead };

    assert_eq!(store.job_stats(NOW).await.unwrap(), stats(2, 1, 0));
    assert_eq!(store.next_job_due().await.unwrap(), Some(at(-10)));

    // Oldest due first, `limit` respected; the future job is not claimed.
    let first = store.claim_jobs(NOW, 5000, 1, JobQueue::All).await.unwrap();
    assert_eq!(ids(&first), vec![a.id.to_string()]);
    assert_eq!((first[0].attempts, first[0].payload.clone()), (1, a.payload.clone()));
    let second = claim(store, NOW).await;
    assert_eq!(ids(&second), vec![bj.id.to_string()]);
    assert!(claim(store, at(1)).await.is_empty(), "leased or not yet due");

    // Leased jobs count as due; the next claim can succeed when C falls due.
    assert_eq!(store.job_stats(NOW).await.unwrap(), stats(2, 1, 0));
    assert_eq!(store.next_job_due().await.unwrap(), Some(at(1000)));
    assert_eq!(ids(&claim(store, at(1000)).await), vec![cj.id.to_string()]);
    // Everything is leased: the earliest lease end (A's and B's) is next.
    assert_eq!(store.next_job_due().await.unwrap(), Some(at(5000)));
    assert!(claim(store, at(4999)).await.is_empty());

    // The lease lapses at its end: claimable again, attempt counted.
    let again = claim(store, at(5000)).await;
    assert_eq!(ids(&again), vec![a.id.to_string(), bj.id.to_string()]);
    assert!(again.iter().all(|j| j.attempts == 2));

    // Retry: released at once (no lease), due later.
    store.retry_job(&a.id, at(20_000), "timeout").await.unwrap();
    // Bury: a dead letter with its payload erased, never claimed again.
    store.bury_job(&bj.id, "number blocked", at(5001)).await.unwrap();
    let (payload, state) = b.raw_job(&bj.id).await.expect("a dead job is kept");
    assert!(payload.is_empty(), "a buried job's payload is erased");
    assert_eq!(state, "dead");

    // Pending now: A (due +20 s, free) and C (leased until +6 s).
    assert_eq!(store.next_job_due().await.unwrap(), Some(at(6000)));
    assert_eq!(store.job_stats(at(7000)).await.unwrap(), stats(1, 1, 1));
    let c_again = claim(store, at(7000)).await;
    assert_eq!(ids(&c_again), vec![cj.id.to_string()]);
    assert_eq!(c_again[0].attempts, 2);

    // Complete: the row goes, the event is recorded on the verification.
    let sent = NewEvent {
        kind: EventKind::Sent,
        channel: Some(Channel::Sms),
        detail: Some("via test".into()),
        at: at(7001),
    };
    store.complete_job(&c_again[0], Some(&sent)).await.unwrap();
    assert_eq!(b.raw_job(&cj.id).await, None);
    let last = store.list_events(&c.id, &v.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.channel, last.detail.as_deref(), last.at),
        ("sent", Some(Channel::Sms), Some("via test"), at(7001))
    );

    assert_eq!(store.next_job_due().await.unwrap(), Some(at(20_000)));
    assert!(
        claim(store, at(19_999)).await.is_empty(),
        "a retried job waits for its new due time"
    );
    let retried = claim(store, at(20_000)).await;
    assert_eq!(ids(&retried), vec![a.id.to_string()]);
    assert_eq!((retried[0].attempts, retried[0].due_at), (3, at(20_000)));
    let events_before = store.list_events(&c.id, &v.id).await.unwrap().len();
    store.complete_job(&retried[0], None).await.unwrap();
    assert_eq!(store.list_events(&c.id, &v.id).await.unwrap().len(), events_before);

    // Only the dead letter is left.
    assert_eq!(store.next_job_due().await.unwrap(), None);
    assert_eq!(store.job_stats(Timestamp(i64::MAX)).await.unwrap(), stats(0, 0, 1));
    assert!(claim(store, Timestamp(i64::MAX / 2)).await.is_empty());
}

async fn complete_jobs_records_a_batch_in_one_go(b: &Backend) {
    let store = &b.store;
    let c = client(store).await;
    let other = client(store).await;
    let (v1, _) = stored_sms(store, &c.id).await;
    let (v2, _) = stored_sms(store, &c.id).await;
    let (v3, _) = stored_sms(store, &other.id).await;
    let mut jobs = store
        .claim_jobs(NOW.plus_secs(1), 60_000, 10, JobQueue::All)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3, "one deliver job per verification");
    jobs.sort_by_key(|j| {
        [&v1.id, &v2.id, &v3.id]
            .iter()
            .position(|v| j.verification_id.as_ref() == Some(*v))
    });
    let events_before = |v: &ringproof_core::verification::Verification| {
        let (store, client, id) = (store.clone(), v.client_id.clone(), v.id.clone());
        async move { store.list_events(&client, &id).await.unwrap().len() }
    };
    let v3_events = events_before(&v3).await;
    let sent = |ms: i64| NewEvent {
        kind: EventKind::Sent,
        channel: Some(Channel::Sms),
        detail: Some(format!("via test {ms}")),
        at: NOW.plus_millis(ms),
    };
    let (e1, e2) = (sent(1), sent(2));

    store.complete_jobs(&[], &[], &[]).await.unwrap();
    store
        .complete_jobs(
            &[(&jobs[0], Some(&e1)), (&jobs[2], None), (&jobs[1], Some(&e2))],
            &[],
            &[],
        )
        .await
        .unwrap();

    // Every job is gone (payload erased with it), and each event landed on its own
    // verification, of its own client.
    for j in &jobs {
        assert_eq!(b.raw_job(&j.id).await, None);
    }
    for (v, e) in [(&v1, &e1), (&v2, &e2)] {
        let last = store.list_events(&c.id, &v.id).await.unwrap().pop().unwrap();
        assert_eq!(
            (last.kind.as_str(), last.channel, last.detail.as_deref(), last.at),
            ("sent", Some(Channel::Sms), e.detail.as_deref(), e.at)
        );
    }
    assert_eq!(events_before(&v3).await, v3_events, "no event where none was given");
    assert!(claim(store, Timestamp(i64::MAX / 2)).await.is_empty());

    // Completing again (a duplicate after a lost answer) changes nothing but the events,
    // and an event whose verification is gone is dropped without failing the batch.
    let (v4, _) = stored_sms(store, &c.id).await;
    let j4 = claim_one(store, NOW.plus_secs(2)).await;
    assert_eq!(j4.verification_id.as_ref(), Some(&v4.id));
    assert_eq!(
        store
            .purge(Timestamp(i64::MAX / 2), NOW, Timestamp(0), Timestamp(0))
            .await
            .unwrap(),
        4
    );
    store.complete_jobs(&[(&j4, Some(&e1))], &[], &[]).await.unwrap();
    assert_eq!(b.raw_job(&j4.id).await, None);
}

/// The batch that records sent messages also queues their webhooks: new jobs go in with
/// the completions, or (on error) nothing happens at all. A new job for a verification that
/// is gone, or of another client, is dropped without failing the batch.
async fn complete_jobs_adds_new_jobs_in_the_same_transaction(b: &Backend) {
    let store = &b.store;
    let c = client(store).await;
    let other = client(store).await;
    let (v1, _) = stored_sms(store, &c.id).await;
    let j1 = claim_one(store, NOW.plus_secs(1)).await;
    let sent = NewEvent {
        kind: EventKind::Sent,
        channel: Some(Channel::Sms),
        detail: Some("via test".into()),
        at: NOW.plus_secs(1),
    };
    let hook = webhook::job(&c.id, &v1.id, &sent);
    let gone = webhook::job(&c.id, &VerificationId::generate(), &sent);
    let foreign = webhook::job(&other.id, &v1.id, &sent);
    store
        .complete_jobs(
            &[(&j1, Some(&sent))],
            &[hook.clone(), gone.clone(), foreign.clone()],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(b.raw_job(&j1.id).await, None);
    assert_eq!(
        b.raw_job(&hook.id).await,
        Some((hook.payload.clone(), "pending".into()))
    );
    assert_eq!(
        b.raw_job(&gone.id).await,
        None,
        "no job for a verification that is gone"
    );
    assert_eq!(b.raw_job(&foreign.id).await, None, "no job across clients");
    let claimed = store
        .claim_jobs(NOW.plus_secs(2), 60_000, 10, JobQueue::All)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), vec![hook.id.to_string()]);
    let w = &claimed[0];
    assert_eq!(
        (
            w.kind,
            &w.client_id,
            w.verification_id.as_ref(),
            w.due_at,
            w.attempts,
            w.max_attempts
        ),
        (JobKind::Webhook, &c.id, Some(&v1.id), NOW.plus_secs(1), 1, 8)
    );
    assert_eq!(w.payload, hook.payload);

    // A batch that cannot be written in full (a new job's id is taken) writes nothing: the
    // completed job stays, its event is not recorded, no new job appears.
    let (v2, _) = stored_sms(store, &c.id).await;
    let j2 = claim_one(store, NOW.plus_secs(3)).await;
    assert_eq!(j2.verification_id.as_ref(), Some(&v2.id));
    let events_before = store.list_events(&c.id, &v2.id).await.unwrap();
    let fresh = webhook::job(&c.id, &v2.id, &sent);
    let clash = NewJob {
        id: hook.id.clone(),
        ..webhook::job(&c.id, &v2.id, &sent)
    };
    assert!(
        store
            .complete_jobs(&[(&j2, Some(&sent))], &[fresh.clone(), clash], &[])
            .await
            .is_err()
    );
    assert!(b.raw_job(&j2.id).await.is_some(), "the completed job is still there");
    assert_eq!(b.raw_job(&fresh.id).await, None);
    assert_eq!(store.list_events(&c.id, &v2.id).await.unwrap(), events_before);
    // And the store still works after the failed batch.
    store
        .complete_jobs(&[(&j2, Some(&sent))], std::slice::from_ref(&fresh), &[])
        .await
        .unwrap();
    assert_eq!(b.raw_job(&j2.id).await, None);
    assert!(b.raw_job(&fresh.id).await.is_some());
}

/// Webhook jobs and every other kind are claimed by separate queues (each with its own
/// worker slots); `All` takes both.
async fn webhooks_are_claimed_apart_from_messages(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, mut fx) = sms(&c.id, NOW);
    let mut step = job_for(&v, NOW);
    step.kind = JobKind::Step;
    let mut expire = job_for(&v, NOW);
    expire.kind = JobKind::Expire;
    let mut hook = job_for(&v, NOW);
    hook.kind = JobKind::Webhook;
    fx.jobs = vec![job_for(&v, NOW), step, expire, hook.clone()];
    store.insert_verification(&v, &fx, None).await.unwrap();

    let at = NOW.plus_secs(1);
    let hooks = store.claim_jobs(at, 60_000, 10, JobQueue::Webhooks).await.unwrap();
    assert_eq!(
        hooks.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
        vec![hook.id.clone()]
    );
    let mut kinds: Vec<&str> = store
        .claim_jobs(at, 60_000, 10, JobQueue::Messages)
        .await
        .unwrap()
        .iter()
        .map(|j| j.kind.as_str())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["deliver", "expire", "step"]);
    let all = store
        .claim_jobs(at.plus_secs(61), 60_000, 10, JobQueue::All)
        .await
        .unwrap();
    assert_eq!(all.len(), 4, "after the leases lapse, All takes every kind");
}

/// A send recorded with its job moves forward once per receipt: unknown ids, other
/// providers, repeats and backward moves are ignored, and of concurrent receipts exactly
/// one wins. A send of a verification that is gone is not recorded.
async fn receipts_move_a_delivery_forward_once(store: Arc<dyn Store>) {
    use ringproof_core::delivery::{DeliveryRecord, ReceiptMatch};
    use ringproof_core::ports::DeliveryStatus::{Delivered, Failed, Sent};

    let c = client(&store).await;
    let (v, _) = stored_sms(&store, &c.id).await;
    let job = store
        .claim_jobs(NOW.plus_secs(1), 60_000, 10, JobQueue::All)
        .await
        .unwrap()
        .remove(0);
    let record = |vid: &VerificationId, mid: &str| DeliveryRecord {
        provider: "twilio_us".into(),
        provider_message_id: mid.into(),
        client_id: c.id.clone(),
        verification_id: vid.clone(),
        channel: Channel::Sms,
        region: Some("US".into()),
        sent_at: NOW.plus_secs(1),
        seq: 1,
    };
    let ghost = VerificationId::generate();
    // Another client's send, with no known region.
    let other = client(&store).await;
    let (ov, _) = stored_sms(&store, &other.id).await;
    let theirs = DeliveryRecord {
        client_id: other.id.clone(),
        region: None,
        seq: 2,
        ..record(&ov.id, "SM3")
    };
    store
        .complete_jobs(
            &[(&job, None)],
            &[],
            &[record(&v.id, "SM1"), record(&ghost, "SM2"), theirs],
        )
        .await
        .unwrap();

    let apply = |mid: &'static str, provider: &'static str, st| {
        let store = store.clone();
        async move { store.apply_receipt(provider, mid, st, NOW.plus_secs(5)).await.unwrap() }
    };
    assert_eq!(
        apply("SM2", "twilio_us", Delivered).await,
        None,
        "the ghost's send was not kept"
    );
    assert_eq!(apply("SM1", "vonage", Delivered).await, None, "ids are per provider");
    assert_eq!(apply("nope", "twilio_us", Delivered).await, None);
    let want = ReceiptMatch {
        client_id: c.id.clone(),
        verification_id: v.id.clone(),
        channel: Channel::Sms,
        region: Some("US".into()),
        sent_at: NOW.plus_secs(1),
        seq: 1,
    };
    assert_eq!(
        apply("SM3", "twilio_us", Delivered).await,
        Some(ReceiptMatch {
            client_id: other.id.clone(),
            verification_id: ov.id.clone(),
            region: None,
            seq: 2,
            ..want.clone()
        }),
        "each send keeps its own client and verification"
    );
    assert_eq!(apply("SM1", "twilio_us", Sent).await, Some(want.clone()));
    assert_eq!(apply("SM1", "twilio_us", Sent).await, None, "a repeat");
    let racers: Vec<_> = (0..8)
        .map(|_| tokio::spawn(apply("SM1", "twilio_us", Delivered)))
        .collect();
    let mut won = 0;
    for r in racers {
        if let Some(m) = r.await.unwrap() {
            assert_eq!(m, want);
            won += 1;
        }
    }
    assert_eq!(won, 1, "one of the concurrent receipts moves it");
    assert_eq!(apply("SM1", "twilio_us", Failed).await, None, "final stays final");
    assert_eq!(apply("SM1", "twilio_us", Sent).await, None);

    // The provider reuses the id for a later send (an SMSC whose counter restarted): its
    // receipts go to the newest send, never to the old verification.
    let (later, _) = stored_sms(&store, &c.id).await;
    store
        .complete_jobs(&[], &[], &[record(&later.id, "SM1")])
        .await
        .unwrap();
    let m = apply("SM1", "twilio_us", Delivered).await.unwrap();
    assert_eq!(m.verification_id, later.id);
}

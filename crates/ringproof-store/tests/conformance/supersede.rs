//! `insert_verification_superseding`: a new verification to a number cancels the client's
//! pending ones to that number in the same transaction; concurrent inserts for one number
//! leave exactly one pending; other numbers and other clients are untouched.

use std::sync::Arc;

use ringproof_core::ids::ServiceId;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::Store;
use ringproof_core::verification::{Effects, Status, Verification};

use crate::conformance;
use crate::harness::{NOW, client, phone, sms};

conformance!(
    store: supersedes_only_the_clients_pending_ones_to_the_number,
    concurrent_sends_leave_exactly_one_pending,
    latest_prefers_the_pending_one,
    latest_in_service_sees_only_that_service
);

fn cancel(now: ringproof_core::time::Timestamp) -> impl FnMut(&mut Verification) -> Effects + Send {
    move |v: &mut Verification| {
        let mut fx = Effects::default();
        let _ = v.cancel(now, &mut fx);
        fx
    }
}

async fn status(store: &Arc<dyn Store>, v: &Verification) -> Status {
    store
        .get_verification(&v.client_id, &v.id)
        .await
        .unwrap()
        .expect("stored")
        .status
}

async fn supersedes_only_the_clients_pending_ones_to_the_number(store: Arc<dyn Store>) {
    let (c, other) = (client(&store).await, client(&store).await);
    let (first, fx) = sms(&c.id, NOW);
    assert_eq!(
        store
            .insert_verification_superseding(&first, &fx, &mut cancel(NOW))
            .await
            .unwrap(),
        0
    );
    // Same client, another number; another client, the same number.
    let (mut elsewhere, fx2) = sms(&c.id, NOW);
    elsewhere.to = PhoneNumber::parse_e164("+14155550124").unwrap();
    store.insert_verification(&elsewhere, &fx2, None).await.unwrap();
    let (theirs, fx3) = sms(&other.id, NOW);
    store.insert_verification(&theirs, &fx3, None).await.unwrap();

    let later = NOW.plus_secs(1);
    let (second, fx) = sms(&c.id, later);
    assert_eq!(
        store
            .insert_verification_superseding(&second, &fx, &mut cancel(later))
            .await
            .unwrap(),
        1
    );
    assert_eq!(status(&store, &first).await, Status::Canceled);
    assert_eq!(status(&store, &second).await, Status::Pending);
    assert_eq!(status(&store, &elsewhere).await, Status::Pending);
    assert_eq!(status(&store, &theirs).await, Status::Pending);
    let events = store.list_events(&c.id, &first.id).await.unwrap();
    assert!(events.iter().any(|e| e.kind.as_str() == "canceled"), "{events:?}");
    // The superseded record's code is gone.
    let got = store.get_verification(&c.id, &first.id).await.unwrap().unwrap();
    assert!(got.code_hash.is_none());
}

async fn concurrent_sends_leave_exactly_one_pending(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        let id = c.id.clone();
        tasks.push(tokio::spawn(async move {
            let now = NOW.plus_millis(i);
            let (v, fx) = sms(&id, now);
            let n = store
                .insert_verification_superseding(&v, &fx, &mut cancel(now))
                .await
                .unwrap();
            (v, n)
        }));
    }
    let mut all = Vec::new();
    let mut superseded = 0;
    for t in tasks {
        let (v, n) = t.await.unwrap();
        superseded += n;
        all.push(v);
    }
    let mut pending = 0;
    for v in &all {
        match status(&store, v).await {
            Status::Pending => pending += 1,
            Status::Canceled => {}
            s => panic!("unexpected {s:?}"),
        }
    }
    assert_eq!(pending, 1);
    // Each insert superseded exactly the one pending before it (the first found none).
    assert_eq!(superseded, 19);
}

async fn latest_prefers_the_pending_one(store: Arc<dyn Store>) {
    let c = client(&store).await;
    assert!(store.latest_verification_to(&c.id, &phone()).await.unwrap().is_none());
    let (a, fx) = sms(&c.id, NOW);
    store.insert_verification(&a, &fx, None).await.unwrap();
    let (b, fx) = sms(&c.id, NOW.plus_secs(1));
    store.insert_verification(&b, &fx, None).await.unwrap();
    assert_eq!(
        store.latest_verification_to(&c.id, &phone()).await.unwrap().unwrap().id,
        b.id
    );
    // Cancel the newer: the older pending one is the one a check goes to.
    let mut m = cancel(NOW.plus_secs(2));
    store.update_verification(&c.id, &b.id, None, &mut m).await.unwrap();
    assert_eq!(
        store.latest_verification_to(&c.id, &phone()).await.unwrap().unwrap().id,
        a.id
    );
    store.update_verification(&c.id, &a.id, None, &mut m).await.unwrap();
    // Nothing pending: the newest of any status.
    assert_eq!(
        store.latest_verification_to(&c.id, &phone()).await.unwrap().unwrap().id,
        b.id
    );
    // Scoped by client.
    let other = client(&store).await;
    assert!(
        store
            .latest_verification_to(&other.id, &phone())
            .await
            .unwrap()
            .is_none()
    );
}

/// The newest verification to a number *in a service*: a newer pending one of another
/// service, or of none (the native API), does not hide it; the same order within it.
async fn latest_in_service_sees_only_that_service(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (va, vb) = (ServiceId::generate(), ServiceId::generate());
    let in_service = |s: Option<&ServiceId>, at| {
        let (mut v, fx) = sms(&c.id, at);
        v.options.service = s.map(|s| s.as_str().to_owned());
        (v, fx)
    };
    let (a1, fx) = in_service(Some(&va), NOW);
    store.insert_verification(&a1, &fx, None).await.unwrap();
    let (a2, fx) = in_service(Some(&va), NOW.plus_secs(1));
    store.insert_verification(&a2, &fx, None).await.unwrap();
    let (b, fx) = in_service(Some(&vb), NOW.plus_secs(2));
    store.insert_verification(&b, &fx, None).await.unwrap();
    let (native, fx) = in_service(None, NOW.plus_secs(3));
    store.insert_verification(&native, &fx, None).await.unwrap();
    let latest = |s: ServiceId| {
        let store = store.clone();
        let c = c.id.clone();
        async move {
            store
                .latest_verification_in_service(&c, &s, &phone())
                .await
                .unwrap()
                .map(|v| v.id)
        }
    };
    assert_eq!(latest(va.clone()).await, Some(a2.id.clone()));
    assert_eq!(latest(vb.clone()).await, Some(b.id.clone()));
    assert_eq!(latest(ServiceId::generate()).await, None);
    // The newer one of the service canceled: its older pending one.
    let mut m = cancel(NOW.plus_secs(4));
    store.update_verification(&c.id, &a2.id, None, &mut m).await.unwrap();
    assert_eq!(latest(va.clone()).await, Some(a1.id.clone()));
    // Another client's id of the same service finds nothing.
    let other = client(&store).await;
    assert!(
        store
            .latest_verification_in_service(&other.id, &va, &phone())
            .await
            .unwrap()
            .is_none()
    );
}

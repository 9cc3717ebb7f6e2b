//! Purge: old terminal verifications (with their events and jobs) and old idempotency
//! records go; everything still live stays.

use std::sync::Arc;

use ringproof_core::ports::{IdempotentResponse, Store};
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Effects, Status, Verification};

use crate::conformance;
use crate::harness::{CODE, NOW, claimable, client, keys, sms, sorted};

conformance!(store: purge_removes_only_what_retention_allows);

const DAY_S: i64 = 24 * 3600;

async fn insert(store: &Arc<dyn Store>, v: &Verification, fx: &Effects, idem: Option<&IdempotentResponse>) {
    store.insert_verification(v, fx, idem).await.unwrap();
}

async fn purge_removes_only_what_retention_allows(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let keys = keys();
    let idem = |key: &str, at: Timestamp| IdempotentResponse {
        client_id: c.id.clone(),
        key: key.into(),
        request_hash: [9; 32],
        status: 201,
        body: "{}".into(),
        created_at: at,
    };

    // Approved long ago: purged.
    let (old_done, fx) = sms(&c.id, NOW);
    insert(&store, &old_done, &fx, Some(&idem("old", NOW))).await;
    let mut approve = |v: &mut Verification| {
        let mut fx = Effects::default();
        v.check(CODE, &keys, NOW.plus_secs(10), &mut fx).unwrap();
        fx
    };
    let approved = store
        .update_verification(&c.id, &old_done.id, None, &mut approve)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approved.status, Status::Approved);

    // Pending but expired long ago, never touched again: expired in all but name, purged.
    let (abandoned, fx) = sms(&c.id, NOW);
    insert(&store, &abandoned, &fx, None).await;

    // Canceled recently: kept.
    let recent = NOW.plus_secs(10 * DAY_S);
    let (recent_done, recent_fx) = sms(&c.id, recent.plus_secs(-100));
    insert(&store, &recent_done, &recent_fx, None).await;
    let mut cancel = |v: &mut Verification| {
        let mut fx = Effects::default();
        v.cancel(recent, &mut fx).unwrap();
        fx
    };
    store
        .update_verification(&c.id, &recent_done.id, None, &mut cancel)
        .await
        .unwrap()
        .unwrap();

    // Pending and live: kept.
    let (live, live_fx) = sms(&c.id, recent);
    insert(&store, &live, &live_fx, Some(&idem("new", recent))).await;

    let cutoff = NOW.plus_secs(DAY_S);
    assert_eq!(
        store.purge(cutoff, cutoff, Timestamp(0), Timestamp(0)).await.unwrap(),
        2
    );

    for gone in [&old_done, &abandoned] {
        assert_eq!(store.get_verification(&c.id, &gone.id).await.unwrap(), None);
        assert!(
            store.list_events(&c.id, &gone.id).await.unwrap().is_empty(),
            "events go with the record"
        );
    }
    for kept in [&recent_done, &live] {
        assert!(store.get_verification(&c.id, &kept.id).await.unwrap().is_some());
        assert!(!store.list_events(&c.id, &kept.id).await.unwrap().is_empty());
    }
    assert_eq!(
        store.idempotent_response(&c.id, "old", Timestamp(0)).await.unwrap(),
        None
    );
    assert!(
        store
            .idempotent_response(&c.id, "new", Timestamp(0))
            .await
            .unwrap()
            .is_some()
    );

    // Jobs of purged records are gone; the live one's remain (the canceled one's unsent
    // delivery went with its cancellation).
    let remaining = claimable(&store, recent.plus_secs(3600)).await;
    assert_eq!(remaining, sorted(vec![live_fx.jobs[0].id.clone()]));

    // Nothing more to do.
    assert_eq!(
        store.purge(cutoff, cutoff, Timestamp(0), Timestamp(0)).await.unwrap(),
        0
    );
    assert_eq!(
        store.client_by_id(&c.id).await.unwrap().map(|x| x.id),
        Some(c.id.clone())
    );
}

//! Idempotent responses: stored atomically with the verification, looked up within their
//! window, exclusive per (client, key), reusable once stale.

use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ids::ClientId;
use ringproof_core::ports::{IdempotentResponse, Store};
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::{NOW, claimable, client, sms, sorted};

conformance!(store: idempotent_insert_lookup_and_window, duplicate_key_conflicts_and_rolls_back, concurrent_same_key_exactly_one_wins);

const DAY_S: i64 = 24 * 3600;

fn record(client: &ClientId, key: &str, hash: u8, at: Timestamp) -> IdempotentResponse {
    IdempotentResponse {
        client_id: client.clone(),
        key: key.into(),
        request_hash: [hash; 32],
        status: 201,
        body: format!("{{\"sid\":\"{hash}\"}}"),
        created_at: at,
    }
}

async fn idempotent_insert_lookup_and_window(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let rec = record(&c.id, "key-1", 1, NOW);
    let (v, fx) = sms(&c.id, NOW);
    store.insert_verification(&v, &fx, Some(&rec)).await.unwrap();
    assert!(store.get_verification(&c.id, &v.id).await.unwrap().is_some());

    assert_eq!(
        store
            .idempotent_response(&c.id, "key-1", NOW.plus_secs(-DAY_S))
            .await
            .unwrap(),
        Some(rec.clone())
    );
    assert_eq!(
        store.idempotent_response(&c.id, "key-1", NOW).await.unwrap(),
        Some(rec.clone()),
        "not_before is inclusive"
    );
    assert_eq!(
        store
            .idempotent_response(&c.id, "key-1", NOW.plus_millis(1))
            .await
            .unwrap(),
        None,
        "outside the window"
    );
    assert_eq!(
        store.idempotent_response(&c.id, "key-2", Timestamp(0)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .idempotent_response(&other.id, "key-1", Timestamp(0))
            .await
            .unwrap(),
        None,
        "keys are per client"
    );

    // The same key is free for another client.
    let (v2, fx2) = sms(&other.id, NOW);
    let rec2 = record(&other.id, "key-1", 2, NOW);
    store.insert_verification(&v2, &fx2, Some(&rec2)).await.unwrap();
    assert_eq!(
        store
            .idempotent_response(&other.id, "key-1", Timestamp(0))
            .await
            .unwrap(),
        Some(rec2)
    );
    assert_eq!(
        store.idempotent_response(&c.id, "key-1", Timestamp(0)).await.unwrap(),
        Some(rec.clone())
    );

    // Past the 24 h window the stale record no longer blocks the key: it is replaced.
    let later = NOW.plus_secs(DAY_S + 1);
    let rec3 = record(&c.id, "key-1", 3, later);
    let (v3, fx3) = sms(&c.id, later);
    store.insert_verification(&v3, &fx3, Some(&rec3)).await.unwrap();
    assert_eq!(
        store.idempotent_response(&c.id, "key-1", Timestamp(0)).await.unwrap(),
        Some(rec3)
    );
}

async fn duplicate_key_conflicts_and_rolls_back(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let rec = record(&c.id, "dup", 1, NOW);
    let (v1, fx1) = sms(&c.id, NOW);
    store.insert_verification(&v1, &fx1, Some(&rec)).await.unwrap();

    // Within the window, even with a different request: Conflict, and nothing of the
    // second start is stored.
    let at = NOW.plus_secs(60);
    let (v2, fx2) = sms(&c.id, at);
    let rec2 = record(&c.id, "dup", 2, at);
    assert!(matches!(
        store.insert_verification(&v2, &fx2, Some(&rec2)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_verification(&c.id, &v2.id).await.unwrap(), None);
    assert!(store.list_events(&c.id, &v2.id).await.unwrap().is_empty());
    let v1_jobs = sorted(fx1.jobs.iter().map(|j| j.id.clone()).collect());
    assert_eq!(
        claimable(&store, NOW.plus_secs(3600)).await,
        v1_jobs,
        "no job of the refused start"
    );
    assert_eq!(
        store.idempotent_response(&c.id, "dup", Timestamp(0)).await.unwrap(),
        Some(rec)
    );
}

async fn concurrent_same_key_exactly_one_wins(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let (store, id) = (store.clone(), c.id.clone());
            tokio::spawn(async move {
                let (v, fx) = sms(&id, NOW);
                let r = store
                    .insert_verification(&v, &fx, Some(&record(&id, "race", i, NOW)))
                    .await;
                (v, r)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (v, r) = t.await.unwrap();
        match r {
            Ok(()) => winners.push(v),
            Err(StoreError::Conflict(_)) => assert_eq!(store.get_verification(&c.id, &v.id).await.unwrap(), None),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert!(store.get_verification(&c.id, &winners[0].id).await.unwrap().is_some());
}

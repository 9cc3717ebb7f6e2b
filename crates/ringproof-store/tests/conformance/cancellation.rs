//! Callers that give up mid-operation (a client disconnecting drops the request future)
//! must leave the store consistent and usable: each transaction happened entirely or not
//! at all, and no transaction is left open on a connection.

use std::sync::Arc;
use std::time::Duration;

use ringproof_core::crypto::random_bytes;
use ringproof_core::ports::{IdempotentResponse, Store};
use ringproof_core::verification::{Effects, Status, Verification};

use crate::conformance;
use crate::harness::{NOW, WRONG, client, keys, sms, stored_sms};

conformance!(store: cancelled_operations_leave_the_store_consistent);

async fn cancelled_operations_leave_the_store_consistent(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, _) = stored_sms(&store, &c.id).await;
    let now = NOW.plus_secs(1);

    let mut tasks = Vec::new();
    let mut started = Vec::new();
    for i in 0..60u32 {
        let store = store.clone();
        if i % 2 == 0 {
            let v = v.clone();
            tasks.push(tokio::spawn(async move {
                let keys = keys();
                let mut m = |v: &mut Verification| {
                    let mut fx = Effects::default();
                    let _ = v.check(WRONG, &keys, now, &mut fx);
                    fx
                };
                let _ = store.update_verification(&v.client_id, &v.id, None, &mut m).await;
            }));
        } else {
            let (nv, fx) = sms(&c.id, NOW);
            let idem = IdempotentResponse {
                client_id: c.id.clone(),
                key: format!("k{i}"),
                request_hash: [1; 32],
                status: 201,
                body: "{}".into(),
                created_at: NOW,
            };
            started.push((nv.id.clone(), idem.key.clone()));
            tasks.push(tokio::spawn(async move {
                let _ = store.insert_verification(&nv, &fx, Some(&idem)).await;
            }));
        }
    }
    // Abort every task at a random moment: before, during or after its transaction.
    for t in &tasks {
        let wait = u64::from(random_bytes::<1>()[0]) * 8;
        tokio::time::sleep(Duration::from_micros(wait)).await;
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }

    // Each check committed its counter together with its event, or neither.
    let stored = store.get_verification(&c.id, &v.id).await.unwrap().unwrap();
    let events = store.list_events(&c.id, &v.id).await.unwrap();
    let wrong = events.iter().filter(|e| e.kind.as_str() == "check_wrong").count();
    assert_eq!(stored.wrong_checks as usize, wrong);
    assert!(stored.wrong_checks <= 5);
    assert_eq!(stored.status == Status::MaxAttemptsReached, stored.wrong_checks == 5);

    // Each start stored its verification together with its idempotency record, or neither.
    for (id, key) in &started {
        let has_v = store.get_verification(&c.id, id).await.unwrap().is_some();
        let has_key = store.idempotent_response(&c.id, key, NOW).await.unwrap().is_some();
        assert_eq!(has_v, has_key, "verification and idempotency record are atomic");
    }

    // Nothing was left half-open: writes go through and are visible to readers.
    let (after, _) = stored_sms(&store, &c.id).await;
    assert!(store.get_verification(&c.id, &after.id).await.unwrap().is_some());
    let mut noop = |_: &mut Verification| Effects::default();
    assert!(
        store
            .update_verification(&c.id, &after.id, None, &mut noop)
            .await
            .unwrap()
            .is_some()
    );
}

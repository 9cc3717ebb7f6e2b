//! Limit counter rows (`Store::update_counters`): missing rows handed over empty, written
//! back only when the step says so, several rows in one atomic step, concurrent steps on
//! one row serialised (so core's limits hold under a burst), rows scoped by client and
//! scope, and expired rows purged. With a verification (`update_verification_counted`):
//! the record and the rows it marks are written together or not at all, and concurrent
//! steps (counted transitions and plain counter steps) on one row are serialised.

use std::sync::Arc;

use ringproof_core::ids::ClientId;
use ringproof_core::ports::{CounterKey, CounterRow, Store};
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Effects, Verification};

use crate::conformance;
use crate::harness::{NOW, client, stored_sms};

conformance!(
    store: rows_start_empty_and_are_written_only_when_asked,
    several_rows_change_together_and_are_scoped,
    concurrent_steps_on_one_row_are_serialised,
    purge_drops_expired_counter_rows,
    rows_of_a_scope_are_listed_per_client_until_they_expire,
    a_counted_transition_writes_the_record_and_only_the_rows_it_marks,
    concurrent_counted_transitions_and_counter_steps_are_serialised
);

fn key(client: &ClientId, scope: &str, byte: u8) -> CounterKey {
    CounterKey {
        client_id: client.clone(),
        scope: scope.to_owned(),
        key: [byte; 32],
    }
}

/// The rows as stored, read through a step that changes nothing.
async fn read(store: &Arc<dyn Store>, keys: &[CounterKey]) -> Vec<CounterRow> {
    let mut seen = Vec::new();
    store
        .update_counters(keys, &mut |rows| {
            seen = rows.to_vec();
            false
        })
        .await
        .unwrap();
    seen
}

async fn rows_start_empty_and_are_written_only_when_asked(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let k = key(&c.id, "number", 1);
    assert_eq!(
        read(&store, std::slice::from_ref(&k)).await,
        vec![CounterRow::default()]
    );
    // A step that declines to write leaves nothing behind.
    store
        .update_counters(std::slice::from_ref(&k), &mut |rows| {
            rows[0].state = b"not written".to_vec();
            false
        })
        .await
        .unwrap();
    assert_eq!(
        read(&store, std::slice::from_ref(&k)).await,
        vec![CounterRow::default()]
    );
    store
        .update_counters(std::slice::from_ref(&k), &mut |rows| {
            rows[0] = CounterRow {
                state: b"one".to_vec(),
                expires_at: NOW.plus_secs(60),
            };
            true
        })
        .await
        .unwrap();
    let want = CounterRow {
        state: b"one".to_vec(),
        expires_at: NOW.plus_secs(60),
    };
    assert_eq!(read(&store, std::slice::from_ref(&k)).await, vec![want]);
    // No keys: nothing to do.
    store.update_counters(&[], &mut |_| panic!("no rows")).await.unwrap();
}

async fn several_rows_change_together_and_are_scoped(store: Arc<dyn Store>) {
    let a = client(&store).await;
    let b = client(&store).await;
    // Handed over in the caller's order, whatever order the store locks them in.
    let keys = vec![key(&a.id, "number", 9), key(&a.id, "client", 0), key(&a.id, "ip", 3)];
    store
        .update_counters(&keys, &mut |rows| {
            for (i, r) in rows.iter_mut().enumerate() {
                r.state = vec![i as u8];
                r.expires_at = NOW;
            }
            true
        })
        .await
        .unwrap();
    let rows = read(&store, &keys).await;
    assert_eq!(
        rows.iter().map(|r| r.state.clone()).collect::<Vec<_>>(),
        vec![vec![0], vec![1], vec![2]]
    );
    // The same hash under another client or scope is another row.
    let other = [key(&b.id, "number", 9), key(&a.id, "ip", 9)];
    assert_eq!(read(&store, &other).await, vec![CounterRow::default(); 2]);
}

async fn concurrent_steps_on_one_row_are_serialised(store: Arc<dyn Store>) {
    let c = client(&store).await;
    // Each step reads a count, adds one and writes it back, over two rows that overlap
    // between tasks in opposite orders (a deadlock, if rows were locked in caller order).
    let shared = key(&c.id, "client", 0);
    let tasks: Vec<_> = (0..24u8)
        .map(|i| {
            let store = store.clone();
            let mut keys = vec![shared.clone(), key(&c.id, "number", i % 3)];
            if i % 2 == 1 {
                keys.reverse();
            }
            tokio::spawn(async move {
                store
                    .update_counters(&keys, &mut |rows| {
                        for r in rows.iter_mut() {
                            let n = r.state.first().copied().unwrap_or(0);
                            r.state = vec![n + 1];
                        }
                        true
                    })
                    .await
                    .unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rows = read(&store, &[shared, key(&c.id, "number", 0), key(&c.id, "number", 1)]).await;
    assert_eq!(rows[0].state, vec![24], "no increment of the shared row was lost");
    assert_eq!(rows[1].state, vec![8]);
    assert_eq!(rows[2].state, vec![8]);
}

async fn purge_drops_expired_counter_rows(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (old, live) = (key(&c.id, "number", 1), key(&c.id, "number", 2));
    for (k, expires_at) in [(&old, NOW), (&live, NOW.plus_secs(1))] {
        store
            .update_counters(std::slice::from_ref(k), &mut |rows| {
                rows[0] = CounterRow {
                    state: b"x".to_vec(),
                    expires_at,
                };
                true
            })
            .await
            .unwrap();
    }
    store
        .purge(Timestamp(0), Timestamp(0), NOW, Timestamp(0))
        .await
        .unwrap();
    assert_eq!(
        read(&store, std::slice::from_ref(&old)).await,
        vec![CounterRow::default()]
    );
    assert_eq!(read(&store, std::slice::from_ref(&live)).await[0].state, b"x".to_vec());
}

async fn write(store: &Arc<dyn Store>, k: &CounterKey, state: &[u8], expires_at: Timestamp) {
    store
        .update_counters(std::slice::from_ref(k), &mut |rows| {
            rows[0] = CounterRow {
                state: state.to_vec(),
                expires_at,
            };
            true
        })
        .await
        .unwrap();
}

/// `Store::list_counters`: the rows of one scope, of one client or of all, without the
/// expired ones (the SMS-pumping guard lists its blocks from them).
async fn rows_of_a_scope_are_listed_per_client_until_they_expire(store: Arc<dyn Store>) {
    let (a, b) = (client(&store).await, client(&store).await);
    let later = Timestamp(NOW.millis() + 3_600_000);
    write(&store, &key(&a.id, "prefix", 1), b"a1", later).await;
    write(&store, &key(&a.id, "prefix", 2), b"a2", later).await;
    write(&store, &key(&a.id, "country", 1), b"ac", later).await;
    write(&store, &key(&b.id, "prefix", 1), b"b1", later).await;
    write(&store, &key(&b.id, "prefix", 3), b"gone", NOW).await;
    let states = |rows: Vec<(ClientId, CounterRow)>| {
        let mut v: Vec<(String, Vec<u8>)> = rows.into_iter().map(|(c, r)| (c.to_string(), r.state)).collect();
        v.sort();
        v
    };
    let mine = states(store.list_counters(Some(&a.id), "prefix", NOW).await.unwrap());
    assert_eq!(
        mine,
        vec![(a.id.to_string(), b"a1".to_vec()), (a.id.to_string(), b"a2".to_vec())]
    );
    let all = states(store.list_counters(None, "prefix", NOW).await.unwrap());
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.contains(&(b.id.to_string(), b"b1".to_vec())));
    let countries = store.list_counters(None, "country", NOW).await.unwrap();
    assert_eq!(countries.len(), 1);
    assert_eq!(countries[0].1.expires_at, later);
    // Past their expiry, none.
    assert!(store.list_counters(None, "prefix", later).await.unwrap().is_empty());
}

async fn a_counted_transition_writes_the_record_and_only_the_rows_it_marks(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let (v, _) = stored_sms(&store, &c.id).await;
    let keys = [
        key(&c.id, "number", 4),
        key(&c.id, "prefix", 5),
        key(&c.id, "country", 6),
    ];
    let mut seen = Vec::new();
    let mut f = |v: &mut Verification, rows: &mut [CounterRow]| {
        seen = rows.to_vec();
        v.wrong_checks += 1;
        rows[0].state = b"kept".to_vec();
        rows[0].expires_at = NOW.plus_secs(60);
        rows[1].state = b"not marked".to_vec();
        (Effects::default(), vec![true, false])
    };
    let after = store
        .update_verification_counted(&c.id, &v.id, &keys, &mut f)
        .await
        .unwrap()
        .expect("the verification exists");
    assert_eq!(
        seen,
        vec![CounterRow::default(); 3],
        "missing rows are handed over empty"
    );
    assert_eq!(after.wrong_checks, v.wrong_checks + 1);
    let stored = store.get_verification(&c.id, &v.id).await.unwrap().unwrap();
    assert_eq!(stored.wrong_checks, v.wrong_checks + 1, "the record is written");
    let rows = read(&store, &keys).await;
    assert_eq!(rows[0].state, b"kept".to_vec());
    assert_eq!(rows[0].expires_at, NOW.plus_secs(60));
    assert_eq!(
        rows[1..],
        [CounterRow::default(), CounterRow::default()],
        "rows not marked are not written"
    );

    // Another client's verification is missing: nothing runs, nothing is written.
    let mut never = |_: &mut Verification, _: &mut [CounterRow]| -> (Effects, Vec<bool>) {
        panic!("ran on another client's record")
    };
    let keys = [key(&other.id, "number", 4)];
    assert!(
        store
            .update_verification_counted(&other.id, &v.id, &keys, &mut never)
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_counted_transitions_and_counter_steps_are_serialised(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (v, _) = stored_sms(&store, &c.id).await;
    let shared = key(&c.id, "number", 7);
    // 16 counted transitions (each adds one to the record and to the shared row) beside 8
    // plain counter steps on the same row, its keys in the opposite order for half of them
    // (a deadlock, if the two kinds of step locked rows and records in different orders).
    let tasks: Vec<_> = (0..24u8)
        .map(|i| {
            let (store, v, shared) = (store.clone(), v.clone(), shared.clone());
            let mine = key(&c.id, "prefix", i % 2);
            tokio::spawn(async move {
                let bump = |r: &mut CounterRow| {
                    let n = r.state.first().copied().unwrap_or(0);
                    r.state = vec![n + 1];
                };
                if i % 3 == 2 {
                    let mut keys = vec![mine, shared];
                    if i % 2 == 0 {
                        keys.reverse();
                    }
                    store
                        .update_counters(&keys, &mut |rows| {
                            rows.iter_mut().for_each(bump);
                            true
                        })
                        .await
                        .unwrap();
                } else {
                    let keys = [shared, mine];
                    let mut f = |v: &mut Verification, rows: &mut [CounterRow]| {
                        v.wrong_checks += 1;
                        rows.iter_mut().for_each(bump);
                        (Effects::default(), vec![true, true])
                    };
                    store
                        .update_verification_counted(&v.client_id, &v.id, &keys, &mut f)
                        .await
                        .unwrap()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rows = read(&store, &[shared, key(&c.id, "prefix", 0), key(&c.id, "prefix", 1)]).await;
    assert_eq!(rows[0].state, vec![24], "no increment of the shared row was lost");
    assert_eq!(rows[1].state, vec![12]);
    assert_eq!(rows[2].state, vec![12]);
    let stored = store.get_verification(&c.id, &v.id).await.unwrap().unwrap();
    assert_eq!(stored.wrong_checks, v.wrong_checks + 16, "no transition was lost");
}

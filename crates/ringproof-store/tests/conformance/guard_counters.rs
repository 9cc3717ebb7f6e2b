//! Limit counter rows (`Store::update_counters`): missing rows handed over empty, written
//! back only when the step says so, several rows in one atomic step, concurrent steps on
//! one row serialised (so core's limits hold under a burst), rows scoped by client and
//! scope, and expired rows purged.

use std::sync::Arc;

use ringproof_core::ids::ClientId;
use ringproof_core::ports::{CounterKey, CounterRow, Store};
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(
    store: rows_start_empty_and_are_written_only_when_asked,
    several_rows_change_together_and_are_scoped,
    concurrent_steps_on_one_row_are_serialised,
    purge_drops_expired_counter_rows,
    rows_of_a_scope_are_listed_per_client_until_they_expire
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

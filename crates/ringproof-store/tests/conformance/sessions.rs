//! Login sessions and the throttle: access tokens by hash (expiry, revocation, scoping),
//! the throttle rows (a step over several rows atomic under concurrency, with no deadlock
//! between steps over overlapping keys; core's rule applied through it admits exactly what
//! it allows one attempt at a time; rows reset), and purging expired tokens and old rows.

use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ids::ClientId;
use ringproof_core::ports::Store;
use ringproof_core::sessions::{AccessToken, Gate, LoginFailures, TokenRecord};
use ringproof_core::throttle::{Limits, Rule, Secret, row};
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(
    store: tokens_by_hash_expire_and_revoke,
    failures_follow_the_core_rule_and_reset,
    a_burst_on_a_fresh_key_gets_five_checks,
    a_burst_on_an_existing_row_gets_what_the_rule_allows,
    concurrent_steps_are_serialised,
    steps_over_overlapping_keys_neither_deadlock_nor_lose_counts,
    the_throttle_rule_through_the_store_frees_another_address,
    purge_drops_expired_tokens_and_old_failure_counts,
    a_client_and_its_throttle_rows_are_read_together
);

fn token_for(client: &ClientId, ttl_s: i64) -> (AccessToken, TokenRecord) {
    let t = AccessToken::generate();
    let r = TokenRecord {
        token_hash: t.hash(),
        client_id: client.clone(),
        created_at: NOW,
        expires_at: NOW.plus_secs(ttl_s),
    };
    (t, r)
}

async fn tokens_by_hash_expire_and_revoke(store: Arc<dyn Store>) {
    let a = client(&store).await;
    let b = client(&store).await;
    let (ta1, ra1) = token_for(&a.id, 100);
    let (ta2, ra2) = token_for(&a.id, 200);
    let (tb, rb) = token_for(&b.id, 100);
    for r in [&ra1, &ra2, &rb] {
        store.insert_access_token(r).await.unwrap();
    }
    // The same hash twice is a conflict, not a second row.
    assert!(matches!(
        store.insert_access_token(&ra1).await,
        Err(StoreError::Conflict(_))
    ));

    let who = |t: AccessToken, at| {
        let store = store.clone();
        async move { store.client_by_token_hash(&t.hash(), at).await.unwrap().map(|c| c.id) }
    };
    assert_eq!(who(ta1.clone(), NOW).await, Some(a.id.clone()));
    assert_eq!(who(tb.clone(), NOW).await, Some(b.id.clone()));
    assert_eq!(who(AccessToken::generate(), NOW).await, None);
    // Valid until just before expires_at, not at it.
    assert_eq!(who(ta1.clone(), NOW.plus_millis(99_999)).await, Some(a.id.clone()));
    assert_eq!(who(ta1.clone(), NOW.plus_secs(100)).await, None);
    assert_eq!(who(ta2.clone(), NOW.plus_secs(100)).await, Some(a.id.clone()));
    // The plaintext is not a key: looking up by the token's bytes finds nothing.
    let mut raw = [0u8; 32];
    raw.copy_from_slice(&ta1.expose().as_bytes()[..32]);
    assert_eq!(store.client_by_token_hash(&raw, NOW).await.unwrap(), None);

    // Revoking A's tokens leaves B's alone.
    assert_eq!(store.delete_client_tokens(&a.id).await.unwrap(), 2);
    assert_eq!(who(ta1, NOW).await, None);
    assert_eq!(who(ta2, NOW).await, None);
    assert_eq!(who(tb, NOW).await, Some(b.id.clone()));
    assert_eq!(store.delete_client_tokens(&a.id).await.unwrap(), 0);
    assert_eq!(store.delete_client_tokens(&ClientId::generate()).await.unwrap(), 0);
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// The stored state of a key (a plain read).
async fn stored(store: &Arc<dyn Store>, key: &str) -> LoginFailures {
    store.throttle_states(&keys(&[key])).await.unwrap()[0]
}

/// One attempt at `at` on a single row, decided by core's schedule.
async fn attempt(store: &Arc<dyn Store>, key: &str, at: Timestamp) -> Gate {
    let mut gate = None;
    store
        .throttle_step(&keys(&[key]), &mut |rows| {
            let (g, next) = rows[0].begin_attempt(at);
            rows[0] = next;
            gate = Some(g);
        })
        .await
        .unwrap();
    gate.unwrap()
}

/// Forgets a key's failures (what a success does to the pair row).
async fn reset(store: &Arc<dyn Store>, key: &str) {
    store
        .throttle_step(&keys(&[key]), &mut |rows| rows[0] = LoginFailures::default())
        .await
        .unwrap();
}

/// `n` concurrent attempts at `at`; their decisions.
async fn burst(store: &Arc<dyn Store>, username: &'static str, n: usize, at: Timestamp) -> Vec<Gate> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { attempt(&store, username, at).await })
        })
        .collect();
    let mut gates = Vec::new();
    for t in tasks {
        gates.push(t.await.unwrap());
    }
    gates
}

async fn failures_follow_the_core_rule_and_reset(store: Arc<dyn Store>) {
    assert_eq!(stored(&store, "nobody").await, LoginFailures::default());
    // States come back in the order of the keys asked for, missing ones at the default.
    assert_eq!(attempt(&store, "carol", NOW).await, Gate::Open);
    let states = store.throttle_states(&keys(&["zed", "carol", "amy"])).await.unwrap();
    assert_eq!(states[1].failures, 1);
    assert_eq!(
        (states[0], states[2]),
        (LoginFailures::default(), LoginFailures::default())
    );
    assert!(store.throttle_states(&[]).await.unwrap().is_empty());
    // One attempt a minute: each is admitted until the lock, and each admitted one counts.
    let mut expected = LoginFailures::default();
    for i in 0..12 {
        let at = NOW.plus_secs(i * 60);
        let (gate, next) = expected.begin_attempt(at);
        assert_eq!(attempt(&store, "alice", at).await, gate, "attempt {}", i + 1);
        expected = next;
        assert_eq!(stored(&store, "alice").await, expected, "after attempt {}", i + 1);
    }
    // Ten admitted (each counted), the 10th at +9 min locking until +24 min; the last two
    // were refused, not counted.
    assert_eq!(expected.failures, 10);
    assert_eq!(
        attempt(&store, "alice", NOW.plus_secs(11 * 60)).await,
        Gate::Locked { retry_after_s: 780 }
    );
    // Per key: another key is untouched, and a reset forgets only this one.
    assert_eq!(attempt(&store, "bob", NOW).await, Gate::Open);
    reset(&store, "alice").await;
    assert_eq!(stored(&store, "alice").await, LoginFailures::default());
    assert_eq!(attempt(&store, "alice", NOW.plus_secs(11 * 60)).await, Gate::Open);
    assert_eq!(stored(&store, "bob").await.failures, 1);
    reset(&store, "never-failed").await;
    assert_eq!(stored(&store, "never-failed").await, LoginFailures::default());
}

async fn a_burst_on_a_fresh_key_gets_five_checks(store: Arc<dyn Store>) {
    let gates = burst(&store, "fresh", 20, NOW).await;
    let open = gates.iter().filter(|g| **g == Gate::Open).count();
    assert_eq!(open, 5, "{gates:?}");
    assert!(
        gates
            .iter()
            .all(|g| matches!(g, Gate::Open | Gate::Wait { retry_after_s: 1 })),
        "{gates:?}"
    );
    let s = stored(&store, "fresh").await;
    assert_eq!(s.failures, 5);
    assert_eq!(s.last_failure_at, NOW);
}

async fn a_burst_on_an_existing_row_gets_what_the_rule_allows(store: Arc<dyn Store>) {
    for _ in 0..5 {
        assert_eq!(attempt(&store, "known", NOW).await, Gate::Open);
    }
    // Still waiting: nobody is admitted and nothing changes.
    let gates = burst(&store, "known", 20, NOW.plus_millis(500)).await;
    assert!(gates.iter().all(|g| *g == Gate::Wait { retry_after_s: 1 }), "{gates:?}");
    assert_eq!(stored(&store, "known").await.failures, 5);
    // The wait is over: exactly one of the burst is admitted (the 6th), the rest wait 2 s.
    let at = NOW.plus_secs(1);
    let gates = burst(&store, "known", 20, at).await;
    assert_eq!(gates.iter().filter(|g| **g == Gate::Open).count(), 1, "{gates:?}");
    assert_eq!(
        gates.iter().filter(|g| **g == Gate::Wait { retry_after_s: 2 }).count(),
        19,
        "{gates:?}"
    );
    let s = stored(&store, "known").await;
    assert_eq!((s.failures, s.last_failure_at), (6, at));
}

async fn concurrent_steps_are_serialised(store: Arc<dyn Store>) {
    // A step that always counts: if two steps could read the same state, counts would be
    // lost and the states seen would repeat.
    assert_eq!(attempt(&store, "target", NOW).await, Gate::Open);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let at = NOW.plus_millis(i);
                let mut seen = 0;
                store
                    .throttle_step(&keys(&["target"]), &mut |rows| {
                        seen = rows[0].failures;
                        rows[0] = rows[0].after_failure(at);
                    })
                    .await
                    .unwrap();
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<u32>>());
    let s = stored(&store, "target").await;
    assert_eq!(s.failures, 21);
    assert!(s.locked_until.is_some());
}

async fn steps_over_overlapping_keys_neither_deadlock_nor_lose_counts(store: Arc<dyn Store>) {
    // Steps over {a, b}, {b, c} and {c, a}, in both orders, at once: every row is counted
    // by every step that names it, and none waits forever on another (PostgreSQL locks in
    // key order).
    let sets: [&[&str]; 6] = [
        &["a", "b"],
        &["b", "a"],
        &["b", "c"],
        &["c", "b"],
        &["c", "a"],
        &["a", "c"],
    ];
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let store = store.clone();
            let ks = keys(sets[i % sets.len()]);
            tokio::spawn(async move {
                store
                    .throttle_step(&ks, &mut |rows| {
                        for r in rows.iter_mut() {
                            r.failures += 1;
                            r.last_failure_at = NOW;
                        }
                    })
                    .await
                    .unwrap();
            })
        })
        .collect();
    let all = async {
        for t in tasks {
            t.await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), all)
        .await
        .expect("no deadlock");
    let states = store.throttle_states(&keys(&["a", "b", "c"])).await.unwrap();
    assert_eq!(states.iter().map(|s| s.failures).collect::<Vec<_>>(), vec![20, 20, 20]);
}

/// The keys of one login attempt from `ip` for `name` (the engine hashes them; any
/// distinct strings do here).
fn login_keys(ip: &str, name: &str) -> Vec<String> {
    vec![
        format!("login/pair:{ip}|{name}"),
        format!("login/ip:{ip}"),
        format!("login/name:{name}"),
        format!("login/checks:{ip}"),
    ]
}

async fn login_attempt(store: &Arc<dyn Store>, ip: &str, name: &str, at: Timestamp) -> Result<(), Rule> {
    let mut verdict = Ok(());
    store
        .throttle_step(&login_keys(ip, name), &mut |rows| {
            verdict = Limits::default().begin(rows, at).map_err(|t| t.rule);
        })
        .await
        .unwrap();
    verdict
}

async fn the_throttle_rule_through_the_store_frees_another_address(store: Arc<dyn Store>) {
    // 20 concurrent wrong passwords from one address: exactly the 5 the schedule allows
    // are admitted (and counted in every row), whatever the interleaving.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { login_attempt(&store, "A", "acme", NOW).await })
        })
        .collect();
    let mut verdicts = Vec::new();
    for t in tasks {
        verdicts.push(t.await.unwrap());
    }
    assert_eq!(verdicts.iter().filter(|v| v.is_ok()).count(), 5, "{verdicts:?}");
    assert!(verdicts.iter().all(|v| matches!(v, Ok(()) | Err(Rule::Backoff))));
    let rows = store.throttle_states(&login_keys("A", "acme")).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.failures).collect::<Vec<_>>(), vec![5, 5, 5, 5]);
    // Another address is admitted at once: it shares only the name row.
    assert_eq!(login_attempt(&store, "B", "acme", NOW).await, Ok(()));
    // Its password was right: its pair is reset (the row deleted) and its failure taken
    // back from the address and name rows, in one step.
    store
        .throttle_step(&login_keys("B", "acme"), &mut |rows| {
            Limits::default().succeeded(rows, NOW, true)
        })
        .await
        .unwrap();
    let b = store.throttle_states(&login_keys("B", "acme")).await.unwrap();
    assert_eq!(b[row::PAIR], LoginFailures::default());
    assert_eq!(b[row::ADDRESS], LoginFailures::default());
    assert_eq!((b[row::NAME].failures, b[row::CHECKS].failures), (5, 1));
    assert_eq!(Secret::Password.rows(), b.len());
}

async fn purge_drops_expired_tokens_and_old_failure_counts(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let (_, expired) = token_for(&c.id, 100);
    let (live, live_r) = token_for(&c.id, 200);
    store.insert_access_token(&expired).await.unwrap();
    store.insert_access_token(&live_r).await.unwrap();
    assert_eq!(attempt(&store, "old", NOW).await, Gate::Open);
    assert_eq!(attempt(&store, "recent", NOW.plus_secs(10)).await, Gate::Open);

    let now = NOW.plus_secs(100);
    assert_eq!(
        store
            .purge(Timestamp(0), Timestamp(0), now, NOW.plus_secs(10))
            .await
            .unwrap(),
        0
    );
    // The expired token's row is gone: its hash can be stored again. The live one stays.
    store.insert_access_token(&expired).await.unwrap();
    assert!(matches!(
        store.insert_access_token(&live_r).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .client_by_token_hash(&live.hash(), now)
            .await
            .unwrap()
            .map(|x| x.id),
        Some(c.id.clone())
    );
    // Failure counts: the one last failed before the cutoff is forgotten, the other kept.
    assert_eq!(stored(&store, "old").await, LoginFailures::default());
    assert_eq!(stored(&store, "recent").await.failures, 1);
}

/// `client_by_api_key_with_throttle` answers what `client_by_api_key` and `throttle_states`
/// answer, whichever of the client and the rows exist.
async fn a_client_and_its_throttle_rows_are_read_together(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let _other = client(&store).await;
    assert_eq!(attempt(&store, "carol", NOW).await, Gate::Open);
    assert_eq!(attempt(&store, "amy", NOW).await, Gate::Open);
    assert_eq!(attempt(&store, "amy", NOW).await, Gate::Open);
    let ks = keys(&["zed", "carol", "amy"]);
    let want = store.throttle_states(&ks).await.unwrap();
    assert_eq!(want.iter().map(|s| s.failures).collect::<Vec<_>>(), [0, 1, 2]);
    for (api_key, expect) in [(c.api_key.as_str(), Some(&c)), ("no such key", None)] {
        let (found, states) = store.client_by_api_key_with_throttle(api_key, &ks).await.unwrap();
        assert_eq!(found.as_ref(), expect);
        assert_eq!(states, want);
        // No throttle row at all: the client alone, every state the default.
        let (found, states) = store
            .client_by_api_key_with_throttle(api_key, &keys(&["x", "y"]))
            .await
            .unwrap();
        assert_eq!(found.as_ref(), expect);
        assert_eq!(states, vec![LoginFailures::default(); 2]);
    }
}

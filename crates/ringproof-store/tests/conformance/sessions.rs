//! Login sessions: access tokens by hash (expiry, revocation, scoping), the login failure
//! counter (admission and counting atomic under concurrency, as core's rule says; resets),
//! and purging expired tokens and old failure counts.

use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ids::ClientId;
use ringproof_core::ports::Store;
use ringproof_core::sessions::{AccessToken, Gate, LoginFailures, TokenRecord};
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(
    store: tokens_by_hash_expire_and_revoke,
    failures_follow_the_core_rule_and_reset,
    a_burst_on_a_fresh_username_gets_five_checks,
    a_burst_on_an_existing_row_gets_what_the_rule_allows,
    concurrent_steps_are_serialised,
    purge_drops_expired_tokens_and_old_failure_counts
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

/// The stored state of a username, read through a step that changes nothing.
async fn stored(store: &Arc<dyn Store>, username: &str) -> LoginFailures {
    let mut seen = None;
    let gate = store
        .begin_login_attempt(username, &mut |s| {
            seen = Some(*s);
            (Gate::Locked { retry_after_s: 7 }, *s)
        })
        .await
        .unwrap();
    assert_eq!(
        gate,
        Gate::Locked { retry_after_s: 7 },
        "the step's decision is returned"
    );
    seen.unwrap()
}

/// One attempt at `at`, decided by core's rule.
async fn attempt(store: &Arc<dyn Store>, username: &str, at: Timestamp) -> Gate {
    store
        .begin_login_attempt(username, &mut |s| s.begin_attempt(at))
        .await
        .unwrap()
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
    // Per username: another name is untouched, and a reset forgets only this one.
    assert_eq!(attempt(&store, "bob", NOW).await, Gate::Open);
    store.reset_login_failures("alice").await.unwrap();
    assert_eq!(stored(&store, "alice").await, LoginFailures::default());
    assert_eq!(attempt(&store, "alice", NOW.plus_secs(11 * 60)).await, Gate::Open);
    assert_eq!(stored(&store, "bob").await.failures, 1);
    store.reset_login_failures("never-failed").await.unwrap();
}

async fn a_burst_on_a_fresh_username_gets_five_checks(store: Arc<dyn Store>) {
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
                    .begin_login_attempt("target", &mut |s| {
                        seen = s.failures;
                        (Gate::Open, s.after_failure(at))
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

//! Login sessions: access tokens by hash (expiry, revocation, scoping) and the login
//! failure counter (atomic under concurrency, locks as core's rule says, resets).

use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ids::ClientId;
use ringproof_core::ports::Store;
use ringproof_core::sessions::{AccessToken, LOCK_AT, LoginFailures, TokenRecord, lock_until};

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(store: tokens_by_hash_expire_and_revoke, failures_follow_the_core_rule_and_reset, concurrent_failures_all_count);

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

async fn failures_follow_the_core_rule_and_reset(store: Arc<dyn Store>) {
    assert_eq!(store.login_failures("nobody").await.unwrap(), LoginFailures::default());
    let mut expected = LoginFailures::default();
    for i in 0..12 {
        let at = NOW.plus_secs(i * 60);
        expected = expected.after_failure(at);
        let got = store
            .record_login_failure("alice", at, LOCK_AT, lock_until(at))
            .await
            .unwrap();
        assert_eq!(got, expected, "after failure {}", i + 1);
        assert_eq!(store.login_failures("alice").await.unwrap(), expected);
    }
    assert_eq!(expected.failures, 12);
    assert_eq!(expected.locked_until, Some(lock_until(NOW.plus_secs(11 * 60))));
    // Per username: another name is untouched, and a reset forgets only this one.
    store
        .record_login_failure("bob", NOW, LOCK_AT, lock_until(NOW))
        .await
        .unwrap();
    store.reset_login_failures("alice").await.unwrap();
    assert_eq!(store.login_failures("alice").await.unwrap(), LoginFailures::default());
    assert_eq!(store.login_failures("bob").await.unwrap().failures, 1);
    store.reset_login_failures("never-failed").await.unwrap();
}

async fn concurrent_failures_all_count(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let at = NOW.plus_millis(i);
                store
                    .record_login_failure("target", at, LOCK_AT, lock_until(at))
                    .await
                    .unwrap()
                    .failures
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    // Each call saw its own increment: 1, 2, …, 20.
    assert_eq!(seen, (1..=20).collect::<Vec<u32>>());
    let s = store.login_failures("target").await.unwrap();
    assert_eq!(s.failures, 20);
    assert!(s.locked_until.is_some());
}

//! The audit log: an administrative client write and its entry commit together (an entry
//! exactly when the write happened); entries list newest first, filtered by client and
//! time, and are purged by age.

use std::sync::Arc;

use ringproof_core::audit::{Actor, AuditAction, AuditEntry, AuditQuery};
use ringproof_core::client::Client;
use ringproof_core::ids::ClientId;
use ringproof_core::ports::{ClientWrite, Store};
use ringproof_core::sessions::TokenRecord;
use ringproof_core::time::Timestamp;
use ringproof_core::webhook::WebhookConfig;
use serde_json::json;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(store: audited_writes_record_one_entry_each_only_when_made, audit_lists_newest_first_filtered_and_purges_by_age);

fn entry(at: Timestamp, action: AuditAction, client: Option<&ClientId>) -> AuditEntry {
    AuditEntry::new(at, Actor::cli(Some("ops")), action, client.cloned(), json!({"n": 1})).unwrap()
}

fn all() -> AuditQuery {
    AuditQuery {
        client_id: None,
        since: None,
        limit: 100,
    }
}

async fn audited_writes_record_one_entry_each_only_when_made(store: Arc<dyn Store>) {
    let c = Client::create("Audited", vec![], NOW).client;
    let id = c.id.clone();
    let at = |s| NOW.plus_secs(s);

    assert_eq!(
        store
            .audited_client_write(
                ClientWrite::Insert(&c),
                &entry(at(1), AuditAction::ClientCreated, Some(&id))
            )
            .await
            .unwrap(),
        1
    );
    assert!(store.client_by_id(&id).await.unwrap().is_some());

    let mut changed = c.clone();
    changed.brand = "Audited Two".into();
    let e = entry(at(2), AuditAction::ClientUpdated, Some(&id));
    assert_eq!(
        store
            .audited_client_write(ClientWrite::Settings(&changed), &e)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.client_by_id(&id).await.unwrap().unwrap().brand, "Audited Two");

    let hash = [7; 32];
    let e = entry(at(3), AuditAction::SecretRotated, Some(&id));
    assert_eq!(
        store
            .audited_client_write(ClientWrite::Secret(&id, &hash), &e)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.client_by_id(&id).await.unwrap().unwrap().secret_hash, hash);

    let hook = WebhookConfig {
        url: "https://hooks.example/rp".into(),
        sealed_secret: "00".into(),
        format: Default::default(),
    };
    let e = entry(at(4), AuditAction::WebhookSet, Some(&id));
    assert_eq!(
        store
            .audited_client_write(ClientWrite::Webhook(&id, Some(&hook)), &e)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.client_by_id(&id).await.unwrap().unwrap().webhook, Some(hook));

    store
        .insert_access_token(&TokenRecord {
            token_hash: [5; 32],
            client_id: id.clone(),
            created_at: NOW,
            expires_at: at(3600),
        })
        .await
        .unwrap();
    let e = entry(at(5), AuditAction::TokensRevoked, Some(&id));
    assert_eq!(
        store
            .audited_client_write(ClientWrite::RevokeTokens(&id), &e)
            .await
            .unwrap(),
        1
    );
    // Revoking when there is nothing to revoke is still an action taken.
    let e = entry(at(6), AuditAction::TokensRevoked, Some(&id));
    assert_eq!(
        store
            .audited_client_write(ClientWrite::RevokeTokens(&id), &e)
            .await
            .unwrap(),
        0
    );

    // No such client: nothing changes and nothing is recorded.
    let ghost = ClientId::generate();
    let mut ghost_client = c.clone();
    ghost_client.id = ghost.clone();
    for w in [
        ClientWrite::Settings(&ghost_client),
        ClientWrite::Secret(&ghost, &hash),
        ClientWrite::Webhook(&ghost, None),
    ] {
        let e = entry(at(7), AuditAction::ClientUpdated, Some(&ghost));
        assert_eq!(store.audited_client_write(w, &e).await.unwrap(), 0);
    }
    // A failed write (a second client with the same id) records nothing either.
    let e = entry(at(8), AuditAction::ClientCreated, Some(&id));
    assert!(store.audited_client_write(ClientWrite::Insert(&c), &e).await.is_err());

    let actions: Vec<_> = store
        .list_audit(&all())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.at, e.action, e.client_id, e.actor.to_string()))
        .collect();
    let want: Vec<_> = [
        (6, AuditAction::TokensRevoked),
        (5, AuditAction::TokensRevoked),
        (4, AuditAction::WebhookSet),
        (3, AuditAction::SecretRotated),
        (2, AuditAction::ClientUpdated),
        (1, AuditAction::ClientCreated),
    ]
    .into_iter()
    .map(|(s, a)| (at(s), a, Some(id.clone()), "cli:ops".to_owned()))
    .collect();
    assert_eq!(actions, want);
    // The store still works after the failed write (its transaction was rolled back).
    assert!(store.client_by_id(&id).await.unwrap().is_some());
    client(&store).await;
}

async fn audit_lists_newest_first_filtered_and_purges_by_age(store: Arc<dyn Store>) {
    let (a, b) = (ClientId::generate(), ClientId::generate());
    let day = |d: i64| NOW.plus_secs(d * 86_400);
    for e in [
        entry(day(0), AuditAction::ClientCreated, Some(&a)),
        entry(day(1), AuditAction::ClientCreated, Some(&b)),
        entry(day(2), AuditAction::GuardBlocked, None),
        entry(day(3), AuditAction::ClientUpdated, Some(&a)),
    ] {
        store.insert_audit(&e).await.unwrap();
    }
    // Two at the same instant come back the later recorded first.
    store
        .insert_audit(&entry(day(3), AuditAction::SecretRotated, Some(&a)))
        .await
        .unwrap();

    let list = |q: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .list_audit(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect::<Vec<_>>()
        }
    };
    use AuditAction::*;
    assert_eq!(
        list(all()).await,
        [SecretRotated, ClientUpdated, GuardBlocked, ClientCreated, ClientCreated]
    );
    assert_eq!(
        list(AuditQuery {
            client_id: Some(a.clone()),
            ..all()
        })
        .await,
        [SecretRotated, ClientUpdated, ClientCreated]
    );
    assert_eq!(
        list(AuditQuery {
            since: Some(day(2)),
            ..all()
        })
        .await,
        [SecretRotated, ClientUpdated, GuardBlocked]
    );
    assert_eq!(list(AuditQuery { limit: 1, ..all() }).await, [SecretRotated]);
    // The detail comes back as it went in.
    assert_eq!(store.list_audit(&all()).await.unwrap()[0].detail, json!({"n": 1}));

    assert_eq!(store.purge_audit(day(2)).await.unwrap(), 2);
    assert_eq!(list(all()).await, [SecretRotated, ClientUpdated, GuardBlocked]);
    assert_eq!(store.purge_audit(day(2)).await.unwrap(), 0);
}

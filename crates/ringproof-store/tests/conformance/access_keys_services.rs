//! Access keys (the Twilio face's Account SID and API keys) and services: round trips,
//! rotation keeping the id, one account key per client, and every service read or write
//! scoped by its client.

use std::sync::Arc;

use ringproof_core::access_key::{AccessKey, AccessKeyKind};
use ringproof_core::audit::{Actor, AuditAction, AuditEntry, AuditQuery};
use ringproof_core::ids::ServiceId;
use ringproof_core::ports::{ClientWrite, Store};
use ringproof_core::service::{Service, ServiceSettings};
use ringproof_core::time::Timestamp;
use serde_json::json;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(store: access_keys_round_trip_and_rotate, one_account_key_per_client, services_are_scoped_by_client);

fn audit(client: &ringproof_core::ids::ClientId) -> AuditEntry {
    AuditEntry::new(
        NOW,
        Actor::cli(Some("ops")),
        AuditAction::AccessKeyIssued,
        Some(client.clone()),
        json!({"kind": "account"}),
    )
    .unwrap()
}

async fn access_keys_round_trip_and_rotate(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let a = AccessKey::issue(AccessKeyKind::Account, &c.id, None, NOW);
    assert_eq!(
        store
            .audited_client_write(ClientWrite::AccessKey(&a.key), &audit(&c.id))
            .await
            .unwrap(),
        1
    );
    let k = AccessKey::issue(AccessKeyKind::ApiKey, &c.id, None, Timestamp(NOW.millis() + 1));
    store
        .audited_client_write(ClientWrite::AccessKey(&k.key), &audit(&c.id))
        .await
        .unwrap();
    assert_eq!(store.access_key(&a.key.id).await.unwrap(), Some(a.key.clone()));
    assert_eq!(store.access_key(&k.key.id).await.unwrap(), Some(k.key.clone()));
    assert_eq!(store.access_key("AC0000").await.unwrap(), None);
    assert_eq!(
        store.access_keys(&c.id).await.unwrap(),
        vec![a.key.clone(), k.key.clone()]
    );
    assert!(store.access_keys(&other.id).await.unwrap().is_empty());

    // A rotation keeps the id and replaces the secret hash.
    let rotated = AccessKey::issue(AccessKeyKind::Account, &c.id, Some(a.key.id.clone()), NOW);
    store
        .audited_client_write(ClientWrite::AccessKey(&rotated.key), &audit(&c.id))
        .await
        .unwrap();
    let stored = store.access_key(&a.key.id).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash, rotated.key.secret_hash);
    assert!(stored.verify_secret(&rotated.secret) && !stored.verify_secret(&a.secret));
    assert_eq!(store.access_keys(&c.id).await.unwrap().len(), 2);

    // Another client cannot take over a key id: nothing written, no audit entry.
    let hijack = AccessKey::issue(AccessKeyKind::ApiKey, &other.id, Some(k.key.id.clone()), NOW);
    assert_eq!(
        store
            .audited_client_write(ClientWrite::AccessKey(&hijack.key), &audit(&other.id))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.access_key(&k.key.id).await.unwrap(), Some(k.key.clone()));
    let entries = store
        .list_audit(&AuditQuery {
            client_id: Some(other.id.clone()),
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(entries.is_empty());
    let entries = store
        .list_audit(&AuditQuery {
            client_id: Some(c.id.clone()),
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 3);

    // Revoking: only the client's own API key, never its account key; 0 rows (and no
    // entry) otherwise.
    for (client, id) in [(&other.id, &k.key.id), (&c.id, &a.key.id)] {
        let n = store
            .audited_client_write(ClientWrite::RevokeApiKey(client, id), &audit(client))
            .await
            .unwrap();
        assert_eq!(n, 0, "{id}");
    }
    assert_eq!(
        store
            .audited_client_write(ClientWrite::RevokeApiKey(&c.id, &k.key.id), &audit(&c.id))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.access_key(&k.key.id).await.unwrap(), None);
    assert_eq!(store.access_keys(&c.id).await.unwrap(), vec![stored]);
    let entries = store
        .list_audit(&AuditQuery {
            client_id: Some(c.id.clone()),
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 4, "an entry for the revocation only");
}

async fn one_account_key_per_client(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let a = AccessKey::issue(AccessKeyKind::Account, &c.id, None, NOW);
    store
        .audited_client_write(ClientWrite::AccessKey(&a.key), &audit(&c.id))
        .await
        .unwrap();
    let second = AccessKey::issue(AccessKeyKind::Account, &c.id, None, NOW);
    assert!(
        store
            .audited_client_write(ClientWrite::AccessKey(&second.key), &audit(&c.id))
            .await
            .is_err()
    );
    assert_eq!(store.access_keys(&c.id).await.unwrap(), vec![a.key]);
}

fn service(client: &ringproof_core::ids::ClientId, name: &str, at: i64) -> Service {
    Service {
        id: ServiceId::generate(),
        client_id: client.clone(),
        settings: ServiceSettings {
            friendly_name: name.into(),
            code_length: 6,
            custom_code_enabled: true,
            default_template: Some(format!("HJ{}", "a".repeat(32))),
            ..ServiceSettings::default()
        },
        created_at: Timestamp(at),
        updated_at: Timestamp(at),
    }
}

async fn services_are_scoped_by_client(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let base = NOW.millis();
    let s: Vec<Service> = (0..3).map(|i| service(&c.id, &format!("S{i}"), base + i)).collect();
    for x in s.iter().rev() {
        store.insert_service(x).await.unwrap();
    }
    let o = service(&other.id, "Other", base);
    store.insert_service(&o).await.unwrap();

    assert_eq!(store.service(&c.id, &s[0].id).await.unwrap(), Some(s[0].clone()));
    assert_eq!(store.service(&other.id, &s[0].id).await.unwrap(), None);
    assert_eq!(store.list_services(&c.id, 0, 50).await.unwrap(), s);
    assert_eq!(store.list_services(&c.id, 1, 1).await.unwrap(), vec![s[1].clone()]);
    assert_eq!(store.list_services(&c.id, 3, 50).await.unwrap(), vec![]);
    assert_eq!(store.list_services(&other.id, 0, 50).await.unwrap(), vec![o.clone()]);

    let mut changed = s[1].clone();
    changed.settings.friendly_name = "Renamed".into();
    changed.settings.code_length = 4;
    changed.updated_at = Timestamp(base + 100);
    assert!(store.update_service(&changed, s[1].updated_at).await.unwrap());
    assert_eq!(store.service(&c.id, &s[1].id).await.unwrap(), Some(changed.clone()));
    // A write based on the settings as they were before that one: refused, nothing lost.
    let mut stale = s[1].clone();
    stale.settings.code_length = 8;
    stale.updated_at = Timestamp(base + 101);
    assert!(!store.update_service(&stale, s[1].updated_at).await.unwrap());
    assert_eq!(store.service(&c.id, &s[1].id).await.unwrap(), Some(changed.clone()));
    // Another client's id: neither changed nor deleted.
    let mut foreign = o.clone();
    foreign.client_id = c.id.clone();
    foreign.settings.friendly_name = "Stolen".into();
    assert!(!store.update_service(&foreign, o.updated_at).await.unwrap());
    assert!(!store.delete_service(&c.id, &o.id).await.unwrap());
    assert_eq!(store.service(&other.id, &o.id).await.unwrap(), Some(o.clone()));

    assert!(store.delete_service(&c.id, &s[1].id).await.unwrap());
    assert!(!store.delete_service(&c.id, &s[1].id).await.unwrap());
    assert_eq!(store.service(&c.id, &s[1].id).await.unwrap(), None);
    assert_eq!(
        store.list_services(&c.id, 0, 50).await.unwrap(),
        vec![s[0].clone(), s[2].clone()]
    );
}

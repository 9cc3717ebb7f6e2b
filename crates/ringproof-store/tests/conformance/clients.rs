//! Clients: insert, the three lookups, uniqueness, listing and secret rotation.

use std::collections::BTreeMap;
use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::client::Client;
use ringproof_core::ids::ClientId;
use ringproof_core::policy::PolicyOverrides;
use ringproof_core::ports::Store;
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::NOW;

conformance!(store: client_round_trip_and_lookups, duplicate_username_and_api_key_conflict, list_and_rotate_secret);

fn rich_client(name: &str, at: Timestamp) -> Client {
    let mut c = Client::create(
        name,
        vec!["https://a.example".into(), "http://localhost:8080".into()],
        at,
    )
    .client;
    c.brand = format!("{name} brand");
    c.templates = BTreeMap::from([
        ("sms".into(), "Code {code} for {brand}".into()),
        ("1".into(), "other".into()),
    ]);
    c.policy = PolicyOverrides {
        code_length: Some(8),
        max_checks: Some(3),
        ..Default::default()
    };
    c
}

async fn client_round_trip_and_lookups(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let c = rich_client("Acme Bank", NOW);
    store.insert_client(&c).await.unwrap();

    assert_eq!(store.client_by_id(&c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(store.client_by_api_key(&c.api_key).await.unwrap().as_ref(), Some(&c));
    assert_eq!(store.client_by_username("acme-bank").await.unwrap().as_ref(), Some(&c));

    assert_eq!(store.client_by_id(&ClientId::generate()).await.unwrap(), None);
    assert_eq!(store.client_by_api_key("rk_unknown").await.unwrap(), None);
    assert_eq!(store.client_by_username("nobody").await.unwrap(), None);
    // The stored hashes still verify the plaintext credentials.
    let n = Client::create("Verify Me", vec![], NOW);
    store.insert_client(&n.client).await.unwrap();
    let back = store.client_by_api_key(&n.client.api_key).await.unwrap().unwrap();
    assert!(back.verify_secret(&n.api_secret));
    assert!(back.verify_password(&n.password));
}

async fn duplicate_username_and_api_key_conflict(store: Arc<dyn Store>) {
    let a = rich_client("Same Name", NOW);
    store.insert_client(&a).await.unwrap();

    let b = Client::create("Same Name", vec![], NOW).client;
    assert_eq!(b.username, a.username);
    assert!(matches!(store.insert_client(&b).await, Err(StoreError::Conflict(_))));

    let mut c = Client::create("Other Name", vec![], NOW).client;
    c.api_key = a.api_key.clone();
    assert!(matches!(store.insert_client(&c).await, Err(StoreError::Conflict(_))));

    let mut d = Client::create("Third Name", vec![], NOW).client;
    d.id = a.id.clone();
    assert!(matches!(store.insert_client(&d).await, Err(StoreError::Conflict(_))));

    // Nothing of the refused clients was stored; the first is intact.
    assert_eq!(store.list_clients().await.unwrap(), vec![a.clone()]);
    assert_eq!(store.client_by_id(&a.id).await.unwrap(), Some(a));
}

async fn list_and_rotate_secret(store: Arc<dyn Store>) {
    assert!(store.list_clients().await.unwrap().is_empty());
    let later = rich_client("Later", NOW.plus_secs(10));
    let earlier = rich_client("Earlier", NOW);
    store.insert_client(&later).await.unwrap();
    store.insert_client(&earlier).await.unwrap();
    assert_eq!(
        store.list_clients().await.unwrap(),
        vec![earlier.clone(), later.clone()]
    );

    let new_hash = [7u8; 32];
    assert!(store.set_client_secret(&earlier.id, &new_hash).await.unwrap());
    let got = store.client_by_id(&earlier.id).await.unwrap().unwrap();
    assert_eq!(got.secret_hash, new_hash);
    assert_eq!(
        Client {
            secret_hash: earlier.secret_hash,
            ..got
        },
        earlier
    );
    // Only that client changed.
    assert_eq!(store.client_by_id(&later.id).await.unwrap(), Some(later));
    assert!(!store.set_client_secret(&ClientId::generate(), &new_hash).await.unwrap());
}

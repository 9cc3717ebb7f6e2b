//! Clients: insert, the three lookups, uniqueness, listing and secret rotation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::client::{BrandColor, Client, ClientControls, Product};
use ringproof_core::ids::ClientId;
use ringproof_core::policy::PolicyOverrides;
use ringproof_core::ports::Store;
use ringproof_core::time::Timestamp;
use ringproof_core::webhook::{WebhookConfig, WebhookFormat};

use crate::conformance;
use crate::harness::NOW;

conformance!(store: client_round_trip_and_lookups, duplicate_username_and_api_key_conflict, list_and_rotate_secret, update_settings, webhook_round_trips, brand_color_round_trips);

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
    c.controls = ClientControls {
        disabled_products: BTreeSet::from([Product::NumberOtp]),
        test_mode: true,
        allowed_numbers: BTreeSet::from(["+14155550123".into(), "+447911123456".into()]),
        blocked_numbers: BTreeSet::from(["+14155550199".into()]),
        safe_numbers: BTreeSet::from(["+14155550177".into()]),
        limits: ringproof_core::guard::LimitOverrides {
            guesses_per_day: Some(5),
            allowed_number_kinds: Some(vec![ringproof_core::guard::NumberKind::SharedCost]),
            allowed_countries_voice: Some(vec!["GB".into()]),
            pump_block_hours: Some(24),
            ..Default::default()
        },
        sim_swap: Some(ringproof_core::simswap::SimSwapPolicy {
            block: true,
            max_age_h: 72,
        }),
    };
    c
}

async fn client_round_trip_and_lookups(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let c = rich_client("Acme Bank", NOW);
    store.insert_client(&c).await.unwrap();
    assert_ne!(c.controls, ClientControls::default());

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
    // A new client has the default controls: every product on, no lists.
    assert_eq!(back.controls, ClientControls::default());
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

/// Settings change; identity and credentials do not, whatever the record passed says.
async fn update_settings(store: Arc<dyn Store>) {
    let original = rich_client("settings", NOW);
    store.insert_client(&original).await.unwrap();
    let other = rich_client("bystander", NOW);
    store.insert_client(&other).await.unwrap();

    let mut changed = original.clone();
    changed.brand = "New Brand".into();
    changed.allowed_origins = vec!["https://new.example".into()];
    changed.templates = BTreeMap::from([("sms".into(), "{brand}: {code}".into())]);
    changed.policy = PolicyOverrides {
        code_length: Some(8),
        max_checks: Some(3),
        ..PolicyOverrides::default()
    };
    changed.controls = ClientControls {
        disabled_products: BTreeSet::from([Product::Link]),
        test_mode: false,
        allowed_numbers: BTreeSet::new(),
        blocked_numbers: BTreeSet::from(["+14155550100".into(), "+14155550101".into()]),
        safe_numbers: BTreeSet::new(),
        limits: ringproof_core::guard::LimitOverrides::default(),
        sim_swap: None,
    };
    assert_ne!(changed.controls, original.controls);
    // Attempts to change what settings must not touch.
    changed.name = "renamed".into();
    changed.api_key = "rk_hijacked".into();
    changed.secret_hash = [9u8; 32];
    changed.username = "hijacked".into();
    changed.password_hash = "x".into();
    assert!(store.update_client_settings(&changed).await.unwrap());

    let got = store.client_by_id(&original.id).await.unwrap().unwrap();
    assert_eq!(got.brand, "New Brand");
    assert_eq!(got.allowed_origins, changed.allowed_origins);
    assert_eq!(got.templates, changed.templates);
    assert_eq!(got.policy, changed.policy);
    assert_eq!(got.controls, changed.controls);
    assert_eq!(
        (
            got.name.as_str(),
            got.api_key.as_str(),
            got.secret_hash,
            got.username.as_str(),
            got.password_hash.as_str()
        ),
        (
            original.name.as_str(),
            original.api_key.as_str(),
            original.secret_hash,
            original.username.as_str(),
            original.password_hash.as_str()
        )
    );
    assert_eq!(store.client_by_id(&other.id).await.unwrap(), Some(other));
    let mut unknown = changed.clone();
    unknown.id = ClientId::generate();
    assert!(!store.update_client_settings(&unknown).await.unwrap());
}

/// The webhook (URL and sealed secret) is a setting: stored on insert, changed and removed
/// by `update_client_settings`, and only for that client.
async fn webhook_round_trips(store: Arc<dyn Store>) {
    let mut c = rich_client("hooked", NOW);
    c.webhook = Some(WebhookConfig {
        url: "https://hooks.example/rp?token=abc".into(),
        sealed_secret: "00ff10".into(),
        format: WebhookFormat::Ringproof,
    });
    store.insert_client(&c).await.unwrap();
    let bystander = rich_client("unhooked", NOW);
    store.insert_client(&bystander).await.unwrap();
    assert_eq!(store.client_by_id(&c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(store.client_by_api_key(&c.api_key).await.unwrap().as_ref(), Some(&c));

    let stale = c.clone();
    c.webhook = Some(WebhookConfig {
        url: "http://10.0.0.5:9000/hooks".into(),
        sealed_secret: "abcdef0123".into(),
        // The format is part of the stored setting (in the same JSON column).
        format: WebhookFormat::Vonage,
    });
    assert!(store.set_client_webhook(&c.id, c.webhook.as_ref()).await.unwrap());
    assert_eq!(store.client_by_id(&c.id).await.unwrap().as_ref(), Some(&c));
    // A settings update made from an older read (a concurrent `template set`, say) does
    // not bring the old webhook back.
    let mut other_change = stale;
    other_change.brand = "renamed".into();
    assert!(store.update_client_settings(&other_change).await.unwrap());
    c.brand = "renamed".into();
    assert_eq!(store.client_by_id(&c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(
        store
            .list_clients()
            .await
            .unwrap()
            .iter()
            .filter(|x| x.webhook.is_some())
            .count(),
        1
    );

    c.webhook = None;
    assert!(store.set_client_webhook(&c.id, None).await.unwrap());
    assert!(
        !store
            .set_client_webhook(&ringproof_core::ids::ClientId::generate(), None)
            .await
            .unwrap()
    );
    assert_eq!(store.client_by_id(&c.id).await.unwrap(), Some(c));
    assert_eq!(store.client_by_id(&bystander.id).await.unwrap(), Some(bystander));
}

/// The brand colour (`clients.brand_color`) is a setting: stored on insert, read by every
/// lookup, changed and removed by `update_client_settings`, and only for that client.
async fn brand_color_round_trips(store: Arc<dyn Store>) {
    let green = BrandColor::parse("#0A7D5A").unwrap();
    let mut c = rich_client("coloured", NOW);
    c.brand_color = Some(green);
    store.insert_client(&c).await.unwrap();
    let bystander = rich_client("plain", NOW);
    store.insert_client(&bystander).await.unwrap();
    for got in [
        store.client_by_id(&c.id).await.unwrap(),
        store.client_by_api_key(&c.api_key).await.unwrap(),
        store.client_by_username(&c.username).await.unwrap(),
    ] {
        assert_eq!(got.unwrap().brand_color, Some(green));
    }
    let listed = store.list_clients().await.unwrap();
    let colours: Vec<_> = listed.iter().map(|x| (x.id.clone(), x.brand_color)).collect();
    assert!(colours.contains(&(c.id.clone(), Some(green))), "{colours:?}");
    assert!(colours.contains(&(bystander.id.clone(), None)), "{colours:?}");

    c.brand_color = Some(BrandColor::parse("#1a1a6e").unwrap());
    assert!(store.update_client_settings(&c).await.unwrap());
    assert_eq!(store.client_by_id(&c.id).await.unwrap().as_ref(), Some(&c));
    assert_eq!(
        store
            .client_by_id(&c.id)
            .await
            .unwrap()
            .unwrap()
            .brand_color
            .map(BrandColor::as_hex),
        Some("#1a1a6e".to_owned())
    );
    c.brand_color = None;
    assert!(store.update_client_settings(&c).await.unwrap());
    assert_eq!(store.client_by_id(&c.id).await.unwrap(), Some(c));
    assert_eq!(store.client_by_id(&bystander.id).await.unwrap(), Some(bystander));
}

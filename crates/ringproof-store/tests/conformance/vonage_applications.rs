//! Vonage applications (the Vonage face's JWT keys) and used token ids: round trip, a key
//! replaced for its own client only, and a token id used once until it is forgotten.

use std::sync::Arc;

use ringproof_core::audit::{Actor, AuditAction, AuditEntry};
use ringproof_core::jose::RsaKey;
use ringproof_core::ports::{ClientWrite, Store};
use ringproof_core::time::Timestamp;
use ringproof_core::vonage_app::VonageApplication;
use serde_json::json;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(store: applications_round_trip_and_stay_with_their_client, token_ids_are_used_once);

const APP: &str = "0e9b2c1a-5d4f-4a3b-9c8d-7e6f5a4b3c2d";

fn audit(client: &ringproof_core::ids::ClientId) -> AuditEntry {
    AuditEntry::new(
        NOW,
        Actor::cli(Some("ops")),
        AuditAction::AccessKeyIssued,
        Some(client.clone()),
        json!({"kind": "vonage_application"}),
    )
    .unwrap()
}

fn key(n: u8) -> RsaKey {
    let pem = match n {
        1 => include_str!("../../../ringproof-core/testdata/rsa_test_1.pub"),
        _ => include_str!("../../../ringproof-core/testdata/rsa_test_2.pub"),
    };
    RsaKey::from_pem(pem).unwrap()
}

async fn applications_round_trip_and_stay_with_their_client(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let app = VonageApplication {
        id: APP.into(),
        client_id: c.id.clone(),
        public_key: key(1),
        created_at: NOW,
    };
    let write = |a: VonageApplication, who: ringproof_core::ids::ClientId| {
        let store = store.clone();
        async move {
            store
                .audited_client_write(ClientWrite::VonageApplication(&a), &audit(&who))
                .await
                .unwrap()
        }
    };
    assert_eq!(write(app.clone(), c.id.clone()).await, 1);
    assert_eq!(store.vonage_application(APP).await.unwrap(), Some(app.clone()));
    assert_eq!(
        store
            .vonage_application("0e9b2c1a-0000-4a3b-9c8d-7e6f5a4b3c2d")
            .await
            .unwrap(),
        None
    );

    // The same id again: its key is replaced.
    let rekeyed = VonageApplication {
        public_key: key(2),
        ..app.clone()
    };
    assert_eq!(write(rekeyed.clone(), c.id.clone()).await, 1);
    assert_eq!(store.vonage_application(APP).await.unwrap(), Some(rekeyed.clone()));

    // Another client cannot take the id over: nothing written.
    let hijack = VonageApplication {
        client_id: other.id.clone(),
        public_key: key(1),
        ..app.clone()
    };
    assert_eq!(write(hijack, other.id.clone()).await, 0);
    assert_eq!(store.vonage_application(APP).await.unwrap(), Some(rekeyed));
}

async fn token_ids_are_used_once(store: Arc<dyn Store>) {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    let until = Timestamp(NOW.millis() + 60_000);
    assert!(store.use_token_once(&a, until, NOW).await.unwrap());
    assert!(!store.use_token_once(&a, until, NOW).await.unwrap());
    assert!(store.use_token_once(&b, until, NOW).await.unwrap());
    // Still remembered just before it may be forgotten; forgotten after.
    let later = Timestamp(until.millis() - 1);
    assert!(!store.use_token_once(&a, until, later).await.unwrap());
    assert!(
        store
            .use_token_once(&a, Timestamp(until.millis() + 60_000), until)
            .await
            .unwrap()
    );
}

//! A service's rate limits and buckets (the Twilio face's Service Rate Limits): round
//! trips, a name unique per service and an interval unique per rate limit, every read and
//! write scoped by client and service, and deletes that take the dependants with them.

use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ids::{BucketId, ClientId, RateLimitId, ServiceId};
use ringproof_core::ports::Store;
use ringproof_core::ratelimit::{Bucket, RateLimit};
use ringproof_core::service::{Service, ServiceSettings};
use ringproof_core::time::Timestamp;

use crate::conformance;
use crate::harness::{NOW, client};

conformance!(store: rate_limits_round_trip_scoped, buckets_round_trip_scoped, deletes_cascade);

async fn service(store: &Arc<dyn Store>, client: &ClientId) -> ServiceId {
    let s = Service {
        id: ServiceId::generate(),
        client_id: client.clone(),
        settings: ServiceSettings {
            friendly_name: "Acme".into(),
            code_length: 6,
            ..ServiceSettings::default()
        },
        created_at: NOW,
        updated_at: NOW,
    };
    store.insert_service(&s).await.unwrap();
    s.id
}

fn rate_limit(client: &ClientId, service: &ServiceId, name: &str, at: i64) -> RateLimit {
    RateLimit {
        id: RateLimitId::generate(),
        client_id: client.clone(),
        service_id: service.clone(),
        unique_name: name.into(),
        description: Some("per end-user IP".into()),
        created_at: Timestamp(NOW.millis() + at),
        updated_at: Timestamp(NOW.millis() + at),
    }
}

fn bucket(r: &RateLimit, max: u32, interval_s: u32, at: i64) -> Bucket {
    Bucket {
        id: BucketId::generate(),
        client_id: r.client_id.clone(),
        service_id: r.service_id.clone(),
        rate_limit_id: r.id.clone(),
        max,
        interval_s,
        created_at: Timestamp(NOW.millis() + at),
        updated_at: Timestamp(NOW.millis() + at),
    }
}

async fn rate_limits_round_trip_scoped(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let s = service(&store, &c.id).await;
    let s2 = service(&store, &c.id).await;
    let a = rate_limit(&c.id, &s, "end_user_ip", 0);
    let mut b = rate_limit(&c.id, &s, "session.id", 1);
    b.description = None;
    store.insert_rate_limit(&a).await.unwrap();
    store.insert_rate_limit(&b).await.unwrap();
    // The name is unique in its service, not across services.
    let dup = rate_limit(&c.id, &s, "end_user_ip", 2);
    assert!(matches!(
        store.insert_rate_limit(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .insert_rate_limit(&rate_limit(&c.id, &s2, "end_user_ip", 2))
        .await
        .unwrap();

    assert_eq!(store.rate_limit(&c.id, &s, &a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.rate_limit(&c.id, &s, &b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.rate_limit(&other.id, &s, &a.id).await.unwrap(), None);
    assert_eq!(store.rate_limit(&c.id, &s2, &a.id).await.unwrap(), None);
    assert_eq!(
        store.list_rate_limits(&c.id, &s, 0, 10).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(store.list_rate_limits(&c.id, &s, 1, 10).await.unwrap(), vec![b.clone()]);
    assert!(store.list_rate_limits(&other.id, &s, 0, 10).await.unwrap().is_empty());

    let mut changed = a.clone();
    changed.description = None;
    changed.updated_at = Timestamp(NOW.millis() + 10);
    let mut foreign = changed.clone();
    foreign.client_id = other.id.clone();
    assert!(!store.update_rate_limit(&foreign).await.unwrap());
    assert!(store.update_rate_limit(&changed).await.unwrap());
    assert_eq!(store.rate_limit(&c.id, &s, &a.id).await.unwrap(), Some(changed));

    assert!(!store.delete_rate_limit(&other.id, &s, &a.id).await.unwrap());
    assert!(!store.delete_rate_limit(&c.id, &s2, &a.id).await.unwrap());
    assert!(store.delete_rate_limit(&c.id, &s, &a.id).await.unwrap());
    assert!(!store.delete_rate_limit(&c.id, &s, &a.id).await.unwrap());
    assert_eq!(store.list_rate_limits(&c.id, &s, 0, 10).await.unwrap(), vec![b]);
}

async fn buckets_round_trip_scoped(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let other = client(&store).await;
    let s = service(&store, &c.id).await;
    let r = rate_limit(&c.id, &s, "ip", 0);
    let r2 = rate_limit(&c.id, &s, "user", 1);
    store.insert_rate_limit(&r).await.unwrap();
    store.insert_rate_limit(&r2).await.unwrap();
    let minute = bucket(&r, 5, 60, 0);
    let day = bucket(&r, 100, 86_400, 1);
    let other_limit = bucket(&r2, 3, 60, 2);
    for b in [&minute, &day, &other_limit] {
        store.insert_bucket(b).await.unwrap();
    }
    // One bucket per interval in a rate limit.
    assert!(matches!(
        store.insert_bucket(&bucket(&r, 9, 60, 3)).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        store.bucket(&c.id, &s, &r.id, &minute.id).await.unwrap(),
        Some(minute.clone())
    );
    assert_eq!(store.bucket(&other.id, &s, &r.id, &minute.id).await.unwrap(), None);
    assert_eq!(store.bucket(&c.id, &s, &r2.id, &minute.id).await.unwrap(), None);
    assert_eq!(
        store.list_buckets(&c.id, &s, Some(&r.id), 0, 10).await.unwrap(),
        vec![minute.clone(), day.clone()]
    );
    assert_eq!(
        store.list_buckets(&c.id, &s, None, 0, 10).await.unwrap(),
        vec![minute.clone(), day.clone(), other_limit.clone()]
    );
    assert_eq!(
        store.list_buckets(&c.id, &s, None, 2, 10).await.unwrap(),
        vec![other_limit]
    );
    assert!(store.list_buckets(&other.id, &s, None, 0, 10).await.unwrap().is_empty());

    let mut changed = minute.clone();
    changed.max = 7;
    changed.updated_at = Timestamp(NOW.millis() + 10);
    let mut foreign = changed.clone();
    foreign.client_id = other.id.clone();
    assert!(!store.update_bucket(&foreign).await.unwrap());
    assert!(store.update_bucket(&changed).await.unwrap());
    assert_eq!(
        store.bucket(&c.id, &s, &r.id, &minute.id).await.unwrap(),
        Some(changed.clone())
    );
    let mut clash = changed.clone();
    clash.interval_s = 86_400;
    assert!(matches!(
        store.update_bucket(&clash).await,
        Err(StoreError::Conflict(_))
    ));

    assert!(!store.delete_bucket(&other.id, &s, &r.id, &day.id).await.unwrap());
    assert!(store.delete_bucket(&c.id, &s, &r.id, &day.id).await.unwrap());
    assert_eq!(
        store.list_buckets(&c.id, &s, Some(&r.id), 0, 10).await.unwrap(),
        vec![changed]
    );
}

async fn deletes_cascade(store: Arc<dyn Store>) {
    let c = client(&store).await;
    let s = service(&store, &c.id).await;
    let r = rate_limit(&c.id, &s, "ip", 0);
    store.insert_rate_limit(&r).await.unwrap();
    store.insert_bucket(&bucket(&r, 5, 60, 0)).await.unwrap();
    assert!(store.delete_rate_limit(&c.id, &s, &r.id).await.unwrap());
    assert!(store.list_buckets(&c.id, &s, None, 0, 10).await.unwrap().is_empty());

    let r = rate_limit(&c.id, &s, "ip", 1);
    store.insert_rate_limit(&r).await.unwrap();
    store.insert_bucket(&bucket(&r, 5, 60, 1)).await.unwrap();
    assert!(store.delete_service(&c.id, &s).await.unwrap());
    assert!(store.list_rate_limits(&c.id, &s, 0, 10).await.unwrap().is_empty());
    assert!(store.list_buckets(&c.id, &s, None, 0, 10).await.unwrap().is_empty());
}

//! Schema migrations are idempotent and safe to run from two starts at once; `open` picks
//! the backend from the URL.

use std::sync::Arc;

use ringproof_core::StoreError;
use ringproof_core::ports::Store;
use ringproof_store::PgStore;

use crate::conformance;
use crate::harness::{Backend, PgDatabase, TempDir, client, stored_sms};

conformance!(backend: reopening_keeps_schema_and_data, open_by_url, a_setting_keeps_its_first_value);

async fn reopening_keeps_schema_and_data(b: &Backend) {
    let c = client(&b.store).await;
    let (v, _) = stored_sms(&b.store, &c.id).await;

    // Two more starts on the same database, concurrently, while the first is still open.
    let (s2, s3) = tokio::join!(b.reopen(), b.reopen());
    for s in [&s2, &s3] {
        assert_eq!(s.client_by_id(&c.id).await.unwrap().map(|x| x.id), Some(c.id.clone()));
        assert_eq!(s.get_verification(&c.id, &v.id).await.unwrap(), Some(v.clone()));
    }
    // And a write through a reopened store is seen by the first.
    let c2 = client(&s2).await;
    assert!(b.store.client_by_id(&c2.id).await.unwrap().is_some());
}

/// The first value of a setting stays, whoever writes next, also two starts at once.
async fn a_setting_keeps_its_first_value(b: &Backend) {
    assert_eq!(b.store.setting("fp").await.unwrap(), None);
    let other = b.reopen().await;
    let (x, y) = tokio::join!(b.store.keep_setting("fp", "aaaa"), other.keep_setting("fp", "bbbb"));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x, y, "two starts disagree");
    assert!(x == "aaaa" || x == "bbbb");
    assert_eq!(b.store.keep_setting("fp", "cccc").await.unwrap(), x);
    assert_eq!(b.store.setting("fp").await.unwrap(), Some(x));
    // Another name is another setting.
    assert_eq!(other.keep_setting("fp2", "dddd").await.unwrap(), "dddd");
}

async fn open_by_url(b: &Backend) {
    let c = client(&b.store).await;
    let store: Arc<dyn Store> = ringproof_store::open(&b.url()).await.unwrap();
    store.ping().await.unwrap();
    assert!(store.client_by_id(&c.id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_rejects_unknown_urls_without_echoing_them() {
    for url in [
        "mysql://user:hunter2@host/db",
        "sqlite:",
        "sqlite://",
        "sqlite::memory:",
        "sqlite:x.db?mode=rwc",
        "hunter2",
    ] {
        match ringproof_store::open(url).await {
            Err(StoreError::Unavailable(msg)) => assert!(!msg.contains("hunter2"), "{msg}"),
            Err(e) => panic!("{url}: unexpected error {e:?}"),
            Ok(_) => panic!("{url}: accepted"),
        }
    }
    // A malformed PostgreSQL URL fails at once, and its password is not echoed either.
    match ringproof_store::open("postgres://user:hunter2@127.0.0.1:notaport/db").await {
        Err(StoreError::Unavailable(msg)) => assert!(!msg.contains("hunter2"), "{msg}"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("accepted a malformed URL"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_sqlite_forms() {
    let dir = TempDir::new();
    let relative_to_root = format!("sqlite:{}", dir.0.join("a.db").display());
    let store = ringproof_store::open(&relative_to_root).await.unwrap();
    let c = client(&store).await;
    drop(store);
    let again = ringproof_store::open(&format!("sqlite://{}", dir.0.join("a.db").display()))
        .await
        .unwrap();
    assert!(again.client_by_id(&c.id).await.unwrap().is_some());
}

/// Two nodes starting at once on an empty database: the advisory lock lets exactly one
/// apply the schema, and both come up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn postgres_concurrent_first_migration() {
    let db = PgDatabase::create("test").await;
    let (a, b) = tokio::join!(PgStore::connect(&db.url, 2), PgStore::connect(&db.url, 2));
    let (a, b): (Arc<dyn Store>, Arc<dyn Store>) = (Arc::new(a.unwrap()), Arc::new(b.unwrap()));
    let c = client(&a).await;
    assert!(b.client_by_id(&c.id).await.unwrap().is_some());
}

//! SQLite-only properties of the database file itself.

use ringproof_core::job::JobQueue;
use std::sync::Arc;

use ringproof_core::ports::Store;
use ringproof_store::SqliteStore;
use sqlx::{Connection, Row};

use crate::harness::{NOW, TempDir, client, job_for, sms};

const MARKER: &[u8] = b"PLAINTEXT-MARKER-918273645";

/// Deleted and erased payloads are overwritten (`secure_delete`), not left in free space
/// where a copy of the file would still show them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn erased_payloads_do_not_linger_in_the_file() {
    let dir = TempDir::new();
    let path = dir.0.join("erase.db");
    let sqlite = SqliteStore::open(&path).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let c = client(&store).await;
    let (v, mut fx) = sms(&c.id, NOW);
    let (mut done, mut dead) = (job_for(&v, NOW), job_for(&v, NOW));
    done.payload = MARKER.to_vec();
    dead.payload = MARKER.to_vec();
    fx.jobs = vec![done, dead];
    store.insert_verification(&v, &fx, None).await.unwrap();

    let jobs = store.claim_jobs(NOW, 60_000, 10, JobQueue::All).await.unwrap();
    assert_eq!(jobs.len(), 2);
    store.complete_job(&jobs[0], None).await.unwrap();
    store.bury_job(&jobs[1].id, "gave up", NOW).await.unwrap();
    drop(store);
    // Closing the last connection checkpoints the WAL into the file and removes it.
    sqlite.close().await;
    drop(sqlite);

    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        if bytes.windows(MARKER.len()).any(|w| w == MARKER) {
            found.push(p);
        }
    }
    assert!(found.is_empty(), "erased payload still readable in {found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_is_in_wal_mode() {
    let dir = TempDir::new();
    let path = dir.0.join("wal.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut c)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    drop(store);
}

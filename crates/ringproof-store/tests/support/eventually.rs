//! Waiting for something a real process or a background task does, bounded: the one
//! polling loop of the tests (the server's API tests, the CLI tests), each including this
//! file with `#[path]`. Tests on an injected clock move the clock instead and never poll.
//! (`ringproof bench` polls the sandbox with its own loop: a timeout there is one failed
//! unit to count, not a panic.)
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Calls `f` every `every` until it returns `Some`, and returns that; fails (naming
/// `what`) when `limit` has passed without it. (`f` is an `FnMut` returning a future rather
/// than an `AsyncFnMut`: a caller may poll inside spawned tasks, and an `AsyncFnMut`'s
/// future cannot be proven `Send` there.)
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < limit, "{what}: not reached within {limit:?}");
        tokio::time::sleep(every).await;
    }
}

//! The closed loop that drives a scenario, and what it measures: latencies, errors, and
//! the server's resident memory when the server runs on this machine.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// How many distinct error messages a report keeps (the count covers all).
const ERROR_SAMPLES: usize = 5;

/// What one scenario measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    /// What one unit is: a `request`, or a `flow` of several requests.
    pub unit: &'static str,
    pub units: usize,
    pub concurrency: usize,
    pub errors: usize,
    pub elapsed_s: f64,
    /// Units that succeeded, per second.
    pub throughput_per_s: f64,
    pub latency_ms: Latency,
    /// `throughput_per_s` over the baseline's (`/healthz` on the same server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_baseline: Option<f64>,
    /// The server's resident set in KiB before and after, when it runs on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_kib: Option<RssPair>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RssPair {
    pub before: u64,
    pub after: u64,
}

/// Percentiles of the successful units' latencies, in milliseconds (nearest rank).
#[derive(Debug, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(mut lat: Vec<Duration>) -> Self {
        lat.sort_unstable();
        let at = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest value with at least p of the sample at or below it.
            let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
            round3(lat[rank - 1].as_secs_f64() * 1000.0)
        };
        Latency {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What a run measured, before it becomes a [`Report`].
pub struct Outcome {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub error_samples: Vec<String>,
}

/// Runs `total` units with `concurrency` workers, each taking the next unit as soon as
/// its last one ended (a closed loop). A unit that fails counts as an error and its
/// latency is left out.
pub async fn closed_loop<F, Fut>(total: usize, concurrency: usize, unit: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let unit = Arc::new(unit);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new((0usize, Vec::<String>::new())));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (unit, next, errors) = (unit.clone(), next.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return lat;
                }
                let t = Instant::now();
                match unit(i).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        let mut g = errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        g.0 += 1;
                        if g.1.len() < ERROR_SAMPLES && !g.1.contains(&e) {
                            g.1.push(e);
                        }
                    }
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for w in workers {
        match w.await {
            Ok(l) => latencies.extend(l),
            Err(e) => {
                let mut g = errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                g.0 += 1;
                g.1.push(format!("a worker stopped: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    let (errors, error_samples) =
        std::mem::take(&mut *errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    Outcome {
        elapsed,
        latencies,
        errors,
        error_samples,
    }
}

/// The process listening on `port` of this machine, found through `/proc` (Linux; the
/// same user's processes only). `None` elsewhere or when it cannot be told.
pub fn local_listener(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is `HEXIP:HEXPORT`; state 0A is LISTEN; the inode is field 9.
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let listening_port = local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && listening_port == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && inodes.iter().any(|i| target.as_os_str() == i.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// The resident set of `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let lat: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let l = Latency::of(lat);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        let one = Latency::of(vec![Duration::from_micros(1500)]);
        assert_eq!((one.p50, one.max), (1.5, 1.5));
        assert_eq!(Latency::of(Vec::new()).p99, 0.0);
    }

    #[tokio::test]
    async fn the_loop_runs_each_unit_once_and_counts_failures() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let out = closed_loop(50, 4, move |i| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(i);
                if i % 10 == 0 {
                    Err(format!("unit {}", i % 20))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        assert_eq!((out.errors, out.latencies.len()), (5, 45));
        // Distinct messages only: "unit 0" and "unit 10".
        assert_eq!(out.error_samples.len(), 2);
    }

    #[test]
    fn finds_its_own_listener_and_rss() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(local_listener(port), Some(std::process::id()));
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
        drop(l);
    }
}

//! A closed-loop load generator for BENCHMARKS.md: runs complete OTP flows (start → read the
//! SMS from the sandbox inbox → check) against a running server, then hammers a trivial
//! route and the check route alone, and prints throughput and latency percentiles.
//!
//! ```sh
//! cargo run --release -p ringproof -- serve --data-dir /tmp/rp-bench &
//! cargo run --release -p ringproof --example loadgen -- http://127.0.0.1:8080 /tmp/rp-bench/demo-credentials.json 20000 64
//! ```
//!
//! Arguments: base URL, credentials file, number of flows, concurrency, and optionally
//! `flows` to run only the complete flows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../../ringproof-store/tests/support/eventually.rs"]
mod eventually;
use eventually::eventually;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, n: usize, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort_unstable();
    println!(
        "{name:<28} {n:>7} in {:>6.2} s = {:>8.0}/s   p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
}

/// Runs `total` jobs with `conc` workers; each job returns its latencies.
async fn run<F, Fut>(total: usize, conc: usize, f: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<Duration>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return lat;
                }
                lat.extend(f(i).await);
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (start.elapsed(), all)
}

/// POSTs `body` to `url` with the client's credentials and returns the answer's JSON.
async fn post_json(http: &reqwest::Client, url: String, auth: &str, body: Value) -> Value {
    let r = http
        .post(url)
        .header("authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

/// The `i`th number of run `run_id` in area code `area` (each run uses other numbers).
fn number(area: u32, run_id: u64, i: usize) -> String {
    format!("+1{area}{}", 2_000_000 + (run_id * 10_000 + i as u64) % 8_000_000)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let creds_path = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "data/demo-credentials.json".into());
    let flows: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let conc: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(64);
    // `flows` runs only the complete flows (e.g. for a point at lower load); default all.
    let only_flows = args.get(5).is_some_and(|s| s == "flows");
    let creds: Value = serde_json::from_str(&std::fs::read_to_string(&creds_path).unwrap()).unwrap();
    let auth = format!(
        "Bearer {}:{}",
        creds["api_key"].as_str().unwrap(),
        creds["api_secret"].as_str().unwrap()
    );
    let http = reqwest::Client::builder().pool_max_idle_per_host(conc).build().unwrap();
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 1000;
    println!("{flows} flows, {conc} concurrent, against {base}");

    // Complete flows. Each also notes how long its three steps took and how often it
    // polled the inbox.
    let phases = Arc::new(std::sync::Mutex::new(Vec::with_capacity(flows)));
    let (h, b, a, ph) = (http.clone(), base.clone(), auth.clone(), phases.clone());
    let (elapsed, lat) = run(flows, conc, move |i| {
        let (http, base, auth, phases) = (h.clone(), b.clone(), a.clone(), ph.clone());
        async move {
            let to = number(415, run_id, i);
            let t = Instant::now();
            let v = post_json(&http, format!("{base}/v1/verifications"), &auth, json!({"to": to})).await;
            let id = v["id"]
                .as_str()
                .unwrap_or_else(|| panic!("start failed: {v}"))
                .to_owned();
            let started = t.elapsed();
            let url = format!("{base}/sandbox/api/messages?to={}&limit=1", to.replace('+', "%2B"));
            let mut polls = 0;
            let code = eventually("the SMS", Duration::from_secs(60), Duration::from_millis(2), || {
                polls += 1;
                let (http, url) = (&http, &url);
                async move {
                    let m: Vec<Value> = http.get(url).send().await.unwrap().json().await.unwrap();
                    m.first()
                        .and_then(|m| m["text"].as_str())
                        .map(|text| text.rsplit(' ').next().unwrap().to_owned())
                }
            })
            .await;
            let received = t.elapsed();
            let check = format!("{base}/v1/verifications/{id}/check");
            let r = post_json(&http, check, &auth, json!({"code": code})).await;
            assert_eq!(r["valid"], true, "{r}");
            let done = t.elapsed();
            phases.lock().unwrap().push([
                started,
                received - started,
                done - received,
                Duration::from_millis(polls),
            ]);
            vec![done]
        }
    })
    .await;
    report("complete OTP flow", flows, elapsed, lat);
    let phases = std::mem::take(&mut *phases.lock().unwrap());
    for (k, name) in ["  start", "  until the code is in", "  check"].iter().enumerate() {
        let mut l: Vec<Duration> = phases.iter().map(|p| p[k]).collect();
        l.sort_unstable();
        println!("{name:<28} p50 {:>6.2} ms  p99 {:>6.2} ms", pct(&l, 0.5), pct(&l, 0.99));
    }
    let polls: u128 = phases.iter().map(|p| p[3].as_millis()).sum();
    println!(
        "  inbox polls per flow       {:.2}",
        polls as f64 / phases.len().max(1) as f64
    );
    if only_flows {
        return;
    }

    // A trivial route, for comparison.
    let n = flows * 2;
    let (h, b) = (http.clone(), base.clone());
    let (elapsed, lat) = run(n, conc, move |_| {
        let (http, base) = (h.clone(), b.clone());
        async move {
            let t = Instant::now();
            let r = http.get(format!("{base}/healthz")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            vec![t.elapsed()]
        }
    })
    .await;
    report("GET /healthz (trivial)", n, elapsed, lat);

    // The check path alone: wrong codes on fresh verifications would lock them after 5, so
    // check a pool of verifications with a wrong code up to 4 times each.
    let pool = n / 4 + 1;
    let mut ids = Vec::with_capacity(pool);
    for i in 0..pool {
        let to = number(416, run_id, i);
        let v = post_json(&http, format!("{base}/v1/verifications"), &auth, json!({"to": to})).await;
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let ids = Arc::new(ids);
    let (h, b, a) = (http.clone(), base.clone(), auth.clone());
    let (elapsed, lat) = run(n, conc, move |i| {
        let (http, base, auth, ids) = (h.clone(), b.clone(), a.clone(), ids.clone());
        async move {
            let id = &ids[i / 4];
            let t = Instant::now();
            let r = http
                .post(format!("{base}/v1/verifications/{id}/check"))
                .header("authorization", &auth)
                .json(&json!({"code": "0000000"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            vec![t.elapsed()]
        }
    })
    .await;
    report("POST …/check (wrong code)", n, elapsed, lat);
}

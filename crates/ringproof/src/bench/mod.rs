//! `ringproof bench`: drives a running server over HTTP with N concurrent clients for a
//! bounded number of units and prints a JSON report (throughput, latency percentiles,
//! errors, the server's RSS before and after when it runs here), each scenario also as a
//! ratio to the baseline (`/healthz` on the same server). `ringproof bench seed` fills a
//! store with finished verifications, for the figures at a million rows.
//!
//! The client is closed-loop: each of the `concurrency` workers starts its next unit when
//! its last one ended, so throughput and latency are those of a server kept busy by that
//! many callers (BENCHMARKS.md says how the figures there were made).

mod scenario;
mod seed;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

pub use scenario::Scenario;
use scenario::{Credentials, Target, TwilioCredentials};
use stats::{Report, RssPair, closed_loop, local_listener, round3, rss_kib};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Drive a running server and print a JSON report
    Run(RunArgs),
    /// Fill the store (of --data-dir / --config) with finished verifications
    Seed {
        /// How many verifications to add
        #[arg(long)]
        verifications: u64,
        /// The client they belong to (default: the first client, e.g. the demo client)
        #[arg(long)]
        client: Option<String>,
    },
}

#[derive(Args)]
pub struct RunArgs {
    /// The server's base URL
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The client's credentials (demo-credentials.json, or `client create --json`'s output)
    #[arg(long, default_value = "data/demo-credentials.json")]
    credentials: PathBuf,
    /// Twilio credentials for the `twilio` scenario (`client twilio-credentials ID --json`'s output)
    #[arg(long)]
    twilio: Option<PathBuf>,
    /// Scenarios to run, comma separated (default: all that can run; baseline always runs first)
    #[arg(long, value_enum, value_delimiter = ',')]
    scenario: Vec<Scenario>,
    /// Units (requests or flows) per scenario
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrent clients
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Per-request timeout, in seconds
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
    /// The server's process id, for its RSS (default: the process listening on the URL's
    /// port, when it is on this machine)
    #[arg(long)]
    server_pid: Option<u32>,
}

pub async fn run(cmd: BenchCmd, config: Option<ringproof_server::config::Config>) -> Result<(), String> {
    match cmd {
        BenchCmd::Run(args) => run_scenarios(args).await,
        BenchCmd::Seed { verifications, client } => {
            let config = config.ok_or("bench seed needs the server's configuration")?;
            seed::seed(config, verifications, client.as_deref()).await
        }
    }
}

async fn run_scenarios(a: RunArgs) -> Result<(), String> {
    if a.requests == 0 || a.concurrency == 0 {
        return Err("--requests and --concurrency must be at least 1".into());
    }
    let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let creds: Credentials = serde_json::from_str(&read(&a.credentials)?)
        .map_err(|e| format!("{} is not a credentials file: {e}", a.credentials.display()))?;
    let twilio: Option<TwilioCredentials> = match &a.twilio {
        Some(p) => Some(
            serde_json::from_str(&read(p)?)
                .map_err(|e| format!("{} is not `client twilio-credentials --json` output: {e}", p.display()))?,
        ),
        None => None,
    };
    let base = a.url.trim_end_matches('/').to_owned();
    let url = reqwest::Url::parse(&base).map_err(|e| format!("--url: {e}"))?;
    let port = url.port_or_known_default().ok_or("--url has no port")?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    // Only a server on this machine is looked for: a remote one's port may be taken here
    // by something else.
    let pid = a
        .server_pid
        .or_else(|| loopback.then(|| local_listener(port)).flatten());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(a.timeout_s))
        // The link page's 303 is the answer the phone's browser gets, not to be followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    // Where this run's numbers and addresses start: random, so that two runs rarely share
    // a number (per-number limits and the sandbox's inbox remember them).
    let run_id = u64::from_le_bytes(ringproof_core::crypto::random_bytes::<8>()) % 8_000_000;
    let target = Target {
        http,
        base: base.clone(),
        creds,
        twilio,
        run_id,
    };
    let mut scenarios = if a.scenario.is_empty() {
        scenario::ALL
            .into_iter()
            .filter(|s| *s != Scenario::Twilio || target.twilio.is_some())
            .collect()
    } else {
        a.scenario.clone()
    };
    scenarios.retain(|s| *s != Scenario::Baseline);
    scenarios.insert(0, Scenario::Baseline);

    let mut reports: Vec<Report> = Vec::new();
    let mut baseline = None;
    for s in scenarios {
        eprintln!(
            "bench: {} ({} units, {} concurrent)…",
            s.name(),
            a.requests,
            a.concurrency
        );
        let prepared = target.prepare(s, a.requests).await.map_err(hint)?;
        let rss_before = pid.and_then(rss_kib);
        let (t, p) = (target.clone(), prepared.clone());
        let out = closed_loop(a.requests, a.concurrency, move |i| {
            let (t, p) = (t.clone(), p.clone());
            async move { t.unit(s, &p, i).await }
        })
        .await;
        let rss_after = pid.and_then(rss_kib);
        let ok = out.latencies.len();
        let throughput = ok as f64 / out.elapsed.as_secs_f64().max(1e-9);
        if s == Scenario::Baseline {
            baseline = Some(throughput);
        }
        reports.push(Report {
            scenario: s.name(),
            unit: s.unit(),
            units: a.requests,
            concurrency: a.concurrency,
            errors: out.errors,
            elapsed_s: round3(out.elapsed.as_secs_f64()),
            throughput_per_s: round3(throughput),
            latency_ms: stats::Latency::of(out.latencies),
            ratio_to_baseline: baseline.filter(|b| *b > 0.0).map(|b| round3(throughput / b)),
            server_rss_kib: rss_before
                .zip(rss_after)
                .map(|(before, after)| RssPair { before, after }),
            error_samples: out.error_samples,
        });
    }
    let report = json!({
        "url": base,
        "server_pid": pid,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "version": env!("CARGO_PKG_VERSION"),
        "scenarios": reports,
    });
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    let errors: usize = reports.iter().map(|r| r.errors).sum();
    if errors > 0 {
        let samples: Vec<String> = reports.iter().flat_map(|r| r.error_samples.clone()).collect();
        return Err(hint(format!(
            "{errors} units failed (error_samples in the report say why): {}",
            samples.join("; ")
        )));
    }
    Ok(())
}

/// An error with what to do about it, when the cause is a known one.
fn hint(e: String) -> String {
    if ["prefix_blocked", "rate_limited", "pumping", "rate limit"]
        .iter()
        .any(|k| e.contains(k))
    {
        // The scenarios send thousands of unconverted messages to a few ranges from one
        // address: the limits across verifications stop that, as they should.
        format!(
            "{e}\nhint: the server's limits across verifications refused the load. Benchmark a server started with \
             RINGPROOF_LIMITS__PUMP_BLOCK_HOURS=0 RINGPROOF_LIMITS__PUMP_COUNTRY_BLOCK_HOURS=0 (BENCHMARKS.md), \
             and a fresh data directory"
        )
    } else {
        e
    }
}

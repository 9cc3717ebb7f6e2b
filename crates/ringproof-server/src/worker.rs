//! The job worker: claims due jobs from the durable table and runs them, up to
//! `worker.concurrency` at once. It sleeps until woken (a job was created in this process),
//! until the next job falls due, or for at most `worker.poll_interval_ms` (jobs created by
//! other processes). On shutdown it stops claiming and lets running jobs finish; a job cut
//! off by a crash is claimed again when its lease lapses.

use std::sync::Arc;
use std::time::Duration;

use ringproof_core::engine::{Engine, JobOutcome};
use ringproof_core::ports::Sender;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::WorkerConfig;

/// How often terminal verifications past retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(
    engine: Engine,
    sender: Arc<dyn Sender>,
    wake: Arc<Notify>,
    cfg: WorkerConfig,
    retention_s: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(cfg.concurrency as usize));
    let mut running = JoinSet::new();
    let poll = Duration::from_millis(cfg.poll_interval_ms.max(10));
    let mut last_purge = tokio::time::Instant::now();
    tracing::info!(concurrency = cfg.concurrency, "job worker started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        if last_purge.elapsed() >= PURGE_EVERY {
            last_purge = tokio::time::Instant::now();
            match engine.purge(retention_s).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged verifications past retention"),
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        }
        let free = permits.available_permits() as u32;
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let jobs = match engine.claim_due(free).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed; retrying");
                sleep_or_stop(poll, &wake, &mut shutdown).await;
                continue;
            }
        };
        if jobs.is_empty() {
            let until_next = match engine.store().next_job_due().await {
                Ok(Some(t)) => {
                    Duration::from_millis((t.millis() - engine.now().millis()).clamp(1, poll.as_millis() as i64) as u64)
                }
                _ => poll,
            };
            sleep_or_stop(until_next, &wake, &mut shutdown).await;
            continue;
        }
        for job in jobs {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let (engine, sender) = (engine.clone(), sender.clone());
            running.spawn(async move {
                let kind = job.kind.as_str();
                match engine.run_job(job, sender.as_ref()).await {
                    Ok(outcome) => record(&outcome),
                    Err(e) => tracing::warn!(kind, error = %e, "job failed to run; it will be retried after its lease"),
                }
                drop(permit);
            });
        }
    }
    tracing::info!(in_flight = running.len(), "job worker stopping");
    while running.join_next().await.is_some() {}
}

/// Runs every job due now, one after another, until none is left, recording the same
/// metrics as the background worker; returns how many ran. Tests (with the worker off and
/// an injected clock) drain the queue deterministically with this.
pub async fn run_due_now(engine: &Engine, sender: &dyn Sender) -> Result<usize, ringproof_core::CoreError> {
    let mut n = 0;
    loop {
        let jobs = engine.claim_due(64).await?;
        if jobs.is_empty() {
            return Ok(n);
        }
        for job in jobs {
            record(&engine.run_job(job, sender).await?);
            n += 1;
        }
    }
}

async fn sleep_or_stop(d: Duration, wake: &Notify, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = wake.notified() => {}
        _ = shutdown.changed() => {}
    }
}

/// Metrics for one finished job.
pub fn record(outcome: &JobOutcome) {
    match outcome {
        JobOutcome::Delivered {
            channel,
            provider,
            latency_ms,
        } => {
            let labels = [("channel", channel.as_str().to_owned()), ("provider", provider.clone())];
            metrics::counter!("ringproof_deliveries_total", "channel" => channel.as_str(), "provider" => provider.clone(), "outcome" => "sent").increment(1);
            metrics::histogram!("ringproof_delivery_latency_seconds", &labels).record(*latency_ms as f64 / 1000.0);
        }
        JobOutcome::Retrying { error } => {
            tracing::warn!(error = %error, "delivery failed; will retry");
            metrics::counter!("ringproof_deliveries_total", "outcome" => "retry").increment(1);
        }
        JobOutcome::Buried { error } => {
            tracing::error!(error = %error, "job given up after its last attempt");
            metrics::counter!("ringproof_deliveries_total", "outcome" => "failed").increment(1);
            metrics::counter!("ringproof_verifications_failed_total").increment(1);
        }
        JobOutcome::StepRan | JobOutcome::Orphaned => {}
    }
}

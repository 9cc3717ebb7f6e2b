//! The job worker: claims due jobs from the durable table and runs them, up to
//! `worker.concurrency` at once. It sleeps until woken (a job was created in this process),
//! until the next job falls due, or for at most `worker.poll_interval_ms` (jobs created by
//! other processes). On shutdown it stops claiming and lets running jobs finish; a job cut
//! off by a crash is claimed again when its lease lapses.
//!
//! It claims only as many jobs as it has free slots and starts all of them at once, so
//! no claimed job waits in this process behind another: who is served next is decided by
//! the claim, which is fair across clients ([`Store::claim_jobs`]; ARCHITECTURE.md "Fair
//! claims"): a client with nothing in flight gets the next free slot, whatever another
//! client has queued.
//!
//! [`Store::claim_jobs`]: ringproof_core::ports::Store::claim_jobs
//!
//! Each delivery is sent by its own task, but the sends the provider accepted are recorded
//! by one *recorder* task, which takes every one that has arrived since its last write and
//! records them in one transaction ([`Engine::record_sent`]): under load, one commit for
//! many messages instead of one each. A job frees its slot once it is queued for the
//! recorder, so waiting for the database does not hold up sending; the queue is bounded
//! (a full queue holds the slot), so claimed but unrecorded jobs stay bounded too.
//!
//! One claim loop also runs the retention job ([`run_retention`]) at start and hourly.

use std::sync::Arc;
use std::time::Duration;

use ringproof_core::engine::{Attempt, Engine, JobOutcome, RetentionReport, Sent};
use ringproof_core::job::JobQueue;
use ringproof_core::ports::Sender;
use ringproof_providers::sandbox::SandboxSender;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::config::{Config, WorkerConfig};

/// Sent jobs that may wait for the recorder, per slot of concurrency.
const RECORD_QUEUE_PER_SLOT: usize = 4;
/// How often the retention job runs (also once at start).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What the retention job removes, and after how long (docs/privacy.md).
#[derive(Clone)]
pub struct Retention {
    /// Finished verifications, with their events and jobs.
    pub retention_s: i64,
    /// Every row holding a phone number, an IP address or a message text, and the sandbox
    /// outbox's messages.
    pub personal_data_retention_s: i64,
    /// Audit log entries.
    pub audit_retention_s: i64,
    /// The sandbox outbox, when the sandbox provider is in use.
    pub sandbox: Option<SandboxSender>,
}

impl Retention {
    pub fn new(config: &Config, sandbox: Option<SandboxSender>) -> Self {
        Self {
            retention_s: config.retention_s,
            personal_data_retention_s: config.personal_data_retention_s,
            audit_retention_s: config.audit_retention_s,
            sandbox,
        }
    }
}

/// One run of the retention job: the purge of finished verifications, the erasure of
/// personal data past its retention (main database and sandbox outbox), and the purge of
/// old audit entries. Each part is logged and a failure of one does not stop the others.
pub async fn run_retention(engine: &Engine, r: &Retention) {
    match engine.purge(r.retention_s).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "purged verifications past retention"),
        Err(e) => tracing::warn!(error = %e, "purge failed"),
    }
    match engine
        .enforce_retention(r.personal_data_retention_s, r.audit_retention_s)
        .await
    {
        Ok(RetentionReport {
            personal_data_rows: 0,
            audit_entries: 0,
        }) => {}
        Ok(rep) => tracing::info!(
            personal_data_rows = rep.personal_data_rows,
            audit_entries = rep.audit_entries,
            "erased personal data and audit entries past retention"
        ),
        Err(e) => tracing::warn!(error = %e, "personal data erasure failed"),
    }
    if let Some(sandbox) = &r.sandbox {
        let before = engine.now().plus_secs(-r.personal_data_retention_s);
        match sandbox.purge(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "purged sandbox messages past retention"),
            Err(e) => tracing::warn!(error = %e, "sandbox purge failed"),
        }
    }
}

/// What wakes the claim loops: jobs created in this process (one wake reaches both loops).
#[derive(Debug, Default)]
pub struct Wake {
    messages: Notify,
    webhooks: Notify,
}

impl Wake {
    pub fn notify(&self) {
        self.messages.notify_one();
        self.webhooks.notify_one();
    }
}

pub async fn run(
    engine: Engine,
    sender: Arc<dyn Sender>,
    wake: Arc<Wake>,
    cfg: WorkerConfig,
    retention: Retention,
    shutdown: watch::Receiver<bool>,
) {
    let slots = (cfg.concurrency + cfg.webhook_concurrency) as usize;
    let (sent_tx, sent_rx) = mpsc::channel(RECORD_QUEUE_PER_SLOT * slots.max(1));
    let recorder = tokio::spawn(record_sent(
        engine.clone(),
        sent_rx,
        RECORD_QUEUE_PER_SLOT * slots.max(1),
    ));
    tracing::info!(
        concurrency = cfg.concurrency,
        webhook_concurrency = cfg.webhook_concurrency,
        "job worker started"
    );
    // Webhooks get their own loop and slots: a client endpoint that hangs until the
    // webhook deadline holds only webhook slots, never the ones SMS, calls and steps use.
    let webhooks = tokio::spawn(claim_loop(
        engine.clone(),
        sender.clone(),
        wake.clone(),
        JobQueue::Webhooks,
        cfg,
        None,
        sent_tx.clone(),
        shutdown.clone(),
    ));
    claim_loop(
        engine,
        sender,
        wake,
        JobQueue::Messages,
        cfg,
        Some(retention),
        sent_tx,
        shutdown,
    )
    .await;
    let _ = webhooks.await;
    // Every send is now queued for the recorder and every sender of the queue dropped,
    // which lets the recorder finish them and stop.
    let _ = recorder.await;
}

/// Claims and runs the jobs of one queue until shutdown, then waits for the ones running.
/// `retention`: run the retention job from this loop (only one loop does).
#[allow(clippy::too_many_arguments)]
async fn claim_loop(
    engine: Engine,
    sender: Arc<dyn Sender>,
    wake: Arc<Wake>,
    queue: JobQueue,
    cfg: WorkerConfig,
    retention: Option<Retention>,
    sent_tx: mpsc::Sender<Sent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let concurrency = match queue {
        JobQueue::Webhooks => cfg.webhook_concurrency,
        _ => cfg.concurrency,
    } as usize;
    let notify = match queue {
        JobQueue::Webhooks => &wake.webhooks,
        _ => &wake.messages,
    };
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut running = JoinSet::new();
    let poll = Duration::from_millis(cfg.poll_interval_ms.max(10));
    // None: the retention job has not run yet, and runs first thing (a server restarted
    // more often than hourly must still erase).
    let mut last_purge: Option<tokio::time::Instant> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        if let Some(retention) = &retention
            && last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY)
        {
            last_purge = Some(tokio::time::Instant::now());
            run_retention(&engine, retention).await;
        }
        // Wait for a free slot (slots come back as jobs are finished and recorded).
        let first = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => continue,
        };
        let free = 1 + permits.available_permits() as u32;
        let jobs = match engine.claim_due(free, queue).await {
            Ok(jobs) => jobs,
            Err(e) => {
                drop(first);
                tracing::warn!(error = %e, "claiming jobs failed; retrying");
                sleep_or_stop(poll, notify, &mut shutdown).await;
                continue;
            }
        };
        let drained = (jobs.len() as u32) < free;
        let mut first = Some(first);
        for job in jobs {
            let permit = match first.take() {
                Some(p) => p,
                None => match permits.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (engine, sender, sent_tx) = (engine.clone(), sender.clone(), sent_tx.clone());
            running.spawn(async move {
                let kind = job.kind.as_str();
                // Ids are not personal data; they let an operator find whose endpoint fails.
                let (job_id, client_id) = (job.id.to_string(), job.client_id.to_string());
                match engine.send_job(job, sender.as_ref()).await {
                    Ok(Attempt::Done(outcome)) => record_job(&outcome, &job_id, &client_id),
                    Ok(Attempt::Sent(sent)) => {
                        // Should the recorder have stopped, the job is sent again after
                        // its lease (at least once: docs/providers.md).
                        let _ = sent_tx.send(*sent).await;
                    }
                    Err(e) => tracing::warn!(kind, job_id, error = %e, "job failed to run; it will be retried after its lease"),
                }
                drop(permit);
            });
        }
        drop(first);
        if drained {
            // Nothing more is due now: sleep until woken, until the next job falls due, or
            // for the poll interval, instead of claiming again at once.
            let until_next = match engine.store().next_job_due().await {
                Ok(Some(t)) => {
                    Duration::from_millis((t.millis() - engine.now().millis()).clamp(1, poll.as_millis() as i64) as u64)
                }
                _ => poll,
            };
            sleep_or_stop(until_next, notify, &mut shutdown).await;
        }
    }
    tracing::info!(queue = ?queue, in_flight = running.len(), "job worker stopping");
    while running.join_next().await.is_some() {}
}

/// The recorder task: records accepted sends in batches of whatever has arrived, until the
/// queue is closed and empty.
async fn record_sent(engine: Engine, mut queue: mpsc::Receiver<Sent>, max: usize) {
    let mut sent = Vec::with_capacity(max);
    while queue.recv_many(&mut sent, max.max(1)).await > 0 {
        match engine.record_sent(&sent).await {
            Ok(outcomes) => outcomes.iter().for_each(record),
            Err(e) => tracing::warn!(
                jobs = sent.len(),
                error = %e,
                "recording sent messages failed; they will be retried after their lease"
            ),
        }
        sent.clear();
    }
}

/// Runs every job due now, one after another, until none is left, recording the same
/// metrics as the background worker; returns how many ran. Tests (with the worker off and
/// an injected clock) drain the queue deterministically with this.
pub async fn run_due_now(engine: &Engine, sender: &dyn Sender) -> Result<usize, ringproof_core::CoreError> {
    let mut n = 0;
    loop {
        let jobs = engine.claim_due(64, JobQueue::All).await?;
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

/// [`record`], inside a span naming the job, so its log lines (a failing webhook, say) tell
/// an operator which job and whose endpoint.
fn record_job(outcome: &JobOutcome, job_id: &str, client_id: &str) {
    let _span = tracing::info_span!("job", job_id, client_id).entered();
    record(outcome);
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
        JobOutcome::WebhookDelivered { .. } => {
            metrics::counter!("ringproof_webhooks_total", "outcome" => "delivered").increment(1);
        }
        JobOutcome::WebhookRetrying { error } => {
            tracing::info!(error = %error, "webhook attempt failed; will retry");
            metrics::counter!("ringproof_webhooks_total", "outcome" => "retry").increment(1);
        }
        JobOutcome::WebhookFailed { error } => {
            tracing::warn!(error = %error, "webhook given up after its last attempt");
            metrics::counter!("ringproof_webhooks_total", "outcome" => "failed").increment(1);
        }
        JobOutcome::WebhookDropped => {
            metrics::counter!("ringproof_webhooks_total", "outcome" => "dropped").increment(1);
        }
        JobOutcome::StepRan | JobOutcome::Orphaned | JobOutcome::ExpiryChecked => {}
    }
}

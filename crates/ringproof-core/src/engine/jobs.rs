//! The worker's side: claiming due jobs, running deliveries, workflow steps, expiries and
//! webhooks, and applying delivery receipts.

use crate::crypto::random_bytes;
use crate::delivery::DeliveryStatus;
use crate::delivery::{DeliveryRecord, ReceiptOutcome};
use crate::error::CoreError;
use crate::ids::ClientId;
use crate::job::{DeliverPayload, Job, JobKind, StepPayload, backoff_ms};
use crate::phone::PhoneNumber;
use crate::ports::{DeliveryReceipt, OutboundMessage, SendError, Sender};
use crate::verification::{Ctx, Effects, EventKind, NewEvent, Status, Verification, announcement, expire_job};
use crate::webhook::{self, WebhookConfig, WebhookRequest};
use crate::workflow::Channel;

use super::Engine;

/// What running one job did, for metrics and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Delivered {
        channel: Channel,
        provider: String,
        latency_ms: i64,
    },
    StepRan,
    Retrying {
        error: String,
    },
    Buried {
        error: String,
    },
    /// The job's verification no longer exists (purged); the job was dropped.
    Orphaned,
    /// An expiry job ran (the verification expired, or its expiry moved and was
    /// rescheduled, or it had already ended).
    ExpiryChecked,
    /// A webhook endpoint answered 2xx.
    WebhookDelivered {
        status: u16,
    },
    /// A webhook attempt failed and will be tried again.
    WebhookRetrying {
        error: String,
    },
    /// A webhook was given up after its last attempt.
    WebhookFailed {
        error: String,
    },
    /// The client has no webhook any more; the event was dropped.
    WebhookDropped,
}

/// A delivery the provider accepted whose job is not yet recorded as done. Hand it (with
/// others) to [`Engine::record_sent`]; until then the job stays claimed, and should the
/// record never be written it is claimed and sent again once its lease lapses (providers
/// drop the duplicate by its idempotency key).
#[derive(Clone, Debug)]
pub struct Sent {
    job: Job,
    event: NewEvent,
    /// The webhook announcing `event`, if the verification notifies.
    webhook: Option<crate::job::NewJob>,
    /// The send, to match its delivery receipts (when the provider gave a message id).
    delivery: Option<DeliveryRecord>,
    outcome: JobOutcome,
}

/// How far [`Engine::send_job`] took a job.
#[derive(Clone, Debug)]
pub enum Attempt {
    /// The job is finished, retried later or buried; nothing is left to record.
    Done(JobOutcome),
    /// The provider accepted the message; record it with [`Engine::record_sent`].
    Sent(Box<Sent>),
}

/// Worker tuning.
#[derive(Clone, Copy, Debug)]
pub struct JobTuning {
    pub lease_ms: i64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// Webhooks wait longer between attempts than messages: a receiver that is down for a
    /// deploy should not lose events. With the defaults and
    /// [`DEFAULT_WEBHOOK_ATTEMPTS`](crate::webhook::DEFAULT_WEBHOOK_ATTEMPTS), the last
    /// attempt comes 7 to 130 minutes (about 70 on average) after the first.
    pub webhook_backoff_base_ms: u64,
    pub webhook_backoff_cap_ms: u64,
}

impl Default for JobTuning {
    fn default() -> Self {
        Self {
            lease_ms: 60_000,
            backoff_base_ms: 2_000,
            backoff_cap_ms: 300_000,
            webhook_backoff_base_ms: 60_000,
            webhook_backoff_cap_ms: 3_600_000,
        }
    }
}

impl Engine {
    // ----- jobs -----

    /// Claims the due jobs of `queue` (up to `limit`) at the current time.
    pub async fn claim_due(&self, limit: u32, queue: crate::job::JobQueue) -> Result<Vec<Job>, CoreError> {
        Ok(self
            .store
            .claim_jobs(self.now(), self.tuning.lease_ms, limit, queue)
            .await?)
    }

    /// Runs one claimed job to the end: a delivery through `sender` (recorded at once), or
    /// a workflow step.
    pub async fn run_job(&self, job: Job, sender: &dyn Sender) -> Result<JobOutcome, CoreError> {
        match self.send_job(job, sender).await? {
            Attempt::Done(outcome) => Ok(outcome),
            Attempt::Sent(sent) => {
                let outcome = sent.outcome.clone();
                self.record_sent(std::slice::from_ref(&*sent)).await?;
                Ok(outcome)
            }
        }
    }

    /// Runs one claimed job up to the provider's answer. A step job, a failed delivery
    /// and a dropped one are finished here; an accepted delivery is returned as [`Sent`],
    /// for the caller to record together with others in one transaction.
    pub async fn send_job(&self, job: Job, sender: &dyn Sender) -> Result<Attempt, CoreError> {
        match job.kind {
            JobKind::Deliver => self.run_delivery(job, sender).await,
            JobKind::Step => self.run_step_job(job).await.map(Attempt::Done),
            JobKind::Expire => self.run_expire_job(job).await.map(Attempt::Done),
            JobKind::Webhook => self.run_webhook_job(job).await.map(Attempt::Done),
        }
    }

    /// Records accepted deliveries: deletes their jobs (erasing the sealed payloads) and
    /// adds a `sent` event to each verification, all in one transaction. Returns the
    /// outcomes, in order.
    pub async fn record_sent(&self, sent: &[Sent]) -> Result<Vec<JobOutcome>, CoreError> {
        let done: Vec<(&Job, Option<&NewEvent>)> = sent.iter().map(|s| (&s.job, Some(&s.event))).collect();
        let webhooks: Vec<crate::job::NewJob> = sent.iter().filter_map(|s| s.webhook.clone()).collect();
        let deliveries: Vec<DeliveryRecord> = sent.iter().filter_map(|s| s.delivery.clone()).collect();
        self.store.complete_jobs(&done, &webhooks, &deliveries).await?;
        Ok(sent.iter().map(|s| s.outcome.clone()).collect())
    }

    async fn run_step_job(&self, job: Job) -> Result<JobOutcome, CoreError> {
        let (Some(vid), Ok(StepPayload { index })) = (
            job.verification_id.clone(),
            serde_json::from_slice::<StepPayload>(&job.payload),
        ) else {
            self.store.bury_job(&job.id, "malformed step job", self.now()).await?;
            return Ok(JobOutcome::Buried {
                error: "malformed step job".into(),
            });
        };
        let client = self.store.client_by_id(&job.client_id).await?;
        // A step that would send is a send: the limits across verifications admit it
        // first; refused, the step is skipped with the rule as its reason.
        let before = self.store.get_verification(&job.client_id, &vid).await?;
        // The client's template for the verification's language (its locale never changes).
        let template = match (&client, &before) {
            (Some(c), Some(v)) => c.sms_template(&v.locale).map(str::to_owned),
            _ => None,
        };
        let mut admitted = None;
        let mut refusal = None;
        if let (Some(c), Some(v)) = (&client, &before)
            && v.would_run_step(index, self.now())
            // A silent workflow's first delivery step was counted when it started.
            && !(index == 0 && v.options.silent.is_some())
        {
            let channel = v
                .workflow
                .steps()
                .get(usize::from(index))
                .map_or(Channel::Sms, |s| s.channel);
            match self.admit_send(c, &v.to, None, channel).await {
                Ok(a) => admitted = Some(a),
                Err(CoreError::Limited(r)) => refusal = Some(r),
                Err(e) => return Err(e),
            }
        }
        let now = self.now();
        let (keys, codes) = (&self.keys, self.codes.as_ref());
        let mut m = |v: &mut Verification| {
            let mut fx = Effects::default();
            let ctx = Ctx {
                keys,
                codes,
                sms_template: template.as_deref(),
                now,
            };
            let why = match (&client, refusal) {
                // No client to admit the send by: nothing is sent unadmitted.
                (None, _) => Some("the client no longer exists".to_owned()),
                (_, Some(r)) => Some(format!("refused by the {} limit", r.rule.as_str())),
                (_, None) => None,
            };
            v.run_or_refuse_step(index, &ctx, why.as_deref(), &mut fx);
            fx
        };
        match self
            .store
            .update_verification(&job.client_id, &vid, Some(&job.id), &mut m)
            .await?
        {
            Some(after) => {
                if let (Some(a), Some(b)) = (admitted, &before)
                    && after.sends == b.sends
                {
                    // The step did not send after all (skipped, or overtaken).
                    self.take_back(a).await;
                }
                self.wake();
                Ok(JobOutcome::StepRan)
            }
            None => {
                if let Some(a) = admitted {
                    self.take_back(a).await;
                }
                self.store.complete_job(&job, None).await?;
                Ok(JobOutcome::Orphaned)
            }
        }
    }

    async fn run_delivery(&self, job: Job, sender: &dyn Sender) -> Result<Attempt, CoreError> {
        let payload = self
            .keys
            .open(job.id.as_str(), &job.payload)
            .ok()
            .and_then(|p| serde_json::from_slice::<DeliverPayload>(&p).ok());
        let Some(p) = payload else {
            let error = "payload cannot be opened: was the server secret changed?".to_owned();
            return self.give_up(&job, None, None, error).await.map(Attempt::Done);
        };
        let Ok(to) = PhoneNumber::parse_e164(&p.to) else {
            return self
                .give_up(
                    &job,
                    Some(p.channel),
                    Some(p.seq),
                    "stored number no longer parses".into(),
                )
                .await
                .map(Attempt::Done);
        };
        let region = to.region();
        let msg = OutboundMessage {
            idempotency_key: job.id.to_string(),
            to,
            channel: p.channel,
            text: p.text,
            locale: p.locale,
            sender: p.sender,
            verification: job.verification_id.clone().map(|v| (job.client_id.clone(), v)),
        };
        match sender.send(&msg).await {
            Ok(receipt) => {
                let now = self.now();
                let event = NewEvent {
                    kind: EventKind::Sent,
                    channel: Some(p.channel),
                    detail: Some(format!("via {}", receipt.provider)),
                    at: now,
                };
                let outcome = JobOutcome::Delivered {
                    channel: p.channel,
                    provider: receipt.provider.clone(),
                    latency_ms: now.millis() - job.due_at.millis(),
                };
                let webhook = job
                    .verification_id
                    .as_ref()
                    .and_then(|vid| announcement(&job.client_id, vid, p.notify, &event));
                let delivery = match (&job.verification_id, &receipt.provider_message_id) {
                    (Some(vid), Some(mid)) => Some(DeliveryRecord {
                        provider: receipt.provider.clone(),
                        provider_message_id: mid.clone(),
                        client_id: job.client_id.clone(),
                        verification_id: vid.clone(),
                        channel: p.channel,
                        region,
                        sent_at: now,
                        seq: p.seq,
                    }),
                    _ => None,
                };
                Ok(Attempt::Sent(Box::new(Sent {
                    job,
                    event,
                    webhook,
                    delivery,
                    outcome,
                })))
            }
            Err(SendError::Retryable(e)) if job.attempts < job.max_attempts => {
                self.retry_later(&job, &e).await?;
                Ok(Attempt::Done(JobOutcome::Retrying { error: e }))
            }
            Err(SendError::Retryable(e) | SendError::Permanent(e)) => self
                .give_up(&job, Some(p.channel), Some(p.seq), e)
                .await
                .map(Attempt::Done),
        }
    }

    /// Applies a provider's delivery receipt (see [`crate::delivery`]): moves the send's
    /// status forward and records `delivered`, or `delivery_failed` with the reason (which
    /// fails the verification when no step is left), on its verification. A receipt for an
    /// unknown send, or a repeat, is ignored.
    pub async fn delivery_receipt(&self, r: &DeliveryReceipt) -> Result<ReceiptOutcome, CoreError> {
        let now = self.now();
        let Some(m) = self
            .store
            .apply_receipt(&r.provider, &r.provider_message_id, r.status, now)
            .await?
        else {
            return Ok(ReceiptOutcome::Ignored);
        };
        let via = format!("via {}", r.provider);
        let mut apply = |v: &mut Verification| {
            let mut fx = Effects::default();
            match r.status {
                DeliveryStatus::Sent => {}
                DeliveryStatus::Delivered => fx.record(
                    v,
                    NewEvent {
                        kind: EventKind::Delivered,
                        channel: Some(m.channel),
                        detail: Some(via.clone()),
                        at: now,
                    },
                ),
                DeliveryStatus::Undelivered | DeliveryStatus::Failed => {
                    let reason = match &r.reason {
                        Some(why) => format!("{} {via}: {why}", r.status.as_str()),
                        None => format!("{} {via}", r.status.as_str()),
                    };
                    v.delivery_failed(Some(m.channel), &reason, Some(m.seq), now, &mut fx);
                }
            }
            fx
        };
        if r.status != DeliveryStatus::Sent {
            self.store
                .update_verification(&m.client_id, &m.verification_id, None, &mut apply)
                .await?;
        }
        Ok(ReceiptOutcome::Recorded {
            provider: r.provider.clone(),
            status: r.status,
            channel: m.channel,
            region: m.region,
            latency_ms: now.millis() - m.sent_at.millis(),
        })
    }

    /// Releases a failed job to run again after a backoff with full jitter.
    async fn retry_later(&self, job: &Job, error: &str) -> Result<(), CoreError> {
        let unit = f64::from(u32::from_le_bytes(random_bytes::<4>())) / 4_294_967_296.0;
        let (base_ms, cap_ms) = match job.kind {
            JobKind::Webhook => (self.tuning.webhook_backoff_base_ms, self.tuning.webhook_backoff_cap_ms),
            _ => (self.tuning.backoff_base_ms, self.tuning.backoff_cap_ms),
        };
        let wait = backoff_ms(job.attempts, base_ms, cap_ms, unit);
        self.store
            .retry_job(&job.id, self.now().plus_millis(wait as i64), error)
            .await?;
        Ok(())
    }

    /// Records a verification's expiry when it falls due (see [`JobKind::Expire`]). If a
    /// resend moved the expiry, the job is replaced by one at the new time.
    async fn run_expire_job(&self, job: Job) -> Result<JobOutcome, CoreError> {
        let Some(vid) = job.verification_id.clone() else {
            self.store
                .bury_job(&job.id, "expiry job without a verification", self.now())
                .await?;
            return Ok(JobOutcome::Buried {
                error: "expiry job without a verification".into(),
            });
        };
        let now = self.now();
        let mut m = |v: &mut Verification| {
            let mut fx = Effects::default();
            v.refresh(now, &mut fx);
            if v.status == Status::Pending {
                fx.jobs.push(expire_job(v));
            }
            fx
        };
        match self
            .store
            .update_verification(&job.client_id, &vid, Some(&job.id), &mut m)
            .await?
        {
            Some(_) => Ok(JobOutcome::ExpiryChecked),
            None => {
                self.store.complete_job(&job, None).await?;
                Ok(JobOutcome::Orphaned)
            }
        }
    }

    /// POSTs one webhook, signed now with the client's current secret.
    async fn run_webhook_job(&self, job: Job) -> Result<JobOutcome, CoreError> {
        let client = self.store.client_by_id(&job.client_id).await?;
        let Some(config) = client.and_then(|c| c.webhook) else {
            self.store.complete_job(&job, None).await?;
            return Ok(JobOutcome::WebhookDropped);
        };
        let Some(secret) = self.open_webhook_secret(&job.client_id, &config) else {
            let error = "webhook secret cannot be opened: was the server secret changed?".to_owned();
            self.store.bury_job(&job.id, &error, self.now()).await?;
            return Ok(JobOutcome::WebhookFailed { error });
        };
        let Some(poster) = &self.webhooks else {
            let error = "no webhook client in this process".to_owned();
            if job.attempts >= job.max_attempts {
                self.store.bury_job(&job.id, &error, self.now()).await?;
                return Ok(JobOutcome::WebhookFailed { error });
            }
            self.retry_later(&job, &error).await?;
            return Ok(JobOutcome::WebhookRetrying { error });
        };
        let t = self.now().millis().div_euclid(1000);
        // The vendor's signature follows the client's format now (the body's was fixed when
        // the event happened); it signs these bytes whatever their shape.
        let (url, headers) =
            crate::webhook_format::vendor_signing(config.format, &secret, &config.url, &job.payload, t);
        let req = WebhookRequest {
            url,
            signature: webhook::signature(&secret, t, &job.payload),
            headers,
            id: job.id.to_string(),
            body: job.payload.clone(),
        };
        let error = match poster.post(&req).await {
            Ok(status) if (200..300).contains(&status) => {
                self.store.complete_job(&job, None).await?;
                return Ok(JobOutcome::WebhookDelivered { status });
            }
            Ok(status) => format!("the endpoint answered HTTP {status}"),
            Err(e) => e.0,
        };
        if job.attempts < job.max_attempts {
            self.retry_later(&job, &error).await?;
            Ok(JobOutcome::WebhookRetrying { error })
        } else {
            self.store.bury_job(&job.id, &error, self.now()).await?;
            Ok(JobOutcome::WebhookFailed { error })
        }
    }

    fn open_webhook_secret(&self, client: &ClientId, config: &WebhookConfig) -> Option<String> {
        let sealed = config.sealed_secret_bytes()?;
        let plain = self.keys.open(&webhook::secret_context(client), &sealed).ok()?;
        String::from_utf8(plain).ok()
    }

    async fn give_up(
        &self,
        job: &Job,
        channel: Option<Channel>,
        seq: Option<u32>,
        error: String,
    ) -> Result<JobOutcome, CoreError> {
        let now = self.now();
        self.store.bury_job(&job.id, &error, now).await?;
        if let Some(vid) = &job.verification_id {
            let mut m = |v: &mut Verification| {
                let mut fx = Effects::default();
                v.delivery_failed(channel, &error, seq, now, &mut fx);
                fx
            };
            self.store
                .update_verification(&job.client_id, vid, None, &mut m)
                .await?;
        }
        Ok(JobOutcome::Buried { error })
    }
}

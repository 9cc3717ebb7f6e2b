//! The use cases, one method each, over the injected ports. Every API face and the CLI
//! call these; none of them re-implements a rule.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::client::{Client, NewClient, Product};
use crate::code::{CodeSource, MAX_CODE_LENGTH, MIN_CODE_LENGTH};
use crate::crypto::{Keys, random_bytes};
use crate::delivery::{DeliveryRecord, ReceiptOutcome};
use crate::error::{CoreError, StoreError};
use crate::ids::{ClientId, VerificationId};
use crate::job::{DeliverPayload, Job, JobKind, StepPayload, backoff_ms};
use crate::lookup::{MetadataLookup, NumberLookup};
use crate::phone::PhoneNumber;
use crate::policy::{Policy, PolicyOverrides};
use crate::ports::{
    DeliveryReceipt, DeliveryStatus, IdempotentResponse, OutboundMessage, SendError, Sender, Store, WebhookPoster,
};
use crate::sessions::{
    AccessToken, DEFAULT_TOKEN_TTL_S, Gate, LOGIN_FAILURES_RETENTION_S, LoginAttempt, LoginError, Session, TokenRecord,
    looks_like_token, token_hash,
};
use crate::time::{Clock, Timestamp};
use crate::verification::{
    CheckOutcome, Ctx, Effects, Event, NewEvent, Options, StartParams, Status, Verification, expire_job,
};
use crate::webhook::{self, WebhookConfig, WebhookRequest};
use crate::workflow::{Channel, StepInput, Workflow};

/// How long an idempotency key replays its first response.
pub const IDEMPOTENCY_WINDOW_S: i64 = 24 * 3600;

/// A request to start a verification, already parsed at the edge.
#[derive(Clone, Debug, Default)]
pub struct StartRequest {
    pub to: Option<PhoneNumber>,
    pub channel: Option<Channel>,
    pub workflow: Option<Vec<StepInput>>,
    pub code_length: Option<u8>,
    pub locale: Option<String>,
    pub brand: Option<String>,
    /// The SMS sender id (set by faces that take one, e.g. iDenfy's `sender_name`).
    pub sender: Option<String>,
    /// The SMS text template for this verification, instead of the client's.
    pub sms_template: Option<String>,
}

/// Idempotency for a start: the key, a hash of the canonical request, and how the face
/// renders the created verification (the stored response is replayed verbatim).
pub struct Idempotency<'a> {
    pub key: String,
    pub request_hash: [u8; 32],
    pub render: &'a (dyn Fn(&Verification) -> (u16, String) + Sync),
}

#[derive(Clone, Debug)]
pub enum StartOutcome {
    Created(Box<Verification>),
    /// The same key and body were seen before: the first response, byte for byte.
    Replayed {
        status: u16,
        body: String,
    },
}

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

/// A change to a client's settings; `None` leaves a setting as it is. Policy fields set
/// here are merged into the client's existing overrides.
#[derive(Clone, Debug, Default)]
pub struct ClientChange {
    pub brand: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub policy: PolicyOverrides,
    /// Products to switch on or off (a product in both lists is refused).
    pub enable_products: Vec<Product>,
    pub disable_products: Vec<Product>,
    pub test_mode: Option<bool>,
    /// Replaces the test-mode allowlist (E.164 numbers).
    pub allowed_numbers: Option<Vec<String>>,
    /// Replaces the blocklist (E.164 numbers).
    pub blocked_numbers: Option<Vec<String>>,
}

/// Parses E.164 numbers for a client's number list.
fn number_list(field: &'static str, numbers: Vec<String>) -> Result<BTreeSet<String>, CoreError> {
    numbers
        .iter()
        .map(|n| {
            PhoneNumber::parse_e164(n)
                .map(|p| p.e164().to_owned())
                .map_err(|_| CoreError::invalid(field, "must be E.164 numbers such as +14155550123"))
        })
        .collect()
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

type Wake = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pub(crate) codes: Arc<dyn CodeSource>,
    pub(crate) keys: Keys,
    defaults: Policy,
    tuning: JobTuning,
    wake: Option<Wake>,
    token_ttl_s: u32,
    pub(crate) lookup: Arc<dyn NumberLookup>,
    pub(crate) public_base_url: String,
    pub(crate) link_ttl_s: u32,
    /// The delivery provider, asked only whether it is available (sending is the
    /// worker's, through the sender it is given).
    sender: Option<Arc<dyn Sender>>,
    /// The HTTP client for webhook jobs (none: they wait, retried, until one is set).
    webhooks: Option<Arc<dyn WebhookPoster>>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        codes: Arc<dyn CodeSource>,
        keys: Keys,
        defaults: Policy,
    ) -> Self {
        Self {
            store,
            clock,
            codes,
            keys,
            defaults,
            tuning: JobTuning::default(),
            wake: None,
            token_ttl_s: DEFAULT_TOKEN_TTL_S,
            lookup: Arc::new(MetadataLookup),
            public_base_url: crate::links::DEFAULT_PUBLIC_BASE_URL.to_owned(),
            link_ttl_s: crate::links::DEFAULT_LINK_TTL_S,
            sender: None,
            webhooks: None,
        }
    }

    /// The HTTP client that delivers webhook jobs.
    pub fn with_webhooks(mut self, poster: Arc<dyn WebhookPoster>) -> Self {
        self.webhooks = Some(poster);
        self
    }

    /// The delivery provider whose [`Sender::available`] gates new verifications and links
    /// (default none: always available).
    pub fn with_sender(mut self, sender: Arc<dyn Sender>) -> Self {
        self.sender = Some(sender);
        self
    }

    /// [`CoreError::UpstreamDown`] when the delivery provider says nothing can be sent now.
    /// Called before anything is stored.
    pub(crate) fn ensure_upstream(&self, to: &PhoneNumber, channel: Channel) -> Result<(), CoreError> {
        match &self.sender {
            Some(s) if !s.available_for(to, channel) => Err(CoreError::UpstreamDown),
            _ => Ok(()),
        }
    }

    /// The number lookup for instant links (default: [`MetadataLookup`]).
    pub fn with_lookup(mut self, lookup: Arc<dyn NumberLookup>) -> Self {
        self.lookup = lookup;
        self
    }

    /// Where the links in SMS point: `<public_base_url>/l/<token>` (a trailing slash is
    /// dropped). Default `http://127.0.0.1:8080`.
    pub fn with_public_base_url(mut self, url: &str) -> Self {
        self.public_base_url = url.trim_end_matches('/').to_owned();
        self
    }

    /// How long a link is valid, in seconds (default 300).
    pub fn with_link_ttl(mut self, ttl_s: u32) -> Self {
        self.link_ttl_s = ttl_s;
        self
    }

    /// Called after new due jobs are committed, so a worker in this process starts at once.
    pub fn with_wake(mut self, wake: Wake) -> Self {
        self.wake = Some(wake);
        self
    }

    pub fn with_tuning(mut self, tuning: JobTuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// How long access tokens from [`Engine::login`] live, in seconds.
    pub fn with_token_ttl(mut self, ttl_s: u32) -> Self {
        self.token_ttl_s = ttl_s;
        self
    }

    pub fn token_ttl_s(&self) -> u32 {
        self.token_ttl_s
    }

    /// Where phones and providers reach this server (links, status callbacks).
    pub fn public_base_url(&self) -> &str {
        &self.public_base_url
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
    pub fn tuning(&self) -> JobTuning {
        self.tuning
    }
    pub fn defaults(&self) -> Policy {
        self.defaults
    }

    pub(crate) fn wake(&self) {
        if let Some(w) = &self.wake {
            w();
        }
    }

    // ----- clients -----

    /// Creates a client; if its derived username is taken, a numeric suffix is added.
    pub async fn create_client(&self, name: &str, allowed_origins: Vec<String>) -> Result<NewClient, CoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(CoreError::invalid("name", "must be 1 to 100 characters"));
        }
        for o in &allowed_origins {
            validate_origin(o)?;
        }
        let mut created = Client::create(name, allowed_origins, self.now());
        let base = created.client.username.clone();
        for n in 2..=50 {
            if self.store.client_by_username(&created.client.username).await?.is_none() {
                self.store.insert_client(&created.client).await?;
                return Ok(created);
            }
            created.client.username = format!("{base}-{n}");
        }
        Err(CoreError::invalid("name", "too many clients with this name"))
    }

    /// Resolves an API key and secret to its client. Unknown key and wrong secret fail
    /// the same way.
    pub async fn authenticate(&self, api_key: &str, api_secret: &str) -> Result<Client, CoreError> {
        match self.store.client_by_api_key(api_key).await? {
            Some(c) if c.verify_secret(api_secret) => Ok(c),
            _ => Err(CoreError::Unauthorized),
        }
    }

    /// Changes a client's settings. The resulting policy must be valid.
    pub async fn update_client(&self, id: &ClientId, change: ClientChange) -> Result<Client, CoreError> {
        let mut c = self
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        if let Some(b) = change.brand {
            if b.trim().is_empty() || b.chars().count() > 40 || b.chars().any(char::is_control) {
                return Err(CoreError::invalid("brand", "must be 1 to 40 printable characters"));
            }
            c.brand = b;
        }
        if let Some(origins) = change.allowed_origins {
            for o in &origins {
                validate_origin(o)?;
            }
            c.allowed_origins = origins;
        }
        if let Some(p) = change
            .enable_products
            .iter()
            .find(|p| change.disable_products.contains(p))
        {
            return Err(CoreError::invalid(
                "products",
                format!("{} is both enabled and disabled", p.as_str()),
            ));
        }
        for p in &change.enable_products {
            c.controls.disabled_products.remove(p);
        }
        c.controls
            .disabled_products
            .extend(change.disable_products.iter().copied());
        if let Some(on) = change.test_mode {
            c.controls.test_mode = on;
        }
        if let Some(n) = change.allowed_numbers {
            c.controls.allowed_numbers = number_list("allowed_numbers", n)?;
        }
        if let Some(n) = change.blocked_numbers {
            c.controls.blocked_numbers = number_list("blocked_numbers", n)?;
        }
        let p = change.policy;
        c.policy = PolicyOverrides {
            code_length: p.code_length.or(c.policy.code_length),
            validity_s: p.validity_s.or(c.policy.validity_s),
            max_checks: p.max_checks.or(c.policy.max_checks),
            max_sends: p.max_sends.or(c.policy.max_sends),
            resend_cooldown_s: p.resend_cooldown_s.or(c.policy.resend_cooldown_s),
        };
        self.defaults
            .with(&c.policy)
            .validate()
            .map_err(|m| CoreError::invalid("policy", m))?;
        if !self.store.update_client_settings(&c).await? {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(c)
    }

    /// Replaces a client's API secret; the new one is returned once.
    pub async fn rotate_secret(&self, id: &ClientId) -> Result<String, CoreError> {
        let secret = crate::client::new_api_secret();
        if self
            .store
            .set_client_secret(id, &crate::crypto::sha256(secret.as_bytes()))
            .await?
        {
            Ok(secret)
        } else {
            Err(CoreError::invalid("client_id", "no such client"))
        }
    }

    // ----- login sessions (see `sessions` for the lockout rule) -----

    /// Logs in with a username and password: a new access token, shown once. Checks the
    /// password in line (about 30 ms of CPU); an async caller may prefer
    /// [`Engine::login_begin`], the check on a blocking thread, then [`Engine::login_finish`].
    pub async fn login(&self, username: &str, password: &str) -> Result<Session, LoginError> {
        let attempt = self.login_begin(username).await?;
        let ok = attempt.verify(password);
        self.login_finish(attempt, ok).await
    }

    /// The first half of a login: refuses it, without looking at any password, while the
    /// username must wait or is locked; otherwise counts it as a failure *in the same atomic
    /// store step* (so a burst of concurrent attempts gets no more password checks than the
    /// rule allows one at a time) and finds the client (if any).
    pub async fn login_begin(&self, username: &str) -> Result<LoginAttempt, LoginError> {
        // No usernames this long exist; not worth a row of failures either.
        if username.is_empty() || username.len() > 128 {
            return Err(LoginError::BadCredentials);
        }
        let now = self.now();
        let gate = self
            .store
            .begin_login_attempt(username, &mut |failures| failures.begin_attempt(now))
            .await?;
        match gate {
            Gate::Open => {}
            Gate::Wait { retry_after_s } => return Err(LoginError::Throttled { retry_after_s }),
            Gate::Locked { retry_after_s } => return Err(LoginError::Locked { retry_after_s }),
        }
        let client = self.store.client_by_username(username).await?;
        Ok(LoginAttempt {
            username: username.to_owned(),
            client,
        })
    }

    /// The second half: on success resets the username's failures and issues a token. On
    /// failure there is nothing more to record: `login_begin` already counted the attempt.
    pub async fn login_finish(&self, attempt: LoginAttempt, password_ok: bool) -> Result<Session, LoginError> {
        let now = self.now();
        let client = match attempt.client {
            Some(c) if password_ok => c,
            _ => return Err(LoginError::BadCredentials),
        };
        self.store.reset_login_failures(&attempt.username).await?;
        let token = AccessToken::generate();
        self.store
            .insert_access_token(&TokenRecord {
                token_hash: token.hash(),
                client_id: client.id.clone(),
                created_at: now,
                expires_at: now.plus_secs(i64::from(self.token_ttl_s)),
            })
            .await?;
        Ok(Session {
            token,
            client_id: client.id,
            created_at: now,
            ttl_s: self.token_ttl_s,
        })
    }

    /// The client an access token belongs to. Unknown, malformed, expired and revoked
    /// tokens all fail the same way ([`CoreError::Unauthorized`]).
    pub async fn authenticate_token(&self, token: &str) -> Result<Client, CoreError> {
        if !looks_like_token(token) {
            return Err(CoreError::Unauthorized);
        }
        self.store
            .client_by_token_hash(&token_hash(token), self.now())
            .await?
            .ok_or(CoreError::Unauthorized)
    }

    /// Revokes every access token of a client; returns how many were revoked.
    pub async fn revoke_tokens(&self, client: &ClientId) -> Result<u64, CoreError> {
        if self.store.client_by_id(client).await?.is_none() {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(self.store.delete_client_tokens(client).await?)
    }

    // ----- verifications -----

    pub async fn start(
        &self,
        client: &Client,
        req: StartRequest,
        idem: Option<Idempotency<'_>>,
    ) -> Result<StartOutcome, CoreError> {
        let now = self.now();
        if let Some(i) = &idem
            && let Some(prev) = self.replay(client, i, now).await?
        {
            return Ok(prev);
        }
        let policy = self.defaults.with(&client.policy);
        let to = req.to.ok_or_else(|| CoreError::invalid("to", "is required"))?;
        let code_length = req.code_length.unwrap_or(policy.code_length);
        if !(MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&code_length) {
            return Err(CoreError::invalid(
                "code_length",
                format!("must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH}"),
            ));
        }
        let workflow = match (req.workflow, req.channel) {
            (Some(_), Some(_)) => {
                return Err(CoreError::invalid(
                    "channel",
                    "give either channel or workflow, not both",
                ));
            }
            (Some(steps), None) => Workflow::build(&steps, &policy)?,
            (None, ch) => Workflow::single(ch.unwrap_or(Channel::Sms), &policy),
        };
        let locale = match req.locale {
            Some(l)
                if l.is_empty()
                    || l.len() > 16
                    || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                return Err(CoreError::invalid(
                    "locale",
                    "must be a language tag such as \"en\" or \"pt-BR\"",
                ));
            }
            Some(l) => l,
            None => "en".to_owned(),
        };
        let brand = match req.brand {
            Some(b) if b.trim().is_empty() || b.chars().count() > 40 || b.chars().any(char::is_control) => {
                return Err(CoreError::invalid("brand", "must be 1 to 40 printable characters"));
            }
            Some(b) => b,
            None => client.brand.clone(),
        };
        self.ensure_upstream(&to, workflow.first_channel())?;
        let (v, fx) = Verification::start(
            StartParams {
                client_id: client.id.clone(),
                to,
                workflow,
                locale,
                brand,
                code_length,
                policy,
                sms_template: client.templates.get("sms").map(String::as_str),
                options: Options {
                    sender: req.sender,
                    sms_template: req.sms_template,
                    notify: client.webhook.is_some(),
                },
                now,
            },
            &self.keys,
            self.codes.as_ref(),
        );
        let record = idem.as_ref().map(|i| {
            let (status, body) = (i.render)(&v);
            IdempotentResponse {
                client_id: client.id.clone(),
                key: i.key.clone(),
                request_hash: i.request_hash,
                status,
                body,
                created_at: now,
            }
        });
        match (self.store.insert_verification(&v, &fx, record.as_ref()).await, &idem) {
            (Ok(()), _) => {}
            (Err(StoreError::Conflict(_)), Some(i)) => {
                // Another request with the same key won the race: answer as it did.
                return self
                    .replay(client, i, now)
                    .await?
                    .ok_or(CoreError::IdempotencyKeyReused);
            }
            (Err(e), _) => return Err(e.into()),
        }
        self.wake();
        Ok(StartOutcome::Created(Box::new(v)))
    }

    async fn replay(
        &self,
        client: &Client,
        i: &Idempotency<'_>,
        now: Timestamp,
    ) -> Result<Option<StartOutcome>, CoreError> {
        let since = now.plus_secs(-IDEMPOTENCY_WINDOW_S);
        match self.store.idempotent_response(&client.id, &i.key, since).await? {
            Some(prev) if prev.request_hash == i.request_hash => Ok(Some(StartOutcome::Replayed {
                status: prev.status,
                body: prev.body,
            })),
            Some(_) => Err(CoreError::IdempotencyKeyReused),
            None => Ok(None),
        }
    }

    /// The verification as of now (an expiry that is due shows as `expired`).
    pub async fn get(&self, client: &ClientId, id: &VerificationId) -> Result<Verification, CoreError> {
        let mut v = self
            .store
            .get_verification(client, id)
            .await?
            .ok_or(CoreError::NotFound)?;
        v.status = v.status_at(self.now());
        Ok(v)
    }

    /// The verification's history. An expiry that is due but not yet recorded (nobody
    /// touched the verification since) is recorded first, so the list ends with it.
    pub async fn events(&self, client: &ClientId, id: &VerificationId) -> Result<Vec<Event>, CoreError> {
        let v = self
            .store
            .get_verification(client, id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let now = self.now();
        if v.status_at(now) != v.status {
            self.transition(client, id, |v, fx| {
                v.refresh(now, fx);
                Ok(())
            })
            .await?;
        }
        Ok(self.store.list_events(client, id).await?)
    }

    /// Applies a fallible transition atomically and returns its value with the record.
    async fn transition<T: Send>(
        &self,
        client: &ClientId,
        id: &VerificationId,
        mut f: impl FnMut(&mut Verification, &mut Effects) -> Result<T, CoreError> + Send,
    ) -> Result<(T, Verification), CoreError> {
        let mut out: Option<Result<T, CoreError>> = None;
        let mut m = |v: &mut Verification| {
            let mut fx = Effects::default();
            out = Some(f(v, &mut fx));
            fx.add_webhooks(v);
            fx
        };
        let v = self
            .store
            .update_verification(client, id, None, &mut m)
            .await?
            .ok_or(CoreError::NotFound)?;
        let value = out.ok_or_else(|| CoreError::Internal("transition did not run".into()))??;
        Ok((value, v))
    }

    /// Checks a code; returns the outcome and the verification after the check.
    pub async fn check(
        &self,
        client: &ClientId,
        id: &VerificationId,
        code: &str,
    ) -> Result<(CheckOutcome, Verification), CoreError> {
        if !(MIN_CODE_LENGTH as usize..=MAX_CODE_LENGTH as usize).contains(&code.len())
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(CoreError::invalid(
                "code",
                format!("must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} digits"),
            ));
        }
        let now = self.now();
        let keys = &self.keys;
        self.transition(client, id, |v, fx| v.check(code, keys, now, fx)).await
    }

    pub async fn cancel(&self, client: &ClientId, id: &VerificationId) -> Result<Verification, CoreError> {
        let now = self.now();
        Ok(self.transition(client, id, |v, fx| v.cancel(now, fx)).await?.1)
    }

    pub async fn resend(
        &self,
        client: &Client,
        id: &VerificationId,
        channel: Option<Channel>,
    ) -> Result<Verification, CoreError> {
        let now = self.now();
        let template = client.templates.get("sms").map(String::as_str);
        let (keys, codes) = (&self.keys, self.codes.as_ref());
        let (_, v) = self
            .transition(&client.id, id, |v, fx| {
                let ctx = Ctx {
                    keys,
                    codes,
                    sms_template: template,
                    now,
                };
                v.resend(channel, &ctx, fx)
            })
            .await?;
        self.wake();
        Ok(v)
    }

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
        let template = client.as_ref().and_then(|c| c.templates.get("sms").cloned());
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
            v.run_step(index, &ctx, &mut fx);
            fx.add_webhooks(v);
            fx
        };
        match self
            .store
            .update_verification(&job.client_id, &vid, Some(&job.id), &mut m)
            .await?
        {
            Some(_) => {
                self.wake();
                Ok(JobOutcome::StepRan)
            }
            None => {
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
        };
        match sender.send(&msg).await {
            Ok(receipt) => {
                let now = self.now();
                let event = NewEvent {
                    kind: "sent",
                    channel: Some(p.channel),
                    detail: Some(format!("via {}", receipt.provider)),
                    at: now,
                };
                let outcome = JobOutcome::Delivered {
                    channel: p.channel,
                    provider: receipt.provider.clone(),
                    latency_ms: now.millis() - job.due_at.millis(),
                };
                let webhook = match (&job.verification_id, p.notify) {
                    (Some(vid), true) => Some(webhook::job(&job.client_id, vid, &event)),
                    _ => None,
                };
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
                DeliveryStatus::Delivered => fx.events.push(NewEvent {
                    kind: "delivered",
                    channel: Some(m.channel),
                    detail: Some(via.clone()),
                    at: now,
                }),
                DeliveryStatus::Undelivered | DeliveryStatus::Failed => {
                    let reason = match &r.reason {
                        Some(why) => format!("{} {via}: {why}", r.status.as_str()),
                        None => format!("{} {via}", r.status.as_str()),
                    };
                    v.delivery_failed(Some(m.channel), &reason, Some(m.seq), now, &mut fx);
                }
            }
            fx.add_webhooks(v);
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
            fx.add_webhooks(v);
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
        let req = WebhookRequest {
            url: config.url,
            signature: webhook::signature(&secret, self.now().millis().div_euclid(1000), &job.payload),
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

    /// Sets (or, with `None`, removes) a client's webhook URL. A client without a webhook
    /// secret gets a new one, returned once; an existing secret is kept (`None` returned).
    /// Verifications started from now on notify it.
    pub async fn set_webhook(&self, id: &ClientId, url: Option<&str>) -> Result<Option<String>, CoreError> {
        let mut c = self
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let mut new_secret = None;
        c.webhook = match (url, c.webhook.take()) {
            (None, _) => None,
            (Some(u), existing) => {
                webhook::validate_url(u)?;
                let sealed_secret = match existing {
                    Some(w) => w.sealed_secret,
                    None => {
                        let s = webhook::new_secret();
                        let sealed = crate::crypto::hex(&self.keys.seal(&webhook::secret_context(id), s.as_bytes()));
                        new_secret = Some(s);
                        sealed
                    }
                };
                Some(WebhookConfig {
                    url: u.to_owned(),
                    sealed_secret,
                })
            }
        };
        if !self.store.set_client_webhook(id, c.webhook.as_ref()).await? {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(new_secret)
    }

    /// Replaces a client's webhook secret; the new one is returned once. Webhooks not yet
    /// delivered are signed with the new secret from now on.
    pub async fn rotate_webhook_secret(&self, id: &ClientId) -> Result<String, CoreError> {
        let mut c = self
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let Some(w) = c.webhook.as_mut() else {
            return Err(CoreError::invalid(
                "webhook_url",
                "the client has no webhook; set one first",
            ));
        };
        let s = webhook::new_secret();
        w.sealed_secret = crate::crypto::hex(&self.keys.seal(&webhook::secret_context(id), s.as_bytes()));
        if !self.store.set_client_webhook(id, c.webhook.as_ref()).await? {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(s)
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
                fx.add_webhooks(v);
                fx
            };
            self.store
                .update_verification(&job.client_id, vid, None, &mut m)
                .await?;
        }
        Ok(JobOutcome::Buried { error })
    }

    /// Deletes what the retention rules allow: terminal verifications older than
    /// `retention_s`, idempotency records past their window, expired access tokens, and
    /// login failure counts a day after their last failure.
    pub async fn purge(&self, retention_s: i64) -> Result<u64, CoreError> {
        let now = self.now();
        Ok(self
            .store
            .purge(
                now.plus_secs(-retention_s),
                now.plus_secs(-IDEMPOTENCY_WINDOW_S),
                now,
                now.plus_secs(-LOGIN_FAILURES_RETENTION_S),
            )
            .await?)
    }
}

/// An allowed origin is `http(s)://host[:port]` with nothing after it.
pub fn validate_origin(o: &str) -> Result<(), CoreError> {
    let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty() && !r.contains(['/', '?', '#', '@', ' ']) && r.bytes().all(|b| b.is_ascii_graphic())
    });
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "allowed_origin",
            format!("'{o}' is not an origin like https://example.com"),
        ))
    }
}

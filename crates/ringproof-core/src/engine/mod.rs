//! The use cases, one method each, over the injected ports. Every API face and the CLI
//! call these; none of them re-implements a rule.
//!
//! - `clients.rs`: client administration, login sessions and webhook settings;
//! - `verifications.rs`: start, read, check, cancel, resend;
//! - `jobs.rs`: the worker's jobs (deliveries, steps, expiries, webhooks) and receipts;
//! - [`services`]: access keys and services (the Twilio face's credentials and Verify
//!   Services), and verifications in a service;
//! - [`link`]: instant links; [`number_otp`]: OTPs addressed by the phone number;
//!   [`fallback`]: the SMS-then-voice timeline addressed by the verification id;
//!   [`silent`]: a workflow's silent first step (network authentication before any code).

mod audit;
mod clients;
pub mod fallback;
mod guard;
mod jobs;
pub mod link;
pub mod number_otp;
pub mod rate_limits;
pub mod services;
pub mod silent;
mod verifications;
pub mod vonage;
pub mod vonage_templates;

pub use audit::RetentionReport;
pub use clients::{ClientChange, validate_origin};
pub use jobs::{Attempt, JobOutcome, JobTuning, Sent};
pub use verifications::{Idempotency, StartOutcome, StartRequest};

use std::sync::Arc;

use crate::audit::Actor;
use crate::code::CodeSource;
use crate::crypto::Keys;
use crate::error::CoreError;
use crate::lookup::{MetadataLookup, NumberLookup};
use crate::phone::PhoneNumber;
use crate::policy::Policy;
use crate::ports::{Metrics, NoMetrics, Sender, Store, WebhookPoster};
use crate::sessions::{DEFAULT_TOKEN_TTL_S, LOGIN_FAILURES_RETENTION_S};
use crate::simswap::{NoSimSwapCheck, SimSwapCheck, SimSwapOutcome};
use crate::time::{Clock, Timestamp};
use crate::workflow::Channel;

/// How long an idempotency key replays its first response.
pub const IDEMPOTENCY_WINDOW_S: i64 = 24 * 3600;

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
    /// The login and API-secret throttle's limits.
    pub(crate) throttle: crate::throttle::Limits,
    pub(crate) lookup: Arc<dyn NumberLookup>,
    /// The operator's SIM-swap check, asked before starts of clients that want it.
    sim_swap: Arc<dyn SimSwapCheck>,
    pub(crate) public_base_url: String,
    pub(crate) link_ttl_s: u32,
    /// Network authentication of link clicks and silent checks (default: none).
    pub(crate) netauth: Arc<dyn crate::netauth::NetworkAuthenticator>,
    /// How long a round trip through the operator may take.
    pub(crate) netauth_deadline_s: u32,
    /// The delivery provider, asked only whether it is available (sending is the
    /// worker's, through the sender it is given).
    sender: Option<Arc<dyn Sender>>,
    /// The HTTP client for webhook jobs (none: they wait, retried, until one is set).
    webhooks: Option<Arc<dyn WebhookPoster>>,
    /// Where starts and checks are counted (default: nowhere).
    pub(crate) metrics: Arc<dyn Metrics>,
    /// The limits across verifications, before per-client overrides ([`crate::guard`]).
    limits: crate::guard::Limits,
    /// Who the administrative actions of this engine are recorded as (default `system`;
    /// see [`Engine::acting_as`]).
    pub(crate) actor: Actor,
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
            throttle: crate::throttle::Limits::default(),
            lookup: Arc::new(MetadataLookup),
            sim_swap: Arc::new(NoSimSwapCheck),
            public_base_url: link::DEFAULT_PUBLIC_BASE_URL.to_owned(),
            link_ttl_s: link::DEFAULT_LINK_TTL_S,
            netauth: Arc::new(crate::netauth::NoNetworkAuth),
            netauth_deadline_s: crate::netauth::DEFAULT_DEADLINE_S,
            sender: None,
            webhooks: None,
            metrics: Arc::new(NoMetrics),
            limits: crate::guard::Limits::default(),
            actor: Actor::system(),
        }
    }

    /// This engine, recording the administrative actions it is asked for as `actor`'s
    /// (`cli:<user>` for the command line, `api:<client id>` for a client's own change).
    pub fn acting_as(&self, actor: Actor) -> Self {
        Self { actor, ..self.clone() }
    }

    /// Where verifications started and approved, and code checks, are counted.
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Network authentication for link clicks and silent checks, and the deadline of a
    /// round trip through the operator (at least 1 s).
    pub fn with_netauth(mut self, netauth: Arc<dyn crate::netauth::NetworkAuthenticator>, deadline_s: u32) -> Self {
        self.netauth = netauth;
        self.netauth_deadline_s = deadline_s.max(1);
        self
    }

    /// The network authenticator in use.
    pub fn netauth(&self) -> &dyn crate::netauth::NetworkAuthenticator {
        self.netauth.as_ref()
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

    /// The SIM-swap check for clients whose controls ask for one (default
    /// [`NoSimSwapCheck`]: every check is `unknown`).
    pub fn with_sim_swap(mut self, check: Arc<dyn SimSwapCheck>) -> Self {
        self.sim_swap = check;
        self
    }

    /// The SIM-swap check of a start ([`crate::simswap`]): `None` when the client does not
    /// check; else the operator is asked once, and a swap within the window refuses the
    /// start when the client blocks ([`CoreError::SimSwapped`]). No answer is `unknown`,
    /// which never refuses. Called after the limits admitted the send (so they bound the
    /// questions to the operator too) and before anything is stored; a refused start stays
    /// counted by the limits, like any start that was admitted (nothing is sent).
    pub(crate) async fn check_sim_swap(
        &self,
        client: &crate::client::Client,
        to: &PhoneNumber,
    ) -> Result<Option<SimSwapOutcome>, CoreError> {
        let Some(policy) = client.controls.sim_swap else {
            return Ok(None);
        };
        let answer = self.sim_swap.swapped_within(to, policy.max_age_h).await;
        let outcome = SimSwapOutcome::of(&answer, policy.max_age_h);
        let refused = outcome.blocks(&policy);
        self.metrics.sim_swap_checked(outcome.result.as_str(), refused);
        if refused {
            return Err(CoreError::SimSwapped {
                max_age_h: policy.max_age_h,
            });
        }
        Ok(Some(outcome))
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

    /// The limits of the login and API-secret throttle (default [`crate::throttle::Limits::default`]).
    pub fn with_throttle(mut self, limits: crate::throttle::Limits) -> Self {
        self.throttle = limits;
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

    /// Deletes what the retention rules allow: terminal verifications older than
    /// `retention_s`, idempotency records past their window, expired access tokens, and
    /// throttle rows a day after their last failure.
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

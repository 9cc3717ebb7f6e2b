//! Ports: the traits through which the core reaches the outside world. Implementations
//! live in other crates (`ringproof-store`, `ringproof-providers`) and are injected.

use async_trait::async_trait;

use crate::access_key::AccessKey;
use crate::audit::{AuditEntry, AuditQuery};
use crate::client::Client;
use crate::error::StoreError;
use crate::ids::{BucketId, ClientId, JobId, LinkId, RateLimitId, ServiceId, VerificationId};
use crate::job::{Job, JobQueue, JobStats, NewJob};
use crate::link_session::{LinkRecord, LinkSession};
use crate::phone::PhoneNumber;
use crate::ratelimit::{Bucket, RateLimit};
use crate::service::Service;
use crate::sessions::{LoginFailures, TokenRecord};
use crate::time::Timestamp;
use crate::verification::{Effects, Event, NewEvent, Verification};
use crate::vonage_template::{TemplateFragment, VonageTemplate};
use crate::workflow::Channel;

/// The status a delivery receipt reports; defined beside the delivery records it moves
/// forward ([`crate::delivery`]), and named here for the receipt ports' implementers.
pub use crate::delivery::DeliveryStatus;

/// A stored response to a request made with an `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentResponse {
    pub client_id: ClientId,
    pub key: String,
    /// SHA-256 of the canonical request, to tell a replay from a different request.
    pub request_hash: [u8; 32],
    pub status: u16,
    pub body: String,
    pub created_at: Timestamp,
}

/// An administrative write to a client, made by [`Store::audited_client_write`] together
/// with its audit entry. Each is the same write as the plain method of the same name.
#[derive(Clone, Copy, Debug)]
pub enum ClientWrite<'a> {
    /// [`Store::insert_client`].
    Insert(&'a Client),
    /// [`Store::update_client_settings`].
    Settings(&'a Client),
    /// [`Store::set_client_secret`].
    Secret(&'a ClientId, &'a [u8; 32]),
    /// [`Store::set_client_webhook`].
    Webhook(&'a ClientId, Option<&'a crate::webhook::WebhookConfig>),
    /// [`Store::delete_client_tokens`].
    RevokeTokens(&'a ClientId),
    /// Inserts an access key, or replaces the secret hash of the key with its id (a
    /// rotation keeps the id and the client).
    AccessKey(&'a crate::access_key::AccessKey),
    /// Inserts a Vonage application, or replaces the public key of the client's
    /// application with its id (another client's id is not taken over: nothing written).
    VonageApplication(&'a crate::vonage_app::VonageApplication),
    /// Deletes the client's API key (`kind` `api_key` or `vonage`) with this id; no row
    /// when the client has no such key.
    RevokeApiKey(&'a ClientId, &'a str),
}

/// A transition applied by [`Store::update_verification`] to the locked record.
pub type Mutation<'a> = &'a mut (dyn FnMut(&mut Verification) -> Effects + Send);

/// A change applied by [`Store::update_link`] to the locked link session.
pub type LinkMutation<'a> = &'a mut (dyn FnMut(&mut LinkSession) + Send);

/// A step over the throttle rows of one attempt ([`Store::throttle_step`]): it gets their
/// states, in the order of the keys, and changes them in place. See
/// [`crate::throttle::Limits::begin`].
pub type ThrottleStep<'a> = &'a mut (dyn FnMut(&mut [LoginFailures]) + Send);

/// The key of a limit counter row ([`crate::guard`]): the client, what is counted
/// (`number`, `ip`, `client`, …) and a keyed hash of the value (never the raw number or IP).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CounterKey {
    pub client_id: ClientId,
    pub scope: String,
    pub key: [u8; 32],
}

/// A limit counter row as [`Store::update_counters`] hands it over: its encoded state
/// (empty for a row not stored yet) and when it may be forgotten.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterRow {
    pub state: Vec<u8>,
    pub expires_at: Timestamp,
}

/// The step [`Store::update_counters`] applies to the locked rows (in the order of the
/// keys given): it changes them in place and returns whether to write them back.
pub type CounterStep<'a> = &'a mut (dyn FnMut(&mut [CounterRow]) -> bool + Send);

/// A transition applied by [`Store::update_verification_counted`] to the locked record
/// and the locked counter rows (in the order of the keys given): it returns the
/// transition's effects and, per row, whether to write it back.
pub type CountedMutation<'a> = &'a mut (dyn FnMut(&mut Verification, &mut [CounterRow]) -> (Effects, Vec<bool>) + Send);

/// Persistence. Two implementations (SQLite, PostgreSQL) pass one conformance suite.
///
/// Every method that reads or writes a verification takes the client id and treats a
/// record of another client exactly like a missing one.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip to the database, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores `value` as the installation setting `name` unless one is stored already, in
    /// one statement (two nodes starting at once agree on the first); the stored value.
    async fn keep_setting(&self, name: &str, value: &str) -> Result<String, StoreError>;

    /// The installation setting `name`, if one is stored.
    async fn setting(&self, name: &str) -> Result<Option<String>, StoreError>;

    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;
    async fn client_by_id(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    async fn client_by_api_key(&self, api_key: &str) -> Result<Option<Client>, StoreError>;
    /// [`Self::client_by_api_key`] and [`Self::throttle_states`] of `throttle_keys` in one
    /// read (one round trip): what every request authenticated by an API key reads first.
    async fn client_by_api_key_with_throttle(
        &self,
        api_key: &str,
        throttle_keys: &[String],
    ) -> Result<(Option<Client>, Vec<LoginFailures>), StoreError>;
    async fn client_by_username(&self, username: &str) -> Result<Option<Client>, StoreError>;
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Replaces a client's settings (brand and its colour, allowed origins, templates,
    /// policy, controls); never its id, name, credentials or webhook. `false` if there is no such client.
    async fn update_client_settings(&self, client: &Client) -> Result<bool, StoreError>;
    /// Replaces a client's webhook (and nothing else, so it cannot undo a concurrent
    /// change of other settings); `false` if there is no such client.
    async fn set_client_webhook(
        &self,
        id: &ClientId,
        webhook: Option<&crate::webhook::WebhookConfig>,
    ) -> Result<bool, StoreError>;
    /// Replaces the stored secret hash; `false` if there is no such client.
    async fn set_client_secret(&self, id: &ClientId, secret_hash: &[u8; 32]) -> Result<bool, StoreError>;

    /// Makes one administrative change to a client and records `audit`, in one
    /// transaction: the entry exists exactly when the change was made. Returns the rows the
    /// write changed: 0 (and no entry) if there is no such client. For
    /// [`ClientWrite::RevokeTokens`], the tokens deleted, and the entry is recorded even
    /// when there were none.
    async fn audited_client_write(&self, write: ClientWrite<'_>, audit: &AuditEntry) -> Result<u64, StoreError>;
    /// Records an administrative action that has no client write of its own to share a
    /// transaction with (or whose store method records it in its own transaction).
    async fn insert_audit(&self, audit: &AuditEntry) -> Result<(), StoreError>;
    /// Audit entries, newest first (ties: the later recorded first).
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
    /// Deletes audit entries recorded before `before`; how many.
    async fn purge_audit(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Erases the personal data (phone numbers, IP addresses, user agents, message texts)
    /// of every row older than `before`, by deleting the row or blanking the columns, in
    /// batches. Verifications go whole whatever their status (with their events, jobs and
    /// deliveries), as do link sessions, idempotent responses (their bodies echo the
    /// number) and jobs (a provider's error text may quote the number). Returns the rows
    /// deleted or changed. The list of what is erased is one table in the store
    /// (`PERSONAL_DATA` in ringproof-store's query.rs); docs/privacy.md mirrors it.
    async fn erase_personal_data(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Stores an access token (its hash). `Conflict` if the hash is already stored.
    async fn insert_access_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// The client owning the token with this hash, if the token has not expired at `now`.
    async fn client_by_token_hash(&self, token_hash: &[u8; 32], now: Timestamp) -> Result<Option<Client>, StoreError>;
    /// Deletes every access token of a client; returns how many there were.
    async fn delete_client_tokens(&self, client: &ClientId) -> Result<u64, StoreError>;

    /// Applies `f` to the throttle rows with these keys, atomically: locks every row (a key
    /// without one has the default state, no failures), hands their states to `f` in the
    /// order of `keys`, and stores the states it leaves (a row left at the default state is
    /// deleted). Concurrent steps sharing a key are serialised, each seeing what the
    /// previous one stored; steps over overlapping sets of keys never deadlock.
    async fn throttle_step(&self, keys: &[String], f: ThrottleStep<'_>) -> Result<(), StoreError>;
    /// The states of the throttle rows with these keys, in the order of `keys` (default for
    /// a missing row): a plain read, without a lock.
    async fn throttle_states(&self, keys: &[String]) -> Result<Vec<LoginFailures>, StoreError>;

    /// Applies `f` to the limit counter rows with these keys, atomically: the rows are
    /// locked (in key order, so two calls never deadlock), a missing one is handed over
    /// empty, and if `f` returns true every row is written back, in one transaction.
    /// Concurrent calls touching one row are serialised, each seeing what the previous one
    /// wrote. Rows past their `expires_at` are deleted by [`Store::purge`].
    async fn update_counters(&self, keys: &[CounterKey], f: CounterStep<'_>) -> Result<(), StoreError>;
    /// The counter rows of `scope` (of one client, or of all) not yet past their
    /// `expires_at` at `now`, with their clients: a plain read, for listing what the rows
    /// hold (the SMS-pumping guard's blocks).
    async fn list_counters(
        &self,
        client: Option<&ClientId>,
        scope: &str,
        now: Timestamp,
    ) -> Result<Vec<(ClientId, CounterRow)>, StoreError>;

    /// The stored response for `(client, key)` if it was created at or after `not_before`.
    async fn idempotent_response(
        &self,
        client: &ClientId,
        key: &str,
        not_before: Timestamp,
    ) -> Result<Option<IdempotentResponse>, StoreError>;

    /// Inserts a new verification with its effects (jobs, events) and, if given, the
    /// idempotent response, in one transaction. `Conflict` if the idempotency key is taken.
    async fn insert_verification(
        &self,
        v: &Verification,
        fx: &Effects,
        idem: Option<&IdempotentResponse>,
    ) -> Result<(), StoreError>;

    /// Inserts many verifications with their effects in one transaction, all or none (no
    /// idempotency records): for `ringproof bench seed` and imports, where one transaction
    /// per record would be the cost.
    async fn import_verifications(&self, items: &[(Verification, Effects)]) -> Result<(), StoreError>;

    async fn get_verification(
        &self,
        client: &ClientId,
        id: &VerificationId,
    ) -> Result<Option<Verification>, StoreError>;

    /// Locks the verification, applies `f`, writes the record back with the effects, and
    /// deletes `done_job` if given, all in one transaction. Concurrent calls for the same
    /// verification are serialised. Returns the updated record, or `None` if not found.
    async fn update_verification(
        &self,
        client: &ClientId,
        id: &VerificationId,
        done_job: Option<&JobId>,
        f: Mutation<'_>,
    ) -> Result<Option<Verification>, StoreError>;

    /// [`Self::update_verification`] and [`Self::update_counters`] in one transaction: the
    /// counter rows with these keys (a missing one handed over empty) and the record are
    /// locked, `f` sees both, and the record, its effects and the rows `f` marks are
    /// written back together. A check's guess budget and its evaluation are one step this
    /// way, not three (admit, evaluate, take back), each a round trip to SQLite's single
    /// writer. Returns the updated record, or `None` if not found (nothing written).
    async fn update_verification_counted(
        &self,
        client: &ClientId,
        id: &VerificationId,
        keys: &[CounterKey],
        f: CountedMutation<'_>,
    ) -> Result<Option<Verification>, StoreError>;

    async fn list_events(&self, client: &ClientId, id: &VerificationId) -> Result<Vec<Event>, StoreError>;

    /// Claims up to `limit` jobs of `queue` due at `now` whose lease has lapsed: each gets
    /// a lease until `now + lease_ms` and its attempt counter incremented. Concurrent
    /// claimers never receive the same job while its lease holds. Fair across clients:
    /// first the oldest due job of every client with no job in flight (none leased), then
    /// the oldest of every other client, then due order; returned in turns (each client's
    /// oldest, then each one's second, …), each turn oldest due first.
    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
        queue: JobQueue,
    ) -> Result<Vec<Job>, StoreError>;
    /// Deletes a finished job (erasing its payload), recording `event` on its verification.
    async fn complete_job(&self, job: &Job, event: Option<&NewEvent>) -> Result<(), StoreError>;
    /// [`Store::complete_job`] for several jobs in one transaction, inserting `new_jobs`
    /// (the webhooks announcing the events) too: all are recorded, or (on error) none. An
    /// event or new job whose verification is gone is dropped, as there. A new job's
    /// `created_at` is its `due_at`.
    async fn complete_jobs(
        &self,
        done: &[(&Job, Option<&NewEvent>)],
        new_jobs: &[NewJob],
        deliveries: &[crate::delivery::DeliveryRecord],
    ) -> Result<(), StoreError>;

    /// Moves the status of the send `(provider, provider_message_id)` to `status` if
    /// [`crate::delivery::moves_forward`] allows it, atomically (two concurrent receipts
    /// for one send: one wins). Returns the send, or `None` if there is no such send or the
    /// status did not move.
    async fn apply_receipt(
        &self,
        provider: &str,
        provider_message_id: &str,
        status: DeliveryStatus,
        at: Timestamp,
    ) -> Result<Option<crate::delivery::ReceiptMatch>, StoreError>;
    /// Releases the job to run again at `due_at`.
    async fn retry_job(&self, id: &JobId, due_at: Timestamp, error: &str) -> Result<(), StoreError>;
    /// Gives up on a job: it stays as a dead letter with its error, payload erased.
    async fn bury_job(&self, id: &JobId, error: &str, now: Timestamp) -> Result<(), StoreError>;
    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError>;
    /// When the earliest pending job falls due, so an idle worker knows how long to sleep.
    async fn next_job_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Inserts a link session with its jobs (the SMS deliver job) in one transaction.
    /// `Conflict` if one of its ids or its token hash is already stored.
    async fn insert_link(&self, link: &LinkRecord, jobs: &[NewJob]) -> Result<(), StoreError>;
    /// The link session with these ids if it belongs to `client` (another client's ids
    /// answer like unknown ones).
    async fn get_link(
        &self,
        client: &ClientId,
        request_id: &LinkId,
        session_id: &LinkId,
    ) -> Result<Option<LinkRecord>, StoreError>;
    /// The link session whose token has this hash. Not scoped by client: the link is
    /// public and its token is the credential.
    async fn link_by_token_hash(&self, token_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError>;
    /// The link session whose network authentication carries this OIDC state hash. Not
    /// scoped by client: the state is the credential of the operator's callback.
    async fn link_by_auth_state(&self, state_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError>;
    /// The link session of `client` whose VFP has this hash.
    async fn link_by_vfp_hash(&self, client: &ClientId, vfp_hash: &[u8; 32]) -> Result<Option<LinkRecord>, StoreError>;
    /// Locks the link session whose token has this hash, applies `f`, and writes back what
    /// a click may change (the click and the VFP hash), in one transaction. Concurrent
    /// calls for one session are serialised, each seeing what the previous one wrote.
    /// Returns the record after `f`, or `None` if there is no such session.
    async fn update_link(&self, token_hash: &[u8; 32], f: LinkMutation<'_>) -> Result<Option<LinkRecord>, StoreError>;

    /// Deletes terminal verifications last changed before `terminal_before` (with their
    /// events and dead jobs), link sessions that expired before `terminal_before`,
    /// idempotent responses older than `idempotency_before`, access
    /// tokens expired at `tokens_expired_at` (`expires_at <= tokens_expired_at`), and
    /// throttle rows whose last failure (or window start) is before `login_failures_before`. Returns
    /// the number of verifications deleted.
    async fn purge(
        &self,
        terminal_before: Timestamp,
        idempotency_before: Timestamp,
        tokens_expired_at: Timestamp,
        login_failures_before: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Inserts a new verification with its effects, after applying `supersede` to every
    /// *pending* verification of the same client to the same number (`v.to`) and writing
    /// each back with its effects, all in one transaction. Concurrent calls for one
    /// (client, number) are serialised, each seeing what the previous one committed, so
    /// the ones before it are superseded too. Returns how many were superseded.
    async fn insert_verification_superseding(
        &self,
        v: &Verification,
        fx: &Effects,
        supersede: Mutation<'_>,
    ) -> Result<u32, StoreError>;

    /// The client's verification to `to` that a code check should go to: the newest
    /// pending one (by `created_at`), else the newest of any status.
    async fn latest_verification_to(
        &self,
        client: &ClientId,
        to: &PhoneNumber,
    ) -> Result<Option<Verification>, StoreError>;

    /// [`Store::latest_verification_to`] among the client's verifications made in
    /// `service` ([`crate::verification::Options::service`]) only, in the same order.
    async fn latest_verification_in_service(
        &self,
        client: &ClientId,
        service: &ServiceId,
        to: &PhoneNumber,
    ) -> Result<Option<Verification>, StoreError>;

    /// The access key with this id, of whichever client (authentication finds the client
    /// by it); written by [`Store::audited_client_write`] with [`ClientWrite::AccessKey`].
    async fn access_key(&self, id: &str) -> Result<Option<AccessKey>, StoreError>;
    /// A client's access keys, oldest first.
    async fn access_keys(&self, client: &ClientId) -> Result<Vec<AccessKey>, StoreError>;

    async fn insert_service(&self, service: &Service) -> Result<(), StoreError>;
    /// The client's service with this id; another client's answers `None`.
    async fn service(&self, client: &ClientId, id: &ServiceId) -> Result<Option<Service>, StoreError>;
    /// The client's services, oldest first, `limit` of them from `offset`.
    async fn list_services(&self, client: &ClientId, offset: u64, limit: u64) -> Result<Vec<Service>, StoreError>;
    /// Replaces the settings and `updated_at` of the client's service if its `updated_at`
    /// is still `read_at` (a compare-and-set: a concurrent update in between is not
    /// overwritten); `false` if there is no such service of this client or it changed.
    async fn update_service(&self, service: &Service, read_at: Timestamp) -> Result<bool, StoreError>;
    /// `false` if there is no such service of this client.
    async fn delete_service(&self, client: &ClientId, id: &ServiceId) -> Result<bool, StoreError>;

    /// A [`StoreError::Conflict`] if the service has a rate limit of this name already.
    async fn insert_rate_limit(&self, r: &RateLimit) -> Result<(), StoreError>;
    /// The rate limit of this client's service with this id; another's answers `None`.
    async fn rate_limit(
        &self,
        client: &ClientId,
        service: &ServiceId,
        id: &RateLimitId,
    ) -> Result<Option<RateLimit>, StoreError>;
    /// The rate limits of the client's service, oldest first, `limit` of them from `offset`.
    async fn list_rate_limits(
        &self,
        client: &ClientId,
        service: &ServiceId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<RateLimit>, StoreError>;
    /// Replaces the description and `updated_at`; `false` if there is no such rate limit
    /// of this client's service.
    async fn update_rate_limit(&self, r: &RateLimit) -> Result<bool, StoreError>;
    /// Deletes a rate limit and its buckets; `false` if there is no such rate limit of
    /// this client's service. (Deleting a service deletes its rate limits.)
    async fn delete_rate_limit(
        &self,
        client: &ClientId,
        service: &ServiceId,
        id: &RateLimitId,
    ) -> Result<bool, StoreError>;
    /// A [`StoreError::Conflict`] if the rate limit has a bucket of this interval already.
    async fn insert_bucket(&self, b: &Bucket) -> Result<(), StoreError>;
    /// The bucket of this client's service and rate limit with this id.
    async fn bucket(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: &RateLimitId,
        id: &BucketId,
    ) -> Result<Option<Bucket>, StoreError>;
    /// The buckets of one rate limit (`Some`) or of every rate limit of the service
    /// (`None`), oldest first, `limit` of them from `offset`.
    async fn list_buckets(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: Option<&RateLimitId>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Bucket>, StoreError>;
    /// Replaces `max`, `interval_s` and `updated_at`; `false` if there is no such bucket
    /// of this client's service and rate limit; a [`StoreError::Conflict`] if another
    /// bucket of the rate limit has the new interval.
    async fn update_bucket(&self, b: &Bucket) -> Result<bool, StoreError>;
    /// `false` if there is no such bucket of this client's service and rate limit.
    async fn delete_bucket(
        &self,
        client: &ClientId,
        service: &ServiceId,
        rate_limit: &RateLimitId,
        id: &BucketId,
    ) -> Result<bool, StoreError>;
    /// Inserts a Vonage template, the client's default if it has no other template yet
    /// (decided in the statement, so two first templates cannot both be the default;
    /// `is_default` of `t` is not read). [`StoreError::Conflict`] when the client has a
    /// template of that name.
    async fn insert_vonage_template(&self, t: &VonageTemplate) -> Result<(), StoreError>;
    /// The client's template with this id; another client's answers `None`.
    async fn vonage_template(&self, client: &ClientId, id: &str) -> Result<Option<VonageTemplate>, StoreError>;
    /// The client's default template, if it has one.
    async fn default_vonage_template(&self, client: &ClientId) -> Result<Option<VonageTemplate>, StoreError>;
    /// The client's templates, oldest first, `limit` of them from `offset`.
    async fn list_vonage_templates(
        &self,
        client: &ClientId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<VonageTemplate>, StoreError>;
    async fn count_vonage_templates(&self, client: &ClientId) -> Result<u64, StoreError>;
    /// Replaces the name, `is_default` and `updated_at` of the client's template; when it
    /// becomes the default, every other template of the client stops being it, in the same
    /// transaction. `false` if there is no such template of this client;
    /// [`StoreError::Conflict`] when another template of the client has the name.
    async fn update_vonage_template(&self, t: &VonageTemplate) -> Result<bool, StoreError>;
    /// Deletes the client's template if it has no fragment left; `false` if there is no
    /// such template of this client or it still has fragments.
    async fn delete_vonage_template(&self, client: &ClientId, id: &str) -> Result<bool, StoreError>;
    /// [`StoreError::Conflict`] when the template has a fragment for that channel and
    /// locale already.
    async fn insert_template_fragment(&self, f: &TemplateFragment) -> Result<(), StoreError>;
    /// The fragment of the client's template with these ids; `None` for another client's
    /// or another template's.
    async fn template_fragment(
        &self,
        client: &ClientId,
        template_id: &str,
        id: &str,
    ) -> Result<Option<TemplateFragment>, StoreError>;
    /// The fragments of the client's template, oldest first, `limit` of them from `offset`.
    async fn list_template_fragments(
        &self,
        client: &ClientId,
        template_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<TemplateFragment>, StoreError>;
    async fn count_template_fragments(&self, client: &ClientId, template_id: &str) -> Result<u64, StoreError>;
    /// Replaces the text and `updated_at` of the client's fragment; `false` if there is none.
    async fn update_template_fragment(&self, f: &TemplateFragment) -> Result<bool, StoreError>;
    /// `false` if the client's template has no such fragment.
    async fn delete_template_fragment(
        &self,
        client: &ClientId,
        template_id: &str,
        id: &str,
    ) -> Result<bool, StoreError>;

    /// The Vonage application with this id, of whichever client (authentication finds the
    /// client by it); written with [`ClientWrite::VonageApplication`].
    async fn vonage_application(&self, id: &str) -> Result<Option<crate::vonage_app::VonageApplication>, StoreError>;
    /// Records that a token (its [`crate::vonage_app::TokenUse::key`]) was used, kept until
    /// `keep_until`: `true` the first time, `false` if it is already recorded (a replay).
    /// Records past their `keep_until` at `now` are removed on the way.
    async fn use_token_once(&self, key: &[u8; 32], keep_until: Timestamp, now: Timestamp) -> Result<bool, StoreError>;
}

/// One message or call to hand to a provider.
#[derive(Clone)]
pub struct OutboundMessage {
    /// Stable across retries of the same job, so a provider (or the sandbox) can drop a
    /// duplicate after a crash between sending and recording the send.
    pub idempotency_key: String,
    pub to: PhoneNumber,
    pub channel: Channel,
    /// The SMS text, or the words the call speaks.
    pub text: String,
    pub locale: String,
    pub sender: Option<String>,
    /// The verification the message belongs to, with its client (the sandbox phone shows
    /// its status); `None` for a link's SMS and a test send.
    pub verification: Option<(crate::ids::ClientId, crate::ids::VerificationId)>,
}

/// Shows neither the text (it holds the code) nor the whole number.
impl std::fmt::Debug for OutboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundMessage")
            .field("idempotency_key", &self.idempotency_key)
            .field("to", &self.to.masked())
            .field("channel", &self.channel)
            .field("text_chars", &self.text.chars().count())
            .field("locale", &self.locale)
            .field("sender", &self.sender)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendReceipt {
    pub provider: String,
    pub provider_message_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (timeouts, 5xx, throttling).
    #[error("retryable: {0}")]
    Retryable(String),
    /// Will never succeed (invalid number, blocked, refused content).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Delivery of SMS and voice calls.
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    fn name(&self) -> &str;
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError>;

    /// Whether a message handed over now has any chance of leaving: a cheap, synchronous
    /// signal (no I/O) that the engine reads before it stores a new verification or link,
    /// so a request that could not be delivered is refused at once
    /// ([`CoreError::UpstreamDown`](crate::error::CoreError::UpstreamDown)) instead of
    /// queueing a message that will fail. Default `true`. A provider with a circuit breaker
    /// (docs/providers.md) returns `false` while every route to a destination is open; one without
    /// such knowledge keeps the default.
    fn available(&self) -> bool {
        true
    }

    /// [`Sender::available`] for one destination and channel: a router answers for the
    /// route that would carry it. Default: [`Sender::available`].
    fn available_for(&self, _to: &PhoneNumber, _channel: Channel) -> bool {
        self.available()
    }

    /// A cheap check that the provider is reachable and its credentials work (for
    /// `ringproof send-test` and readiness), without sending anything. Default: `Ok`.
    async fn healthcheck(&self) -> Result<(), SendError> {
        Ok(())
    }
}

/// What the engine counts, once, where the rule runs: every face and the CLI start and
/// check through the engine, so they are all counted alike. The server implements it with
/// its metrics registry; the default, [`NoMetrics`], counts nothing.
pub trait Metrics: Send + Sync + 'static {
    /// A verification was created (a replayed start is not), by its first channel.
    fn verification_started(&self, first_channel: Channel);
    /// A check approved a verification, by its first channel.
    fn verification_approved(&self, first_channel: Channel);
    /// A code was checked: `approved`, `wrong`, `max_attempts_reached`, or the
    /// [`CoreError::code`](crate::CoreError::code) of the refusal.
    fn code_checked(&self, outcome: &'static str);
    /// A limit ([`crate::guard`]) refused a send or a check: its rule and the number's
    /// region (ISO code, or the calling code where the plan names none).
    fn guard_refused(&self, _rule: &'static str, _country: &str) {}
    /// A block of a number range started (the SMS-pumping guard's rules, a renewal, or
    /// an operator): its rule (`pumping_prefix`, `pumping_country`, `manual_block`) and
    /// country.
    fn guard_block_created(&self, _rule: &'static str, _country: &str) {}
    /// A client's send cap ([`crate::guard::Limits::client_sends_per_day`], `…_per_minute`)
    /// reached 80 %.
    fn client_cap_near(&self, _client: &ClientId, _warning: crate::guard::CapWarning) {}
    /// Network authentication gave a verdict: the authenticator's name, the verdict and
    /// its reason.
    fn netauth_verdict(&self, _authenticator: &str, _verdict: &crate::netauth::Verdict) {}
    /// A SIM-swap check ([`crate::simswap`]) was made before a start: its result
    /// (`swapped`, `not_swapped`, `unknown`) and whether it refused the start.
    fn sim_swap_checked(&self, _result: &'static str, _refused: bool) {}
}

/// Counts nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn verification_started(&self, _: Channel) {}
    fn verification_approved(&self, _: Channel) {}
    fn code_checked(&self, _: &'static str) {}
}

/// Why a webhook POST did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookError(pub String);

/// The HTTP client that POSTs webhooks. `Ok` with the status code when a response
/// arrived (any status); `Err` for a connection failure or a timeout.
#[async_trait]
pub trait WebhookPoster: Send + Sync + 'static {
    async fn post(&self, req: &crate::webhook::WebhookRequest) -> Result<u16, WebhookError>;
}

/// One delivery receipt, matched to the send by the provider's message id (the
/// [`SendReceipt::provider_message_id`] of the send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The configured provider name (the `[providers.NAME]` key).
    pub provider: String,
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    /// The provider's error code or reason, if it gave one (never a phone number).
    pub reason: Option<String>,
}

/// Where providers that receive receipts on their own connection (SMPP) hand them.
pub trait ReceiptSink: Send + Sync + 'static {
    fn receipt(&self, receipt: DeliveryReceipt);
}

/// An HTTP request as a provider's status callback arrived, for providers that verify
/// and parse their own callbacks (Twilio, Vonage). `url` is the full public URL the
/// provider called (what a signature covers).
#[derive(Clone, Debug)]
pub struct CallbackRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// Header names in lowercase.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Why a callback was refused (bad signature → 403; unreadable → 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback's signature does not verify")]
    BadSignature,
    #[error("the callback cannot be read: {0}")]
    Malformed(String),
}

/// A provider that receives delivery receipts as HTTP callbacks at
/// `<public_base_url>/callbacks/<provider name>`.
pub trait CallbackParser: Send + Sync + 'static {
    /// Verifies the request (its signature, where the vendor signs) and returns the
    /// receipts it carries (possibly none: some callbacks are only progress).
    fn parse_callback(&self, req: &CallbackRequest<'_>) -> Result<Vec<DeliveryReceipt>, CallbackError>;
}

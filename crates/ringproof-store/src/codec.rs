//! The mapping between the core's types and database columns, shared by both backends.
//!
//! Both schemas store the same columns with the same meaning (timestamps as BIGINT
//! milliseconds, ids as TEXT, structured values as JSON text, hashes and sealed blobs as
//! bytes), so decoding is written once, generically over any row that is a [`DbRow`], and
//! encoding produces plain values the statements bind (most of them written once too, in
//! `query.rs`). Anything that does not
//! decode into a valid core value is reported as [`StoreError::Corrupt`]: a row the code
//! cannot trust must never be half-used.

use ringproof_core::StoreError;
use ringproof_core::access_key::{AccessKey, AccessKeyKind};
use ringproof_core::audit::{Actor, AuditAction, AuditEntry};
use ringproof_core::client::{BrandColor, Client};
use ringproof_core::ids::{BucketId, ClientId, JobId, RateLimitId, ServiceId, VerificationId};
use ringproof_core::job::{Job, JobKind};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::IdempotentResponse;
use ringproof_core::ratelimit::{Bucket, RateLimit};
use ringproof_core::service::Service;
use ringproof_core::sessions::LoginFailures;
use ringproof_core::time::Timestamp;
use ringproof_core::verification::{Event, EventKind, NewEvent, Status, Verification};
use ringproof_core::workflow::Channel;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::corrupt;

/// Columns of `verifications`, in the order [`verification`] reads them by name.
macro_rules! verification_columns {
    () => {
        "id, client_id, to_e164, status, workflow, locale, brand, code_length, code_hash, code_expires_at, \
         sealed_code, next_step, sends, resends, last_sent_at, wrong_checks, policy, created_at, updated_at, expires_at, options"
    };
}
pub(crate) use verification_columns;

macro_rules! client_columns {
    () => {
        "id, name, brand, brand_color, api_key, secret_hash, username, password_hash, allowed_origins, templates, policy, \
         controls, webhook, created_at"
    };
}
pub(crate) use client_columns;

macro_rules! job_columns {
    () => {
        "id, kind, client_id, verification_id, due_at, payload, attempts, max_attempts"
    };
}
pub(crate) use job_columns;

/// Longest `last_error` kept for a job; provider errors can be arbitrarily long.
const MAX_ERROR_LEN: usize = 1000;

pub(crate) fn truncate_error(e: &str) -> &str {
    if e.len() <= MAX_ERROR_LEN {
        return e;
    }
    let mut end = MAX_ERROR_LEN;
    while !e.is_char_boundary(end) {
        end -= 1;
    }
    &e[..end]
}

/// Reads one column of type `T`, by name, from a row of either backend.
pub(crate) trait Column<T> {
    fn column(&self, name: &'static str) -> Result<T, StoreError>;
}

impl<R, T> Column<T> for R
where
    R: Row,
    &'static str: ColumnIndex<R>,
    T: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    fn column(&self, name: &'static str) -> Result<T, StoreError> {
        self.try_get::<T, _>(name)
            .map_err(|e| corrupt(format_args!("column {name}: {e}")))
    }
}

/// A row of either backend, able to read every column type the mapping reads. These are
/// supertraits rather than where-clauses so that they carry over: a decoder takes
/// `&impl DbRow` and needs no bounds of its own.
pub(crate) trait DbRow:
    Column<String>
    + Column<Option<String>>
    + Column<i64>
    + Column<Option<i64>>
    + Column<bool>
    + Column<Option<bool>>
    + Column<Vec<u8>>
    + Column<Option<Vec<u8>>>
{
}

impl<R> DbRow for R where
    R: Column<String>
        + Column<Option<String>>
        + Column<i64>
        + Column<Option<i64>>
        + Column<bool>
        + Column<Option<bool>>
        + Column<Vec<u8>>
        + Column<Option<Vec<u8>>>
{
}

pub(crate) fn col<T>(row: &impl Column<T>, name: &'static str) -> Result<T, StoreError> {
    row.column(name)
}

fn u32_of(v: i64, name: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(format_args!("column {name} out of range")))
}

fn u8_of(v: i64, name: &str) -> Result<u8, StoreError> {
    u8::try_from(v).map_err(|_| corrupt(format_args!("column {name} out of range")))
}

pub(crate) fn hash32(v: Vec<u8>, name: &str) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(v).map_err(|_| corrupt(format_args!("column {name} is not 32 bytes")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str, name: &str) -> Result<T, StoreError> {
    // The serde error text can quote the input; say only which column failed.
    serde_json::from_str(s).map_err(|_| corrupt(format_args!("column {name} is not valid JSON for its type")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T, name: &str) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|_| corrupt(format_args!("{name} cannot be encoded as JSON")))
}

pub(crate) fn client_id(s: &str) -> Result<ClientId, StoreError> {
    ClientId::parse(s).ok_or_else(|| corrupt("malformed client id"))
}

/// An `access_keys` row.
pub(crate) fn access_key(row: &impl DbRow) -> Result<AccessKey, StoreError> {
    let kind: String = col(row, "kind")?;
    Ok(AccessKey {
        id: col(row, "id")?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        kind: AccessKeyKind::parse(&kind).ok_or_else(|| corrupt("unknown access key kind"))?,
        secret_hash: hash32(col(row, "secret_hash")?, "secret_hash")?,
        created_at: Timestamp(col(row, "created_at")?),
    })
}

/// A `vonage_applications` row.
pub(crate) fn vonage_application(
    row: &impl DbRow,
) -> Result<ringproof_core::vonage_app::VonageApplication, StoreError> {
    let pem: String = col(row, "public_key")?;
    Ok(ringproof_core::vonage_app::VonageApplication {
        id: col(row, "id")?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        public_key: ringproof_core::jose::RsaKey::from_pem(&pem).map_err(|_| corrupt("unreadable public key"))?,
        created_at: Timestamp(col(row, "created_at")?),
    })
}

/// A `vonage_templates` row.
pub(crate) fn vonage_template(row: &impl DbRow) -> Result<ringproof_core::vonage_template::VonageTemplate, StoreError> {
    Ok(ringproof_core::vonage_template::VonageTemplate {
        id: col(row, "id")?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        name: col(row, "name")?,
        is_default: col(row, "is_default")?,
        created_at: Timestamp(col(row, "created_at")?),
        updated_at: Timestamp(col(row, "updated_at")?),
    })
}

/// A `vonage_template_fragments` row.
pub(crate) fn template_fragment(
    row: &impl DbRow,
) -> Result<ringproof_core::vonage_template::TemplateFragment, StoreError> {
    let channel: String = col(row, "channel")?;
    Ok(ringproof_core::vonage_template::TemplateFragment {
        id: col(row, "id")?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        template_id: col(row, "template_id")?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("unknown fragment channel"))?,
        locale: col(row, "locale")?,
        text: col(row, "text")?,
        created_at: Timestamp(col(row, "created_at")?),
        updated_at: Timestamp(col(row, "updated_at")?),
    })
}

/// A `services` row.
pub(crate) fn service(row: &impl DbRow) -> Result<Service, StoreError> {
    let id: String = col(row, "id")?;
    let settings: String = col(row, "settings")?;
    Ok(Service {
        id: ServiceId::parse(&id).ok_or_else(|| corrupt("malformed service id"))?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        settings: json(&settings, "settings")?,
        created_at: Timestamp(col(row, "created_at")?),
        updated_at: Timestamp(col(row, "updated_at")?),
    })
}

/// A `rate_limits` row.
pub(crate) fn rate_limit(row: &impl DbRow) -> Result<RateLimit, StoreError> {
    Ok(RateLimit {
        id: RateLimitId::parse(&col::<String>(row, "id")?).ok_or_else(|| corrupt("malformed rate limit id"))?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        service_id: ServiceId::parse(&col::<String>(row, "service_id")?)
            .ok_or_else(|| corrupt("malformed service id"))?,
        unique_name: col(row, "unique_name")?,
        description: col(row, "description")?,
        created_at: Timestamp(col(row, "created_at")?),
        updated_at: Timestamp(col(row, "updated_at")?),
    })
}

/// A `rate_limit_buckets` row.
pub(crate) fn bucket(row: &impl DbRow) -> Result<Bucket, StoreError> {
    let small = |v: i64| u32::try_from(v).map_err(|_| corrupt("a bucket's max or interval out of range"));
    Ok(Bucket {
        id: BucketId::parse(&col::<String>(row, "id")?).ok_or_else(|| corrupt("malformed bucket id"))?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        service_id: ServiceId::parse(&col::<String>(row, "service_id")?)
            .ok_or_else(|| corrupt("malformed service id"))?,
        rate_limit_id: RateLimitId::parse(&col::<String>(row, "rate_limit_id")?)
            .ok_or_else(|| corrupt("malformed rate limit id"))?,
        max: small(col(row, "max")?)?,
        interval_s: small(col(row, "interval_s")?)?,
        created_at: Timestamp(col(row, "created_at")?),
        updated_at: Timestamp(col(row, "updated_at")?),
    })
}

fn verification_id(s: &str) -> Result<VerificationId, StoreError> {
    VerificationId::parse(s).ok_or_else(|| corrupt("malformed verification id"))
}

fn job_id(s: &str) -> Result<JobId, StoreError> {
    JobId::parse(s).ok_or_else(|| corrupt("malformed job id"))
}

pub(crate) fn verification(row: &impl DbRow) -> Result<Verification, StoreError> {
    let status: String = col(row, "status")?;
    let to: String = col(row, "to_e164")?;
    let workflow: String = col(row, "workflow")?;
    let policy: String = col(row, "policy")?;
    let code_hash: Option<Vec<u8>> = col(row, "code_hash")?;
    let options: String = col(row, "options")?;
    Ok(Verification {
        id: verification_id(&col::<String>(row, "id")?)?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        // The parse error names no digits, but say nothing beyond the column anyway.
        to: PhoneNumber::parse_e164(&to).map_err(|_| corrupt("column to_e164 is not a valid E.164 number"))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("unknown verification status"))?,
        workflow: json(&workflow, "workflow")?,
        locale: col(row, "locale")?,
        brand: col(row, "brand")?,
        code_length: u8_of(col(row, "code_length")?, "code_length")?,
        code_hash: code_hash.map(|h| hash32(h, "code_hash")).transpose()?,
        code_expires_at: Timestamp(col(row, "code_expires_at")?),
        sealed_code: col(row, "sealed_code")?,
        next_step: u8_of(col(row, "next_step")?, "next_step")?,
        sends: u32_of(col(row, "sends")?, "sends")?,
        resends: u32_of(col(row, "resends")?, "resends")?,
        last_sent_at: Timestamp(col(row, "last_sent_at")?),
        wrong_checks: u32_of(col(row, "wrong_checks")?, "wrong_checks")?,
        policy: json(&policy, "policy")?,
        created_at: Timestamp(col(row, "created_at")?),
        updated_at: Timestamp(col(row, "updated_at")?),
        expires_at: Timestamp(col(row, "expires_at")?),
        options: json(&options, "options")?,
    })
}

/// The encoded form of the columns of a verification that are not plain strings.
pub(crate) struct VerificationCols {
    pub workflow: String,
    pub policy: String,
    pub code_length: i64,
    pub next_step: i64,
    pub sends: i64,
    pub resends: i64,
    pub wrong_checks: i64,
    pub options: String,
}

impl VerificationCols {
    pub(crate) fn of(v: &Verification) -> Result<Self, StoreError> {
        Ok(Self {
            workflow: to_json(&v.workflow, "workflow")?,
            policy: to_json(&v.policy, "policy")?,
            code_length: i64::from(v.code_length),
            next_step: i64::from(v.next_step),
            sends: i64::from(v.sends),
            resends: i64::from(v.resends),
            wrong_checks: i64::from(v.wrong_checks),
            options: to_json(&v.options, "options")?,
        })
    }
}

pub(crate) fn client(row: &impl DbRow) -> Result<Client, StoreError> {
    let origins: String = col(row, "allowed_origins")?;
    let templates: String = col(row, "templates")?;
    let policy: String = col(row, "policy")?;
    let controls: String = col(row, "controls")?;
    let webhook: Option<String> = col(row, "webhook")?;
    let brand_color: Option<String> = col(row, "brand_color")?;
    Ok(Client {
        id: client_id(&col::<String>(row, "id")?)?,
        name: col(row, "name")?,
        brand: col(row, "brand")?,
        // Checked when set; a stored colour that no longer parses is a corrupt row.
        brand_color: brand_color
            .as_deref()
            .map(|c| {
                BrandColor::parse(c).map_err(|_| corrupt(format_args!("column brand_color is not a usable colour")))
            })
            .transpose()?,
        api_key: col(row, "api_key")?,
        secret_hash: hash32(col(row, "secret_hash")?, "secret_hash")?,
        username: col(row, "username")?,
        password_hash: col(row, "password_hash")?,
        allowed_origins: json(&origins, "allowed_origins")?,
        templates: json(&templates, "templates")?,
        policy: json(&policy, "policy")?,
        controls: json(&controls, "controls")?,
        webhook: webhook.as_deref().map(|w| json(w, "webhook")).transpose()?,
        created_at: Timestamp(col(row, "created_at")?),
    })
}

/// The encoded form of a client's JSON columns.
pub(crate) struct ClientCols {
    pub allowed_origins: String,
    pub templates: String,
    pub policy: String,
    pub controls: String,
    pub webhook: Option<String>,
}

impl ClientCols {
    pub(crate) fn of(c: &Client) -> Result<Self, StoreError> {
        Ok(Self {
            allowed_origins: to_json(&c.allowed_origins, "allowed_origins")?,
            templates: to_json(&c.templates, "templates")?,
            policy: to_json(&c.policy, "policy")?,
            controls: to_json(&c.controls, "controls")?,
            webhook: c.webhook.as_ref().map(|w| to_json(w, "webhook")).transpose()?,
        })
    }
}

/// The send a receipt matched (`RETURNING client_id, verification_id, channel, region, sent_at, send_seq`).
pub(crate) fn receipt_match(row: &impl DbRow) -> Result<ringproof_core::delivery::ReceiptMatch, StoreError> {
    let channel: String = col(row, "channel")?;
    Ok(ringproof_core::delivery::ReceiptMatch {
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        verification_id: verification_id(&col::<String>(row, "verification_id")?)?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("unknown delivery channel"))?,
        region: col(row, "region")?,
        sent_at: Timestamp(col(row, "sent_at")?),
        seq: u32_of(col(row, "send_seq")?, "send_seq")?,
    })
}

pub(crate) fn job(row: &impl DbRow) -> Result<Job, StoreError> {
    let kind: String = col(row, "kind")?;
    let vid: Option<String> = col(row, "verification_id")?;
    Ok(Job {
        id: job_id(&col::<String>(row, "id")?)?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt("unknown job kind"))?,
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        verification_id: vid.as_deref().map(verification_id).transpose()?,
        due_at: Timestamp(col(row, "due_at")?),
        payload: col(row, "payload")?,
        attempts: u32_of(col(row, "attempts")?, "attempts")?,
        max_attempts: u32_of(col(row, "max_attempts")?, "max_attempts")?,
    })
}

/// An event's kind as the `kind` column stores it: every insert of an event, on both
/// backends, binds it through here (and [`event`] is the one place that decodes it).
pub(crate) fn event_kind(e: &NewEvent) -> &'static str {
    e.kind.as_str()
}

pub(crate) fn event(row: &impl DbRow) -> Result<Event, StoreError> {
    let channel: Option<String> = col(row, "channel")?;
    Ok(Event {
        id: col(row, "id")?,
        verification_id: verification_id(&col::<String>(row, "verification_id")?)?,
        // The one place an event kind is decoded (see `event_kind`).
        kind: EventKind::parse(&col::<String>(row, "kind")?).ok_or_else(|| corrupt("unknown event kind"))?,
        channel: channel
            .as_deref()
            .map(|c| Channel::parse(c).ok_or_else(|| corrupt("unknown event channel")))
            .transpose()?,
        detail: col(row, "detail")?,
        at: Timestamp(col(row, "at")?),
    })
}

pub(crate) fn idempotent_response(row: &impl DbRow) -> Result<IdempotentResponse, StoreError> {
    let status: i64 = col(row, "status")?;
    Ok(IdempotentResponse {
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        key: col(row, "idem_key")?,
        request_hash: hash32(col(row, "request_hash")?, "request_hash")?,
        status: u16::try_from(status).map_err(|_| corrupt("column status out of range"))?,
        body: col(row, "body")?,
        created_at: Timestamp(col(row, "created_at")?),
    })
}

pub(crate) fn audit_entry(row: &impl DbRow) -> Result<AuditEntry, StoreError> {
    let action: String = col(row, "action")?;
    let detail: String = col(row, "detail")?;
    Ok(AuditEntry {
        at: Timestamp(col(row, "at")?),
        actor: Actor::named(&col::<String>(row, "actor")?),
        action: AuditAction::parse(&action).ok_or_else(|| corrupt(format!("unknown audit action {action:?}")))?,
        client_id: col::<Option<String>>(row, "client_id")?
            .map(|c| client_id(&c))
            .transpose()?,
        detail: serde_json::from_str(&detail).map_err(|e| corrupt(format!("audit detail: {e}")))?,
    })
}

pub(crate) fn login_failures(row: &impl DbRow) -> Result<LoginFailures, StoreError> {
    let failures: i64 = col(row, "failures")?;
    Ok(LoginFailures {
        failures: u32::try_from(failures).map_err(|_| corrupt("column failures out of range"))?,
        last_failure_at: Timestamp(col(row, "last_failure_at")?),
        locked_until: col::<Option<i64>>(row, "locked_until")?.map(Timestamp),
    })
}

/// A limit counter row's key (`client_id`, `scope`, `key_hash`).
pub(crate) fn counter_key(row: &impl DbRow) -> Result<ringproof_core::ports::CounterKey, StoreError> {
    let hash: Vec<u8> = col(row, "key_hash")?;
    Ok(ringproof_core::ports::CounterKey {
        client_id: client_id(&col::<String>(row, "client_id")?)?,
        scope: col(row, "scope")?,
        key: hash
            .try_into()
            .map_err(|_| corrupt("column key_hash is not 32 bytes"))?,
    })
}

/// A limit counter row (`state`, `expires_at`).
pub(crate) fn counter_row(row: &impl DbRow) -> Result<ringproof_core::ports::CounterRow, StoreError> {
    Ok(ringproof_core::ports::CounterRow {
        state: col(row, "state")?,
        expires_at: Timestamp(col(row, "expires_at")?),
    })
}

/// A counter row and its client ([`Store::list_counters`](ringproof_core::ports::Store::list_counters)).
pub(crate) fn counter_row_of_client(
    row: &impl DbRow,
) -> Result<(ClientId, ringproof_core::ports::CounterRow), StoreError> {
    let id: String = col(row, "client_id")?;
    Ok((client_id(&id)?, counter_row(row)?))
}

/// A throttle row and its key.
pub(crate) fn throttle_row(row: &impl DbRow) -> Result<(String, LoginFailures), StoreError> {
    Ok((col(row, "throttle_key")?, login_failures(row)?))
}

/// Jobs come back from an `UPDATE ... RETURNING` in no defined order; the port promises
/// them in turns: each client's oldest first, then each client's second, and so on, each
/// turn oldest due first. (A caller running them one by one serves clients round-robin.)
pub(crate) fn sort_claimed(jobs: &mut [Job]) {
    jobs.sort_by(|a, b| (&a.client_id, a.due_at, &a.id).cmp(&(&b.client_id, b.due_at, &b.id)));
    let mut turns = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let turn = match i.checked_sub(1).map(|p| (&jobs[p], turns[p])) {
            Some((prev, t)) if prev.client_id == job.client_id => t + 1,
            _ => 0u32,
        };
        turns.push(turn);
    }
    let mut keyed: Vec<(u32, Job)> = turns.into_iter().zip(jobs.iter().cloned()).collect();
    keyed.sort_by(|(ta, a), (tb, b)| (ta, a.due_at, &a.id).cmp(&(tb, b.due_at, &b.id)));
    for (slot, (_, job)) in jobs.iter_mut().zip(keyed) {
        *slot = job;
    }
}

#[cfg(test)]
mod tests {
    use ringproof_core::ids::{ClientId, JobId};
    use ringproof_core::job::{Job, JobKind};
    use ringproof_core::time::Timestamp;

    fn job(client: &ClientId, due: i64) -> Job {
        Job {
            id: JobId::generate(),
            kind: JobKind::Deliver,
            client_id: client.clone(),
            verification_id: None,
            due_at: Timestamp(due),
            payload: Vec::new(),
            attempts: 1,
            max_attempts: 8,
        }
    }

    #[test]
    fn claimed_jobs_come_in_turns_across_clients() {
        let (a, b, c) = (ClientId::generate(), ClientId::generate(), ClientId::generate());
        let mut jobs = vec![job(&a, 1), job(&a, 2), job(&a, 3), job(&b, 9), job(&c, 5), job(&c, 4)];
        super::sort_claimed(&mut jobs);
        let order: Vec<(ClientId, i64)> = jobs.iter().map(|j| (j.client_id.clone(), j.due_at.0)).collect();
        let want = [(&a, 1), (&c, 4), (&b, 9), (&a, 2), (&c, 5), (&a, 3)];
        assert_eq!(order, want.map(|(c, d)| (c.clone(), d)));
    }
}

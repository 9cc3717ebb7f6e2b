//! The limits across verifications ([`crate::guard`]) where the use cases send and check:
//! each admission is one atomic read-modify-write of the counter rows it touches
//! ([`crate::ports::Store::update_counters`]), done before anything is stored, sent or
//! evaluated.

use std::net::IpAddr;

use serde_json::json;

use crate::audit::AuditAction;
use crate::client::Client;
use crate::error::CoreError;
use crate::guard::pumping::{self, Block, BlockKind, Target};
use crate::guard::window::Window;
use crate::guard::{self, Counters, Limits, NumberKind, Refusal, Region, Scope};
use crate::ids::{ClientId, VerificationId};
use crate::phone::PhoneNumber;
use crate::ports::{CounterKey, CounterRow};
use crate::ratelimit::{self, BucketCheck};
use crate::time::Timestamp;
use crate::verification::{CheckOutcome, Effects, Verification};
use crate::workflow::Channel;

use super::Engine;

/// What a send's admission counted, so it can be taken back when the send turned out not
/// to happen (a resend the verification refused). (A check's guess is admitted and kept or
/// not within its own store step: [`Engine::guarded_check`].)
#[derive(Debug)]
pub(crate) struct Admitted {
    keys: Vec<CounterKey>,
    scopes: Vec<Scope>,
    at: Timestamp,
}

/// The pumping guard's rows of a number: its prefix's and its country's.
const PREFIX: &str = "prefix";
const COUNTRY: &str = "country";

impl Engine {
    /// The limits across verifications (default [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The limits in force for this client.
    pub fn limits_for(&self, client: &Client) -> Limits {
        self.limits.with(&client.controls.limits)
    }

    fn counter_key(&self, client: &ClientId, scope: Scope, value: &str) -> CounterKey {
        CounterKey {
            client_id: client.clone(),
            scope: scope.as_str().to_owned(),
            key: match scope {
                Scope::Client => [0; 32],
                _ => self.keys.guard_key(scope.as_str(), value),
            },
        }
    }

    fn pump_keys(&self, client: &ClientId, to: &PhoneNumber) -> [CounterKey; 2] {
        let region = Region::of(to);
        [
            self.row_key(client, PREFIX, pumping::prefix_of(to.e164())),
            self.row_key(client, COUNTRY, region.as_str()),
        ]
    }

    fn row_key(&self, client: &ClientId, scope: &str, value: &str) -> CounterKey {
        CounterKey {
            client_id: client.clone(),
            scope: scope.to_owned(),
            key: self.keys.guard_key(scope, value),
        }
    }

    fn refused(&self, r: Refusal, to: &PhoneNumber) -> CoreError {
        let country = to.region().unwrap_or_else(|| to.country_code().to_string());
        self.metrics.guard_refused(r.rule.as_str(), &country);
        CoreError::Limited(r)
    }

    /// Admits one send (an SMS or a call) to `to`, counting it for the number, the end
    /// user's IP (if known) and the client; or refuses it, counting nothing.
    pub(crate) async fn admit_send(
        &self,
        client: &Client,
        to: &PhoneNumber,
        ip: Option<IpAddr>,
        channel: Channel,
    ) -> Result<Admitted, CoreError> {
        let limits = self.limits_for(client);
        self.admit_send_with(&limits, client, to, ip, None, channel, &[]).await
    }

    /// [`Self::admit_send`] with the limits given, and the request's idempotency key, if
    /// any: repeats of one keyed request are counted once.
    ///
    /// The country must be allowed for `channel` (geo permissions), and the SMS-pumping
    /// guard ([`guard::pumping`]) must admit the number's prefix and country: their rows
    /// are read and written in the same [`crate::ports::Store::update_counters`] call as
    /// the others, so a start costs one read-modify-write, however many rules look at it.
    /// So are the rows of the service's buckets a start in a service must fit
    /// (`service_limits`, [`crate::ratelimit`]): checked first, counted only if every
    /// rule admits the start, so a start refused by any of them counts in none of them.
    #[allow(clippy::too_many_arguments)] // one call per admission; a struct would only rename them
    pub(crate) async fn admit_send_with(
        &self,
        limits: &Limits,
        client_record: &Client,
        to: &PhoneNumber,
        ip: Option<IpAddr>,
        idempotency_key: Option<&str>,
        channel: Channel,
        service_limits: &[BucketCheck],
    ) -> Result<Admitted, CoreError> {
        let client = &client_record.id;
        let repeat_of = idempotency_key.map(|k| {
            let h = crate::crypto::sha256(k.as_bytes());
            u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
        });
        limits
            .allows_kind(NumberKind::of(to))
            .map_err(|r| self.refused(r, to))?;
        limits.allows_country(channel, to).map_err(|r| self.refused(r, to))?;
        let mut scopes = vec![Scope::Number];
        let mut keys = vec![self.counter_key(client, Scope::Number, to.e164())];
        if let Some(ip) = ip
            && limits.counts_sends(Scope::Ip)
        {
            scopes.push(Scope::Ip);
            // Per IPv4 address, or per IPv6 /64 (one end user holds a whole /64).
            keys.push(self.counter_key(client, Scope::Ip, &crate::throttle::address_key(ip)));
        }
        if limits.counts_sends(Scope::Client) {
            scopes.push(Scope::Client);
            keys.push(self.counter_key(client, Scope::Client, ""));
        }
        keys.extend(self.pump_keys(client, to));
        let guard_rows = keys.len();
        let mut all_keys = keys.clone();
        all_keys.extend(service_limits.iter().map(|c| c.key.clone()));
        let region = Region::of(to);
        let target = Target {
            prefix: pumping::prefix_of(to.e164()),
            country: region.as_str(),
            safe: client_record.controls.safe_numbers.contains(to.e164()),
        };
        let now = self.now();
        let mut outcome = Ok(Vec::new());
        let mut over = Ok(());
        let mut new_block = None;
        let n = scopes.len();
        let mut f = |all_rows: &mut [CounterRow]| {
            let (rows, bucket_rows) = all_rows.split_at_mut(guard_rows);
            let mut windows: Vec<Window> = bucket_rows.iter().map(|r| ratelimit::decode_window(&r.state)).collect();
            over = ratelimit::room(service_limits, &windows, now);
            if over.is_err() {
                return false;
            }
            let mut counters: Vec<Counters> = rows.iter().map(|r| Counters::decode(&r.state)).collect();
            let (own, pump) = counters.split_at_mut(n);
            let [prefix, country] = pump else {
                return false;
            };
            let p = pumping::admit(limits, &target, prefix, country, now);
            new_block = p.new_block;
            if let Some(r) = p.refusal {
                // Refused by the guard: only the attempt (and any new block) is counted.
                outcome = Err(r);
                store_rows(rows, &counters);
                return true;
            }
            let mut refs: Vec<(Scope, &mut Counters)> = scopes.iter().copied().zip(own.iter_mut()).collect();
            outcome = guard::admit_send(limits, &mut refs, repeat_of, now);
            if outcome.is_err() {
                return false;
            }
            store_rows(rows, &counters);
            let expiries = ratelimit::count(service_limits, &mut windows, now);
            for ((row, w), until) in bucket_rows.iter_mut().zip(&windows).zip(expiries) {
                row.state = ratelimit::encode_window(w);
                row.expires_at = until;
            }
            true
        };
        self.store.update_counters(&all_keys, &mut f).await?;
        over?;
        if let Some(b) = new_block {
            self.block_created(client, &b).await;
        }
        for w in outcome.map_err(|r| self.refused(r, to))? {
            self.metrics.client_cap_near(client, w);
        }
        Ok(Admitted { keys, scopes, at: now })
    }

    /// Records a block the guard just started: the audit log (the figures, the country;
    /// the prefix stays in the row, for `ringproof guard list`) and the metric.
    async fn block_created(&self, client: &ClientId, b: &Block) {
        // The server's metrics port also logs it (core has no logger).
        self.metrics.guard_block_created(b.kind.as_str(), &b.country);
        let detail = block_detail(b);
        let entry = crate::audit::AuditEntry::new(
            self.now(),
            crate::audit::Actor::named(&b.by),
            AuditAction::GuardBlocked,
            Some(client.clone()),
            detail,
        );
        // Best effort: the block is in force in its row whatever happens here (a reason
        // holding a number was refused before the block was written).
        if let Ok(e) = entry {
            let _ = self.store.insert_audit(&e).await;
        }
    }

    /// The blocks in force (of one client, or all), prefixes and countries.
    pub async fn guard_blocks(&self, client: Option<&ClientId>) -> Result<Vec<(ClientId, Block)>, CoreError> {
        let now = self.now();
        let mut out = Vec::new();
        for scope in [PREFIX, COUNTRY] {
            for (id, row) in self.store.list_counters(client, scope, now).await? {
                if let Some(b) = Counters::decode(&row.state).block()
                    && b.active_at(now)
                {
                    out.push((id, b.clone()));
                }
            }
        }
        out.sort_by(|a, b| (a.0.as_str(), a.1.since).cmp(&(b.0.as_str(), b.1.since)));
        Ok(out)
    }

    /// Blocks a prefix (`+` and the digits of a number but its last four) of a client by
    /// hand for `hours`, as this engine's actor. Numbers on the client's safe list are
    /// still served.
    pub async fn guard_block(
        &self,
        client: &ClientId,
        prefix: &str,
        hours: u32,
        reason: Option<&str>,
    ) -> Result<Block, CoreError> {
        if self.store.client_by_id(client).await?.is_none() {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        if !(1..=24 * 365).contains(&hours) {
            return Err(CoreError::invalid("hours", "must be 1 to 8760"));
        }
        let country = prefix_country(prefix)?;
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("blocked by hand");
        if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
            return Err(CoreError::invalid("reason", "must be at most 200 printable characters"));
        }
        // The reason goes to the audit log: refused there (a number in it), refused here.
        self.audit_entry(AuditAction::GuardBlocked, Some(client), json!({ "why": reason }))?;
        let now = self.now();
        let block = Block {
            kind: BlockKind::Manual,
            range: prefix.to_owned(),
            country: country.as_str().to_owned(),
            why: reason.to_owned(),
            since: now,
            until: Timestamp(now.millis() + i64::from(hours) * 3_600_000),
            by: self.actor.as_str().to_owned(),
            refused: Default::default(),
        };
        let keys = [self.row_key(client, PREFIX, prefix)];
        let mut f = |rows: &mut [CounterRow]| {
            let mut c = Counters::decode(&rows[0].state);
            c.set_block(Some(block.clone()));
            store_rows(rows, std::slice::from_ref(&c));
            true
        };
        self.store.update_counters(&keys, &mut f).await?;
        self.block_created(client, &block).await;
        Ok(block)
    }

    /// Lifts the block of a prefix (or, given a region code, of a country's unproven
    /// ranges). Returns the block lifted, if there was one in force; its send counts are
    /// forgotten, so the rule starts afresh.
    pub async fn guard_unblock(&self, client: &ClientId, range: &str) -> Result<Option<Block>, CoreError> {
        let key = match Region::new(range) {
            Some(r) => self.row_key(client, COUNTRY, r.as_str()),
            None => {
                prefix_country(range)?;
                self.row_key(client, PREFIX, range)
            }
        };
        let now = self.now();
        let mut lifted = None;
        let mut f = |rows: &mut [CounterRow]| {
            let mut c = Counters::decode(&rows[0].state);
            lifted = c.block().filter(|b| b.active_at(now)).cloned();
            if lifted.is_none() {
                return false;
            }
            c.set_block(None);
            store_rows(rows, std::slice::from_ref(&c));
            true
        };
        self.store.update_counters(std::slice::from_ref(&key), &mut f).await?;
        if let Some(b) = &lifted {
            let mut detail = block_detail(b);
            detail["lifted_by"] = json!(self.actor.as_str());
            self.audit(AuditAction::GuardUnblocked, Some(client), detail).await?;
        }
        Ok(lifted)
    }

    /// A check of a pending verification's code under the number's guess budget, in one
    /// store step ([`crate::ports::Store::update_verification_counted`]): the guess is
    /// admitted against the number's row (or refused, and then nothing is evaluated or
    /// written), `check` evaluates the code, and only a wrong code keeps the guess. Then
    /// the approval of a code ringproof drew (`custom_code` false) counts as a conversion
    /// for the pumping guard (its prefix proven, its country familiar), in a step of its own
    /// and best effort, as before: those rows are shared by every number of a range or
    /// country, and a check holding them while it evaluates would queue every start and
    /// check of the range behind it (on PostgreSQL, where a start's counter step is batched
    /// with the others of its node and this one could not be).
    pub(crate) async fn guarded_check(
        &self,
        client: &Client,
        id: &VerificationId,
        to: &PhoneNumber,
        custom_code: bool,
        mut check: impl FnMut(&mut Verification, &mut Effects) -> Result<CheckOutcome, CoreError> + Send,
    ) -> Result<(CheckOutcome, Verification), CoreError> {
        let limits = self.limits_for(client);
        let now = self.now();
        let keys = [self.counter_key(&client.id, Scope::Number, to.e164())];
        let mut refused = None;
        let mut outcome = None;
        let mut f = |v: &mut Verification, rows: &mut [CounterRow]| {
            let mut fx = Effects::default();
            let mut number = rows.first().map(|r| Counters::decode(&r.state)).unwrap_or_default();
            if let Err(r) = guard::admit_guess(&limits, &mut number, now) {
                refused = Some(r);
                return (fx, Vec::new());
            }
            let wrong_before = v.wrong_checks;
            let result = check(v, &mut fx);
            // The number's row keeps a wrong guess; any other outcome changes no row.
            let wrong = matches!(&result, Ok(o) if !o.valid && v.wrong_checks > wrong_before);
            if wrong {
                store_rows(rows, std::slice::from_ref(&number));
            }
            outcome = Some(result);
            (fx, vec![wrong])
        };
        let v = self
            .store
            .update_verification_counted(&client.id, id, &keys, &mut f)
            .await?
            .ok_or(CoreError::NotFound)?;
        if let Some(r) = refused {
            return Err(self.refused(r, to));
        }
        let o = outcome.ok_or_else(|| CoreError::Internal("guarded check did not run".into()))??;
        if o.valid && !custom_code {
            self.approved(client, to, now).await;
        }
        Ok((o, v))
    }

    /// Counts an approval for the pumping guard: its prefix is proven, its country
    /// familiar. Best effort: the approval itself stands whatever happens here.
    async fn approved(&self, client: &Client, to: &PhoneNumber, at: Timestamp) {
        let limits = self.limits_for(client);
        let region = Region::of(to);
        let target = Target {
            prefix: pumping::prefix_of(to.e164()),
            country: region.as_str(),
            safe: client.controls.safe_numbers.contains(to.e164()),
        };
        let keys = self.pump_keys(&client.id, to);
        let mut f = |rows: &mut [CounterRow]| {
            let mut counters: Vec<Counters> = rows.iter().map(|r| Counters::decode(&r.state)).collect();
            if let [prefix, country] = counters.as_mut_slice() {
                pumping::approved(&limits, &target, prefix, country, at);
            }
            store_rows(rows, &counters);
            true
        };
        let _ = self.store.update_counters(&keys, &mut f).await;
    }

    /// Takes back what an admission counted. Best effort: if the store fails here the
    /// attempt stays counted, which errs on the safe side.
    pub(crate) async fn take_back(&self, a: Admitted) {
        let mut f = |rows: &mut [CounterRow]| {
            // The pumping guard's rows are not taken back: what admission added to them
            // depends on their state then (a safe number, a proven range add less), so a
            // take-back could remove another send's count; a rare over-count errs safe.
            let mut counters: Vec<Counters> = rows.iter().map(|r| Counters::decode(&r.state)).collect();
            for (scope, c) in a.scopes.iter().zip(counters.iter_mut()) {
                guard::refund_send(*scope, c, a.at);
            }
            store_rows(rows, &counters);
            true
        };
        let _ = self.store.update_counters(&a.keys, &mut f).await;
    }
}

/// The audit detail of a block: rule, country, why, until; not the prefix (the audit
/// log refuses anything that looks like a number; `ringproof guard list` shows it).
fn block_detail(b: &Block) -> serde_json::Value {
    json!({
        "rule": b.kind.as_str(),
        "country": b.country,
        "why": b.why,
        "since": b.since.to_rfc3339(),
        "until": b.until.to_rfc3339(),
        "prefix_digits": b.range.len().saturating_sub(1),
    })
}

/// The country of a prefix given by hand: `+` and digits such that appending four digits
/// makes a valid number (so the prefix is a number's all but last four digits).
fn prefix_country(prefix: &str) -> Result<Region, CoreError> {
    let digits = prefix.strip_prefix('+').unwrap_or("");
    let bad = || {
        CoreError::invalid(
            "prefix",
            "must be '+' and the digits of a number but its last four (e.g. +44740012 for +447400123456)",
        )
    };
    if !(3..=11).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    ["0000", "1234", "5678", "9999", "0001"]
        .iter()
        .find_map(|tail| PhoneNumber::parse_e164(&format!("{prefix}{tail}")).ok())
        .map(|n| Region::of(&n))
        .ok_or_else(bad)
}

fn store_rows(rows: &mut [CounterRow], counters: &[Counters]) {
    for (row, c) in rows.iter_mut().zip(counters) {
        row.state = c.encode();
        row.expires_at = c.expires_at();
    }
}

//! Limits across verifications: what bounds an attacker who starts verification after
//! verification (guessing codes, pumping SMS), where the state machine bounds only one.
//! Pure rules; their counters live in the store ([`crate::ports::Store::update_counters`]),
//! one row per (client, scope, keyed hash), so they hold across nodes on one PostgreSQL.
//!
//! | rule | counted per | default | refused with |
//! |---|---|---|---|
//! | guess budget | number, per client | 10 wrong codes / hour, 20 / 24 h | `guess_budget_exhausted` (checks *and* new sends to the number) |
//! | number sends | number, per client | 5 sends / 10 min, 10 / 24 h | `rate_limited` |
//! | IP sends | end-user IP, per client | 10 sends / hour | `rate_limited` |
//! | client sends | client | off (a spend cap: per minute, per day) | `rate_limited` |
//! | number type | numbering plan | premium rate, shared cost, satellite, … refused | `destination_blocked` |
//!
//! A *send* is an SMS or a call: a start, a resend, a later workflow step. A *guess* is a
//! code evaluated against a verification; it is counted before it is evaluated (so
//! concurrent guesses cannot overrun the budget) and taken back when it was right, so only
//! wrong codes use the budget, and a right one frees nothing else. Numbers and IPs enter
//! the counters only as an HMAC under a server key ([`crate::crypto::Keys::guard_key`]).
//!
//! Counters are sliding windows ([`window::Window`]): at most `limit` events in *any*
//! interval of the window's length. With the defaults, an attacker gets at most 20 wrong
//! guesses a day at one number; against 4-digit codes (10⁴ values, a fresh code per
//! verification) that is a chance of at most 20 / 10⁴ = 0.2 % per day (docs/security.md).
//!
//! Every limit is configurable server-wide (`[limits]`) and per client (its controls'
//! `limits`); 0 switches a count off.

pub mod geo;
pub mod number_kind;
pub mod pumping;
pub mod window;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use geo::Region;
pub use number_kind::NumberKind;
pub use pumping::{Block, BlockKind};
use window::Window;

use crate::time::Timestamp;

const MIN_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MIN_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The limits in force. Server-wide defaults, overridden per client ([`LimitOverrides`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Wrong codes evaluated against one number (per client) in any hour.
    pub guesses_per_hour: u32,
    /// … and in any 24 hours.
    pub guesses_per_day: u32,
    /// SMS and calls to one number (per client) in any 10 minutes.
    pub number_sends_per_10_min: u32,
    /// … and in any 24 hours.
    pub number_sends_per_day: u32,
    /// Starts per end-user IP (when the integrator passes it; an IPv4 address or an IPv6
    /// /64) in any hour. The IP is not stored, so resends and later steps are limited per
    /// number only.
    pub ip_sends_per_hour: u32,
    /// The client's sends in any minute (0: no cap).
    pub client_sends_per_minute: u32,
    /// The client's sends in any 24 hours (0: no cap), a spend cap.
    pub client_sends_per_day: u32,
    /// Number kinds that may receive SMS and calls although the plan says they are not
    /// personal lines (by default none: every kind of [`NumberKind`] is refused).
    pub allowed_number_kinds: Vec<NumberKind>,
    /// Countries (ISO region codes; `*` for all) SMS may go to. Default all.
    pub allowed_countries_sms: Vec<String>,
    /// Countries calls may go to (calls cost more: restrict them separately). Default all.
    pub allowed_countries_voice: Vec<String>,
    /// SMS pumping ([`pumping`]): how long a prefix is blocked, in hours (0: the prefix
    /// rule is off).
    pub pump_block_hours: u32,
    /// How long a country's unproven ranges are suspended, in hours (0: that rule is off).
    pub pump_country_block_hours: u32,
    /// Unconverted sends to one prefix that block it, in any 10 minutes …
    pub pump_prefix_unconverted_10m: u32,
    /// … in any hour …
    pub pump_prefix_unconverted_1h: u32,
    /// … in any 24 hours.
    pub pump_prefix_unconverted_24h: u32,
    /// Unconverted sends to a country's unproven ranges that suspend them, in any hour …
    pub pump_country_unconverted_1h: u32,
    /// … in any 24 hours.
    pub pump_country_unconverted_24h: u32,
    /// The rules fire only while the approved share of the window is below this (percent).
    pub pump_max_conversion_pct: u32,
    /// In a country without an approval in `pump_familiar_days`, the thresholds are this
    /// percent of the above (stricter).
    pub pump_new_country_pct: u32,
    /// How long an approval makes its prefix proven and its country familiar, in days.
    pub pump_familiar_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            guesses_per_hour: 10,
            guesses_per_day: 20,
            number_sends_per_10_min: 5,
            number_sends_per_day: 10,
            ip_sends_per_hour: 10,
            client_sends_per_minute: 0,
            client_sends_per_day: 0,
            allowed_number_kinds: Vec::new(),
            allowed_countries_sms: vec!["*".to_owned()],
            allowed_countries_voice: vec!["*".to_owned()],
            pump_block_hours: 12,
            pump_country_block_hours: 1,
            pump_prefix_unconverted_10m: 15,
            pump_prefix_unconverted_1h: 20,
            pump_prefix_unconverted_24h: 30,
            pump_country_unconverted_1h: 20,
            pump_country_unconverted_24h: 40,
            pump_max_conversion_pct: 30,
            pump_new_country_pct: 75,
            pump_familiar_days: 30,
        }
    }
}

/// Per-client overrides of [`Limits`]; `None` keeps the server's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guesses_per_hour: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guesses_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_sends_per_10_min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_sends_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_sends_per_hour: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_sends_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_sends_per_day: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_number_kinds: Option<Vec<NumberKind>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_countries_sms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_countries_voice: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_block_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_country_block_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_prefix_unconverted_10m: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_prefix_unconverted_1h: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_prefix_unconverted_24h: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_country_unconverted_1h: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_country_unconverted_24h: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_max_conversion_pct: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_new_country_pct: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump_familiar_days: Option<u32>,
}

impl LimitOverrides {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Sets one limit by its name (as in `[limits]`); the message names what is wrong.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        if name == "allowed_number_kinds" {
            let kinds = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| NumberKind::parse(s).ok_or_else(|| format!("unknown number kind {s:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            self.allowed_number_kinds = Some(kinds);
            return Ok(());
        }
        if let Some(channel) = name.strip_prefix("allowed_countries_") {
            let slot = match channel {
                "sms" => &mut self.allowed_countries_sms,
                "voice" => &mut self.allowed_countries_voice,
                _ => return Err(format!("unknown limit {name:?}")),
            };
            *slot = if value == "default" {
                None
            } else {
                Some(geo::parse_list(value)?)
            };
            return Ok(());
        }
        let n = if value == "default" {
            None
        } else {
            Some(
                value
                    .parse::<u32>()
                    .map_err(|_| format!("{name}: {value:?} is not a count"))?,
            )
        };
        let slot = match name {
            "guesses_per_hour" => &mut self.guesses_per_hour,
            "guesses_per_day" => &mut self.guesses_per_day,
            "number_sends_per_10_min" => &mut self.number_sends_per_10_min,
            "number_sends_per_day" => &mut self.number_sends_per_day,
            "ip_sends_per_hour" => &mut self.ip_sends_per_hour,
            "client_sends_per_minute" => &mut self.client_sends_per_minute,
            "client_sends_per_day" => &mut self.client_sends_per_day,
            "pump_block_hours" => &mut self.pump_block_hours,
            "pump_country_block_hours" => &mut self.pump_country_block_hours,
            "pump_prefix_unconverted_10m" => &mut self.pump_prefix_unconverted_10m,
            "pump_prefix_unconverted_1h" => &mut self.pump_prefix_unconverted_1h,
            "pump_prefix_unconverted_24h" => &mut self.pump_prefix_unconverted_24h,
            "pump_country_unconverted_1h" => &mut self.pump_country_unconverted_1h,
            "pump_country_unconverted_24h" => &mut self.pump_country_unconverted_24h,
            "pump_max_conversion_pct" => &mut self.pump_max_conversion_pct,
            "pump_new_country_pct" => &mut self.pump_new_country_pct,
            "pump_familiar_days" => &mut self.pump_familiar_days,
            _ => return Err(format!("unknown limit {name:?}")),
        };
        *slot = n;
        Ok(())
    }
}

impl Limits {
    pub fn with(&self, o: &LimitOverrides) -> Limits {
        Limits {
            guesses_per_hour: o.guesses_per_hour.unwrap_or(self.guesses_per_hour),
            guesses_per_day: o.guesses_per_day.unwrap_or(self.guesses_per_day),
            number_sends_per_10_min: o.number_sends_per_10_min.unwrap_or(self.number_sends_per_10_min),
            number_sends_per_day: o.number_sends_per_day.unwrap_or(self.number_sends_per_day),
            ip_sends_per_hour: o.ip_sends_per_hour.unwrap_or(self.ip_sends_per_hour),
            client_sends_per_minute: o.client_sends_per_minute.unwrap_or(self.client_sends_per_minute),
            client_sends_per_day: o.client_sends_per_day.unwrap_or(self.client_sends_per_day),
            allowed_number_kinds: o
                .allowed_number_kinds
                .clone()
                .unwrap_or_else(|| self.allowed_number_kinds.clone()),
            allowed_countries_sms: o
                .allowed_countries_sms
                .clone()
                .unwrap_or_else(|| self.allowed_countries_sms.clone()),
            allowed_countries_voice: o
                .allowed_countries_voice
                .clone()
                .unwrap_or_else(|| self.allowed_countries_voice.clone()),
            pump_block_hours: o.pump_block_hours.unwrap_or(self.pump_block_hours),
            pump_country_block_hours: o.pump_country_block_hours.unwrap_or(self.pump_country_block_hours),
            pump_prefix_unconverted_10m: o
                .pump_prefix_unconverted_10m
                .unwrap_or(self.pump_prefix_unconverted_10m),
            pump_prefix_unconverted_1h: o.pump_prefix_unconverted_1h.unwrap_or(self.pump_prefix_unconverted_1h),
            pump_prefix_unconverted_24h: o
                .pump_prefix_unconverted_24h
                .unwrap_or(self.pump_prefix_unconverted_24h),
            pump_country_unconverted_1h: o
                .pump_country_unconverted_1h
                .unwrap_or(self.pump_country_unconverted_1h),
            pump_country_unconverted_24h: o
                .pump_country_unconverted_24h
                .unwrap_or(self.pump_country_unconverted_24h),
            pump_max_conversion_pct: o.pump_max_conversion_pct.unwrap_or(self.pump_max_conversion_pct),
            pump_new_country_pct: o.pump_new_country_pct.unwrap_or(self.pump_new_country_pct),
            pump_familiar_days: o.pump_familiar_days.unwrap_or(self.pump_familiar_days),
        }
    }

    /// The rates counted in a row of `scope` for `event`, with their limits (0 = off).
    fn rates(&self, scope: Scope, event: Event) -> Vec<Rate> {
        let r = |name, window_ms, limit, rule| Rate {
            name,
            window_ms,
            limit,
            rule,
        };
        match (scope, event) {
            (Scope::Number, Event::Guess) => vec![
                r("g1h", HOUR_MS, self.guesses_per_hour, Rule::GuessBudget),
                r("g24h", DAY_MS, self.guesses_per_day, Rule::GuessBudget),
            ],
            (Scope::Number, Event::Send) => vec![
                r("s10m", 10 * MIN_MS, self.number_sends_per_10_min, Rule::NumberSends),
                r("s24h", DAY_MS, self.number_sends_per_day, Rule::NumberSends),
            ],
            (Scope::Ip, Event::Send) => vec![r("s1h", HOUR_MS, self.ip_sends_per_hour, Rule::IpSends)],
            (Scope::Client, Event::Send) => vec![
                r("s1m", MIN_MS, self.client_sends_per_minute, Rule::ClientSends),
                r("s24h", DAY_MS, self.client_sends_per_day, Rule::ClientSends),
            ],
            (Scope::Ip | Scope::Client, Event::Guess) => Vec::new(),
        }
        .into_iter()
        .filter(|r| r.limit > 0)
        .collect()
    }

    /// Whether the scope has any count switched on for sends.
    pub fn counts_sends(&self, scope: Scope) -> bool {
        !self.rates(scope, Event::Send).is_empty()
    }

    /// Whether a number of this kind may receive anything.
    pub fn allows_kind(&self, kind: Option<NumberKind>) -> Result<(), Refusal> {
        match kind {
            Some(k) if !self.allowed_number_kinds.contains(&k) => Err(Refusal {
                rule: Rule::NumberKind(k),
                retry_after_s: None,
            }),
            _ => Ok(()),
        }
    }
}

/// What a counter row counts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One destination number of one client (sends and guesses).
    Number,
    /// One end-user IP of one client (sends).
    Ip,
    /// The whole client (sends).
    Client,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Number => "number",
            Scope::Ip => "ip",
            Scope::Client => "client",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Send,
    Guess,
}

struct Rate {
    name: &'static str,
    window_ms: i64,
    limit: u32,
    rule: Rule,
}

/// The rule that refused something. Its strings are the metrics' `rule` label and the
/// events' detail; [`Rule::code`] is the API's stable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    GuessBudget,
    NumberSends,
    IpSends,
    ClientSends,
    NumberKind(NumberKind),
    /// The destination's range is blocked (SMS pumping, or by hand).
    Pumping(BlockKind),
    /// The client may not send on this channel to this country (geo permissions).
    CountryNotAllowed(Region, crate::workflow::Channel),
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::GuessBudget => "guess_budget",
            Rule::NumberSends => "number_sends",
            Rule::IpSends => "ip_sends",
            Rule::ClientSends => "client_sends",
            Rule::NumberKind(_) => "number_kind",
            Rule::Pumping(k) => k.as_str(),
            Rule::CountryNotAllowed(..) => "country_not_allowed",
        }
    }

    /// The stable error code of the native API.
    pub fn code(self) -> &'static str {
        match self {
            Rule::GuessBudget => "guess_budget_exhausted",
            Rule::NumberSends | Rule::IpSends | Rule::ClientSends => "rate_limited",
            Rule::NumberKind(_) => "destination_blocked",
            Rule::Pumping(_) => "prefix_blocked",
            Rule::CountryNotAllowed(..) => "country_not_allowed",
        }
    }

    /// Whether this is a rate (429) or a refusal of the destination (403: a kind of
    /// number, a country, a blocked range; a block still says when it ends).
    pub fn is_rate(self) -> bool {
        !matches!(
            self,
            Rule::NumberKind(_) | Rule::Pumping(_) | Rule::CountryNotAllowed(..)
        )
    }
}

/// A refusal by a limit. Carries no number and no IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Refusal {
    pub rule: Rule,
    /// Whole seconds until the same request could pass (rates only).
    pub retry_after_s: Option<u64>,
}

impl Refusal {
    fn rate(rule: Rule, wait_ms: i64) -> Self {
        Refusal {
            rule,
            retry_after_s: Some(u64::try_from(wait_ms.max(0)).unwrap_or(0).div_ceil(1000).max(1)),
        }
    }

    pub fn message(&self) -> String {
        let wait = self
            .retry_after_s
            .map(|s| format!("; retry in {s} s"))
            .unwrap_or_default();
        match self.rule {
            Rule::GuessBudget => format!("too many wrong codes for this number{wait}"),
            Rule::NumberSends => format!("too many messages to this number{wait}"),
            Rule::IpSends => format!("too many messages for this end user's IP address{wait}"),
            Rule::ClientSends => format!("this client's sending limit is reached{wait}"),
            Rule::NumberKind(k) => format!("{} numbers cannot receive verifications", k.describe()),
            Rule::Pumping(_) => format!("messages to this number range are suspended (suspected SMS pumping){wait}"),
            Rule::CountryNotAllowed(region, channel) => format!(
                "{} to {} is not allowed for this client",
                match channel {
                    crate::workflow::Channel::Sms => "SMS",
                    crate::workflow::Channel::Voice => "a call",
                },
                region.as_str()
            ),
        }
    }

    /// [`Self::message`] as a sentence, for the faces whose messages start with a capital.
    pub fn sentence(&self) -> String {
        let m = self.message();
        let mut c = m.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }
}

/// The counters of one row: a window per rate, by the rate's name (`w`), and for a number
/// the idempotency keys whose send it already counted in the last day (`k`: a 64-bit hash
/// and when), so that repeats of one request with its key count once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    #[serde(default)]
    w: BTreeMap<String, Window>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    k: Vec<(u64, i64)>,
    /// Prefix and country rows: the pumping guard's approvals and block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<pumping::PumpState>,
}

/// Idempotency keys remembered per number (the newest): more requests than this with
/// distinct keys in a day exceed every send limit anyway.
const KEYS_KEPT: usize = 16;

impl Counters {
    /// Reads a stored row; an empty or unreadable one counts as empty (a corrupt counter
    /// must not stop all traffic to a number; it restarts from zero).
    pub fn decode(bytes: &[u8]) -> Counters {
        if bytes.is_empty() {
            return Counters::default();
        }
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// When the row can be forgotten: a day after its newest event (no window is longer),
    /// or later for what the pumping guard remembers (approvals, a block).
    pub fn expires_at(&self) -> Timestamp {
        let windows = self.w.values().filter_map(Window::last_end).max().unwrap_or(0) + DAY_MS;
        Timestamp(windows.max(self.p.as_ref().map_or(0, |p| p.keep_until.millis())))
    }

    /// The wait until `rates` have room for one more event, if any lacks it.
    fn room(&self, rates: &[Rate], now: Timestamp) -> Result<(), Refusal> {
        let mut refusal: Option<Refusal> = None;
        for r in rates {
            let w = self.w.get(r.name).cloned().unwrap_or_default();
            if let Err(wait) = w.room(r.window_ms, r.limit, now) {
                let this = Refusal::rate(r.rule, wait);
                refusal = Some(match refusal {
                    Some(prev) if prev.retry_after_s >= this.retry_after_s => prev,
                    _ => this,
                });
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    fn add(&mut self, rates: &[Rate], now: Timestamp) {
        for r in rates {
            self.w.entry(r.name.to_owned()).or_default().add(r.window_ms, now);
        }
    }
}

/// Admits one send, given the rows it is counted in, and counts it in each; or refuses it
/// and changes nothing. A number whose guess budget is used up receives nothing more until
/// its window passes.
///
/// Returns the client's caps this send brought to 80 % of their limit (once per crossing),
/// for the operator to be warned before the cap stops traffic.
///
/// `repeat_of`: a hash of the request's idempotency key, if it has one. A send whose key
/// the number's row already counted (a retry, or a concurrent duplicate that will replay
/// the first response) is admitted without counting again.
pub fn admit_send(
    limits: &Limits,
    rows: &mut [(Scope, &mut Counters)],
    repeat_of: Option<u64>,
    now: Timestamp,
) -> Result<Vec<CapWarning>, Refusal> {
    if let Some(key) = repeat_of
        && let Some((_, number)) = rows.iter_mut().find(|(s, _)| *s == Scope::Number)
    {
        number.k.retain(|&(_, at)| at > now.millis() - DAY_MS);
        if number.k.iter().any(|&(k, _)| k == key) {
            return Ok(Vec::new());
        }
    }
    for (scope, row) in rows.iter() {
        if *scope == Scope::Number {
            row.room(&limits.rates(Scope::Number, Event::Guess), now)?;
        }
        row.room(&limits.rates(*scope, Event::Send), now)?;
    }
    let mut warnings = Vec::new();
    for (scope, row) in rows.iter_mut() {
        let rates = limits.rates(*scope, Event::Send);
        row.add(&rates, now);
        if let Some(key) = repeat_of
            && *scope == Scope::Number
        {
            if row.k.len() >= KEYS_KEPT {
                row.k.remove(0);
            }
            row.k.push((key, now.millis()));
        }
        for r in rates.iter().filter(|_| *scope == Scope::Client) {
            let used = row.w.get(r.name).map_or(0, |w| w.count(r.window_ms, now));
            let mark = u64::from(r.limit) * 4;
            if used * 5 >= mark && (used - 1) * 5 < mark {
                warnings.push(CapWarning {
                    window: r.name,
                    used,
                    limit: r.limit,
                });
            }
        }
    }
    Ok(warnings)
}

/// A client's cap reached 80 %: `window` is `s1m` (per minute) or `s24h` (per day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapWarning {
    pub window: &'static str,
    pub used: u64,
    pub limit: u32,
}

/// Admits one guess at a number and counts it; or refuses it (the budget is used up).
pub fn admit_guess(limits: &Limits, number: &mut Counters, now: Timestamp) -> Result<(), Refusal> {
    let rates = limits.rates(Scope::Number, Event::Guess);
    number.room(&rates, now)?;
    number.add(&rates, now);
    Ok(())
}

/// Takes back a send admitted at `at` in a row of `scope` (the verification refused it).
pub fn refund_send(scope: Scope, row: &mut Counters, at: Timestamp) {
    let names: &[&str] = match scope {
        Scope::Number => &["s10m", "s24h"],
        Scope::Ip => &["s1h"],
        Scope::Client => &["s1m", "s24h"],
    };
    for name in names {
        if let Some(w) = row.w.get_mut(*name) {
            w.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp(1_800_000_000_000 + s * 1000)
    }

    #[test]
    fn the_guess_budget_allows_10_an_hour_and_20_a_day_and_then_stops_sends_too() {
        let l = Limits::default();
        let mut n = Counters::default();
        let mut admitted = 0;
        // One guess a minute for a day.
        for m in 0..1440 {
            if admit_guess(&l, &mut n, at(m * 60)).is_ok() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 20);
        let r = admit_send(&l, &mut [(Scope::Number, &mut n)], None, at(1440 * 60)).unwrap_err();
        assert_eq!(r.rule, Rule::GuessBudget);
        assert!(r.retry_after_s.unwrap() > 0);
        // 10 in the first hour, exactly.
        let mut n = Counters::default();
        let ok = (0..60).filter(|m| admit_guess(&l, &mut n, at(m * 60)).is_ok()).count();
        assert_eq!(ok, 10);
    }

    #[test]
    fn sends_are_counted_per_number_ip_and_client_and_a_refusal_counts_nothing() {
        let l = Limits {
            client_sends_per_minute: 7,
            ..Limits::default()
        };
        let (mut num, mut ip, mut client) = (Counters::default(), Counters::default(), Counters::default());
        for s in 0..5 {
            admit_send(
                &l,
                &mut [(Scope::Number, &mut num), (Scope::Client, &mut client)],
                None,
                at(s),
            )
            .unwrap();
        }
        let r = admit_send(
            &l,
            &mut [(Scope::Number, &mut num), (Scope::Client, &mut client)],
            None,
            at(5),
        )
        .unwrap_err();
        assert_eq!(r.rule, Rule::NumberSends);
        // Other numbers of the client: the client's cap of 7 a minute.
        let mut other = Counters::default();
        admit_send(
            &l,
            &mut [(Scope::Number, &mut other), (Scope::Client, &mut client)],
            None,
            at(6),
        )
        .unwrap();
        admit_send(
            &l,
            &mut [(Scope::Number, &mut other), (Scope::Client, &mut client)],
            None,
            at(7),
        )
        .unwrap();
        let r = admit_send(
            &l,
            &mut [(Scope::Number, &mut other), (Scope::Client, &mut client)],
            None,
            at(8),
        )
        .unwrap_err();
        assert_eq!(r.rule, Rule::ClientSends);
        assert_eq!(other, {
            let mut o = Counters::default();
            admit_send(&l, &mut [(Scope::Number, &mut o)], None, at(6)).unwrap();
            admit_send(&l, &mut [(Scope::Number, &mut o)], None, at(7)).unwrap();
            o
        });
        for s in 0..10 {
            admit_send(&l, &mut [(Scope::Ip, &mut ip)], None, at(s * 60)).unwrap();
        }
        assert_eq!(
            admit_send(&l, &mut [(Scope::Ip, &mut ip)], None, at(700))
                .unwrap_err()
                .rule,
            Rule::IpSends
        );
    }

    #[test]
    fn the_client_cap_warns_once_at_80_percent() {
        let l = Limits {
            client_sends_per_minute: 10,
            ..Limits::default()
        };
        let mut client = Counters::default();
        let warned: Vec<usize> = (0..10)
            .filter(|&s| {
                let mut n = Counters::default();
                !admit_send(
                    &l,
                    &mut [(Scope::Number, &mut n), (Scope::Client, &mut client)],
                    None,
                    at(s as i64),
                )
                .unwrap()
                .is_empty()
            })
            .collect();
        assert_eq!(warned, vec![7]); // the 8th send of 10
    }

    #[test]
    fn a_repeated_idempotency_key_counts_once() {
        let l = Limits::default();
        let mut n = Counters::default();
        for _ in 0..20 {
            admit_send(&l, &mut [(Scope::Number, &mut n)], Some(7), at(0)).unwrap();
        }
        for k in 0..4 {
            admit_send(&l, &mut [(Scope::Number, &mut n)], Some(100 + k), at(1)).unwrap();
        }
        // 5 distinct requests counted; a sixth is refused, a repeat of the first is not.
        assert!(admit_send(&l, &mut [(Scope::Number, &mut n)], Some(200), at(2)).is_err());
        assert!(admit_send(&l, &mut [(Scope::Number, &mut n)], Some(7), at(2)).is_ok());
        // A day later the key is forgotten (like the idempotent response).
        let next_day = at(86_401);
        admit_send(&l, &mut [(Scope::Number, &mut n)], Some(7), next_day).unwrap();
        assert_eq!(n.w["s10m"].count(600_000, next_day), 1);
    }

    #[test]
    fn zero_switches_a_count_off_and_overrides_apply() {
        let mut o = LimitOverrides::default();
        o.set("number_sends_per_10_min", "0").unwrap();
        o.set("number_sends_per_day", "0").unwrap();
        o.set("allowed_number_kinds", "shared_cost").unwrap();
        assert!(o.set("nonsense", "1").is_err());
        assert!(o.set("guesses_per_hour", "-1").is_err());
        let l = Limits::default().with(&o);
        let mut n = Counters::default();
        for s in 0..100 {
            admit_send(&l, &mut [(Scope::Number, &mut n)], None, at(s)).unwrap();
        }
        assert!(l.allows_kind(Some(NumberKind::SharedCost)).is_ok());
        assert!(l.allows_kind(Some(NumberKind::PremiumRate)).is_err());
        assert!(!Limits::default().counts_sends(Scope::Client));
        o.set("number_sends_per_day", "default").unwrap();
        assert_eq!(Limits::default().with(&o).number_sends_per_day, 10);
    }

    #[test]
    fn counters_round_trip_and_garbage_reads_as_empty() {
        let l = Limits::default();
        let mut n = Counters::default();
        admit_send(&l, &mut [(Scope::Number, &mut n)], None, at(0)).unwrap();
        assert_eq!(Counters::decode(&n.encode()), n);
        assert_eq!(Counters::decode(b"\xff not json"), Counters::default());
        assert!(n.expires_at() > at(86_400));
    }
}

//! The SMS-pumping guard: a pure rule over two counter rows per send, the destination's
//! *prefix* (the number minus its last four digits: a range of 10 000 numbers, not a
//! person's number) and its *country*, both per client and keyed by an HMAC like every
//! other row.
//!
//! Pumping (toll fraud) sends many messages to numbers the fraudster earns from and
//! nobody ever types a code from. So the guard watches, over sliding windows, the sends
//! to a prefix that no approval followed ("unconverted") and the share approved:
//!
//! ```text
//!            send to P (country C)
//!                  │
//!   P blocked? ────┼──yes──► refused (prefix_blocked); the attempt is counted in the
//!                  │                    block, so one still running at its end is renewed
//!   P unproven and C suspended for unproven ranges? ──yes──► refused (same)
//!                  │
//!   with this send, in 10 min / 1 h / 24 h:
//!   unconverted(P) ≥ threshold and approved(P) < pump_max_conversion_pct %? ──yes──► block P
//!                  │                                    (pump_block_hours, default 12 h)
//!   P unproven: unconverted sends to C's unproven ranges in 1 h / 24 h ≥ threshold and
//!   their approved share < pump_max_conversion_pct %? ──yes──► suspend C's unproven
//!                  │                                  ranges (pump_country_block_hours)
//!                  ▼
//!               admitted, counted in P and C
//! ```
//!
//! - A prefix is *proven* when a verification to it was approved in the last
//!   `pump_familiar_days` (30); a country is *familiar* on the same terms. A send to an
//!   unfamiliar country meets stricter thresholds (`pump_new_country_pct`, 75 %, of each).
//!   An unapproved send never makes anything familiar: the fraudster's own traffic would.
//! - The country rule catches an attack spread thin over many ranges of one country: it
//!   suspends only the country's *unproven* ranges, so the client's established traffic
//!   there goes on.
//! - A block that ends while attempts are still refused (in its last hour) is renewed for
//!   another period ("repeated while it continues"); one that ends quietly lapses, and the
//!   prefix starts afresh.
//! - Numbers on the client's safe list are neither counted nor refused.
//!
//! The rows hold counts and, only while blocked, the prefix (a range) or the country it
//! names, for `ringproof guard list`; never a number.

use serde::{Deserialize, Serialize};

use super::window::Window;
use super::{Counters, DAY_MS, HOUR_MS, Limits, MIN_MS, Refusal, Rule};
use crate::time::Timestamp;

/// Why a range is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// The prefix's own traffic looked like pumping.
    Prefix,
    /// The country's unproven ranges, together, looked like pumping.
    Country,
    /// An operator blocked the prefix (`ringproof guard block`).
    Manual,
}

impl BlockKind {
    /// The metrics' `rule` label and the events' wording.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Prefix => "pumping_prefix",
            BlockKind::Country => "pumping_country",
            BlockKind::Manual => "manual_block",
        }
    }
}

/// A block as its row keeps it (and `ringproof guard list` shows it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub kind: BlockKind,
    /// The prefix (`+44740012`, a range) or, for [`BlockKind::Country`], the region code.
    pub range: String,
    /// The region code of the range.
    pub country: String,
    /// Why: the window figures that tripped the rule, or the operator's reason.
    pub why: String,
    #[serde(with = "ms")]
    pub since: Timestamp,
    #[serde(with = "ms")]
    pub until: Timestamp,
    /// `system` for the rules, the operator (`cli:alice`) for a manual block.
    pub by: String,
    /// Attempts refused during the block (last hour): while there are some at its end, the
    /// traffic goes on and the block is renewed.
    #[serde(default)]
    pub refused: Window,
}

impl Block {
    pub fn active_at(&self, now: Timestamp) -> bool {
        now < self.until
    }

    fn refusal(&self, now: Timestamp) -> Refusal {
        Refusal {
            rule: Rule::Pumping(self.kind),
            retry_after_s: Some(now.secs_until_ceil(self.until).max(1)),
        }
    }
}

/// The pumping part of a prefix or country row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PumpState {
    /// The newest approval counted here (for "proven" and "familiar").
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_ms")]
    pub approved_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<Block>,
    /// The row is kept until then (approvals are remembered `pump_familiar_days`).
    #[serde(default, with = "ms")]
    pub keep_until: Timestamp,
}

/// Timestamps as milliseconds in the stored form.
mod ms {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::time::Timestamp;

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.millis())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        i64::deserialize(d).map(Timestamp)
    }
}

mod opt_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::time::Timestamp;

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&t.millis()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<i64>::deserialize(d).map(|o| o.map(Timestamp))
    }
}

/// One send as the guard sees it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The number minus its last four digits.
    pub prefix: &'a str,
    /// The number's region code (or its calling code where the plan names no region).
    pub country: &'a str,
    /// The number is on the client's safe list.
    pub safe: bool,
}

/// The prefix of a number in E.164 form: all but its last four digits.
pub fn prefix_of(e164: &str) -> &str {
    &e164[..e164.len().saturating_sub(4).max(1)]
}

/// What [`admit`] decided: `refusal` if the send is refused; `new_block` if this send
/// started (or renewed) a block, for the engine to record, audit and count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub refusal: Option<Refusal>,
    pub new_block: Option<Block>,
}

const PREFIX_WINDOWS: [(&str, &str, i64, &str); 3] = [
    ("s10m", "c10m", 10 * MIN_MS, "10 min"),
    ("s1h", "c1h", HOUR_MS, "1 h"),
    ("s24h", "c24h", DAY_MS, "24 h"),
];
/// The country row's windows of sends to its *unproven* prefixes and their approvals.
const COUNTRY_WINDOWS: [(&str, &str, i64, &str); 2] =
    [("n1h", "m1h", HOUR_MS, "1 h"), ("n24h", "m24h", DAY_MS, "24 h")];

impl Counters {
    fn pump(&mut self) -> &mut PumpState {
        self.p.get_or_insert_with(PumpState::default)
    }

    fn count(&self, name: &str, window_ms: i64, now: Timestamp) -> u64 {
        self.w.get(name).map_or(0, |w| w.count(window_ms, now))
    }

    fn approved_within(&self, days: u32, now: Timestamp) -> bool {
        self.p
            .as_ref()
            .and_then(|p| p.approved_at)
            .is_some_and(|t| t.millis() > now.millis() - i64::from(days) * DAY_MS)
    }

    /// The block of this row, if any (active or ended but not yet looked at).
    pub fn block(&self) -> Option<&Block> {
        self.p.as_ref().and_then(|p| p.block.as_ref())
    }

    /// Sets or clears the row's block (an operator's block or unblock). Clearing also
    /// forgets the row's send counts, so the rule does not fire again on the figures it
    /// was lifted from; approvals are kept.
    pub fn set_block(&mut self, block: Option<Block>) {
        if block.is_none() {
            self.w.retain(|k, _| k.starts_with('c') || k.starts_with('m'));
        }
        let keep = block.as_ref().map(|b| b.until.millis() + DAY_MS);
        let p = self.pump();
        p.block = block;
        if let Some(k) = keep {
            p.keep_until = Timestamp(p.keep_until.millis().max(k));
        }
    }

    /// Looks at the row's block at `now`: refuses (counting the attempt, renewing a rule's
    /// block that ended while attempts went on) or lets the block lapse.
    fn enforce(&mut self, l: &Limits, now: Timestamp) -> Option<Outcome> {
        let block = self.p.as_mut()?.block.as_mut()?;
        if block.active_at(now) {
            block.refused.add(HOUR_MS, now);
            return Some(Outcome {
                refusal: Some(block.refusal(now)),
                new_block: None,
            });
        }
        let still_going = block.refused.count(HOUR_MS, block.until) > 0;
        let hours = match block.kind {
            BlockKind::Country => l.pump_country_block_hours,
            _ => l.pump_block_hours,
        };
        if still_going && block.kind != BlockKind::Manual && hours > 0 {
            let attempts = block.refused.count(HOUR_MS, block.until);
            let renewed = Block {
                why: format!("renewed: {attempts} attempts refused in the last hour of the block"),
                since: now,
                until: Timestamp(now.millis() + i64::from(hours) * HOUR_MS),
                refused: Window::default(),
                ..block.clone()
            };
            self.set_block(Some(renewed.clone()));
            if let Some(b) = self.p.as_mut().and_then(|p| p.block.as_mut()) {
                b.refused.add(HOUR_MS, now);
            }
            return Some(Outcome {
                refusal: Some(renewed.refusal(now)),
                new_block: Some(renewed),
            });
        }
        // Lapsed quietly: start afresh.
        self.set_block(None);
        None
    }

    fn keep_for(&mut self, until: i64) {
        let p = self.pump();
        p.keep_until = Timestamp(p.keep_until.millis().max(until));
    }
}

fn scaled(threshold: u32, pct: u32) -> u64 {
    if threshold == 0 {
        return 0;
    }
    (u64::from(threshold) * u64::from(pct)).div_ceil(100).max(1)
}

/// The first of `windows` (send window, approval window, length, label) where, with one
/// more send, the unconverted sends reach their threshold while the approved share is
/// below `max_pct`: its figures, as the block's reason.
fn tripped(
    row: &Counters,
    windows: &[(&str, &str, i64, &str)],
    thresholds: &[u64],
    max_pct: u32,
    now: Timestamp,
) -> Option<String> {
    for (&(s, c, ms, label), &thr) in windows.iter().zip(thresholds) {
        if thr == 0 {
            continue;
        }
        let sends = row.count(s, ms, now) + 1;
        let approved = row.count(c, ms, now).min(sends);
        let unconverted = sends - approved;
        if unconverted >= thr && approved * 100 < sends * u64::from(max_pct) {
            return Some(format!(
                "{sends} sends in {label}, {approved} approved: {unconverted} unconverted reach {thr} \
                 with under {max_pct} % approved"
            ));
        }
    }
    None
}

/// Admits one send to `t` or refuses it, given the prefix's and the country's rows, and
/// counts it (an admitted send in both; a refused one in the block that refused it). The
/// caller writes the rows back whatever the outcome, and when the other limits then
/// refuse an admitted send, takes it back with [`refund`].
pub fn admit(l: &Limits, t: &Target<'_>, prefix: &mut Counters, country: &mut Counters, now: Timestamp) -> Outcome {
    if t.safe {
        return Outcome::default();
    }
    let familiar = country.approved_within(l.pump_familiar_days, now);
    let proven = prefix.approved_within(l.pump_familiar_days, now);
    if let Some(o) = prefix.enforce(l, now) {
        return o;
    }
    if !proven && let Some(o) = country.enforce(l, now) {
        return o;
    }
    let pct = if familiar { 100 } else { l.pump_new_country_pct };
    let strict = if familiar {
        ""
    } else {
        " (stricter: no approval in this country lately)"
    };
    let block = |kind, range: &str, why: String, hours: u32| Block {
        kind,
        range: range.to_owned(),
        country: t.country.to_owned(),
        why: format!("{why}{strict}"),
        since: now,
        until: Timestamp(now.millis() + i64::from(hours) * HOUR_MS),
        by: "system".to_owned(),
        refused: Window::default(),
    };
    let prefix_thr = [
        scaled(l.pump_prefix_unconverted_10m, pct),
        scaled(l.pump_prefix_unconverted_1h, pct),
        scaled(l.pump_prefix_unconverted_24h, pct),
    ];
    if l.pump_block_hours > 0
        && let Some(why) = tripped(prefix, &PREFIX_WINDOWS, &prefix_thr, l.pump_max_conversion_pct, now)
    {
        let mut b = block(BlockKind::Prefix, t.prefix, why, l.pump_block_hours);
        b.refused.add(HOUR_MS, now);
        prefix.set_block(Some(b.clone()));
        return Outcome {
            refusal: Some(b.refusal(now)),
            new_block: Some(b),
        };
    }
    let country_thr = [
        scaled(l.pump_country_unconverted_1h, pct),
        scaled(l.pump_country_unconverted_24h, pct),
    ];
    if !proven
        && l.pump_country_block_hours > 0
        && let Some(why) = tripped(country, &COUNTRY_WINDOWS, &country_thr, l.pump_max_conversion_pct, now)
    {
        let why = format!("ranges with no approval lately: {why}");
        let mut b = block(BlockKind::Country, t.country, why, l.pump_country_block_hours);
        b.refused.add(HOUR_MS, now);
        country.set_block(Some(b.clone()));
        return Outcome {
            refusal: Some(b.refusal(now)),
            new_block: Some(b),
        };
    }
    for (s, _, ms, _) in PREFIX_WINDOWS {
        prefix.w.entry(s.to_owned()).or_default().add(ms, now);
    }
    if !proven {
        for (n, _, ms, _) in COUNTRY_WINDOWS {
            country.w.entry(n.to_owned()).or_default().add(ms, now);
        }
    }
    country.w.entry("s24h".to_owned()).or_default().add(DAY_MS, now);
    Outcome::default()
}

/// Counts an approved verification to `t`: a conversion for its prefix and country, which
/// proves the prefix and makes the country familiar for `pump_familiar_days`.
pub fn approved(l: &Limits, t: &Target<'_>, prefix: &mut Counters, country: &mut Counters, now: Timestamp) {
    if t.safe {
        return;
    }
    let proven = prefix.approved_within(l.pump_familiar_days, now);
    for (_, c, ms, _) in PREFIX_WINDOWS {
        prefix.w.entry(c.to_owned()).or_default().add(ms, now);
    }
    if !proven {
        for (_, m, ms, _) in COUNTRY_WINDOWS {
            country.w.entry(m.to_owned()).or_default().add(ms, now);
        }
    }
    let keep = now.millis() + i64::from(l.pump_familiar_days) * DAY_MS;
    for row in [prefix, country] {
        row.pump().approved_at = Some(now);
        row.keep_for(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp(1_800_000_000_000 + s * 1000)
    }

    const GB: Target<'static> = Target {
        prefix: "+44740012",
        country: "GB",
        safe: false,
    };

    /// A client with an approval in GB yesterday (a familiar country).
    fn familiar_country(l: &Limits) -> Counters {
        let mut c = Counters::default();
        let mut p = Counters::default();
        approved(
            l,
            &Target {
                prefix: "+44700000",
                ..GB
            },
            &mut p,
            &mut c,
            at(-86_000),
        );
        c
    }

    /// The issue's burst: 100 sends within one minute to sequential numbers of one
    /// prefix, none checked. Counts what got through.
    fn burst(l: &Limits, country: &mut Counters) -> (usize, Option<Block>) {
        let mut prefix = Counters::default();
        let mut delivered = 0;
        let mut first_block = None;
        for k in 0..100 {
            let o = admit(l, &GB, &mut prefix, country, at(k * 6 / 10));
            if o.refusal.is_none() {
                delivered += 1;
            }
            if first_block.is_none() {
                first_block = o.new_block;
            }
        }
        (delivered, first_block)
    }

    #[test]
    fn a_burst_to_one_prefix_delivers_at_most_15() {
        let l = Limits::default();
        let mut country = familiar_country(&l);
        let (delivered, block) = burst(&l, &mut country);
        assert!(delivered <= 15, "{delivered} delivered");
        assert!(delivered >= 5, "{delivered}: the threshold is not absurdly low");
        let b = block.expect("a block was recorded");
        assert_eq!(
            (b.kind, b.range.as_str(), b.country.as_str()),
            (BlockKind::Prefix, "+44740012", "GB")
        );
        assert_eq!(b.until.millis() - b.since.millis(), 12 * HOUR_MS);
        assert!(b.why.contains("0 approved"), "{}", b.why);
        // In a country the client never had an approval in, fewer get through.
        let (strict, _) = burst(&l, &mut Counters::default());
        assert!(strict < delivered, "{strict} vs {delivered}");
        // With the rule switched off, all 100 would have gone out.
        let off = Limits {
            pump_block_hours: 0,
            pump_country_block_hours: 0,
            ..Limits::default()
        };
        assert_eq!(burst(&off, &mut familiar_country(&off)).0, 100);
    }

    #[test]
    fn a_legitimate_stream_that_converts_is_never_blocked() {
        let l = Limits::default();
        let mut country = familiar_country(&l);
        // 40 prefixes, 2000 sends over a day (a busy prefix gets ~2 an hour), 85 % approved
        // about a minute after the send.
        let mut prefixes: Vec<Counters> = (0..40).map(|_| Counters::default()).collect();
        let mut pending: Vec<(i64, usize)> = Vec::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for k in 0..2000_i64 {
            let now = at(k * 43);
            pending.retain(|&(due, p)| {
                if due <= now.millis() {
                    let t = Target {
                        prefix: "+44740099",
                        ..GB
                    };
                    approved(&l, &t, &mut prefixes[p], &mut country, Timestamp(due));
                    false
                } else {
                    true
                }
            });
            let p = (next() % 40) as usize;
            let t = Target {
                prefix: "+44740099",
                ..GB
            };
            let o = admit(&l, &t, &mut prefixes[p], &mut country, now);
            assert_eq!(
                o,
                Outcome::default(),
                "send {k} refused: {:?}",
                o.new_block.as_ref().map(|b| &b.why)
            );
            if next() % 100 < 85 {
                pending.push((now.millis() + 60_000, p));
            }
        }
    }

    #[test]
    fn a_proven_prefix_under_a_sudden_burst_is_still_blocked() {
        let l = Limits::default();
        let mut country = familiar_country(&l);
        let mut prefix = Counters::default();
        for k in 0..20 {
            assert!(admit(&l, &GB, &mut prefix, &mut country, at(k * 600)).refusal.is_none());
            approved(&l, &GB, &mut prefix, &mut country, at(k * 600 + 30));
        }
        let mut delivered = 0;
        for k in 0..100 {
            if admit(&l, &GB, &mut prefix, &mut country, at(20_000 + k))
                .refusal
                .is_none()
            {
                delivered += 1;
            }
        }
        assert!(delivered <= 15, "{delivered}");
    }

    #[test]
    fn a_block_is_renewed_while_attempts_go_on_and_lapses_when_they_stop() {
        let l = Limits::default();
        let mut country = familiar_country(&l);
        let mut prefix = Counters::default();
        let mut p2 = Counters::default();
        let mut k = 0;
        let first = loop {
            let o = admit(&l, &GB, &mut p2, &mut country, at(k));
            k += 1;
            if let Some(b) = o.new_block {
                break b;
            }
        };
        // Attempts every 10 minutes through the block.
        let end = (first.until.millis() - at(0).millis()) / 1000;
        let mut s = k;
        while s < end {
            let o = admit(&l, &GB, &mut p2, &mut country, at(s));
            assert_eq!(o.refusal.unwrap().rule, Rule::Pumping(BlockKind::Prefix));
            assert!(o.new_block.is_none());
            s += 600;
        }
        let o = admit(&l, &GB, &mut p2, &mut country, at(end + 1));
        let renewed = o.new_block.expect("renewed");
        assert!(renewed.why.starts_with("renewed"), "{}", renewed.why);
        assert!(o.refusal.is_some());
        // Quiet for the last hour of the renewed block: it lapses and the prefix starts afresh.
        let after = (renewed.until.millis() - at(0).millis()) / 1000 + 1;
        let o = admit(&l, &GB, &mut p2, &mut country, at(after));
        assert_eq!(o, Outcome::default());
        assert!(p2.block().is_none());
        // The first prefix (blocked by `burst`) stays untouched by another's block.
        assert!(
            admit(
                &l,
                &Target {
                    prefix: "+44740013",
                    ..GB
                },
                &mut prefix,
                &mut country,
                at(1)
            )
            .refusal
            .is_none()
        );
    }

    #[test]
    fn an_attack_spread_over_many_ranges_suspends_only_unproven_ranges() {
        let l = Limits::default();
        let mut country = familiar_country(&l);
        // An established range of the client in the country.
        let mut known = Counters::default();
        let kt = Target {
            prefix: "+44750000",
            ..GB
        };
        admit(&l, &kt, &mut known, &mut country, at(0));
        approved(&l, &kt, &mut known, &mut country, at(30));
        // Two sends to each of 200 fresh ranges, never approved.
        let mut delivered = 0;
        let mut blocked_by = None;
        for k in 0..400 {
            let mut fresh = Counters::default();
            let prefix = format!("+4475{:04}", 1000 + k / 2);
            let t = Target { prefix: &prefix, ..GB };
            let o = admit(&l, &t, &mut fresh, &mut country, at(100 + k * 10));
            match o.refusal {
                None => delivered += 1,
                Some(r) => blocked_by = blocked_by.or(Some(r.rule)),
            }
        }
        assert!(delivered <= 25, "{delivered}");
        assert_eq!(blocked_by, Some(Rule::Pumping(BlockKind::Country)));
        assert_eq!(country.block().unwrap().range, "GB");
        // The established range is still served.
        assert!(admit(&l, &kt, &mut known, &mut country, at(5000)).refusal.is_none());
    }

    #[test]
    fn safe_numbers_are_neither_counted_nor_refused() {
        let l = Limits::default();
        let mut country = Counters::default();
        let mut prefix = Counters::default();
        let safe = Target { safe: true, ..GB };
        for k in 0..200 {
            assert_eq!(admit(&l, &safe, &mut prefix, &mut country, at(k)), Outcome::default());
        }
        assert_eq!(prefix, Counters::default());
        assert_eq!(country, Counters::default());
        assert_eq!(prefix_of("+447400123456"), "+44740012");
        assert_eq!(prefix_of("+123"), "+");
    }

    #[test]
    fn a_manual_block_refuses_until_it_ends_and_never_renews() {
        let l = Limits::default();
        let mut country = familiar_country(&l);
        let mut prefix = Counters::default();
        prefix.set_block(Some(Block {
            kind: BlockKind::Manual,
            range: GB.prefix.into(),
            country: "GB".into(),
            why: "seen in a fraud report".into(),
            since: at(0),
            until: at(3600),
            by: "cli:alice".into(),
            refused: Window::default(),
        }));
        let r = admit(&l, &GB, &mut prefix, &mut country, at(3000)).refusal.unwrap();
        assert_eq!(r.rule, Rule::Pumping(BlockKind::Manual));
        assert_eq!(r.retry_after_s, Some(600));
        assert_eq!(admit(&l, &GB, &mut prefix, &mut country, at(3600)), Outcome::default());
        let back = Counters::decode(&prefix.encode());
        assert_eq!(back, prefix);
    }
}

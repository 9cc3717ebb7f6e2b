//! Throttling of failed logins and API-secret checks: per source address *and* per account
//! name, so guessing is bounded while nobody can lock a legitimate user out from another
//! address.
//!
//! # Why not per name only
//!
//! A lock kept per username alone is a denial of service: anyone who knows (or guesses) an
//! integrator's username can keep it locked from anywhere. And a per-name rule does not
//! limit the CPU an attacker spends: every password check is argon2id (~30 ms), for known
//! and unknown names alike. So every attempt is counted in four rows, each keyed by a
//! keyed hash (no IP or name is stored in clear):
//!
//! | row      | key                 | rule                                                          | refusal (`Rule`) |
//! |----------|---------------------|---------------------------------------------------------------|------------------|
//! | checks   | address             | at most `password_checks_per_min` password checks a minute (known, unknown, right or wrong: argon2 work) — logins only | `ip_checks` |
//! | address  | address             | at most `ip_failures` failures (any names) per `window_s`     | `ip_failures`    |
//! | pair     | (address, name)     | the schedule below: 5 free, then waits, then a 15 min lock    | `backoff`, `lockout` |
//! | name     | name                | `name_guard_failures` failures (any addresses) per `window_s` *guard* the name: while guarded, an address that failed for this name within `window_s` is refused; an address that did not is still checked | `name_guard` |
//!
//! The pair schedule (`n` failures of this name from this address, the last at `t`):
//!
//! ```text
//!   n < 5            every attempt is checked
//!   5 <= n < 10      an attempt before t + 2^(n-5) s is refused   (1, 2, 4, 8, 16 s)
//!   n reaches 10     refused until t + 15 min (each failure from then on locks again)
//!
//!                 address A                              address B (clean)
//!   [open] ─fail─► … ─► [wait 2^(n-5) s] ─► [locked 15 min]   [open] ─right password─► token
//!      ▲                                        │
//!      └─── a success from A resets A's pair ◄──┘    (A's lock never refuses B)
//! ```
//!
//! A refused attempt is answered *without checking the secret*, so it cannot be used to
//! guess, and it is not counted. Defaults ([`Limits::default`]): 20 password checks per
//! address per minute, 30 failures per address and 20 per name per 15 minutes.
//!
//! What an attacker gets: from one address, 10 guesses at a name in the first 15 minutes,
//! then one per 15 minutes; at most 30 failures per 15 minutes over all names; at most 20
//! argon2 checks a minute. From many addresses, once a name is guarded, one guess per
//! address per `window_s`. What the legitimate user keeps: a correct secret from an address
//! that has not failed for the name is always checked (unless that address itself is over
//! its own limits, e.g. shared with the attacker behind one NAT).
//!
//! IPv6 addresses are counted per /64 (one subscriber usually holds a whole /64); IPv4
//! addresses one by one (IPv4-mapped IPv6 counts as the IPv4 address).
//!
//! # Admission and counting are atomic
//!
//! A login that may go ahead is counted (a failure in the address, pair and name rows, a
//! check in the checks row) *before* its password is checked, in the same atomic store
//! step that evaluated the gate ([`Limits::begin`] under `Store::throttle_step`, which locks
//! every row of the attempt). A correct password then resets the pair and takes the
//! failure back from the address and name rows ([`Limits::succeeded`]). So a burst of
//! concurrent attempts gets no more checks than the rule allows one at a time.
//!
//! An API secret is a SHA-256 compare (cheap), checked on every authenticated request: its
//! gate is a plain read of the rows (`Store::throttle_states`, no lock on the hot path) and
//! only a wrong secret takes the atomic step ([`Limits::failed`]). Concurrent wrong secrets
//! from one address can therefore overshoot a limit by the requests in flight at that
//! moment — irrelevant for 192-bit secrets, and every one of them is counted.
//!
//! The rows are purged a day after their last failure (or window start), as the login
//! failure counts were ([`crate::sessions::LOGIN_FAILURES_RETENTION_S`]).

use std::net::IpAddr;

use crate::sessions::{Gate, LoginFailures};
use crate::time::Timestamp;

/// What is being guessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secret {
    /// A username's password (argon2id): the Signzy face's login.
    Password,
    /// An API key's secret (SHA-256): `/v1` and the iDenfy face.
    ApiSecret,
}

impl Secret {
    pub fn as_str(self) -> &'static str {
        match self {
            Secret::Password => "login",
            Secret::ApiSecret => "api_secret",
        }
    }

    /// How many rows an attempt of this kind has ([`row`] indexes them).
    pub fn rows(self) -> usize {
        match self {
            Secret::Password => 4,
            Secret::ApiSecret => 3,
        }
    }
}

/// The index of each row in an attempt's states (the order of its keys).
pub mod row {
    /// (address, name): the backoff and lockout schedule.
    pub const PAIR: usize = 0;
    /// The address: failures over all names.
    pub const ADDRESS: usize = 1;
    /// The name: failures over all addresses (the guard).
    pub const NAME: usize = 2;
    /// The address: password checks (logins only).
    pub const CHECKS: usize = 3;
}

/// The window of the checks row.
pub const CHECKS_WINDOW_S: i64 = 60;

/// The server-wide limits (config `[auth_throttle]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Password checks one address may have per minute. Default 20.
    pub password_checks_per_min: u32,
    /// Failures from one address (over all names) per window before it is refused. Default 30.
    pub ip_failures: u32,
    /// Failures for one name (over all addresses) per window that guard it. Default 20.
    pub name_guard_failures: u32,
    /// The window of the address and name rows, in seconds. Default 900.
    pub window_s: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            password_checks_per_min: 20,
            ip_failures: 30,
            name_guard_failures: 20,
            window_s: 900,
        }
    }
}

/// Which limit refused an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The pair's schedule: wait before the next attempt.
    Backoff,
    /// The pair's schedule: locked for 15 minutes.
    Lockout,
    /// Too many failures from this address.
    IpFailures,
    /// The name is under attack and this address has failed for it.
    NameGuard,
    /// Too many password checks from this address this minute.
    IpChecks,
}

impl Rule {
    /// The metric label (`ringproof_auth_throttled_total{rule}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Backoff => "backoff",
            Rule::Lockout => "lockout",
            Rule::IpFailures => "ip_failures",
            Rule::NameGuard => "name_guard",
            Rule::IpChecks => "ip_checks",
        }
    }
}

/// An attempt refused without checking its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub rule: Rule,
    /// Seconds until the limit that refused it lifts (at least 1).
    pub retry_after_s: u64,
}

/// The part of an address that is counted: an IPv4 address (also when IPv4-mapped), or
/// the /64 of an IPv6 address.
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Failures (or checks) in a window row at `now`: 0 once the window that started at
/// `last_failure_at` has passed.
fn in_window(c: &LoginFailures, now: Timestamp, window_s: i64) -> u32 {
    if c.failures > 0 && now < c.last_failure_at.plus_secs(window_s) {
        c.failures
    } else {
        0
    }
}

/// A window row with one more: a new window starts at `now` if the last has passed.
fn add(c: &LoginFailures, now: Timestamp, window_s: i64) -> LoginFailures {
    match in_window(c, now, window_s) {
        0 => LoginFailures {
            failures: 1,
            last_failure_at: now,
            locked_until: None,
        },
        n => LoginFailures {
            failures: n.saturating_add(1),
            ..*c
        },
    }
}

/// A window row with one less (a counted attempt that turned out right).
fn take_back(c: &LoginFailures, now: Timestamp, window_s: i64) -> LoginFailures {
    match in_window(c, now, window_s) {
        0 | 1 => LoginFailures::default(),
        n => LoginFailures { failures: n - 1, ..*c },
    }
}

fn refused(rule: Rule, now: Timestamp, until: Timestamp) -> Throttled {
    Throttled {
        rule,
        retry_after_s: now.secs_until_ceil(until).max(1),
    }
}

impl Limits {
    /// May an attempt whose rows are `rows` (in [`row`] order) be checked at `now`?
    pub fn gate(&self, secret: Secret, rows: &[LoginFailures], now: Timestamp) -> Result<(), Throttled> {
        let at = |i: usize| rows.get(i).copied().unwrap_or_default();
        if secret == Secret::Password {
            let checks = at(row::CHECKS);
            if in_window(&checks, now, CHECKS_WINDOW_S) >= self.password_checks_per_min {
                return Err(refused(
                    Rule::IpChecks,
                    now,
                    checks.last_failure_at.plus_secs(CHECKS_WINDOW_S),
                ));
            }
        }
        let address = at(row::ADDRESS);
        if in_window(&address, now, self.window_s) >= self.ip_failures {
            return Err(refused(
                Rule::IpFailures,
                now,
                address.last_failure_at.plus_secs(self.window_s),
            ));
        }
        let pair = at(row::PAIR);
        match pair.gate(now) {
            Gate::Open => {}
            Gate::Wait { retry_after_s } => {
                return Err(Throttled {
                    rule: Rule::Backoff,
                    retry_after_s,
                });
            }
            Gate::Locked { retry_after_s } => {
                return Err(Throttled {
                    rule: Rule::Lockout,
                    retry_after_s,
                });
            }
        }
        let name = at(row::NAME);
        let guarded = in_window(&name, now, self.window_s) >= self.name_guard_failures;
        let failed_here = pair.failures > 0 && now < pair.last_failure_at.plus_secs(self.window_s);
        if guarded && failed_here {
            return Err(refused(
                Rule::NameGuard,
                now,
                name.last_failure_at.plus_secs(self.window_s),
            ));
        }
        Ok(())
    }

    /// Admits or refuses a password attempt at `now`, counting an admitted one in `rows`
    /// (a failure in the pair, address and name rows, a check in the checks row) before
    /// its password is checked. A refused attempt leaves `rows` as they were.
    pub fn begin(&self, rows: &mut [LoginFailures], now: Timestamp) -> Result<(), Throttled> {
        self.gate(Secret::Password, rows, now)?;
        self.failed(rows, now);
        if let Some(c) = rows.get_mut(row::CHECKS) {
            *c = add(c, now, CHECKS_WINDOW_S);
        }
        Ok(())
    }

    /// Counts a failure at `now` in the pair, address and name rows.
    pub fn failed(&self, rows: &mut [LoginFailures], now: Timestamp) {
        if let Some(p) = rows.get_mut(row::PAIR) {
            *p = p.after_failure(now);
        }
        for i in [row::ADDRESS, row::NAME] {
            if let Some(c) = rows.get_mut(i) {
                *c = add(c, now, self.window_s);
            }
        }
    }

    /// A correct secret at `now`: the pair's failures are forgotten and, when the attempt
    /// was counted beforehand (`counted`, a login), its failure is taken back from the
    /// address and name rows. The checks row keeps the check: it was argon2 work.
    pub fn succeeded(&self, rows: &mut [LoginFailures], now: Timestamp, counted: bool) {
        if let Some(p) = rows.get_mut(row::PAIR) {
            *p = LoginFailures::default();
        }
        if counted {
            for i in [row::ADDRESS, row::NAME] {
                if let Some(c) = rows.get_mut(i) {
                    *c = take_back(c, now, self.window_s);
                }
            }
        }
    }

    /// Checks the limits are usable: each at least 1, the window 60 s to one day.
    pub fn validate(&self) -> Result<(), String> {
        if self.password_checks_per_min == 0 || self.ip_failures == 0 || self.name_guard_failures == 0 {
            return Err("password_checks_per_min, ip_failures and name_guard_failures must be at least 1".into());
        }
        if !(60..=86_400).contains(&self.window_s) {
            return Err("window_s must be 60 to 86400".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = Timestamp(1_800_000_000_000);
    const L: Limits = Limits {
        password_checks_per_min: 20,
        ip_failures: 30,
        name_guard_failures: 20,
        window_s: 900,
    };

    fn fresh(secret: Secret) -> Vec<LoginFailures> {
        vec![LoginFailures::default(); secret.rows()]
    }

    /// `n` password attempts at `now` on `rows`; how many were admitted.
    fn attempts(rows: &mut [LoginFailures], n: u32, now: Timestamp) -> u32 {
        (0..n).filter(|_| L.begin(rows, now).is_ok()).count() as u32
    }

    #[test]
    fn the_pair_schedule_is_the_old_lockout_rule() {
        let mut rows = fresh(Secret::Password);
        assert_eq!(attempts(&mut rows, 20, T), 5);
        assert_eq!(
            L.gate(Secret::Password, &rows, T),
            Err(Throttled {
                rule: Rule::Backoff,
                retry_after_s: 1
            })
        );
        let mut t = T;
        for wait in [1, 2, 4, 8, 16] {
            t = t.plus_secs(wait);
            assert_eq!(L.begin(&mut rows, t), Ok(()));
        }
        assert_eq!(rows[row::PAIR].failures, 10);
        assert_eq!(
            L.gate(Secret::Password, &rows, t),
            Err(Throttled {
                rule: Rule::Lockout,
                retry_after_s: 900
            })
        );
        // A refused attempt changes nothing.
        let before = rows.clone();
        assert!(L.begin(&mut rows, t.plus_secs(5)).is_err());
        assert_eq!(rows, before);
    }

    #[test]
    fn a_lock_on_one_address_does_not_refuse_another() {
        // The attacker's address A is locked for the name; address B has its own pair row
        // and the same name row.
        let mut a = fresh(Secret::Password);
        let mut t = T;
        for _ in 0..10 {
            while L.begin(&mut a, t).is_err() {
                t = t.plus_secs(1);
            }
        }
        assert_eq!(L.gate(Secret::Password, &a, t).unwrap_err().rule, Rule::Lockout);
        let mut b = fresh(Secret::Password);
        b[row::NAME] = a[row::NAME];
        assert_eq!(L.begin(&mut b, t), Ok(()));
        // B's password was right: B's pair is reset and its failure taken back.
        L.succeeded(&mut b, t, true);
        assert_eq!(b[row::PAIR], LoginFailures::default());
        assert_eq!(b[row::NAME].failures, a[row::NAME].failures);
        assert_eq!(b[row::CHECKS].failures, 1, "the check stays counted");
    }

    #[test]
    fn a_guarded_name_refuses_only_addresses_that_failed_for_it() {
        let name = LoginFailures {
            failures: 20,
            last_failure_at: T,
            locked_until: None,
        };
        // A clean address is checked; one that failed within the window is refused until
        // the name's window ends; one whose failure is older than the window is clean.
        let mut clean = fresh(Secret::Password);
        clean[row::NAME] = name;
        assert_eq!(L.gate(Secret::Password, &clean, T.plus_secs(10)), Ok(()));
        let mut dirty = clean.clone();
        dirty[row::PAIR] = LoginFailures::default().after_failure(T);
        assert_eq!(
            L.gate(Secret::Password, &dirty, T.plus_secs(100)),
            Err(Throttled {
                rule: Rule::NameGuard,
                retry_after_s: 800
            })
        );
        assert_eq!(
            L.gate(Secret::Password, &dirty, T.plus_secs(900)),
            Ok(()),
            "the guard ends"
        );
        let mut old = clean.clone();
        old[row::PAIR] = LoginFailures::default().after_failure(T.plus_secs(-900));
        assert_eq!(L.gate(Secret::Password, &old, T.plus_secs(10)), Ok(()));
        // 19 failures do not guard.
        dirty[row::NAME].failures = 19;
        assert_eq!(L.gate(Secret::Password, &dirty, T.plus_secs(100)), Ok(()));
    }

    #[test]
    fn password_checks_per_address_are_capped_per_minute() {
        // Unknown names, one attempt each: every one is a fresh pair and name, but the
        // address's checks row is shared.
        let mut checks = LoginFailures::default();
        let mut address = LoginFailures::default();
        let mut admitted = 0;
        for i in 0..25 {
            let mut rows = fresh(Secret::Password);
            rows[row::CHECKS] = checks;
            rows[row::ADDRESS] = address;
            match L.begin(&mut rows, T.plus_millis(i)) {
                Ok(()) => admitted += 1,
                Err(t) => assert_eq!(
                    t,
                    Throttled {
                        rule: Rule::IpChecks,
                        retry_after_s: 60
                    }
                ),
            }
            (checks, address) = (rows[row::CHECKS], rows[row::ADDRESS]);
        }
        assert_eq!(admitted, 20);
        // Successful logins use the budget too (argon2 is the cost).
        let mut rows = fresh(Secret::Password);
        rows[row::CHECKS] = checks;
        assert_eq!(
            L.gate(Secret::Password, &rows, T.plus_secs(59)).unwrap_err().rule,
            Rule::IpChecks
        );
        assert_eq!(L.gate(Secret::Password, &rows, T.plus_secs(60)), Ok(()));
        // API secrets have no checks row.
        assert_eq!(L.gate(Secret::ApiSecret, &rows[..3], T), Ok(()));
    }

    #[test]
    fn failures_per_address_over_all_names_are_capped_per_window() {
        let mut address = LoginFailures::default();
        for i in 0..30 {
            let mut rows = fresh(Secret::ApiSecret);
            rows[row::ADDRESS] = address;
            assert_eq!(L.gate(Secret::ApiSecret, &rows, T.plus_secs(i)), Ok(()), "{i}");
            L.failed(&mut rows, T.plus_secs(i));
            address = rows[row::ADDRESS];
        }
        let mut rows = fresh(Secret::ApiSecret);
        rows[row::ADDRESS] = address;
        assert_eq!(
            L.gate(Secret::ApiSecret, &rows, T.plus_secs(100)),
            Err(Throttled {
                rule: Rule::IpFailures,
                retry_after_s: 800
            })
        );
        // A new window starts when the last one ends.
        assert_eq!(L.gate(Secret::ApiSecret, &rows, T.plus_secs(900)), Ok(()));
        L.failed(&mut rows, T.plus_secs(900));
        assert_eq!(rows[row::ADDRESS].failures, 1);
        assert_eq!(rows[row::ADDRESS].last_failure_at, T.plus_secs(900));
    }

    #[test]
    fn success_takes_back_only_what_was_counted() {
        let mut rows = fresh(Secret::ApiSecret);
        L.failed(&mut rows, T);
        L.failed(&mut rows, T);
        let mut after = rows.clone();
        L.succeeded(&mut after, T, false);
        assert_eq!(after[row::PAIR], LoginFailures::default());
        assert_eq!((after[row::ADDRESS].failures, after[row::NAME].failures), (2, 2));
        L.succeeded(&mut rows, T, true);
        assert_eq!((rows[row::ADDRESS].failures, rows[row::NAME].failures), (1, 1));
        L.succeeded(&mut rows, T, true);
        assert_eq!(rows, fresh(Secret::ApiSecret));
    }

    #[test]
    fn addresses_are_counted_per_ipv4_and_per_ipv6_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(address_key(ip("203.0.113.7")), "203.0.113.7");
        assert_eq!(address_key(ip("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            address_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            address_key(ip("2001:db8:1:2::9"))
        );
        assert_ne!(address_key(ip("2001:db8:1:3::1")), address_key(ip("2001:db8:1:2::1")));
    }

    #[test]
    fn limits_are_validated() {
        assert_eq!(Limits::default().validate(), Ok(()));
        assert!(Limits { ip_failures: 0, ..L }.validate().is_err());
        assert!(Limits { window_s: 59, ..L }.validate().is_err());
    }
}

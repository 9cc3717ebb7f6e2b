//! Login sessions: the access tokens a face hands out after a username/password login
//! (the Signzy face's `POST /api/v3/patrons/login`), and the lockout schedule that slows down
//! and then stops password guessing.
//!
//! # Access tokens
//!
//! 64 characters from `[A-Za-z0-9]` (about 381 bits), drawn from the OS CSPRNG by
//! rejection sampling, so every character is uniform. The plaintext is returned once, by
//! the login; the store keeps only its SHA-256 ([`token_hash`]) with the client id and an
//! expiry (default [`DEFAULT_TOKEN_TTL_S`]). A lookup is by that hash, and a token past its
//! expiry is refused. Revoking deletes every token of a client.
//!
//! # The lockout schedule
//!
//! [`LoginFailures`] with [`LoginFailures::gate`] / [`LoginFailures::after_failure`] is the
//! schedule of one counter: `n` consecutive failures, the last one at `t`:
//!
//! ```text
//!   n < 5            every attempt is checked
//!   5 <= n < 10      an attempt before t + 2^(n-5) s is refused   (1, 2, 4, 8, 16 s)
//!   n reaches 10     locked until t + 15 min (each failure from then on locks again)
//! ```
//!
//! It is kept per *(source address, username)*, never per username alone (that would let
//! anyone lock an integrator out from anywhere): [`crate::throttle`] has the whole rule,
//! with the per-address and per-name limits around it, and how admission and counting
//! are one atomic store step. The same struct is the stored shape of every throttle row.

use crate::crypto::{fill_random, sha256};
use crate::ids::ClientId;
use crate::time::Timestamp;

/// Characters in an access token.
pub const TOKEN_LEN: usize = 64;
/// How long a token is valid unless configured otherwise: one day.
pub const DEFAULT_TOKEN_TTL_S: u32 = 86_400;
/// Failures allowed before attempts have to wait.
pub const FREE_FAILURES: u32 = 5;
/// Failures at which the counter is locked.
pub const LOCK_AT: u32 = 10;
/// How long a lock lasts.
pub const LOCK_S: i64 = 15 * 60;
/// How long after its last failure (or window start) a throttle row is kept (then purged).
pub const LOGIN_FAILURES_RETENTION_S: i64 = 86_400;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A plaintext access token. Reachable only through [`AccessToken::expose`]; `Debug`
/// hides it, so it cannot end up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// A fresh token from the OS CSPRNG. Each character comes from one random byte:
    /// bytes 248..=255 are thrown away, so each of the 248 accepted values maps to one of
    /// the 62 characters exactly 4 times and there is no modulo bias.
    pub fn generate() -> Self {
        let mut s = String::with_capacity(TOKEN_LEN);
        let mut buf = [0u8; 80];
        while s.len() < TOKEN_LEN {
            fill_random(&mut buf);
            for &b in &buf {
                if b < 248 && s.len() < TOKEN_LEN {
                    s.push(char::from(ALPHABET[(b % 62) as usize]));
                }
            }
        }
        Self(s)
    }

    /// The token, to hand to the caller once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> [u8; 32] {
        token_hash(&self.0)
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

/// What the store keeps of a token: a hash, never the token.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

/// Whether `s` has the shape of a token (so garbage is refused without a lookup).
pub fn looks_like_token(s: &str) -> bool {
    s.len() == TOKEN_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A stored access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_hash: [u8; 32],
    pub client_id: ClientId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A successful login: the token (plaintext, shown once) and its lifetime.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: AccessToken,
    pub client_id: ClientId,
    pub created_at: Timestamp,
    pub ttl_s: u32,
}

/// One throttle row: the consecutive failures of an (address, username) pair with the
/// lockout schedule, or (for the window rows of [`crate::throttle`]) a count and the start
/// of its window in `last_failure_at`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: u32,
    pub last_failure_at: Timestamp,
    /// Set when `failures` reached [`LOCK_AT`]: no attempt is checked before this.
    pub locked_until: Option<Timestamp>,
}

/// Whether an attempt may be checked now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Too many recent failures: try again in `retry_after_s`.
    Wait {
        retry_after_s: u64,
    },
    /// Locked after [`LOCK_AT`] failures: try again in `retry_after_s`.
    Locked {
        retry_after_s: u64,
    },
}

impl LoginFailures {
    /// May an attempt at `now` be checked?
    pub fn gate(&self, now: Timestamp) -> Gate {
        if let Some(until) = self.locked_until
            && now < until
        {
            return Gate::Locked {
                retry_after_s: now.secs_until_ceil(until),
            };
        }
        if (FREE_FAILURES..LOCK_AT).contains(&self.failures) {
            let until = self.last_failure_at.plus_secs(1 << (self.failures - FREE_FAILURES));
            if now < until {
                return Gate::Wait {
                    retry_after_s: now.secs_until_ceil(until),
                };
            }
        }
        Gate::Open
    }

    /// Admits or refuses an attempt at `now`, counting an admitted one: the decision, and
    /// the state to store. An admitted attempt ([`Gate::Open`]) is counted as a failure
    /// before its password is checked (a correct password then resets the count); a
    /// refused one leaves the state as it was.
    pub fn begin_attempt(&self, now: Timestamp) -> (Gate, LoginFailures) {
        match self.gate(now) {
            Gate::Open => (Gate::Open, self.after_failure(now)),
            refused => (refused, *self),
        }
    }

    /// The state after a failed attempt at `now` (one that passed the gate).
    pub fn after_failure(&self, now: Timestamp) -> LoginFailures {
        let failures = self.failures.saturating_add(1);
        LoginFailures {
            failures,
            last_failure_at: now,
            locked_until: if failures >= LOCK_AT {
                Some(lock_until(now))
            } else {
                self.locked_until
            },
        }
    }
}

/// Why a login did not produce a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Unknown username or wrong password: the two are never told apart.
    #[error("wrong username or password")]
    BadCredentials,
    /// Refused without checking the password (see [`crate::throttle`]).
    #[error("too many failed logins ({}); retry in {} s", .0.rule.as_str(), .0.retry_after_s)]
    Throttled(crate::throttle::Throttled),
    #[error(transparent)]
    Core(#[from] crate::CoreError),
}

impl From<crate::StoreError> for LoginError {
    fn from(e: crate::StoreError) -> Self {
        LoginError::Core(e.into())
    }
}

/// A login that passed the gate (and is already counted as a failure), waiting for its
/// password check. The check
/// ([`LoginAttempt::verify`]) is argon2id, about 30 ms of CPU: a caller on an async
/// executor runs it on a blocking thread, then hands the result to
/// `Engine::login_finish`.
#[derive(Clone, Debug)]
pub struct LoginAttempt {
    /// The keys of the attempt's throttle rows ([`crate::throttle::row`] order).
    pub(crate) keys: Vec<String>,
    pub(crate) client: Option<crate::client::Client>,
}

impl LoginAttempt {
    /// Checks the password. For an unknown username a dummy hash is checked instead, so
    /// the answer takes as long as for a known one and timing reveals no usernames.
    pub fn verify(&self, password: &str) -> bool {
        match &self.client {
            Some(c) => c.verify_password(password),
            None => {
                let _ = crate::client::verify_password_hash(dummy_hash(), password);
                false
            }
        }
    }
}

/// A hash of the same argon2id parameters as every client's ([`crate::client::hash_password`]),
/// so checking it costs what checking a real one does.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::client::hash_password("ringproof dummy password"))
}

/// The end of a lock that starts at `now`.
pub fn lock_until(now: Timestamp) -> Timestamp {
    now.plus_secs(LOCK_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = Timestamp(1_800_000_000_000);

    fn fail_times(s: LoginFailures, n: u32, at: Timestamp) -> LoginFailures {
        (0..n).fold(s, |s, _| s.after_failure(at))
    }

    #[test]
    fn tokens_are_64_alphanumerics_and_differ() {
        let a = AccessToken::generate();
        let b = AccessToken::generate();
        assert_eq!(a.expose().len(), TOKEN_LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert!(looks_like_token(a.expose()));
        assert_ne!(a, b);
        assert_eq!(a.hash(), sha256(a.expose().as_bytes()));
        assert_eq!(format!("{a:?}"), "AccessToken(..)");
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}!", &a.expose()[..63])));
    }

    #[test]
    fn token_characters_cover_the_alphabet_evenly() {
        let mut counts = [0u32; 128];
        for _ in 0..2000 {
            for b in AccessToken::generate().expose().bytes() {
                counts[b as usize] += 1;
            }
        }
        // 128 000 characters, 62 symbols: about 2065 each. A biased or truncated alphabet
        // (say `b % 62` on every byte, or digits missing) falls far outside this band.
        for &c in ALPHABET {
            let n = counts[c as usize];
            assert!((1800..2330).contains(&n), "{} drawn {n} times", c as char);
        }
        assert_eq!(counts.iter().sum::<u32>(), 128_000);
    }

    #[test]
    fn five_failures_are_free_then_waits_double() {
        let mut s = LoginFailures::default();
        for i in 0..5 {
            assert_eq!(s.gate(T), Gate::Open, "after {i} failures");
            s = s.after_failure(T);
        }
        // n = 5: wait 1 s after the last failure.
        assert_eq!(s.gate(T), Gate::Wait { retry_after_s: 1 });
        assert_eq!(s.gate(T.plus_millis(999)), Gate::Wait { retry_after_s: 1 });
        assert_eq!(s.gate(T.plus_secs(1)), Gate::Open);
        let mut t = T.plus_secs(1);
        for (n, wait) in [(6, 2), (7, 4), (8, 8), (9, 16)] {
            s = s.after_failure(t);
            assert_eq!(s.failures, n);
            assert_eq!(s.gate(t), Gate::Wait { retry_after_s: wait }, "n = {n}");
            assert_eq!(s.gate(t.plus_secs(wait as i64 - 1)), Gate::Wait { retry_after_s: 1 });
            t = t.plus_secs(wait as i64);
            assert_eq!(s.gate(t), Gate::Open, "n = {n}");
        }
        assert_eq!(s.locked_until, None);
    }

    #[test]
    fn ten_failures_lock_for_fifteen_minutes_and_each_later_failure_relocks() {
        let s = fail_times(LoginFailures::default(), 9, T);
        assert_eq!(s.locked_until, None);
        let s = s.after_failure(T);
        assert_eq!(s.failures, 10);
        assert_eq!(s.locked_until, Some(T.plus_secs(900)));
        assert_eq!(s.gate(T), Gate::Locked { retry_after_s: 900 });
        assert_eq!(s.gate(T.plus_secs(899)), Gate::Locked { retry_after_s: 1 });
        assert_eq!(s.gate(T.plus_secs(900)), Gate::Open);
        let later = T.plus_secs(1000);
        let s = s.after_failure(later);
        assert_eq!(s.gate(later), Gate::Locked { retry_after_s: 900 });
    }

    #[test]
    fn begin_attempt_counts_admitted_attempts_and_leaves_refused_ones() {
        // One attempt after another at the same instant: five admitted, each counted.
        let mut s = LoginFailures::default();
        let mut admitted = 0;
        for _ in 0..20 {
            let (gate, next) = s.begin_attempt(T);
            if gate == Gate::Open {
                admitted += 1;
                assert_eq!(next, s.after_failure(T));
            } else {
                assert_eq!(gate, Gate::Wait { retry_after_s: 1 });
                assert_eq!(next, s, "a refused attempt changes nothing");
            }
            s = next;
        }
        assert_eq!(admitted, 5);
        assert_eq!(s.failures, 5);
        // The sixth is admitted after its wait, and counted.
        let (gate, next) = s.begin_attempt(T.plus_secs(1));
        assert_eq!(gate, Gate::Open);
        assert_eq!(next.failures, 6);
        let locked = fail_times(LoginFailures::default(), 10, T);
        assert_eq!(locked.begin_attempt(T), (Gate::Locked { retry_after_s: 900 }, locked));
    }

    #[test]
    fn unknown_usernames_are_checked_against_a_hash_of_the_same_parameters() {
        let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        let real = crate::client::hash_password("pw_0123456789abcdef01234567");
        assert!(real.starts_with("$argon2id$v=19$m="), "{real}");
        assert_eq!(params(dummy_hash()), params(&real));
        let unknown = LoginAttempt {
            keys: Vec::new(),
            client: None,
        };
        assert!(!unknown.verify("ringproof dummy password"), "the dummy never logs in");
    }

    #[test]
    fn success_resets() {
        // The engine resets by storing the default state; a reset state is open at once.
        let s = fail_times(LoginFailures::default(), 7, T);
        assert!(matches!(s.gate(T), Gate::Wait { .. }));
        let reset = LoginFailures::default();
        assert_eq!(reset.gate(T), Gate::Open);
        assert_eq!(reset.after_failure(T).gate(T), Gate::Open);
    }
}

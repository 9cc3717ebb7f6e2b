//! Service rate limits: limits an integrator defines on one of its services (the Twilio
//! face's Service Rate Limits and Buckets) and applies per start by naming a value.
//!
//! A *rate limit* is a name (`end_user_ip`, `session_id`, …) in a service; each of its
//! *buckets* allows `max` starts per `interval` seconds. A start in the service that names
//! rate limits with values (`{"end_user_ip": "198.51.100.7"}`) is admitted only if every
//! bucket of every rate limit it names has room, for that value, in a sliding window of
//! the bucket's interval; then it counts once in each. So:
//!
//! ```text
//!   start(service, {name: value, …})
//!     ├─ a name the service does not define ........ invalid_parameter (rate_limits)
//!     ├─ a rate limit the start does not name ...... not applied (the value is unknown)
//!     ├─ a rate limit with no bucket ............... nothing to enforce
//!     ├─ any bucket of a named limit full for value  service_rate_limited, nothing counted
//!     └─ else ...................................... counted in every bucket, with the
//!                                                    guard's counters, in one transaction
//! ```
//!
//! The counters are rows of the guard's counter table ([`crate::ports::Store::update_counters`]),
//! one per (bucket, value), keyed by a keyed hash of the bucket and the value: the value
//! (an address, a user id) is never stored or logged. They are read and written in the
//! same atomic step as the guard's own rows ([`crate::engine`]'s `admit_send_with`), so a
//! start refused by either counts nowhere, and concurrent starts on any node see each
//! other's counts. Each row is a [`Window`], the guard's sliding window.

use crate::error::CoreError;
use crate::guard::window::Window;
use crate::ids::{BucketId, ClientId, RateLimitId, ServiceId};
use crate::time::Timestamp;

/// The longest `unique_name`, in characters.
pub const MAX_UNIQUE_NAME: usize = 64;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 255;
/// Rate limits per service (Twilio answers 60207 past its own cap).
pub const MAX_RATE_LIMITS: u64 = 10;
/// Buckets per rate limit (Twilio answers 60210 past its own cap).
pub const MAX_BUCKETS: u64 = 5;
/// The largest `max` of a bucket.
pub const MAX_MAX: u32 = 1_000_000;
/// The longest interval of a bucket, in seconds: 30 days.
pub const MAX_INTERVAL_S: u32 = 30 * 86_400;
/// The longest value a start may name for a rate limit, in characters.
pub const MAX_VALUE: usize = 256;

/// The counter scope of the buckets' rows in the guard's counter table.
pub const COUNTER_SCOPE: &str = "service_rate";

/// A rate limit of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub id: RateLimitId,
    pub client_id: ClientId,
    pub service_id: ServiceId,
    /// Unique in the service; what a start names.
    pub unique_name: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A bucket of a rate limit: at most `max` starts per value in any `interval_s` seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub id: BucketId,
    pub client_id: ClientId,
    pub service_id: ServiceId,
    pub rate_limit_id: RateLimitId,
    pub max: u32,
    /// Unique among the rate limit's buckets.
    pub interval_s: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Bucket {
    pub fn interval_ms(&self) -> i64 {
        i64::from(self.interval_s) * 1_000
    }
}

/// Why a rate-limit request or a start is refused, beyond a plain invalid parameter.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitRefusal {
    /// No such rate limit or bucket in this service of this client.
    #[error("rate limit or bucket not found")]
    NotFound,
    /// The name is not 1 to 64 letters, digits, `_`, `-` or `.`.
    #[error("unique_name must be 1 to {MAX_UNIQUE_NAME} letters, digits, '_', '-' or '.'")]
    BadName,
    /// The service has a rate limit of this name already.
    #[error("the service has a rate limit with this unique_name already")]
    NameTaken,
    /// The service has [`MAX_RATE_LIMITS`] already.
    #[error("a service has at most {MAX_RATE_LIMITS} rate limits; delete one first")]
    TooManyRateLimits,
    /// The rate limit has [`MAX_BUCKETS`] already.
    #[error("a rate limit has at most {MAX_BUCKETS} buckets; delete or change one")]
    TooManyBuckets,
    /// The rate limit has a bucket with this interval already.
    #[error("the rate limit has a bucket with this interval already")]
    IntervalTaken,
    /// A start over a bucket of the rate limit named: nothing was sent or counted.
    #[error("the service's rate limit {rate_limit} is reached for this value; retry in {retry_after_s} s")]
    Exceeded { rate_limit: String, retry_after_s: u64 },
}

impl RateLimitRefusal {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RateLimitRefusal::NotFound => "rate_limit_not_found",
            RateLimitRefusal::BadName => "invalid_unique_name",
            RateLimitRefusal::NameTaken => "rate_limit_name_taken",
            RateLimitRefusal::TooManyRateLimits => "too_many_rate_limits",
            RateLimitRefusal::TooManyBuckets => "too_many_buckets",
            RateLimitRefusal::IntervalTaken => "bucket_interval_taken",
            RateLimitRefusal::Exceeded { .. } => "service_rate_limited",
        }
    }
}

/// A rate limit's name: 1 to 64 ASCII letters, digits, `_`, `-` or `.`.
pub fn parse_unique_name(s: &str) -> Result<String, CoreError> {
    let ok = (1..=MAX_UNIQUE_NAME).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(RateLimitRefusal::BadName.into())
    }
}

/// A description: up to 255 printable characters; empty clears it.
pub fn parse_description(s: &str) -> Result<Option<String>, CoreError> {
    if s.chars().count() > MAX_DESCRIPTION || s.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} printable characters"),
        ));
    }
    Ok((!s.trim().is_empty()).then(|| s.to_owned()))
}

/// A bucket's `max`: 1 to [`MAX_MAX`].
pub fn check_max(max: i64) -> Result<u32, CoreError> {
    u32::try_from(max)
        .ok()
        .filter(|m| (1..=MAX_MAX).contains(m))
        .ok_or_else(|| CoreError::invalid("max", format!("must be 1 to {MAX_MAX}")))
}

/// A bucket's interval in seconds: 1 to [`MAX_INTERVAL_S`] (30 days).
pub fn check_interval(interval_s: i64) -> Result<u32, CoreError> {
    u32::try_from(interval_s)
        .ok()
        .filter(|s| (1..=MAX_INTERVAL_S).contains(s))
        .ok_or_else(|| CoreError::invalid("interval", format!("must be 1 to {MAX_INTERVAL_S} seconds")))
}

/// The value a start names for a rate limit: 1 to 256 characters.
pub fn check_value(value: &str) -> Result<(), CoreError> {
    if value.is_empty() || value.chars().count() > MAX_VALUE {
        return Err(CoreError::invalid(
            "rate_limits",
            format!("each value must be 1 to {MAX_VALUE} characters"),
        ));
    }
    Ok(())
}

/// One bucket a start must fit in: its limits, the rate limit's name (for the refusal),
/// and the counter row of (bucket, value).
#[derive(Clone, Debug)]
pub struct BucketCheck {
    pub rate_limit: String,
    pub max: u32,
    pub interval_ms: i64,
    pub key: crate::ports::CounterKey,
}

/// A bucket row's window (empty for a row not stored yet or unreadable: a lost count errs
/// towards admitting, as a purged row does).
pub fn decode_window(state: &[u8]) -> Window {
    serde_json::from_slice(state).unwrap_or_default()
}

pub fn encode_window(w: &Window) -> Vec<u8> {
    serde_json::to_vec(w).unwrap_or_default()
}

/// Whether one more start at `now` fits every bucket; if not, the refusal naming the rate
/// limit of the bucket that frees last, and when. Counts nothing.
pub fn room(checks: &[BucketCheck], windows: &[Window], now: Timestamp) -> Result<(), RateLimitRefusal> {
    let mut worst: Option<(&str, i64)> = None;
    for (c, w) in checks.iter().zip(windows) {
        if let Err(wait_ms) = w.room(c.interval_ms, c.max, now)
            && worst.is_none_or(|(_, ms)| wait_ms > ms)
        {
            worst = Some((&c.rate_limit, wait_ms));
        }
    }
    match worst {
        None => Ok(()),
        Some((name, ms)) => Err(RateLimitRefusal::Exceeded {
            rate_limit: name.to_owned(),
            // Whole seconds, rounded up: retrying after them finds room.
            retry_after_s: u64::try_from((ms + 999) / 1_000).unwrap_or(1).max(1),
        }),
    }
}

/// Counts one start at `now` in every window; when each row may be forgotten.
pub fn count(checks: &[BucketCheck], windows: &mut [Window], now: Timestamp) -> Vec<Timestamp> {
    checks
        .iter()
        .zip(windows.iter_mut())
        .map(|(c, w)| {
            w.add(c.interval_ms, now);
            Timestamp(w.last_end().unwrap_or(now.millis()) + c.interval_ms)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, max: u32, interval_s: i64) -> BucketCheck {
        BucketCheck {
            rate_limit: name.into(),
            max,
            interval_ms: interval_s * 1_000,
            key: crate::ports::CounterKey {
                client_id: ClientId::generate(),
                scope: COUNTER_SCOPE.into(),
                key: [0; 32],
            },
        }
    }

    #[test]
    fn names_values_and_bounds_are_checked() {
        assert_eq!(parse_unique_name("end_user.ip-1").unwrap(), "end_user.ip-1");
        for bad in ["", "a b", "ip/addr", "é", &"x".repeat(65)] {
            assert_eq!(
                parse_unique_name(bad),
                Err(CoreError::RateLimit(RateLimitRefusal::BadName)),
                "{bad}"
            );
        }
        assert!(parse_unique_name(&"x".repeat(64)).is_ok());
        assert_eq!(parse_description("").unwrap(), None);
        assert!(parse_description(&"d".repeat(256)).is_err());
        assert!(parse_description("a\nb").is_err());
        assert_eq!(check_max(1).unwrap(), 1);
        assert!(check_max(0).is_err() && check_max(-1).is_err() && check_max(1_000_001).is_err());
        assert_eq!(check_interval(60).unwrap(), 60);
        assert!(check_interval(0).is_err() && check_interval(i64::from(MAX_INTERVAL_S) + 1).is_err());
        assert!(check_value("").is_err() && check_value(&"v".repeat(257)).is_err());
        assert!(check_value("198.51.100.7").is_ok());
    }

    /// Every bucket must have room; a refusal counts nothing and names the bucket that
    /// frees last; the window reopens after its interval.
    #[test]
    fn every_bucket_must_have_room() {
        let t0 = Timestamp(1_800_000_000_000);
        let checks = [check("short", 2, 60), check("long", 3, 3_600)];
        let mut windows = vec![Window::default(), Window::default()];
        for k in 0..2 {
            let now = Timestamp(t0.millis() + k * 1_000);
            room(&checks, &windows, now).unwrap();
            count(&checks, &mut windows, now);
        }
        let now = Timestamp(t0.millis() + 2_000);
        let before = windows.clone();
        let Err(RateLimitRefusal::Exceeded {
            rate_limit,
            retry_after_s,
        }) = room(&checks, &windows, now)
        else {
            panic!("a third start in a minute is refused");
        };
        assert_eq!(rate_limit, "short");
        assert!((58..=61).contains(&retry_after_s), "{retry_after_s}");
        assert_eq!(windows, before);
        // A minute later the short bucket has room again; the third start fills the long one.
        let later = Timestamp(t0.millis() + 62_000);
        room(&checks, &windows, later).unwrap();
        count(&checks, &mut windows, later);
        let even_later = Timestamp(t0.millis() + 130_000);
        let Err(RateLimitRefusal::Exceeded { rate_limit, .. }) = room(&checks, &windows, even_later) else {
            panic!("the hourly bucket is full");
        };
        assert_eq!(rate_limit, "long");
        assert_eq!(decode_window(&encode_window(&windows[0])), windows[0]);
        assert_eq!(decode_window(b""), Window::default());
    }
}

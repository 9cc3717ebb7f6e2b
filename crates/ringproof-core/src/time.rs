//! Time as data: a [`Timestamp`] in milliseconds since the Unix epoch, and the [`Clock`]
//! port. Only [`SystemClock`] reads the real time; tests drive a [`ManualClock`].

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since 1970-01-01T00:00:00Z. Plain integers keep the stores simple
/// (one `BIGINT` column on both backends) and make time arithmetic exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1000)))
    }
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
    /// Whole seconds from `self` until `later`, rounded up; 0 if `later` is not after `self`.
    pub fn secs_until_ceil(self, later: Timestamp) -> u64 {
        let d = later.0 - self.0;
        if d <= 0 { 0 } else { (d as u64).div_ceil(1000) }
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-22T01:55:47.123Z`.
    pub fn to_rfc3339(self) -> String {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        )
    }
}

impl Timestamp {
    /// Reads what [`Self::to_rfc3339`] writes (`2026-11-22T01:55:47.123Z`, the fraction
    /// optional); `None` for anything else.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let ms = match &s[19..] {
            "Z" => 0,
            f if f.len() == 5 && f.starts_with('.') && f.ends_with('Z') => num(20..23)?,
            _ => return None,
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        // A day past its month's end (`02-31`) would roll over: not a date.
        if civil_from_days(days) != (y, mo as u32, d as u32) {
            return None;
        }
        Some(Self(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + ms))
    }
}

/// Howard Hinnant's `days_from_civil`: (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The source of "now". Injected everywhere a rule depends on time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }
}

/// A clock that moves only when told to. For tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.0))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Timestamp(1_795_312_547_123).to_rfc3339(), "2026-11-22T01:55:47.123Z");
        assert_eq!(Timestamp(951_782_400_000).to_rfc3339(), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn rfc3339_reads_back() {
        for ms in [0, 1_795_312_547_123, 951_782_400_000, 4_102_444_799_999, -86_400_000] {
            assert_eq!(
                Timestamp::parse_rfc3339(&Timestamp(ms).to_rfc3339()),
                Some(Timestamp(ms))
            );
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-22T01:55:47Z"),
            Some(Timestamp(1_795_312_547_000))
        );
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2026-02-31T00:00:00Z",
            "2026-11-22T01:55:47+00:00",
            "2026-11-22T01:55:47.1Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn secs_until_rounds_up() {
        let t = Timestamp(1000);
        assert_eq!(t.secs_until_ceil(Timestamp(1001)), 1);
        assert_eq!(t.secs_until_ceil(Timestamp(3000)), 2);
        assert_eq!(t.secs_until_ceil(Timestamp(500)), 0);
    }
}

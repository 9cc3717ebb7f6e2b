//! One-time codes: a [`Code`] is a string of 4–10 decimal digits. Codes come from a
//! [`CodeSource`] (the OS CSPRNG in production, a script in tests), are never stored in
//! plaintext (see [`crate::crypto::Keys::code_hash`]) and never printed: `Debug` hides them.

use std::fmt;

use crate::crypto::fill_random;

pub const MIN_CODE_LENGTH: u8 = 4;
pub const MAX_CODE_LENGTH: u8 = 10;

/// A one-time code. Its digits are reachable only through [`Code::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    /// Wraps digits the caller already checked (used by [`CodeSource`]s and tests).
    pub fn from_digits(digits: &str) -> Option<Self> {
        let ok = (MIN_CODE_LENGTH as usize..=MAX_CODE_LENGTH as usize).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(digits.to_owned()))
    }
    /// The digits. Call only to put the code in a message or compute its hash.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({} digits)", self.0.len())
    }
}

/// Where codes come from. Injected so tests can know the codes they will receive.
pub trait CodeSource: Send + Sync {
    /// A code of exactly `len` digits, `len` within 4..=10.
    fn generate(&self, len: u8) -> Code;
}

/// A code the integrator brought (a service that allows custom codes) is the source of
/// its start's first code: itself, whatever the length asked (the start's code length
/// is the code's).
impl CodeSource for Code {
    fn generate(&self, _len: u8) -> Code {
        self.clone()
    }
}

/// Uniform random digits from the OS CSPRNG.
///
/// Each digit comes from one random byte by rejection sampling: bytes 250..=255 are thrown
/// away, so each of the 250 accepted values maps to a digit exactly 25 times and there is
/// no modulo bias.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsCodeSource;

impl CodeSource for OsCodeSource {
    fn generate(&self, len: u8) -> Code {
        let len = len.clamp(MIN_CODE_LENGTH, MAX_CODE_LENGTH) as usize;
        let mut digits = String::with_capacity(len);
        let mut buf = [0u8; 16];
        while digits.len() < len {
            fill_random(&mut buf);
            for &b in &buf {
                if b < 250 && digits.len() < len {
                    digits.push(char::from(b'0' + b % 10));
                }
            }
        }
        Code(digits)
    }
}

/// A source that hands out scripted codes in order, then repeats the last one.
/// For tests and demos that must know the code in advance.
#[derive(Debug, Default)]
pub struct ScriptedCodeSource(std::sync::Mutex<std::collections::VecDeque<String>>);

impl ScriptedCodeSource {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(codes: I) -> Self {
        Self(std::sync::Mutex::new(codes.into_iter().map(Into::into).collect()))
    }
}

impl CodeSource for ScriptedCodeSource {
    fn generate(&self, len: u8) -> Code {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let next = if q.len() > 1 { q.pop_front() } else { q.front().cloned() };
        match next.and_then(|s| Code::from_digits(&s)) {
            Some(c) if c.len() == len as usize => c,
            _ => OsCodeSource.generate(len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabet() {
        for len in MIN_CODE_LENGTH..=MAX_CODE_LENGTH {
            let c = OsCodeSource.generate(len);
            assert_eq!(c.len(), len as usize);
            assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(format!("{:?}", Code::from_digits("123456").unwrap()), "Code(6 digits)");
        assert!(Code::from_digits("123").is_none());
        assert!(Code::from_digits("12345678901").is_none());
        assert!(Code::from_digits("12a4").is_none());
    }

    /// Chi-square goodness of fit over 100 000 codes of 6 digits (600 000 digits), per
    /// position and overall. With 9 degrees of freedom the critical value at p = 0.001 is
    /// 27.88; a modulo-biased generator (`byte % 10` without rejection) scores far above it
    /// (about 220 overall at this sample size), so this test fails if the rejection step is removed.
    #[test]
    fn digits_are_uniform_chi_square() {
        const N: usize = 100_000;
        const LEN: usize = 6;
        let mut per_pos = [[0u64; 10]; LEN];
        let mut all = [0u64; 10];
        for _ in 0..N {
            let c = OsCodeSource.generate(LEN as u8);
            for (i, b) in c.expose().bytes().enumerate() {
                per_pos[i][(b - b'0') as usize] += 1;
                all[(b - b'0') as usize] += 1;
            }
        }
        let chi = |counts: &[u64; 10], total: f64| {
            let e = total / 10.0;
            counts.iter().map(|&o| (o as f64 - e).powi(2) / e).sum::<f64>()
        };
        // Per position we allow p = 0.0001 (critical value 33.72) because six positions are
        // tested at once; overall, p = 0.001.
        for (i, counts) in per_pos.iter().enumerate() {
            let x = chi(counts, N as f64);
            assert!(x < 33.72, "position {i}: chi-square {x:.2} too high: {counts:?}");
        }
        let x = chi(&all, (N * LEN) as f64);
        assert!(x < 27.88, "overall chi-square {x:.2} too high: {all:?}");

        // The same statistic on a deliberately biased generator must fail, proving the test
        // has the power to see modulo bias.
        let mut biased = [0u64; 10];
        let mut buf = [0u8; 4096];
        let mut n = 0;
        while n < N * LEN {
            fill_random(&mut buf);
            for &b in &buf {
                if n < N * LEN {
                    biased[(b % 10) as usize] += 1;
                    n += 1;
                }
            }
        }
        assert!(chi(&biased, (N * LEN) as f64) > 27.88, "biased generator not detected");
    }

    #[test]
    fn scripted_source_replays() {
        let s = ScriptedCodeSource::new(["1111", "2222"]);
        assert_eq!(s.generate(4).expose(), "1111");
        assert_eq!(s.generate(4).expose(), "2222");
        assert_eq!(s.generate(4).expose(), "2222");
        assert_eq!(s.generate(6).len(), 6);
    }
}

//! Phone numbers: parsed once at the edge into [`PhoneNumber`] (E.164), never a raw
//! string inside the core. Its `Debug` and `Display` mask the subscriber digits so a number
//! cannot reach a log line by accident; [`PhoneNumber::e164`] is the explicit way out.

use std::fmt;

use rlibphonenumber::{PhoneNumberFormat, PhoneNumberType};

use crate::countries::{CountryError, CountryTable};

/// A valid phone number in E.164 form, e.g. `+14155550123`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
}

/// Why a string is not an acceptable phone number. No variant carries the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not `+` and digits (with [`Dashed::Refuse`]), or not a number in its canonical E.164
    /// form.
    #[error("phone number must be in E.164 format: '+' followed by the country code and number, e.g. +14155550123")]
    NotE164,
    /// Neither `+<cc>-<digits>` nor `+<digits>` (with [`Dashed::Allow`]).
    #[error("phone number must be '+', the country code, a hyphen and the digits (e.g. +1-9907676111), or E.164")]
    NotDashedOrE164,
    /// The calling code is not in the country table.
    #[error("country code is not supported")]
    UnknownCallingCode,
    /// The country table allows another number of national digits for this calling code.
    #[error("phone number has the wrong number of digits for country code +{calling_code}")]
    WrongLength { calling_code: u16 },
    /// The right shape, but not a valid number of its country's numbering plan.
    #[error("phone number is not a valid number for its country")]
    Invalid,
}

/// Whether the dashed national-number form `+<cc>-<digits>` is accepted besides E.164.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dashed {
    /// Only `+` and digits.
    Refuse,
    /// `+<cc>-<digits>` (one space instead of the hyphen is tolerated) or `+<digits>`.
    Allow,
}

/// What [`PhoneNumber::parse`] accepts besides a valid E.164 number. Each face picks its
/// options; the rules themselves live here and in [`crate::countries`].
#[derive(Clone, Copy, Debug)]
pub struct ParseOptions {
    pub dashed: Dashed,
    /// Judge the calling code and the count of national digits by this table first. Its
    /// refusals are [`PhoneError::UnknownCallingCode`] and [`PhoneError::WrongLength`]; a
    /// number it admits that is then not a valid E.164 number of its plan is
    /// [`PhoneError::Invalid`] (the table alone admits numbers no network would deliver to,
    /// such as `+1-9907676111`).
    pub country_table: Option<&'static CountryTable>,
}

impl ParseOptions {
    /// Strict E.164, no table: the native API, the CLI, stored numbers.
    pub const E164: Self = Self {
        dashed: Dashed::Refuse,
        country_table: None,
    };
}

/// The kind of line a number belongs to, from the numbering plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineType {
    Mobile,
    FixedLine,
    FixedLineOrMobile,
    Voip,
    TollFree,
    Other,
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl From<CountryError> for PhoneError {
    fn from(e: CountryError) -> Self {
        match e {
            CountryError::UnknownCallingCode => PhoneError::UnknownCallingCode,
            CountryError::WrongLength { calling_code } => PhoneError::WrongLength { calling_code },
        }
    }
}

impl PhoneNumber {
    /// The one phone-number parser. `s` must end up a valid number of its numbering plan in
    /// canonical E.164 form (a `+`, then 7 to 15 digits: Niue's and Tokelau's numbers are as
    /// short as 7); with [`Dashed::Allow`], `+<cc>-<digits>` (or one space for the hyphen) is
    /// read as `+<cc><digits>`; with a country table, the table must admit the calling code
    /// and the count of national digits before the plan is asked. No surrounding whitespace
    /// is accepted. The error says which rule refused the number.
    pub fn parse(s: &str, options: ParseOptions) -> Result<Self, PhoneError> {
        let shape = match options.dashed {
            Dashed::Refuse => PhoneError::NotE164,
            Dashed::Allow => PhoneError::NotDashedOrE164,
        };
        let rest = s.strip_prefix('+').ok_or_else(|| shape.clone())?;
        let dashed = match options.dashed {
            Dashed::Allow => rest.split_once(['-', ' ']),
            Dashed::Refuse => None,
        };
        let e164 = match dashed {
            Some((cc, national)) => {
                if !all_digits(cc) || cc.len() > 4 || cc.starts_with('0') || !all_digits(national) {
                    return Err(shape);
                }
                if let Some(table) = options.country_table {
                    let calling_code: u16 = cc.parse().map_err(|_| shape.clone())?;
                    table.check(calling_code, national)?;
                }
                format!("+{cc}{national}")
            }
            None => {
                if let Some(table) = options.country_table {
                    if !all_digits(rest) {
                        return Err(shape);
                    }
                    table.split(rest)?;
                }
                s.to_owned()
            }
        };
        match (options.country_table, Self::parse_strict(&e164)) {
            (_, Ok(n)) => Ok(n),
            (Some(_), Err(_)) => Err(PhoneError::Invalid),
            (None, Err(PhoneError::NotE164)) => Err(shape),
            (None, Err(e)) => Err(e),
        }
    }

    /// [`PhoneNumber::parse`] with [`ParseOptions::E164`].
    pub fn parse_e164(s: &str) -> Result<Self, PhoneError> {
        Self::parse(s, ParseOptions::E164)
    }

    fn parse_strict(s: &str) -> Result<Self, PhoneError> {
        let digits = s.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotE164);
        }
        let parsed = rlibphonenumber::PhoneNumber::parse(s, None).map_err(|_| PhoneError::NotE164)?;
        if !parsed.is_valid() {
            return Err(PhoneError::Invalid);
        }
        let e164 = parsed.format_as(PhoneNumberFormat::E164).into_owned();
        if e164 != s {
            return Err(PhoneError::NotE164);
        }
        Ok(Self {
            e164,
            country_code: parsed.country_code as u16,
        })
    }

    /// The full number. Call this only to hand the number to a provider or a store.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The region (ISO 3166-1 alpha-2, e.g. `US`, `CA`) the numbering plan assigns the
    /// number to; `None` when the plan names none (a non-geographic code).
    pub fn region(&self) -> Option<String> {
        let parsed = rlibphonenumber::PhoneNumber::parse(&self.e164, None).ok()?;
        parsed.get_region_code().map(|r| r.to_string())
    }

    /// `+1******0123`: the country code and the last four digits, for logs — fewer where
    /// the national number is short (`+683**02`): at most half of it is ever shown, so a
    /// 4-digit number of Niue or Tokelau is never logged whole.
    pub fn masked(&self) -> String {
        let cc = self.country_code.to_string();
        let rest = &self.e164[1 + cc.len()..];
        let keep = (rest.len() / 2).min(4);
        format!("+{cc}{}{}", "*".repeat(rest.len() - keep), &rest[rest.len() - keep..])
    }

    pub fn line_type(&self) -> LineType {
        let Ok(parsed) = rlibphonenumber::PhoneNumber::parse(&self.e164, None) else {
            return LineType::Other;
        };
        match parsed.get_type() {
            PhoneNumberType::Mobile => LineType::Mobile,
            PhoneNumberType::FixedLine => LineType::FixedLine,
            PhoneNumberType::FixedLineOrMobile => LineType::FixedLineOrMobile,
            PhoneNumberType::VoIP => LineType::Voip,
            PhoneNumberType::TollFree => LineType::TollFree,
            _ => LineType::Other,
        }
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_numbers_and_masks_them() {
        let n = PhoneNumber::parse_e164("+14155550123").unwrap();
        assert_eq!(n.e164(), "+14155550123");
        assert_eq!(n.country_code(), 1);
        assert_eq!(n.region().as_deref(), Some("US"));
        assert_eq!(
            PhoneNumber::parse_e164("+16135550123").unwrap().region().as_deref(),
            Some("CA")
        );
        assert_eq!(n.masked(), "+1******0123");
        assert_eq!(format!("{n:?}"), "PhoneNumber(+1******0123)");
        assert_eq!(format!("{n}"), "+1******0123");
        let uk = PhoneNumber::parse_e164("+447911123456").unwrap();
        assert_eq!(uk.country_code(), 44);
        assert_eq!(uk.masked(), "+44******3456");
    }

    #[test]
    fn rejects_malformed_and_invalid() {
        for bad in [
            "",
            "14155550123",
            "+1 415 555 0123",
            "+1415555012a",
            "+1",
            "+1234567890123456",
        ] {
            assert_eq!(PhoneNumber::parse_e164(bad), Err(PhoneError::NotE164), "{bad}");
        }
        // Right shape, but no such number in the US plan (area code 000).
        assert_eq!(PhoneNumber::parse_e164("+10005550123"), Err(PhoneError::Invalid));
    }

    fn dashed_table() -> ParseOptions {
        ParseOptions {
            dashed: Dashed::Allow,
            country_table: Some(crate::countries::table()),
        }
    }

    fn strict_table() -> ParseOptions {
        ParseOptions {
            dashed: Dashed::Refuse,
            country_table: Some(crate::countries::table()),
        }
    }

    /// E.164 numbers as short as 7 digits exist (Niue +683 and Tokelau +690 have 4 national
    /// digits); the strict parser and the table parsers accept them.
    #[test]
    fn seven_digit_numbers() {
        for s in ["+6834002", "+6907290"] {
            let n = PhoneNumber::parse_e164(s).unwrap();
            assert_eq!(n.e164(), s);
            assert_eq!(PhoneNumber::parse(s, strict_table()).unwrap(), n);
            assert_eq!(PhoneNumber::parse(s, dashed_table()).unwrap(), n);
        }
        assert_eq!(PhoneNumber::parse_e164("+6834002").unwrap().country_code(), 683);
        // A short national number is never logged whole: at most half of it shows.
        assert_eq!(PhoneNumber::parse_e164("+6834002").unwrap().masked(), "+683**02");
        assert_eq!(PhoneNumber::parse_e164("+6907290").unwrap().masked(), "+690**90");
        assert_eq!(PhoneNumber::parse_e164("+3544212345").unwrap().masked(), "+354****345");
        let n = PhoneNumber::parse("+683-4002", dashed_table()).unwrap();
        assert_eq!(n.e164(), "+6834002");
        // Six digits are no E.164 number of any plan.
        assert_eq!(PhoneNumber::parse_e164("+683400"), Err(PhoneError::NotE164));
    }

    /// Each option set against a table of inputs: what it accepts (as which E.164 number)
    /// and why it refuses.
    #[test]
    fn parse_options_table() {
        use PhoneError::*;
        let e164 = ParseOptions::E164;
        let (dashed, strict) = (dashed_table(), strict_table());
        let cases: &[(&str, ParseOptions, Result<&str, PhoneError>)] = &[
            // Strict E.164 (the native API).
            ("+14155550123", e164, Ok("+14155550123")),
            ("+1-4155550123", e164, Err(NotE164)),
            ("+19907676111", e164, Err(Invalid)),
            ("+999123456789", e164, Err(NotE164)),
            // The dashed form with the table (the number-addressed OTP).
            ("+1-4155550123", dashed, Ok("+14155550123")),
            ("+1 4155550123", dashed, Ok("+14155550123")),
            ("+14155550123", dashed, Ok("+14155550123")),
            ("+44-7911123456", dashed, Ok("+447911123456")),
            ("+1-9907676111", dashed, Err(Invalid)),
            ("+1-415555012", dashed, Err(WrongLength { calling_code: 1 })),
            ("4155550123", dashed, Err(NotDashedOrE164)),
            // Strict E.164 with the table (the SMS-then-call fallback).
            ("+12025550163", strict, Ok("+12025550163")),
            ("12025550163", strict, Err(NotE164)),
            ("+1-2025550163", strict, Err(NotE164)),
            ("+1 2025550163", strict, Err(NotE164)),
            ("+", strict, Err(NotE164)),
            ("+999123456789", strict, Err(UnknownCallingCode)),
            ("+120255501", strict, Err(WrongLength { calling_code: 1 })),
            ("+19907676111", strict, Err(Invalid)),
        ];
        for (input, options, want) in cases {
            let got = PhoneNumber::parse(input, *options);
            assert_eq!(
                got.as_ref().map(PhoneNumber::e164),
                want.as_ref().map(|s| *s),
                "{input:?}"
            );
        }
    }

    /// The shapes the dashed form refuses before the table is asked, and the table's own
    /// refusals.
    #[test]
    fn dashed_table_refusals() {
        use PhoneError::*;
        let cases = [
            ("+999-12345678", UnknownCallingCode),
            ("+99912345678", UnknownCallingCode),
            ("+1-990767611", WrongLength { calling_code: 1 }),
            ("+1-99076761111", WrongLength { calling_code: 1 }),
            ("+1990767611", WrongLength { calling_code: 1 }),
            ("+7-123456789", WrongLength { calling_code: 7 }),
            ("+381-1234567", WrongLength { calling_code: 381 }),
            ("+1-99076761ab", NotDashedOrE164),
            ("+1-９９０７６７６１１１", NotDashedOrE164),
            ("+abc", NotDashedOrE164),
            ("19907676111", NotDashedOrE164),
            ("1-9907676111", NotDashedOrE164),
            ("", NotDashedOrE164),
            ("+", NotDashedOrE164),
            ("+1", WrongLength { calling_code: 1 }),
            ("+9", UnknownCallingCode),
            ("+1-", NotDashedOrE164),
            ("+-9907676111", NotDashedOrE164),
            ("+1--9907676111", NotDashedOrE164),
            ("+1-990-767-6111", NotDashedOrE164),
            ("+1  9907676111", NotDashedOrE164),
            (" +1-9907676111", NotDashedOrE164),
            ("+1-9907676111 ", NotDashedOrE164),
            ("+01-9907676111", NotDashedOrE164),
            ("+12345-123456", NotDashedOrE164),
        ];
        for (input, want) in cases {
            assert_eq!(PhoneNumber::parse(input, dashed_table()), Err(want), "{input:?}");
        }
        let err = PhoneNumber::parse("+1-990767611", dashed_table()).unwrap_err();
        assert!(!err.to_string().contains("990767611"));
        assert!(!format!("{err:?}").contains("990767611"));
    }

    /// Any string of `+` and up to 16 digits: the table parsers accept a subset of what
    /// strict E.164 accepts, as the same number, and the dashed form of an accepted number
    /// parses to it too.
    #[test]
    fn table_parsers_agree_with_e164() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let prefixes = ["1", "44", "7", "683", "690", "381", "91", "6723", "999", ""];
        for _ in 0..4000 {
            let prefix = prefixes[(next() % prefixes.len() as u64) as usize];
            let len = (next() % 14) as usize;
            let digits: String = (0..len).map(|_| char::from(b'0' + (next() % 10) as u8)).collect();
            let s = format!("+{prefix}{digits}");
            let strict = PhoneNumber::parse_e164(&s);
            for options in [dashed_table(), strict_table()] {
                if let Ok(n) = PhoneNumber::parse(&s, options) {
                    assert_eq!(strict.as_ref().ok(), Some(&n), "{s}");
                    let (cc, national) = crate::countries::table().split(&s[1..]).unwrap();
                    let dashed = PhoneNumber::parse(&format!("+{cc}-{national}"), dashed_table());
                    assert_eq!(dashed.as_ref().ok(), Some(&n), "{s}");
                }
            }
        }
    }
}

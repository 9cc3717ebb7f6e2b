//! Phone numbers: parsed once at the edge into [`PhoneNumber`] (E.164), never a raw
//! string inside the core. Its `Debug` and `Display` mask the subscriber digits so a number
//! cannot reach a log line by accident; [`PhoneNumber::e164`] is the explicit way out.

use std::fmt;

use rlibphonenumber::{PhoneNumberFormat, PhoneNumberType};

/// A valid phone number in E.164 form, e.g. `+14155550123`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
}

/// Why a string is not an acceptable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number must be in E.164 format: '+' followed by the country code and number, e.g. +14155550123")]
    NotE164,
    #[error("phone number is not a valid number for its country")]
    Invalid,
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

impl PhoneNumber {
    /// Parses a strict E.164 string: a `+`, then 8 to 15 digits, and a number valid for the
    /// numbering plan of its country.
    pub fn parse_e164(s: &str) -> Result<Self, PhoneError> {
        let digits = s.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
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

    /// `+1******0123`: the country code and the last four digits, for logs.
    pub fn masked(&self) -> String {
        let cc = self.country_code.to_string();
        let rest = &self.e164[1 + cc.len()..];
        let keep = rest.len().min(4);
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
}

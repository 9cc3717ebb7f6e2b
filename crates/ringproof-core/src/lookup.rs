//! Number lookup: what kind of line a number is, who carries it, and whether the
//! subscriber can be served — the `carrier`, `lineType` and subscriber states of the
//! link-verification faces. A port, because the real answers (current carrier, suspended
//! or ported lines) come from outside services; the default [`MetadataLookup`] answers
//! from the numbering plan alone, with no I/O.

use async_trait::async_trait;

use crate::phone::{LineType, PhoneNumber};

/// The kind of line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    Mobile,
    Landline,
    /// The plan cannot tell (all of +1, for one): it may be either.
    FixedLineOrMobile,
    Voip,
    TollFree,
    Unknown,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Mobile => "mobile",
            LineKind::Landline => "landline",
            LineKind::FixedLineOrMobile => "fixed_line_or_mobile",
            LineKind::Voip => "voip",
            LineKind::TollFree => "toll_free",
            LineKind::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mobile" => LineKind::Mobile,
            "landline" => LineKind::Landline,
            "fixed_line_or_mobile" => LineKind::FixedLineOrMobile,
            "voip" => LineKind::Voip,
            "toll_free" => LineKind::TollFree,
            "unknown" => LineKind::Unknown,
            _ => return None,
        })
    }

    /// Whether a one-time link can prove possession on this line: a landline, VoIP or
    /// toll-free number cannot open a link on a phone that the mobile network identifies.
    pub fn can_receive_links(self) -> bool {
        matches!(self, LineKind::Mobile | LineKind::FixedLineOrMobile | LineKind::Unknown)
    }
}

/// What the subscriber's operator says about the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriberState {
    Active,
    Suspended,
    Deactivated,
    NotEligible,
    CannotIdentify,
    NoCrmData,
    CarrierMismatch,
    /// Not a valid or active number (e.g. never assigned).
    NotValid,
}

impl SubscriberState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberState::Active => "active",
            SubscriberState::Suspended => "suspended",
            SubscriberState::Deactivated => "deactivated",
            SubscriberState::NotEligible => "not_eligible",
            SubscriberState::CannotIdentify => "cannot_identify",
            SubscriberState::NoCrmData => "no_crm_data",
            SubscriberState::CarrierMismatch => "carrier_mismatch",
            SubscriberState::NotValid => "not_valid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => SubscriberState::Active,
            "suspended" => SubscriberState::Suspended,
            "deactivated" => SubscriberState::Deactivated,
            "not_eligible" => SubscriberState::NotEligible,
            "cannot_identify" => SubscriberState::CannotIdentify,
            "no_crm_data" => SubscriberState::NoCrmData,
            "carrier_mismatch" => SubscriberState::CarrierMismatch,
            "not_valid" => SubscriberState::NotValid,
            _ => return None,
        })
    }
}

/// The answer of a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupResult {
    /// The carrier's name, or `"unknown"`.
    pub carrier: String,
    pub line: LineKind,
    pub state: SubscriberState,
}

/// Why a lookup gave no answer. Never carries the number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The lookup service could not be reached or did not answer in time.
    #[error("the number lookup service cannot be reached: {0}")]
    Unreachable(String),
}

#[async_trait]
pub trait NumberLookup: Send + Sync + 'static {
    fn name(&self) -> &str;
    async fn lookup(&self, number: &PhoneNumber) -> Result<LookupResult, LookupError>;
}

/// The default lookup: the line type from the numbering plan (libphonenumber's metadata),
/// carrier `"unknown"` (the metadata does not know the current carrier of a number, which
/// may have been ported), and every valid number active.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetadataLookup;

impl MetadataLookup {
    pub fn classify(number: &PhoneNumber) -> LookupResult {
        let line = match number.line_type() {
            LineType::Mobile => LineKind::Mobile,
            LineType::FixedLine => LineKind::Landline,
            LineType::FixedLineOrMobile => LineKind::FixedLineOrMobile,
            LineType::Voip => LineKind::Voip,
            LineType::TollFree => LineKind::TollFree,
            LineType::Other => LineKind::Unknown,
        };
        LookupResult {
            carrier: "unknown".into(),
            line,
            state: SubscriberState::Active,
        }
    }
}

#[async_trait]
impl NumberLookup for MetadataLookup {
    fn name(&self) -> &str {
        "metadata"
    }
    async fn lookup(&self, number: &PhoneNumber) -> Result<LookupResult, LookupError> {
        Ok(Self::classify(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(n: &str) -> LineKind {
        MetadataLookup::classify(&PhoneNumber::parse_e164(n).unwrap()).line
    }

    #[test]
    fn line_types_from_the_plan() {
        assert_eq!(class("+447911123456"), LineKind::Mobile);
        assert_eq!(class("+442079460000"), LineKind::Landline);
        assert_eq!(class("+14155550123"), LineKind::FixedLineOrMobile);
        assert_eq!(class("+18005550199"), LineKind::TollFree);
        assert_eq!(class("+445631231234"), LineKind::Voip);
        let r = MetadataLookup::classify(&PhoneNumber::parse_e164("+447911123456").unwrap());
        assert_eq!((r.carrier.as_str(), r.state), ("unknown", SubscriberState::Active));
    }

    #[test]
    fn names_round_trip_and_links_need_a_mobile_capable_line() {
        for k in [
            LineKind::Mobile,
            LineKind::Landline,
            LineKind::FixedLineOrMobile,
            LineKind::Voip,
            LineKind::TollFree,
            LineKind::Unknown,
        ] {
            assert_eq!(LineKind::parse(k.as_str()), Some(k));
        }
        for s in [
            SubscriberState::Active,
            SubscriberState::Suspended,
            SubscriberState::Deactivated,
            SubscriberState::NotEligible,
            SubscriberState::CannotIdentify,
            SubscriberState::NoCrmData,
            SubscriberState::CarrierMismatch,
            SubscriberState::NotValid,
        ] {
            assert_eq!(SubscriberState::parse(s.as_str()), Some(s));
        }
        assert!(!LineKind::Landline.can_receive_links());
        assert!(!LineKind::Voip.can_receive_links());
        assert!(LineKind::FixedLineOrMobile.can_receive_links());
    }
}

//! Numbers that are not a person's line, by the numbering plan (libphonenumber's metadata,
//! which ringproof already parses numbers with): premium-rate and shared-cost services,
//! satellite phones and the other non-geographic international services. Texts and calls to
//! them cost the sender (or pay the receiver), which is what toll fraud and SMS pumping
//! feed on, so by default none receives anything ([`super::Limits::allowed_number_kinds`]).

use rlibphonenumber::PhoneNumberType;
use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumber;

/// A kind of number that is refused unless a client allows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    /// Premium-rate services (+1 900, +44 9 and +44 84/87, +33 89, +49 900, the
    /// international +979).
    PremiumRate,
    /// Shared-cost services (+33 81/82, +34 901, +49 180, the international +808).
    SharedCost,
    /// Satellite phones (+870 Inmarsat, +881 global mobile satellite systems).
    Satellite,
    /// Other non-geographic international services (+882/+883 international networks,
    /// +888, +800 universal freephone), and the plan's UAN, pager and voicemail-only
    /// ranges.
    InternationalService,
}

impl NumberKind {
    pub const ALL: [NumberKind; 4] = [
        NumberKind::PremiumRate,
        NumberKind::SharedCost,
        NumberKind::Satellite,
        NumberKind::InternationalService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::PremiumRate => "premium_rate",
            NumberKind::SharedCost => "shared_cost",
            NumberKind::Satellite => "satellite",
            NumberKind::InternationalService => "international_service",
        }
    }

    pub fn parse(s: &str) -> Option<NumberKind> {
        NumberKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// For people: "premium-rate".
    pub fn describe(self) -> &'static str {
        match self {
            NumberKind::PremiumRate => "premium-rate",
            NumberKind::SharedCost => "shared-cost",
            NumberKind::Satellite => "satellite",
            NumberKind::InternationalService => "international service",
        }
    }

    /// The kind of `to` if it is one of these; `None` for a person's line (or one the plan
    /// cannot place, which is not refused on that ground).
    pub fn of(to: &PhoneNumber) -> Option<NumberKind> {
        match to.country_code() {
            870 | 881 => return Some(NumberKind::Satellite),
            979 => return Some(NumberKind::PremiumRate),
            808 => return Some(NumberKind::SharedCost),
            800 | 882 | 883 | 888 => return Some(NumberKind::InternationalService),
            _ => {}
        }
        let parsed = rlibphonenumber::PhoneNumber::parse(to.e164(), None).ok()?;
        match parsed.get_type() {
            PhoneNumberType::PremiumRate => Some(NumberKind::PremiumRate),
            PhoneNumberType::SharedCost => Some(NumberKind::SharedCost),
            PhoneNumberType::UAN | PhoneNumberType::Pager | PhoneNumberType::VoiceMail => {
                Some(NumberKind::InternationalService)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<NumberKind> {
        NumberKind::of(&PhoneNumber::parse_e164(s).unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    /// The numbers an attacker used (issue 10), and ordinary mobiles that must pass.
    #[test]
    fn premium_shared_cost_and_satellite_numbers_are_recognised() {
        assert_eq!(kind("+19005551234"), Some(NumberKind::PremiumRate));
        assert_eq!(kind("+449012345678"), Some(NumberKind::PremiumRate));
        assert_eq!(kind("+33891234567"), Some(NumberKind::PremiumRate));
        assert_eq!(kind("+4990090012345"), Some(NumberKind::PremiumRate));
        assert_eq!(kind("+979123456789"), Some(NumberKind::PremiumRate));
        assert_eq!(kind("+881612345678"), Some(NumberKind::Satellite));
        assert_eq!(kind("+870773111111"), Some(NumberKind::Satellite));
        assert_eq!(kind("+33811234567"), Some(NumberKind::SharedCost));
        assert_eq!(kind("+4918012345678"), Some(NumberKind::SharedCost));
        assert_eq!(kind("+80812345678"), Some(NumberKind::SharedCost));
        assert_eq!(kind("+80012345678"), Some(NumberKind::InternationalService));
        for mobile in [
            "+14155550123",
            "+447911123456",
            "+33612345678",
            "+4915112345678",
            "+919876543210",
        ] {
            assert_eq!(kind(mobile), None, "{mobile}");
        }
        for k in NumberKind::ALL {
            assert_eq!(NumberKind::parse(k.as_str()), Some(k));
        }
    }
}

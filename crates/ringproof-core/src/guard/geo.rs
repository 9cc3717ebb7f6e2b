//! Geo permissions: per channel (SMS, voice), the countries a client may send to, as ISO
//! region codes of the numbering plan ([`crate::phone::PhoneNumber::region`]); `*` allows
//! every country, and a number the plan places in no region (a non-geographic code) is
//! `001`. The server's `[limits] allowed_countries_sms`/`_voice` (default `["*"]`) apply
//! unless the client has its own list.

use super::{Limits, Refusal, Rule};
use crate::phone::PhoneNumber;
use crate::workflow::Channel;

/// A region code (`GB`, `US`, or `001` for non-geographic numbers), small enough to ride
/// in a [`Rule`] (which is `Copy`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region([u8; 3], u8);

impl Region {
    /// Two ASCII capitals, or `001`.
    pub fn new(s: &str) -> Option<Region> {
        let b = s.as_bytes();
        let ok = (b.len() == 2 && b.iter().all(u8::is_ascii_uppercase)) || s == "001";
        ok.then(|| {
            let mut a = [0; 3];
            a[..b.len()].copy_from_slice(b);
            Region(a, b.len() as u8)
        })
    }

    /// The region of a number (`001` where the plan names none).
    pub fn of(to: &PhoneNumber) -> Region {
        to.region().and_then(|r| Region::new(&r)).unwrap_or(Region(*b"001", 3))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0[..usize::from(self.1)]).unwrap_or("001")
    }
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads `GB,US` (or `*`) into a checked list; the message names a bad code.
pub fn parse_list(value: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    check_list(&list)?;
    Ok(list)
}

/// Every entry is `*` or a region code.
pub fn check_list(list: &[String]) -> Result<(), String> {
    match list.iter().find(|c| c.as_str() != "*" && Region::new(c).is_none()) {
        Some(bad) => Err(format!(
            "{bad:?} is not a country: give ISO region codes (GB, US; 001 for non-geographic numbers) or *"
        )),
        None => Ok(()),
    }
}

impl Limits {
    /// The countries `channel` may go to.
    pub fn countries(&self, channel: Channel) -> &[String] {
        match channel {
            Channel::Sms => &self.allowed_countries_sms,
            Channel::Voice => &self.allowed_countries_voice,
        }
    }

    /// Whether `channel` may go to `to`'s country.
    pub fn allows_country(&self, channel: Channel, to: &PhoneNumber) -> Result<(), Refusal> {
        let list = self.countries(channel);
        if list.iter().any(|c| c == "*") {
            return Ok(());
        }
        let region = Region::of(to);
        if list.iter().any(|c| c == region.as_str()) {
            return Ok(());
        }
        Err(Refusal {
            rule: Rule::CountryNotAllowed(region, channel),
            retry_after_s: None,
        })
    }

    /// The checks of the geo lists (config and per-client overrides).
    pub fn check(&self) -> Result<(), String> {
        check_list(&self.allowed_countries_sms)?;
        check_list(&self.allowed_countries_voice)?;
        if self.pump_max_conversion_pct > 100 || self.pump_new_country_pct > 100 {
            return Err("pump_max_conversion_pct and pump_new_country_pct are percentages (0 to 100)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::LimitOverrides;

    fn n(s: &str) -> PhoneNumber {
        PhoneNumber::parse_e164(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn countries_are_allowed_per_channel_and_refusals_name_the_country() {
        let mut o = LimitOverrides::default();
        o.set("allowed_countries_sms", "GB,US").unwrap();
        o.set("allowed_countries_voice", "GB").unwrap();
        let l = Limits::default().with(&o);
        assert!(l.allows_country(Channel::Sms, &n("+14155550123")).is_ok());
        assert!(l.allows_country(Channel::Voice, &n("+447400123456")).is_ok());
        let r = l.allows_country(Channel::Voice, &n("+14155550123")).unwrap_err();
        assert_eq!(
            r.rule,
            Rule::CountryNotAllowed(Region::new("US").unwrap(), Channel::Voice)
        );
        assert_eq!(r.rule.code(), "country_not_allowed");
        assert!(!r.rule.is_rate());
        assert_eq!(r.message(), "a call to US is not allowed for this client");
        let r = l.allows_country(Channel::Sms, &n("+33612345678")).unwrap_err();
        assert_eq!(r.message(), "SMS to FR is not allowed for this client");
        // The default allows every country; `default` gives the server's list back.
        assert!(
            Limits::default()
                .allows_country(Channel::Voice, &n("+33612345678"))
                .is_ok()
        );
        o.set("allowed_countries_sms", "default").unwrap();
        assert!(
            Limits::default()
                .with(&o)
                .allows_country(Channel::Sms, &n("+33612345678"))
                .is_ok()
        );
        assert!(o.set("allowed_countries_sms", "GB,Britain").is_err());
        assert!(o.set("allowed_countries_fax", "GB").is_err());
        assert_eq!(Region::new("001").unwrap().as_str(), "001");
        assert!(Region::new("gb").is_none());
    }
}

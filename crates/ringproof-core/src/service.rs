//! Services: named configuration sets of one client (the Twilio face's Verify Services).
//!
//! A service is no second rule engine: it fills in what a start leaves unset (the brand in
//! the texts, the code length, the SMS text) and says whether a start may bring its own
//! code. Everything else (limits, expiry, attempts) is the client's policy, as on every
//! face. The rules of a service's settings and of a start in it live here and in
//! [`crate::engine`]'s service use cases; the face only translates names.

use serde::{Deserialize, Serialize};

use crate::code::{MAX_CODE_LENGTH, MIN_CODE_LENGTH};
use crate::error::CoreError;
use crate::ids::{ClientId, ServiceId};
use crate::time::Timestamp;

/// The longest friendly name (the brand in the texts), in characters.
pub const MAX_FRIENDLY_NAME: usize = 32;

/// A stored service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub client_id: ClientId,
    pub settings: ServiceSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a service sets. Stored as JSON, so a setting added later needs no migration
/// (a missing key reads as its default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSettings {
    /// The brand in the texts ("Your <friendly name> verification code is …").
    pub friendly_name: String,
    /// Digits of each code, 4 to 10 (fixed at creation from the client's policy when not
    /// given).
    pub code_length: u8,
    /// Stored and shown; a number lookup on each start is not run yet.
    pub lookup_enabled: bool,
    /// Stored and shown; needs `lookup_enabled` (as on Twilio).
    pub skip_sms_to_landlines: bool,
    /// The default SMS ends with a warning not to share the code, in the verification's
    /// language ([`crate::i18n::Texts::sms_do_not_share`]).
    pub do_not_share_warning: bool,
    /// Whether a start may bring its own code.
    pub custom_code_enabled: bool,
    /// A template id (`HJ` + 32 hex), stored and shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_template: Option<String>,
}

/// A change to a service; `None` leaves a setting as it is. Also the settings of a new
/// service (then `friendly_name` is required).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceChange {
    pub friendly_name: Option<String>,
    pub code_length: Option<u8>,
    pub lookup_enabled: Option<bool>,
    pub skip_sms_to_landlines: Option<bool>,
    pub do_not_share_warning: Option<bool>,
    pub custom_code_enabled: Option<bool>,
    /// `Some(None)` clears it.
    pub default_template: Option<Option<String>>,
}

impl ServiceSettings {
    /// The settings after `change`, each checked; the error names the setting.
    pub fn changed(&self, change: ServiceChange) -> Result<ServiceSettings, CoreError> {
        let mut s = self.clone();
        if let Some(name) = change.friendly_name {
            let n = name.chars().count();
            if name.trim().is_empty() || n > MAX_FRIENDLY_NAME || name.chars().any(char::is_control) {
                return Err(CoreError::invalid(
                    "friendly_name",
                    format!("must be 1 to {MAX_FRIENDLY_NAME} printable characters"),
                ));
            }
            s.friendly_name = name;
        }
        if let Some(len) = change.code_length {
            if !(MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&len) {
                return Err(CoreError::invalid(
                    "code_length",
                    format!("must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH}"),
                ));
            }
            s.code_length = len;
        }
        if let Some(t) = change.default_template {
            if let Some(id) = &t
                && !is_template_id(id)
            {
                return Err(CoreError::invalid(
                    "default_template",
                    "must be HJ followed by 32 hex digits",
                ));
            }
            s.default_template = t;
        }
        s.lookup_enabled = change.lookup_enabled.unwrap_or(s.lookup_enabled);
        s.skip_sms_to_landlines = change.skip_sms_to_landlines.unwrap_or(s.skip_sms_to_landlines);
        s.do_not_share_warning = change.do_not_share_warning.unwrap_or(s.do_not_share_warning);
        s.custom_code_enabled = change.custom_code_enabled.unwrap_or(s.custom_code_enabled);
        Ok(s)
    }
}

/// `HJ` and 32 hex digits (either case, as Twilio's pattern allows).
fn is_template_id(s: &str) -> bool {
    s.strip_prefix("HJ")
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A code a start brings (a service with `custom_code_enabled`): 4 to 10 digits, since
/// codes are checked as digits on every face.
pub fn parse_custom_code(s: &str) -> Result<crate::code::Code, CoreError> {
    crate::code::Code::from_digits(s).ok_or_else(|| {
        CoreError::invalid(
            "custom_code",
            format!("must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} digits"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_checked_and_merged() {
        let base = ServiceSettings {
            friendly_name: "Acme".into(),
            code_length: 6,
            ..ServiceSettings::default()
        };
        let s = base
            .changed(ServiceChange {
                code_length: Some(4),
                do_not_share_warning: Some(true),
                default_template: Some(Some("HJ0123456789abcdef0123456789ABCDEF".into())),
                ..ServiceChange::default()
            })
            .unwrap();
        assert_eq!((s.friendly_name.as_str(), s.code_length), ("Acme", 4));
        assert!(s.do_not_share_warning);
        let cleared = s
            .changed(ServiceChange {
                default_template: Some(None),
                ..ServiceChange::default()
            })
            .unwrap();
        assert_eq!(cleared.default_template, None);
        for bad in [
            ServiceChange {
                code_length: Some(3),
                ..ServiceChange::default()
            },
            ServiceChange {
                code_length: Some(11),
                ..ServiceChange::default()
            },
            ServiceChange {
                friendly_name: Some(" ".into()),
                ..ServiceChange::default()
            },
            ServiceChange {
                friendly_name: Some("x".repeat(33)),
                ..ServiceChange::default()
            },
            ServiceChange {
                default_template: Some(Some("HJ123".into())),
                ..ServiceChange::default()
            },
        ] {
            assert!(matches!(base.changed(bad), Err(CoreError::InvalidParameter { .. })));
        }
        assert!(parse_custom_code("123456").is_ok());
        assert!(parse_custom_code("12a456").is_err());
        assert!(parse_custom_code("123").is_err());
    }
}

//! Policies: the numbers behind the security rules. Server-wide defaults, overridden per
//! client, snapshotted into each verification when it starts so a later change of config
//! never rewrites the rules of a verification already under way.

use serde::{Deserialize, Serialize};

/// The effective rules for new verifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Digits per code, 4..=10.
    pub code_length: u8,
    /// How long a code stays valid after it is sent, in seconds.
    pub validity_s: u32,
    /// Wrong checks allowed per verification; the last one burns the code and ends the
    /// verification as `max_attempts_reached`.
    pub max_checks: u32,
    /// Messages and calls allowed per verification, workflow steps and resends together.
    pub max_sends: u32,
    /// Wait before the first resend, in seconds; it doubles for each further resend.
    pub resend_cooldown_s: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            code_length: 6,
            validity_s: 600,
            max_checks: 5,
            max_sends: 5,
            resend_cooldown_s: 30,
        }
    }
}

/// Per-client overrides of [`Policy`]; `None` keeps the server default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyOverrides {
    pub code_length: Option<u8>,
    pub validity_s: Option<u32>,
    pub max_checks: Option<u32>,
    pub max_sends: Option<u32>,
    pub resend_cooldown_s: Option<u32>,
}

impl Policy {
    pub fn with(self, o: &PolicyOverrides) -> Policy {
        Policy {
            code_length: o.code_length.unwrap_or(self.code_length),
            validity_s: o.validity_s.unwrap_or(self.validity_s),
            max_checks: o.max_checks.unwrap_or(self.max_checks),
            max_sends: o.max_sends.unwrap_or(self.max_sends),
            resend_cooldown_s: o.resend_cooldown_s.unwrap_or(self.resend_cooldown_s),
        }
    }

    /// Checks the numbers make sense; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        use crate::code::{MAX_CODE_LENGTH, MIN_CODE_LENGTH};
        if !(MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&self.code_length) {
            return Err(format!("code_length must be {MIN_CODE_LENGTH}..={MAX_CODE_LENGTH}"));
        }
        if !(1..=86_400).contains(&self.validity_s) {
            return Err("validity_s must be 1..=86400".into());
        }
        if !(1..=100).contains(&self.max_checks) {
            return Err("max_checks must be 1..=100".into());
        }
        if !(1..=100).contains(&self.max_sends) {
            return Err("max_sends must be 1..=100".into());
        }
        if self.resend_cooldown_s > 86_400 {
            return Err("resend_cooldown_s must be at most 86400".into());
        }
        Ok(())
    }
}

//! SIM-swap risk: was the SIM card of a number changed recently? A fraudster who has
//! talked an operator into moving a victim's number to a new SIM receives the victim's
//! codes and links, so a recent swap makes possession of the number weak evidence.
//!
//! The question goes to the operator (CAMARA SIM Swap, `POST /check {phoneNumber,
//! maxAge}` → `{swapped}`) through the [`SimSwapCheck`] port; the default
//! [`NoSimSwapCheck`] has no operator to ask. A client opts in with a [`SimSwapPolicy`] in
//! its controls; the engine then asks once per start (OTP and link), **before** anything is
//! stored or sent, and:
//!
//! ```text
//!  operator says        result          with block            without block
//!  swapped (≤ max age)  swapped         start refused         proceeds, result swapped
//!  not swapped          not_swapped     proceeds              proceeds
//!  no answer            unknown         proceeds (!)          proceeds
//! ```
//!
//! An unanswered question is never a silent pass: the result says `unknown`, stored with
//! the verification or link and shown by every face. It does not block either, even with
//! `block`: an operator outage must not lock every user out (the same rule as network
//! authentication's "indeterminate"); a client that wants to refuse unknowns reads the
//! result and decides.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumber;

/// The look-back window when a policy names none, in hours (10 days, CAMARA's default).
pub const DEFAULT_MAX_AGE_H: u32 = 240;
/// The longest look-back window a policy may ask for, in hours (100 days, CAMARA's limit).
pub const MAX_MAX_AGE_H: u32 = 2400;

/// A client's SIM-swap setting (in its controls; absent = never checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSwapPolicy {
    /// Refuse a start when the SIM was swapped within `max_age_h` (else only record it).
    pub block: bool,
    /// How far back a swap counts, in hours: 1 to [`MAX_MAX_AGE_H`].
    #[serde(default = "default_max_age_h")]
    pub max_age_h: u32,
}

fn default_max_age_h() -> u32 {
    DEFAULT_MAX_AGE_H
}

impl SimSwapPolicy {
    /// Checks the window; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if (1..=MAX_MAX_AGE_H).contains(&self.max_age_h) {
            Ok(())
        } else {
            Err(format!("sim_swap max_age_h must be 1 to {MAX_MAX_AGE_H}"))
        }
    }
}

/// How `ringproof client update --sim-swap` sets the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimSwapMode {
    /// Not checked.
    Off,
    /// Checked and recorded; never refuses.
    Check,
    /// Checked, recorded, and a swap within the window refuses the start.
    Block,
}

impl SimSwapMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "off" => SimSwapMode::Off,
            "check" => SimSwapMode::Check,
            "block" => SimSwapMode::Block,
            _ => return None,
        })
    }

    /// The policy after setting this mode (and maybe a window) over `current`: a mode keeps
    /// the current window unless one is given; a window alone needs the check on.
    pub fn apply(
        mode: Option<Self>,
        max_age_h: Option<u32>,
        current: Option<SimSwapPolicy>,
    ) -> Result<Option<SimSwapPolicy>, String> {
        let policy = match (mode, current) {
            (None, None) if max_age_h.is_some() => {
                return Err("sim_swap max_age_h needs the check on (--sim-swap check or block)".into());
            }
            (None, current) => current,
            (Some(SimSwapMode::Off), _) if max_age_h.is_some() => {
                return Err("sim_swap max_age_h cannot be set with the check off".into());
            }
            (Some(SimSwapMode::Off), _) => None,
            (Some(m), current) => Some(SimSwapPolicy {
                block: m == SimSwapMode::Block,
                max_age_h: current.map_or(DEFAULT_MAX_AGE_H, |c| c.max_age_h),
            }),
        };
        let policy = policy.map(|p| SimSwapPolicy {
            max_age_h: max_age_h.unwrap_or(p.max_age_h),
            ..p
        });
        if let Some(p) = &policy {
            p.validate()?;
        }
        Ok(policy)
    }
}

/// Why the operator gave no answer. Never carries the number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimSwapError {
    /// No SIM-swap service is configured (for this number's operator).
    #[error("no SIM swap check is configured")]
    NotConfigured,
    /// The service could not be reached, failed (5xx) or did not answer in time.
    #[error("the SIM swap service cannot be reached: {0}")]
    Unreachable(String),
    /// The operator refused the question (a 4xx: no consent, unknown number, bad token…).
    #[error("the operator refused the SIM swap check: {0}")]
    Refused(String),
}

impl SimSwapError {
    /// A short stable name of the failure (for events: the detail is for logs only).
    pub fn reason(&self) -> &'static str {
        match self {
            SimSwapError::NotConfigured => "not_configured",
            SimSwapError::Unreachable(_) => "unreachable",
            SimSwapError::Refused(_) => "refused",
        }
    }
}

/// The port to the operator. Implementations own their deadline: the engine waits for the
/// answer before it starts anything, so a call must end (in an error) within a few seconds.
#[async_trait]
pub trait SimSwapCheck: Send + Sync + 'static {
    fn name(&self) -> &str;
    /// Was the SIM of `number` swapped within the last `max_age_h` hours?
    async fn swapped_within(&self, number: &PhoneNumber, max_age_h: u32) -> Result<bool, SimSwapError>;
}

/// No SIM-swap service: every check is [`SimSwapError::NotConfigured`], recorded as
/// [`SimSwapResult::Unknown`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSimSwapCheck;

#[async_trait]
impl SimSwapCheck for NoSimSwapCheck {
    fn name(&self) -> &str {
        "none"
    }
    async fn swapped_within(&self, _number: &PhoneNumber, _max_age_h: u32) -> Result<bool, SimSwapError> {
        Err(SimSwapError::NotConfigured)
    }
}

/// What a check found, as stored and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimSwapResult {
    /// The operator says the SIM was not swapped within the window.
    NotSwapped,
    /// The operator says the SIM was swapped within the window.
    Swapped,
    /// No answer (no service configured, unreachable, refused).
    Unknown,
}

impl SimSwapResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SimSwapResult::NotSwapped => "not_swapped",
            SimSwapResult::Swapped => "swapped",
            SimSwapResult::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "not_swapped" => SimSwapResult::NotSwapped,
            "swapped" => SimSwapResult::Swapped,
            "unknown" => SimSwapResult::Unknown,
            _ => return None,
        })
    }

    /// `Some(swapped)` when the operator answered, `None` when unknown.
    pub fn swapped(self) -> Option<bool> {
        match self {
            SimSwapResult::NotSwapped => Some(false),
            SimSwapResult::Swapped => Some(true),
            SimSwapResult::Unknown => None,
        }
    }
}

/// One check's outcome: the result and, for an unknown one, why (for the event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimSwapOutcome {
    pub result: SimSwapResult,
    /// The window asked about, in hours.
    pub max_age_h: u32,
    /// [`SimSwapError::reason`] of an unanswered check.
    pub reason: Option<&'static str>,
}

impl SimSwapOutcome {
    /// The outcome of the operator's answer.
    pub fn of(answer: &Result<bool, SimSwapError>, max_age_h: u32) -> Self {
        let (result, reason) = match answer {
            Ok(true) => (SimSwapResult::Swapped, None),
            Ok(false) => (SimSwapResult::NotSwapped, None),
            Err(e) => (SimSwapResult::Unknown, Some(e.reason())),
        };
        Self {
            result,
            max_age_h,
            reason,
        }
    }

    /// Whether `policy` refuses the start: only a swap the operator confirmed, and only
    /// with `block` (an unknown result never blocks; see the module doc).
    pub fn blocks(&self, policy: &SimSwapPolicy) -> bool {
        policy.block && self.result == SimSwapResult::Swapped
    }

    /// The detail of the `sim_swap_checked` event: `swapped within 240 h`,
    /// `not swapped within 240 h`, `unknown (unreachable)`. No number, no operator text.
    pub fn detail(&self) -> String {
        match (self.result, self.reason) {
            (SimSwapResult::Swapped, _) => format!("swapped within {} h", self.max_age_h),
            (SimSwapResult::NotSwapped, _) => format!("not swapped within {} h", self.max_age_h),
            (SimSwapResult::Unknown, r) => format!("unknown ({})", r.unwrap_or("no answer")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_and_only_a_confirmed_swap_blocks() {
        for r in [
            SimSwapResult::NotSwapped,
            SimSwapResult::Swapped,
            SimSwapResult::Unknown,
        ] {
            assert_eq!(SimSwapResult::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.as_str()));
        }
        let block = SimSwapPolicy {
            block: true,
            max_age_h: 240,
        };
        let check = SimSwapPolicy { block: false, ..block };
        let swapped = SimSwapOutcome::of(&Ok(true), 240);
        assert!(swapped.blocks(&block));
        assert!(!swapped.blocks(&check));
        assert_eq!(swapped.detail(), "swapped within 240 h");
        let not = SimSwapOutcome::of(&Ok(false), 240);
        assert!(!not.blocks(&block));
        assert_eq!(not.detail(), "not swapped within 240 h");
        for (e, reason) in [
            (SimSwapError::NotConfigured, "not_configured"),
            (SimSwapError::Unreachable("timeout".into()), "unreachable"),
            (SimSwapError::Refused("403".into()), "refused"),
        ] {
            let o = SimSwapOutcome::of(&Err(e), 240);
            assert_eq!(o.result, SimSwapResult::Unknown);
            assert!(!o.blocks(&block), "an unknown result never blocks");
            assert_eq!(o.detail(), format!("unknown ({reason})"));
        }
    }

    #[test]
    fn policy_window_and_stored_form() {
        let p: SimSwapPolicy = serde_json::from_str(r#"{"block":true}"#).unwrap();
        assert_eq!(p.max_age_h, DEFAULT_MAX_AGE_H);
        assert_eq!(p.validate(), Ok(()));
        for bad in [0, MAX_MAX_AGE_H + 1] {
            assert!(
                SimSwapPolicy {
                    block: false,
                    max_age_h: bad
                }
                .validate()
                .is_err()
            );
        }
        assert!(
            SimSwapPolicy {
                block: false,
                max_age_h: MAX_MAX_AGE_H
            }
            .validate()
            .is_ok()
        );
        assert!(serde_json::from_str::<SimSwapPolicy>(r#"{"block":true,"max_age":3}"#).is_err());
    }

    #[test]
    fn modes_set_the_policy() {
        use SimSwapMode::*;
        let p = |block, max_age_h| Some(SimSwapPolicy { block, max_age_h });
        assert_eq!(SimSwapMode::apply(Some(Check), None, None), Ok(p(false, 240)));
        assert_eq!(SimSwapMode::apply(Some(Block), Some(48), None), Ok(p(true, 48)));
        // A mode keeps the window; a window alone keeps the mode.
        assert_eq!(SimSwapMode::apply(Some(Check), None, p(true, 48)), Ok(p(false, 48)));
        assert_eq!(SimSwapMode::apply(None, Some(72), p(true, 48)), Ok(p(true, 72)));
        assert_eq!(SimSwapMode::apply(None, None, p(true, 48)), Ok(p(true, 48)));
        assert_eq!(SimSwapMode::apply(Some(Off), None, p(true, 48)), Ok(None));
        assert!(SimSwapMode::apply(None, Some(72), None).is_err());
        assert!(SimSwapMode::apply(Some(Off), Some(72), None).is_err());
        assert!(SimSwapMode::apply(Some(Block), Some(0), None).is_err());
        assert!(SimSwapMode::apply(Some(Block), Some(2401), None).is_err());
        assert_eq!(SimSwapMode::parse("block"), Some(Block));
        assert_eq!(SimSwapMode::parse("on"), None);
    }
}

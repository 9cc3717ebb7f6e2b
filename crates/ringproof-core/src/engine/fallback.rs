//! Phone verification on the fallback timeline (flow 2), addressed by the verification id:
//! the use case behind the iDenfy-style `send-sms` / `verify-sms` pair.
//!
//! ```text
//!  t=0                     sms    code A (4 digits), valid until second_call_after_s
//!  t=first_call_after_s    voice  speaks code A again (if still pending)
//!  t=second_call_after_s   voice  new code B, valid second_code_valid_s; A stops working
//! ```
//!
//! The timeline is an ordinary three-step [`Workflow`], so its steps are durable jobs like
//! any other (a restart loses nothing) and an approval, expiry or lockout cancels the
//! steps not yet run. What this module adds are the rules of this kind of verification:
//! the [`Timeline`] and its checks, the sender id rule ([`SenderId`]), the SMS text
//! (`<sender> code: 1234. Valid for 5 minutes.`) and the yes/no answer of a check
//! ([`Engine::verify_fallback`]). Its numbers are strict E.164 checked against the country
//! table ([`crate::phone::PhoneNumber::parse`] with [`crate::countries::table`]).

use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientRefusal, Product};
use crate::engine::{Engine, StartOutcome, StartRequest};
use crate::error::CoreError;
use crate::ids::VerificationId;
use crate::message;
use crate::phone::PhoneNumber;
use crate::verification::Verification;
use crate::workflow::{Channel, CodeMode, StepInput, Workflow};

/// Digits of every code of this flow.
pub const CODE_LENGTH: u8 = 4;

/// The longest sender id: an alphanumeric SMS sender id (GSM 03.38) has at most 11 characters.
pub const MAX_SENDER_LEN: usize = 11;

/// The sender id used when neither the request nor the client's brand gives a usable one.
pub const FALLBACK_SENDER: &str = "Verify";

/// The durations of the timeline, in seconds. The defaults are the documented ones: a
/// call at 2 minutes repeating code A, a call at 5 minutes with code B valid 5 minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeline {
    /// When the first call (repeating code A) is placed, if not verified by then.
    pub first_call_after_s: u32,
    /// When the second call (with the new code B) is placed; code A is valid until then.
    pub second_call_after_s: u32,
    /// How long code B is valid after the second call.
    pub second_code_valid_s: u32,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            first_call_after_s: 120,
            second_call_after_s: 300,
            second_code_valid_s: 300,
        }
    }
}

impl Timeline {
    /// How long code A (the SMS code) is valid: until the second call.
    pub fn first_code_valid_s(&self) -> u32 {
        self.second_call_after_s
    }

    /// Checks the durations; the message starts with the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if self.first_call_after_s == 0 {
            return Err("first_call_after_s must be at least 1".into());
        }
        if self.second_call_after_s <= self.first_call_after_s {
            return Err(format!(
                "second_call_after_s ({}) must be greater than first_call_after_s ({})",
                self.second_call_after_s, self.first_call_after_s
            ));
        }
        if self.second_call_after_s > 86_400 {
            return Err("second_call_after_s must be at most 86400".into());
        }
        if !(1..=86_400).contains(&self.second_code_valid_s) {
            return Err("second_code_valid_s must be 1..=86400".into());
        }
        Workflow::build(&self.steps(), &crate::policy::Policy::default())
            .map(|_| ())
            .map_err(|e| format!("timeline: {e}"))
    }

    /// The timeline as workflow steps.
    pub fn steps(&self) -> Vec<StepInput> {
        vec![
            StepInput {
                channel: Some(Channel::Sms),
                after_s: Some(0),
                code: Some(CodeMode::New),
                valid_for_s: Some(self.first_code_valid_s()),
            },
            StepInput {
                channel: Some(Channel::Voice),
                after_s: Some(self.first_call_after_s),
                code: Some(CodeMode::Same),
                valid_for_s: None,
            },
            StepInput {
                channel: Some(Channel::Voice),
                after_s: Some(self.second_call_after_s),
                code: Some(CodeMode::New),
                valid_for_s: Some(self.second_code_valid_s),
            },
        ]
    }
}

/// An SMS sender id: 1 to 11 ASCII letters, digits and spaces, not starting or ending
/// with a space (what an alphanumeric sender id may hold on every network).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderId(String);

/// Why a sender id is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SenderIdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_SENDER_LEN} characters")]
    TooLong,
    #[error("may hold only letters A-Z and a-z, digits and spaces")]
    BadCharacter,
    #[error("must not start or end with a space")]
    EdgeSpace,
}

fn sender_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' '
}

impl SenderId {
    pub fn parse(s: &str) -> Result<Self, SenderIdError> {
        if s.trim().is_empty() {
            return Err(SenderIdError::Empty);
        }
        if s.chars().count() > MAX_SENDER_LEN {
            return Err(SenderIdError::TooLong);
        }
        if !s.chars().all(sender_char) {
            return Err(SenderIdError::BadCharacter);
        }
        if s.starts_with(' ') || s.ends_with(' ') {
            return Err(SenderIdError::EdgeSpace);
        }
        Ok(Self(s.to_owned()))
    }

    /// The sender id for a client that names none: its brand, keeping only the allowed
    /// characters, cut to 11 and trimmed (`"Acme Bank, Ltd."` → `"Acme Bank L"`);
    /// [`FALLBACK_SENDER`] if nothing is left.
    pub fn from_brand(brand: &str) -> Self {
        let kept: String = brand.chars().filter(|c| sender_char(*c)).collect();
        let kept: String = kept.trim_start().chars().take(MAX_SENDER_LEN).collect();
        match Self::parse(kept.trim_end()) {
            Ok(s) => s,
            Err(_) => Self(FALLBACK_SENDER.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SMS template of this flow: `<sender> code: {code}. Valid for 5 minutes.`, the
/// validity being code A's (see [`message::duration_phrase`]).
pub fn sms_template(sender: &SenderId, valid_for_s: u32) -> String {
    format!(
        "{} code: {{code}}. Valid for {}.",
        sender.as_str(),
        message::duration_phrase(valid_for_s)
    )
}

/// Why a verification could not be started.
#[derive(Debug, thiserror::Error)]
pub enum FallbackError {
    /// The client may not send to this number (product off, blocklist, test mode).
    #[error(transparent)]
    Refused(#[from] ClientRefusal),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl Engine {
    /// Starts a verification on `timeline` to `to`: an SMS now from `sender` (the brand
    /// the calls speak too), then the calls. Returns the new verification.
    pub async fn start_fallback(
        &self,
        client: &Client,
        to: PhoneNumber,
        sender: SenderId,
        timeline: &Timeline,
    ) -> Result<Verification, FallbackError> {
        client.may_serve(Product::SmsThenCall, &to)?;
        let req = StartRequest {
            to: Some(to),
            workflow: Some(timeline.steps()),
            code_length: Some(CODE_LENGTH),
            brand: Some(sender.as_str().to_owned()),
            sms_template: Some(sms_template(&sender, timeline.first_code_valid_s())),
            sender: Some(sender.0),
            // iDenfy's texts are English (its SMS template above); its calls speak English too.
            locale: Some("en".to_owned()),
            ..StartRequest::default()
        };
        match self.start(client, req, None).await? {
            StartOutcome::Created(v) => Ok(*v),
            StartOutcome::Replayed { .. } => {
                Err(CoreError::Internal("a start without a key was replayed".into()).into())
            }
        }
    }

    /// Checks a code: `true` only when it approves the verification now. A wrong or
    /// expired code, a verification already approved, expired, canceled or locked after
    /// its last wrong try, all answer `false`. Unknown ids (or another client's) are
    /// [`CoreError::NotFound`].
    pub async fn verify_fallback(&self, client: &Client, id: &VerificationId, code: &str) -> Result<bool, CoreError> {
        match self.check(client, id, code).await {
            Ok((outcome, _)) => Ok(outcome.valid),
            Err(CoreError::NotPending { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_ids() {
        assert_eq!(SenderId::parse("The Sender").unwrap().as_str(), "The Sender");
        assert_eq!(SenderId::parse("ABCDEFGHIJK").unwrap().as_str(), "ABCDEFGHIJK");
        assert_eq!(SenderId::parse("12025550163"), Ok(SenderId("12025550163".into())));
        assert_eq!(SenderId::parse("ABCDEFGHIJKL"), Err(SenderIdError::TooLong));
        assert_eq!(SenderId::parse("Acme!"), Err(SenderIdError::BadCharacter));
        assert_eq!(SenderId::parse("Café"), Err(SenderIdError::BadCharacter));
        assert_eq!(SenderId::parse("   "), Err(SenderIdError::Empty));
        assert_eq!(SenderId::parse(""), Err(SenderIdError::Empty));
        assert_eq!(SenderId::parse(" Acme"), Err(SenderIdError::EdgeSpace));
        assert_eq!(SenderId::from_brand("demo").as_str(), "demo");
        assert_eq!(SenderId::from_brand("Acme Bank, Ltd.").as_str(), "Acme Bank L");
        assert_eq!(SenderId::from_brand("  Ünïcode Bank ").as_str(), "ncode Bank");
        assert_eq!(SenderId::from_brand("Acme Banking Ltd").as_str(), "Acme Bankin");
        assert_eq!(SenderId::from_brand("Acme Bank  X").as_str(), "Acme Bank");
        assert_eq!(SenderId::from_brand("***").as_str(), FALLBACK_SENDER);
    }

    #[test]
    fn timeline_rules_and_text() {
        let t = Timeline::default();
        assert_eq!(t.validate(), Ok(()));
        let w = Workflow::build(&t.steps(), &crate::policy::Policy::default()).unwrap();
        assert_eq!(w, Workflow::sms_then_voice_then_new_code(120, 300, 300).unwrap());
        let bad = |first, second, valid| {
            Timeline {
                first_call_after_s: first,
                second_call_after_s: second,
                second_code_valid_s: valid,
            }
            .validate()
            .unwrap_err()
        };
        assert!(bad(0, 300, 300).starts_with("first_call_after_s"));
        assert!(bad(300, 300, 300).starts_with("second_call_after_s"));
        assert!(bad(300, 200, 300).starts_with("second_call_after_s"));
        assert!(bad(10, 90_000, 300).starts_with("second_call_after_s"));
        assert!(bad(10, 20, 0).starts_with("second_code_valid_s"));
        let s = SenderId::parse("The Sender").unwrap();
        let code = crate::code::Code::from_digits("1234").unwrap();
        assert_eq!(
            message::sms_text("The Sender", &code, Some(&sms_template(&s, 300)), "en"),
            "The Sender code: 1234. Valid for 5 minutes."
        );
        assert_eq!(sms_template(&s, 60), "The Sender code: {code}. Valid for 1 minute.");
        assert_eq!(sms_template(&s, 30), "The Sender code: {code}. Valid for 30 seconds.");
    }
}

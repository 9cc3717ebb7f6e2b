//! Workflows: up to three ordered delivery steps, as data.
//!
//! Each step names a channel, when it starts (seconds after the verification starts),
//! whether it carries the *current* code again (`same`) or a fresh one (`new`), and — for a
//! fresh code — how long that code stays valid. The iDenfy timeline is just this data:
//!
//! ```text
//!  t=0     sms    new   valid 300 s   ── code A, valid until t=5m
//!  t=120   voice  same                ── speaks code A
//!  t=300   voice  new   valid 300 s   ── code B, valid until t=10m; A stops working
//! ```

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::policy::Policy;

pub const MAX_STEPS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Voice,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeMode {
    /// Repeat the code that is current when the step runs.
    Same,
    /// Issue a fresh code; the previous one stops working.
    New,
}

/// One validated step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub channel: Channel,
    pub after_s: u32,
    pub code: CodeMode,
    /// Set exactly when `code` is `New`: how long the fresh code is valid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_for_s: Option<u32>,
}

/// A step as a caller asks for it, before defaults and validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInput {
    pub channel: Option<Channel>,
    pub after_s: Option<u32>,
    pub code: Option<CodeMode>,
    pub valid_for_s: Option<u32>,
}

/// A validated workflow of 1..=3 steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Workflow(Vec<Step>);

impl Workflow {
    /// One step on `channel`, valid for the policy's validity.
    pub fn single(channel: Channel, policy: &Policy) -> Self {
        Self(vec![Step {
            channel,
            after_s: 0,
            code: CodeMode::New,
            valid_for_s: Some(policy.validity_s),
        }])
    }

    /// The iDenfy timeline with its durations as parameters (defaults 120 s, 300 s, 300 s).
    pub fn sms_then_voice_then_new_code(
        call_after_s: u32,
        first_valid_s: u32,
        second_valid_s: u32,
    ) -> Result<Self, CoreError> {
        Self::build(
            &[
                StepInput {
                    channel: Some(Channel::Sms),
                    valid_for_s: Some(first_valid_s),
                    ..Default::default()
                },
                StepInput {
                    channel: Some(Channel::Voice),
                    after_s: Some(call_after_s),
                    code: Some(CodeMode::Same),
                    valid_for_s: None,
                },
                StepInput {
                    channel: Some(Channel::Voice),
                    after_s: Some(first_valid_s),
                    code: Some(CodeMode::New),
                    valid_for_s: Some(second_valid_s),
                },
            ],
            &Policy::default(),
        )
    }

    /// Applies defaults and checks the rules; errors name the offending step (1-based).
    pub fn build(input: &[StepInput], policy: &Policy) -> Result<Self, CoreError> {
        let bad = |step: usize, message: String| CoreError::InvalidWorkflow { step, message };
        if input.is_empty() {
            return Err(bad(0, "workflow needs at least one step".into()));
        }
        if input.len() > MAX_STEPS {
            return Err(bad(
                MAX_STEPS + 1,
                format!("workflow has {} steps; at most {MAX_STEPS} are allowed", input.len()),
            ));
        }
        let mut steps: Vec<Step> = Vec::with_capacity(input.len());
        // End of the window of the code that is current after each step.
        let mut code_until: u64 = 0;
        for (i, s) in input.iter().enumerate() {
            let n = i + 1;
            let channel = s
                .channel
                .ok_or_else(|| bad(n, "channel is required (\"sms\" or \"voice\")".into()))?;
            let after_s = s.after_s.unwrap_or(0);
            let code = s.code.unwrap_or(if i == 0 { CodeMode::New } else { CodeMode::Same });
            if i == 0 {
                if after_s != 0 {
                    return Err(bad(n, "the first step starts at once: after_s must be 0".into()));
                }
                if code == CodeMode::Same {
                    return Err(bad(
                        n,
                        "the first step cannot repeat a code: code must be \"new\"".into(),
                    ));
                }
            } else if let Some(prev) = steps.last()
                && after_s <= prev.after_s
            {
                return Err(bad(
                    n,
                    format!("after_s must be greater than the previous step's ({})", prev.after_s),
                ));
            }
            if after_s > 86_400 {
                return Err(bad(n, "after_s must be at most 86400".into()));
            }
            let valid_for_s = match code {
                CodeMode::New => {
                    let v = s.valid_for_s.unwrap_or(policy.validity_s);
                    if !(1..=86_400).contains(&v) {
                        return Err(bad(n, "valid_for_s must be 1..=86400".into()));
                    }
                    code_until = u64::from(after_s) + u64::from(v);
                    Some(v)
                }
                CodeMode::Same => {
                    if s.valid_for_s.is_some() {
                        return Err(bad(
                            n,
                            "valid_for_s applies only to a new code; a \"same\" step keeps the current code's window"
                                .into(),
                        ));
                    }
                    if u64::from(after_s) >= code_until {
                        return Err(bad(
                            n,
                            format!("the step would repeat a code that expired at {code_until} s"),
                        ));
                    }
                    None
                }
            };
            steps.push(Step {
                channel,
                after_s,
                code,
                valid_for_s,
            });
        }
        Ok(Self(steps))
    }

    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    pub fn first_channel(&self) -> Channel {
        self.0.first().map_or(Channel::Sms, |s| s.channel)
    }

    /// Seconds after the start at which the last code window closes.
    pub fn lifetime_s(&self) -> u32 {
        self.0
            .iter()
            .filter_map(|s| s.valid_for_s.map(|v| s.after_s + v))
            .max()
            .unwrap_or(0)
    }

    /// Whether any step from `from` onwards may repeat the code that is current now. A
    /// "same" step repeats whatever code is current when it runs, which is this one if every
    /// "new" step before it is skipped (its window passed while the server was down), so
    /// any remaining "same" step counts. Decides whether the current code is kept sealed.
    pub fn repeats_current_code_from(&self, from: usize) -> bool {
        self.0.iter().skip(from).any(|s| s.code == CodeMode::Same)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_then_call_timeline_is_data() {
        let w = Workflow::sms_then_voice_then_new_code(120, 300, 300).unwrap();
        assert_eq!(w.steps().len(), 3);
        assert_eq!(w.lifetime_s(), 600);
        assert!(w.repeats_current_code_from(0));
        assert!(w.repeats_current_code_from(1));
        assert!(!w.repeats_current_code_from(2));
        assert!(!w.repeats_current_code_from(3));
    }

    #[test]
    fn errors_name_the_step() {
        let p = Policy::default();
        let sms = |after: u32| StepInput {
            channel: Some(Channel::Sms),
            after_s: Some(after),
            ..Default::default()
        };
        let err = |input: &[StepInput]| match Workflow::build(input, &p) {
            Err(CoreError::InvalidWorkflow { step, .. }) => step,
            other => unreachable!("expected a workflow error, got {other:?}"),
        };
        assert_eq!(err(&[]), 0);
        assert_eq!(err(&[sms(0), sms(10), sms(20), sms(30)]), 4);
        assert_eq!(err(&[sms(5)]), 1);
        assert_eq!(err(&[sms(0), sms(0)]), 2);
        assert_eq!(err(&[StepInput::default()]), 1);
        // A "same" step after the first code's window closed.
        assert_eq!(err(&[sms(0), sms(601)]), 2);
        let same_with_validity = StepInput {
            valid_for_s: Some(30),
            code: Some(CodeMode::Same),
            ..sms(10)
        };
        assert_eq!(err(&[sms(0), same_with_validity]), 2);
        assert!(Workflow::build(&[sms(0), sms(599)], &p).is_ok());
    }
}

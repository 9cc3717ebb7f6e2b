//! The sandbox number lookup: answers from a table of test numbers (like magic test
//! numbers), so each line type and subscriber state can be triggered end to end, and
//! from the numbering plan ([`MetadataLookup`]) for every other number.
//!
//! The built-in table is `data/sandbox-numbers.tsv`; an operator may point
//! `sandbox_numbers_file` at another file of the same shape.

use std::collections::HashMap;

use async_trait::async_trait;
use ringproof_core::lookup::{LineKind, LookupError, LookupResult, MetadataLookup, NumberLookup, SubscriberState};
use ringproof_core::phone::PhoneNumber;

/// The built-in table of test numbers.
pub const BUILTIN_NUMBERS: &str = include_str!("../../data/sandbox-numbers.tsv");

/// What a listed number answers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Found(LookupResult),
    Unreachable,
}

#[derive(Clone, Debug)]
pub struct SandboxLookup {
    numbers: HashMap<String, Answer>,
}

/// A line of the table that does not parse; the message names the line, not the number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("sandbox numbers table, line {line}: {message}")]
pub struct TableError {
    pub line: usize,
    pub message: String,
}

impl SandboxLookup {
    /// The built-in table.
    pub fn builtin() -> Result<Self, TableError> {
        Self::parse(BUILTIN_NUMBERS)
    }

    /// Parses a table: `#` comments, a header line starting with `number`, then
    /// tab-separated `number, line_type, carrier, state` rows.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        let mut numbers = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let row = raw.trim_end_matches('\r');
            if row.trim().is_empty() || row.starts_with('#') || row.starts_with("number\t") {
                continue;
            }
            let bad = |message: String| TableError { line, message };
            let cols: Vec<&str> = row.split('\t').collect();
            let [number, line_type, carrier, state] = cols[..] else {
                return Err(bad(format!("expected 4 tab-separated columns, found {}", cols.len())));
            };
            let number = PhoneNumber::parse_e164(number.trim()).map_err(|e| bad(e.to_string()))?;
            let line_kind =
                LineKind::parse(line_type.trim()).ok_or_else(|| bad(format!("unknown line type `{line_type}`")))?;
            let answer = match state.trim() {
                "unreachable" => Answer::Unreachable,
                s => Answer::Found(LookupResult {
                    carrier: carrier.trim().to_owned(),
                    line: line_kind,
                    state: SubscriberState::parse(s).ok_or_else(|| bad(format!("unknown state `{s}`")))?,
                }),
            };
            if numbers.insert(number.e164().to_owned(), answer).is_some() {
                return Err(bad("the number is listed twice".into()));
            }
        }
        Ok(Self { numbers })
    }

    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Every listed number with what it triggers (`mobile, Sandbox Mobile, active`;
    /// `the lookup is unreachable`), in number order: for the front page.
    pub fn listing(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .numbers
            .iter()
            .map(|(n, a)| {
                let what = match a {
                    Answer::Found(r) => format!("{}, {}, {}", r.line.as_str(), r.carrier, r.state.as_str()),
                    Answer::Unreachable => "the lookup service is unreachable".to_owned(),
                };
                (n.clone(), what)
            })
            .collect();
        out.sort();
        out
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }
}

#[async_trait]
impl NumberLookup for SandboxLookup {
    fn name(&self) -> &str {
        "sandbox"
    }

    async fn lookup(&self, number: &PhoneNumber) -> Result<LookupResult, LookupError> {
        match self.numbers.get(number.e164()) {
            Some(Answer::Found(r)) => Ok(r.clone()),
            Some(Answer::Unreachable) => Err(LookupError::Unreachable(
                "sandbox test number for an unreachable lookup".into(),
            )),
            None => Ok(MetadataLookup::classify(number)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn n(s: &str) -> PhoneNumber {
        PhoneNumber::parse_e164(s).unwrap()
    }

    #[tokio::test]
    async fn builtin_table_triggers_every_state_and_falls_back_to_the_plan() {
        let l = SandboxLookup::builtin().unwrap();
        assert_eq!(l.len(), 12);
        let listing = l.listing();
        assert_eq!(listing.len(), 12);
        assert_eq!(
            listing[0],
            ("+14155550100".into(), "mobile, Sandbox Mobile, active".into())
        );
        assert!(listing.iter().any(|(_, w)| w == "the lookup service is unreachable"));
        let r = l.lookup(&n("+14155550100")).await.unwrap();
        assert_eq!(
            (r.carrier.as_str(), r.line, r.state),
            ("Sandbox Mobile", LineKind::Mobile, SubscriberState::Active)
        );
        assert_eq!(l.lookup(&n("+14155550101")).await.unwrap().line, LineKind::Landline);
        assert_eq!(l.lookup(&n("+14155550102")).await.unwrap().line, LineKind::Voip);
        let states = [
            ("+14155550103", SubscriberState::Suspended),
            ("+14155550104", SubscriberState::Deactivated),
            ("+14155550105", SubscriberState::NotEligible),
            ("+14155550106", SubscriberState::CannotIdentify),
            ("+14155550107", SubscriberState::NoCrmData),
            ("+14155550108", SubscriberState::CarrierMismatch),
            ("+14155550109", SubscriberState::NotValid),
        ];
        for (num, state) in states {
            assert_eq!(l.lookup(&n(num)).await.unwrap().state, state, "{num}");
        }
        assert!(matches!(
            l.lookup(&n("+14155550110")).await,
            Err(LookupError::Unreachable(_))
        ));
        // Not listed: the numbering plan answers.
        let r = l.lookup(&n("+447911123456")).await.unwrap();
        assert_eq!(
            (r.carrier.as_str(), r.line, r.state),
            ("unknown", LineKind::Mobile, SubscriberState::Active)
        );
    }

    #[test]
    fn bad_tables_name_the_line() {
        let e = SandboxLookup::parse("number\tline_type\tcarrier\tstate\n+14155550100\tmobile\tX\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = SandboxLookup::parse("+14155550100\tfax\tX\tactive\n").unwrap_err();
        assert!(e.message.contains("fax"), "{e}");
        let e = SandboxLookup::parse("+14155550100\tmobile\tX\tasleep\n").unwrap_err();
        assert!(e.message.contains("asleep"), "{e}");
        let e = SandboxLookup::parse("+1999876\tmobile\tX\tactive\n").unwrap_err();
        assert!(!e.to_string().contains("999876"), "no number in the message: {e}");
        let twice = "+14155550100\tmobile\tX\tactive\n+14155550100\tmobile\tX\tactive\n";
        assert_eq!(SandboxLookup::parse(twice).unwrap_err().line, 2);
    }
}

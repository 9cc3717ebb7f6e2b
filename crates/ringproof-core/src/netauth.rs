//! Network authentication: does the device that clicked a one-time link (or opened a
//! silent-auth `check_url`) hold the number? The mobile network can tell, in one of two
//! ways, and without such a source the answer is "indeterminate":
//!
//! - at once, from something the request already carries (a trusted header that an
//!   operator's enrichment proxy injects): [`Begin::Verdict`];
//! - through the operator (CAMARA Number Verification): the device is sent to the
//!   operator's OIDC `/authorize`, which identifies it by its mobile-data connection and
//!   returns it to our callback with a code; [`Begin::Redirect`] carries that URL and
//!   what [`NetworkAuthenticator::finish`] needs later (nonce, PKCE verifier, operator),
//!   which the engine keeps sealed in the store between the two halves.
//!
//! No verdict is ever a refusal: whatever fails (no operator for the number, Wi-Fi,
//! refused consent, an operator error, the deadline) gives [`PhoneMatch::Indeterminate`]
//! with a [`Verdict::reason`] saying why.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::link_session::PhoneMatch;
use crate::phone::PhoneNumber;

/// How long the whole round trip through the operator may take, by default.
pub const DEFAULT_DEADLINE_S: u32 = 10;

/// What the request that starts authentication carries about the device.
#[derive(Clone, Debug, Default)]
pub struct ClickContext {
    pub ip: Option<IpAddr>,
    pub user_agent: String,
    /// The MSISDN an operator's enrichment proxy injected, only when the request came
    /// from a trusted proxy address (the server drops it otherwise).
    pub network_msisdn: Option<String>,
}

/// A verdict and why. The reason is a short token for events and metrics
/// (`verified`, `not_verified`, `no_operator`, `unidentified`, `consent_refused`,
/// `operator_error`, `unreachable`, `deadline`, …); never the number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub phone_match: PhoneMatch,
    pub reason: String,
}

impl Verdict {
    pub fn new(phone_match: PhoneMatch, reason: impl Into<String>) -> Self {
        Verdict {
            phone_match,
            reason: reason.into(),
        }
    }
    /// No verdict, for this reason.
    pub fn indeterminate(reason: impl Into<String>) -> Self {
        Self::new(PhoneMatch::Indeterminate, reason)
    }
    /// The network's yes or no.
    pub fn of(matched: bool) -> Self {
        if matched {
            Self::new(PhoneMatch::True, "verified")
        } else {
            Self::new(PhoneMatch::False, "not_verified")
        }
    }
}

/// The first half of authentication.
#[derive(Clone, Debug)]
pub enum Begin {
    /// Decided at once.
    Verdict(Verdict),
    /// Send the device here; the operator returns it to the callback with `state`.
    Redirect {
        url: String,
        /// What `finish` needs (authenticator-defined; secret: the engine seals it).
        pending: Value,
    },
}

/// What the operator sent back to the callback (`code` or `error`, and `state`), and from
/// where the callback came.
#[derive(Clone, Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub error: Option<String>,
    /// The callback request's source address. It must be the address that started the
    /// round trip: a device handed someone else's authorization URL gives no verdict
    /// (`device_mismatch`), so nobody can have another phone authenticate for them.
    pub from: Option<IpAddr>,
}

/// Whether the callback came from the device that started the round trip.
pub fn same_device(started_from: Option<IpAddr>, callback_from: Option<IpAddr>) -> bool {
    matches!((started_from, callback_from), (Some(a), Some(b)) if a.to_canonical() == b.to_canonical())
}

#[async_trait]
pub trait NetworkAuthenticator: Send + Sync + 'static {
    fn name(&self) -> &str;
    /// Starts authentication of `number` for the device behind `click`. `state` is the
    /// engine's random value to carry through the operator; `budget` is what is left of
    /// the deadline (a reachability check before redirecting must fit in it).
    async fn begin(&self, number: &PhoneNumber, click: &ClickContext, state: &str, budget: Duration) -> Begin;
    /// Finishes a [`Begin::Redirect`] with what the operator sent back, within `budget`.
    async fn finish(&self, number: &PhoneNumber, pending: &Value, callback: &Callback, budget: Duration) -> Verdict;
    /// Origins the device is sent to (for the link page's Content-Security-Policy).
    fn origins(&self) -> Vec<String> {
        Vec::new()
    }
}

/// No network authentication: every click is [`PhoneMatch::Indeterminate`].
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNetworkAuth;

#[async_trait]
impl NetworkAuthenticator for NoNetworkAuth {
    fn name(&self) -> &str {
        "none"
    }
    async fn begin(&self, _: &PhoneNumber, _: &ClickContext, _: &str, _: Duration) -> Begin {
        Begin::Verdict(Verdict::indeterminate("not_configured"))
    }
    async fn finish(&self, _: &PhoneNumber, _: &Value, _: &Callback, _: Duration) -> Verdict {
        Verdict::indeterminate("not_configured")
    }
}

/// Header enrichment: an operator's proxy in front of ringproof adds the subscriber's
/// MSISDN to requests that come over its mobile network. The server passes the header on
/// (in [`ClickContext::network_msisdn`]) only when the request came from a trusted proxy
/// address; this compares it with the number.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeaderNetworkAuth;

#[async_trait]
impl NetworkAuthenticator for HeaderNetworkAuth {
    fn name(&self) -> &str {
        "header"
    }
    async fn begin(&self, number: &PhoneNumber, click: &ClickContext, _: &str, _: Duration) -> Begin {
        Begin::Verdict(match click.network_msisdn.as_deref().map(str::trim) {
            None | Some("") => Verdict::indeterminate("no_header"),
            Some(h) => Verdict::of(same_msisdn(h, number)),
        })
    }
    async fn finish(&self, _: &PhoneNumber, _: &Value, _: &Callback, _: Duration) -> Verdict {
        Verdict::indeterminate("no_redirect")
    }
}

/// An enrichment header's MSISDN against the number: proxies send E.164 with or without
/// the `+` (and sometimes `tel:`), so both are reduced to their digits.
fn same_msisdn(header: &str, number: &PhoneNumber) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let h = header.strip_prefix("tel:").unwrap_or(header);
    let hd = digits(h);
    !hd.is_empty() && hd == digits(number.e164())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> PhoneNumber {
        PhoneNumber::parse_e164(s).unwrap()
    }

    #[test]
    fn header_forms_compare_by_digits() {
        let n = num("+14155550123");
        assert!(same_msisdn("+14155550123", &n));
        assert!(same_msisdn("14155550123", &n));
        assert!(same_msisdn("tel:+14155550123", &n));
        assert!(!same_msisdn("+14155550124", &n));
        assert!(!same_msisdn("", &n));
        assert!(!same_msisdn("abc", &n));
    }
}

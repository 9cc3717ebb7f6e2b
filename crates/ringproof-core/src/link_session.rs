//! One-time links ("instant link"): the rules of link verification, with no I/O.
//!
//! A link session is created with a fresh token (128 random bits, base64url) that goes
//! into the SMS as `<public_base_url>/l/<token>`; only the token's SHA-256 is stored.
//! Opening the link shows a page whose confirm step (a POST) is the click, so a
//! link-preview bot that merely GETs the URL consumes nothing. The click is accepted once,
//! before the link expires; it records when, from which IP and with which user agent, the
//! network-authentication verdict ([`PhoneMatch`]) and whether the click IP equals the
//! `sourceIp` the integrator saw. It yields a VFP (verification fingerprint: another
//! 128-bit token, stored hashed, bound to the client, expiring with the link) that is
//! appended to the integrator's `targetUrl` on the redirect.
//!
//! ```text
//!   pending ──confirm (once, before expires_at)──► clicked  (final: linkClicked true)
//!      │            │
//!      │            └─with an operator: authenticating ──callback, or deadline──► clicked
//!      │                (poll: waiting until the verdict or the deadline)
//!      └──now ≥ expires_at──────────────────────► expired  (final: linkClicked false,
//!                                                                  phoneMatch "false")
//! ```
//!
//! When the verdict comes from the operator ([`crate::netauth::Begin::Redirect`]), the
//! click is recorded at once with an indeterminate verdict and a [`PendingAuth`]; the
//! operator's answer (or the deadline) settles it, exactly once, and the VFP is minted
//! when the browser is finally sent to the target.
//!
//! The redirect target is checked here too ([`check_target_url`]): http(s) only, and its
//! origin must be one of the client's allowed origins, so a link can never become an open
//! redirect.

use std::net::IpAddr;

use crate::crypto::{base64url, ct_eq, random_bytes, sha256};
use crate::ids::{ClientId, LinkId};
use crate::lookup::LineKind;
use crate::netauth::Verdict;
use crate::phone::PhoneNumber;
use crate::time::Timestamp;

/// A secret token that travels in a URL: 128 random bits, base64url (22 characters).
/// `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlToken(String);

impl UrlToken {
    pub fn generate() -> Self {
        Self(base64url(&random_bytes::<16>()))
    }
    /// The token's text. Call only to put it in a URL or a response.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn hash(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }
}

impl std::fmt::Debug for UrlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlToken(..)")
    }
}

/// Whether `s` has the shape of a [`UrlToken`] (checked before any lookup, so junk never
/// reaches the store).
pub fn looks_like_url_token(s: &str) -> bool {
    s.len() == 22 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The verdict of network authentication: did the device that clicked hold the number?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhoneMatch {
    True,
    False,
    /// No verdict (no network authentication available, or it could not tell).
    Indeterminate,
}

impl PhoneMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneMatch::True => "true",
            PhoneMatch::False => "false",
            PhoneMatch::Indeterminate => "indeterminate",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "true" => PhoneMatch::True,
            "false" => PhoneMatch::False,
            "indeterminate" => PhoneMatch::Indeterminate,
            _ => return None,
        })
    }
}

/// The recorded click.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Click {
    pub at: Timestamp,
    pub ip: IpAddr,
    /// At most [`MAX_USER_AGENT`] characters.
    pub user_agent: String,
    pub phone_match: PhoneMatch,
    pub ip_match: bool,
    /// Why `phone_match` is what it is (see [`crate::netauth::Verdict::reason`]).
    pub reason: String,
}

/// Network authentication under way through the operator, between the click and the
/// operator's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAuth {
    /// SHA-256 of the `state` sent through the operator (how the callback finds the link).
    pub state_hash: [u8; 32],
    /// After this, the verdict is "indeterminate" whatever the operator says.
    pub deadline: Timestamp,
    /// What the authenticator needs to finish, sealed; `None` once settled.
    pub sealed: Option<Vec<u8>>,
}

impl PendingAuth {
    pub fn settled(&self) -> bool {
        self.sealed.is_none()
    }
}

/// The reason a click carries while the operator has not answered.
pub const REASON_PENDING: &str = "pending";

pub const MAX_USER_AGENT: usize = 256;

/// A link verification. Fields are public for the stores; change them through methods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkSession {
    pub client_id: ClientId,
    pub to: PhoneNumber,
    pub target_url: String,
    pub source_ip: Option<IpAddr>,
    pub token_hash: [u8; 32],
    pub carrier: String,
    pub line: LineKind,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub click: Option<Click>,
    /// SHA-256 of the VFP handed out on the click.
    pub vfp_hash: Option<[u8; 32]>,
    /// Set when the click went through the operator.
    pub auth: Option<PendingAuth>,
    /// What the operator said about a recent SIM swap before the link was sent
    /// ([`crate::simswap`]); `None` when the client does not check.
    pub sim_swap: Option<crate::simswap::SimSwapResult>,
}

/// Why a click is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClickError {
    #[error("this link was already used")]
    AlreadyUsed,
    #[error("this link has expired")]
    Expired,
    /// An operator callback for a link whose authentication is already settled (a replay).
    #[error("this network authentication was already settled")]
    Settled,
}

/// The result as an integrator polls it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Not clicked yet, and not expired.
    Waiting,
    /// Clicked, or expired without a click.
    Final {
        link_clicked: bool,
        phone_match: PhoneMatch,
        ip_match: bool,
    },
}

/// Everything a new link session needs.
pub struct NewLink {
    pub client_id: ClientId,
    pub to: PhoneNumber,
    pub target_url: String,
    pub source_ip: Option<IpAddr>,
    pub carrier: String,
    pub line: LineKind,
    pub ttl_s: u32,
    /// The SIM-swap check made before the start, if the client checks.
    pub sim_swap: Option<crate::simswap::SimSwapResult>,
}

impl LinkSession {
    /// A new session and its token (the only time the token exists in plaintext).
    pub fn create(n: NewLink, now: Timestamp) -> (Self, UrlToken) {
        let token = UrlToken::generate();
        let s = LinkSession {
            client_id: n.client_id,
            to: n.to,
            target_url: n.target_url,
            source_ip: n.source_ip,
            token_hash: token.hash(),
            carrier: n.carrier,
            line: n.line,
            created_at: now,
            expires_at: now.plus_secs(i64::from(n.ttl_s)),
            click: None,
            vfp_hash: None,
            auth: None,
            sim_swap: n.sim_swap,
        };
        (s, token)
    }

    /// Accepts the click (once, before expiry) with its verdict and returns the VFP for the
    /// redirect.
    pub fn confirm(
        &mut self,
        now: Timestamp,
        ip: IpAddr,
        user_agent: &str,
        verdict: &Verdict,
    ) -> Result<UrlToken, ClickError> {
        self.record_click(now, ip, user_agent, verdict.phone_match, &verdict.reason)?;
        self.mint_vfp()
    }

    /// Accepts the click (once, before expiry) while the operator authenticates the
    /// device; [`LinkSession::settle`] gives the verdict later.
    pub fn start_auth(
        &mut self,
        now: Timestamp,
        ip: IpAddr,
        user_agent: &str,
        auth: PendingAuth,
    ) -> Result<(), ClickError> {
        self.record_click(now, ip, user_agent, PhoneMatch::Indeterminate, REASON_PENDING)?;
        self.auth = Some(auth);
        Ok(())
    }

    /// Settles pending authentication with the operator's verdict (once). Past the
    /// deadline the verdict is "indeterminate" whatever it was.
    pub fn settle(&mut self, now: Timestamp, verdict: &Verdict) -> Result<(), ClickError> {
        let (Some(auth), Some(click)) = (self.auth.as_mut(), self.click.as_mut()) else {
            return Err(ClickError::Settled);
        };
        if auth.settled() {
            return Err(ClickError::Settled);
        }
        auth.sealed = None;
        if now >= auth.deadline {
            click.phone_match = PhoneMatch::Indeterminate;
            click.reason = "deadline".into();
        } else {
            click.phone_match = verdict.phone_match;
            click.reason = verdict.reason.clone();
        }
        Ok(())
    }

    /// The VFP for the redirect to the target: once per link, after the click (and its
    /// verdict) is recorded.
    pub fn mint_vfp(&mut self) -> Result<UrlToken, ClickError> {
        if self.click.is_none() || self.vfp_hash.is_some() || self.auth.as_ref().is_some_and(|a| !a.settled()) {
            return Err(ClickError::AlreadyUsed);
        }
        let vfp = UrlToken::generate();
        self.vfp_hash = Some(vfp.hash());
        Ok(vfp)
    }

    fn record_click(
        &mut self,
        now: Timestamp,
        ip: IpAddr,
        user_agent: &str,
        phone_match: PhoneMatch,
        reason: &str,
    ) -> Result<(), ClickError> {
        if self.click.is_some() {
            return Err(ClickError::AlreadyUsed);
        }
        if now >= self.expires_at {
            return Err(ClickError::Expired);
        }
        self.click = Some(Click {
            at: now,
            ip,
            user_agent: user_agent
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT)
                .collect(),
            phone_match,
            ip_match: self.source_ip.is_some_and(|s| same_ip(s, ip)),
            reason: reason.to_owned(),
        });
        Ok(())
    }

    /// Whether the operator has yet to answer (and the deadline has not passed).
    pub fn authenticating(&self, now: Timestamp) -> bool {
        self.auth.as_ref().is_some_and(|a| !a.settled() && now < a.deadline)
    }

    pub fn outcome(&self, now: Timestamp) -> LinkOutcome {
        if self.authenticating(now) {
            return LinkOutcome::Waiting;
        }
        match &self.click {
            // Past the deadline with no answer, the recorded verdict (indeterminate) stands.
            Some(c) => LinkOutcome::Final {
                link_clicked: true,
                phone_match: c.phone_match,
                ip_match: c.ip_match,
            },
            None if now >= self.expires_at => LinkOutcome::Final {
                link_clicked: false,
                phone_match: PhoneMatch::False,
                ip_match: false,
            },
            None => LinkOutcome::Waiting,
        }
    }

    /// Whether `vfp` is this session's VFP and still valid (it expires with the link).
    pub fn vfp_valid(&self, vfp: &str, now: Timestamp) -> bool {
        now < self.expires_at && self.vfp_hash.is_some_and(|h| ct_eq(&h, &sha256(vfp.as_bytes())))
    }
}

/// IPv4 and its IPv4-mapped IPv6 form are the same address.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// Why a target URL is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetUrlError {
    #[error("targetUrl must be an absolute http or https URL")]
    NotHttp,
    #[error("targetUrl is not under one of the client's allowed origins")]
    OriginNotAllowed,
}

/// The origin (`scheme://host[:port]`, lower-case, default port dropped) of an http(s) URL,
/// or `None` if it is not one we accept: no user info, no backslash, whitespace or control
/// character anywhere (browsers read `\` as `/`, which would let `https://good\@evil`
/// escape), and a non-empty host.
pub fn origin_of(url: &str) -> Option<String> {
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
        return None;
    }
    let lower = url.to_ascii_lowercase();
    let (scheme, rest, default_port) = if let Some(r) = lower.strip_prefix("https://") {
        ("https", r, ":443")
    } else if let Some(r) = lower.strip_prefix("http://") {
        ("http", r, ":80")
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || authority.starts_with(':') {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

/// Checks a redirect target against a client's allowed origins.
pub fn check_target_url(url: &str, allowed_origins: &[String]) -> Result<(), TargetUrlError> {
    let origin = origin_of(url).ok_or(TargetUrlError::NotHttp)?;
    if allowed_origins.iter().filter_map(|o| origin_of(o)).any(|o| o == origin) {
        Ok(())
    } else {
        Err(TargetUrlError::OriginNotAllowed)
    }
}

/// The target URL with `vfp=<vfp>` added to its query, keeping the query it had and any
/// fragment after it.
pub fn with_vfp(target_url: &str, vfp: &UrlToken) -> String {
    let (base, fragment) = match target_url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (target_url, None),
    };
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut out = format!("{base}{sep}vfp={}", vfp.expose());
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// A stored link session: its public identity (request and session ids, the transaction
/// id reported with the result) and the session the rules act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRecord {
    pub request_id: LinkId,
    pub session_id: LinkId,
    /// 11 decimal digits from the CSPRNG (the `transactionId` of the result).
    pub transaction_id: String,
    pub session: LinkSession,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(source_ip: Option<&str>) -> LinkSession {
        LinkSession::create(
            NewLink {
                client_id: ClientId::generate(),
                to: PhoneNumber::parse_e164("+14155550100").unwrap(),
                target_url: "https://app.example/done".into(),
                source_ip: source_ip.map(|s| s.parse().unwrap()),
                carrier: "unknown".into(),
                line: LineKind::Mobile,
                ttl_s: 300,
                sim_swap: None,
            },
            Timestamp(1_000_000),
        )
        .0
    }

    #[test]
    fn tokens_are_128_bit_base64url_and_hidden() {
        let t = UrlToken::generate();
        assert!(looks_like_url_token(t.expose()), "{}", t.expose());
        assert_ne!(t, UrlToken::generate());
        assert_eq!(format!("{t:?}"), "UrlToken(..)");
        assert!(!looks_like_url_token("short"));
        assert!(!looks_like_url_token("aaaaaaaaaaaaaaaaaaaaa/"));
    }

    #[test]
    fn one_click_before_expiry_then_final() {
        let mut s = session(Some("203.0.113.7"));
        let t0 = s.created_at;
        assert_eq!(s.outcome(t0), LinkOutcome::Waiting);
        let ip: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        let vfp = s
            .confirm(t0.plus_secs(10), ip, "Mozilla/5.0\u{7}", &v(PhoneMatch::Indeterminate))
            .unwrap();
        let c = s.click.clone().unwrap();
        assert!(c.ip_match, "IPv4-mapped IPv6 is the same address");
        assert_eq!(c.user_agent, "Mozilla/5.0");
        assert_eq!(
            s.outcome(t0.plus_secs(11)),
            LinkOutcome::Final {
                link_clicked: true,
                phone_match: PhoneMatch::Indeterminate,
                ip_match: true
            }
        );
        assert_eq!(
            s.confirm(t0.plus_secs(12), ip, "x", &v(PhoneMatch::True)),
            Err(ClickError::AlreadyUsed)
        );
        assert!(s.vfp_valid(vfp.expose(), t0.plus_secs(299)));
        assert!(
            !s.vfp_valid(vfp.expose(), t0.plus_secs(300)),
            "the VFP expires with the link"
        );
        assert!(!s.vfp_valid("AAAAAAAAAAAAAAAAAAAAAA", t0.plus_secs(20)));
    }

    fn v(m: PhoneMatch) -> Verdict {
        Verdict::new(m, "test")
    }

    fn pending(deadline: Timestamp) -> PendingAuth {
        PendingAuth {
            state_hash: [7; 32],
            deadline,
            sealed: Some(vec![1, 2, 3]),
        }
    }

    #[test]
    fn operator_verdicts_settle_once_and_only_before_the_deadline() {
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let mut s = session(None);
        let t0 = s.created_at;
        s.start_auth(t0, ip, "UA", pending(t0.plus_secs(10))).unwrap();
        assert_eq!(
            s.outcome(t0.plus_secs(1)),
            LinkOutcome::Waiting,
            "waiting for the operator"
        );
        assert_eq!(s.mint_vfp(), Err(ClickError::AlreadyUsed), "no VFP before the verdict");
        assert_eq!(
            s.start_auth(t0, ip, "UA", pending(t0.plus_secs(10))),
            Err(ClickError::AlreadyUsed),
            "a second click"
        );
        s.settle(t0.plus_secs(2), &Verdict::of(true)).unwrap();
        assert_eq!(
            s.settle(t0.plus_secs(3), &Verdict::of(false)),
            Err(ClickError::Settled),
            "a replay"
        );
        assert_eq!(s.click.as_ref().unwrap().phone_match, PhoneMatch::True);
        assert_eq!(s.click.as_ref().unwrap().reason, "verified");
        let vfp = s.mint_vfp().unwrap();
        assert!(s.vfp_valid(vfp.expose(), t0.plus_secs(4)));
        assert_eq!(s.mint_vfp(), Err(ClickError::AlreadyUsed), "one VFP per link");

        // The operator answers after the deadline: indeterminate whatever it said.
        let mut s = session(None);
        s.start_auth(t0, ip, "UA", pending(t0.plus_secs(10))).unwrap();
        assert_eq!(
            s.outcome(t0.plus_secs(10)),
            LinkOutcome::Final {
                link_clicked: true,
                phone_match: PhoneMatch::Indeterminate,
                ip_match: false
            },
            "the poll stops waiting at the deadline"
        );
        s.settle(t0.plus_secs(11), &Verdict::of(true)).unwrap();
        assert_eq!(s.click.as_ref().unwrap().phone_match, PhoneMatch::Indeterminate);
        assert_eq!(s.click.as_ref().unwrap().reason, "deadline");

        // A link that never went through an operator has nothing to settle.
        let mut s = session(None);
        assert_eq!(s.settle(t0, &Verdict::of(true)), Err(ClickError::Settled));
    }

    #[test]
    fn expiry_without_click_and_ip_mismatch() {
        let mut s = session(None);
        let t0 = s.created_at;
        assert_eq!(
            s.outcome(t0.plus_secs(300)),
            LinkOutcome::Final {
                link_clicked: false,
                phone_match: PhoneMatch::False,
                ip_match: false
            }
        );
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            s.confirm(t0.plus_secs(300), ip, "x", &v(PhoneMatch::True)),
            Err(ClickError::Expired)
        );
        let mut s = session(None);
        s.confirm(t0.plus_secs(1), ip, "x", &v(PhoneMatch::True)).unwrap();
        assert!(!s.click.unwrap().ip_match, "no sourceIp given: false");
        let mut s = session(Some("198.51.100.2"));
        s.confirm(t0.plus_secs(1), ip, "x", &v(PhoneMatch::True)).unwrap();
        assert!(!s.click.unwrap().ip_match);
    }

    #[test]
    fn target_urls_cannot_redirect_elsewhere() {
        let allowed = vec!["https://app.example".to_owned(), "http://localhost:8080".to_owned()];
        for ok in [
            "https://app.example/done",
            "https://APP.example:443/x?y=1#z",
            "https://app.example",
            "http://localhost:8080/cb",
        ] {
            assert_eq!(check_target_url(ok, &allowed), Ok(()), "{ok}");
        }
        for (bad, err) in [
            ("https://evil.example/", TargetUrlError::OriginNotAllowed),
            ("https://app.example.evil.example/", TargetUrlError::OriginNotAllowed),
            ("https://app.example:8443/", TargetUrlError::OriginNotAllowed),
            ("http://app.example/", TargetUrlError::OriginNotAllowed),
            ("https://app.example@evil.example/", TargetUrlError::NotHttp),
            ("https://evil.example\\@app.example/", TargetUrlError::NotHttp),
            ("https://app.example/\u{0}", TargetUrlError::NotHttp),
            ("javascript:alert(1)", TargetUrlError::NotHttp),
            ("//app.example/", TargetUrlError::NotHttp),
            ("ftp://app.example/", TargetUrlError::NotHttp),
            ("https://", TargetUrlError::NotHttp),
            ("https:///path", TargetUrlError::NotHttp),
            (" https://app.example/", TargetUrlError::NotHttp),
        ] {
            assert_eq!(check_target_url(bad, &allowed), Err(err), "{bad}");
        }
        assert_eq!(
            check_target_url("https://app.example/", &[]),
            Err(TargetUrlError::OriginNotAllowed)
        );
    }

    #[test]
    fn vfp_is_appended_keeping_query_and_fragment() {
        let v = UrlToken("AAAAAAAAAAAAAAAAAAAAAA".into());
        let vfp = "vfp=AAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(
            with_vfp("https://a.example/done", &v),
            format!("https://a.example/done?{vfp}")
        );
        assert_eq!(
            with_vfp("https://a.example/d?x=1", &v),
            format!("https://a.example/d?x=1&{vfp}")
        );
        assert_eq!(
            with_vfp("https://a.example/d?", &v),
            format!("https://a.example/d?{vfp}")
        );
        assert_eq!(
            with_vfp("https://a.example/d?x=1#top", &v),
            format!("https://a.example/d?x=1&{vfp}#top")
        );
        assert_eq!(
            with_vfp("https://a.example#f", &v),
            format!("https://a.example?{vfp}#f")
        );
    }
}

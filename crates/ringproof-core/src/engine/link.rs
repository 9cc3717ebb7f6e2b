//! The instant-link use cases over the injected ports: start a link verification (target
//! check, number lookup, the SMS queued as a sealed deliver job in the same transaction as
//! the session), confirm the click (network authentication, then one atomic store step),
//! and read the result by ids or by VFP. The rules themselves are in [`crate::link_session`].

use std::net::IpAddr;

use crate::client::{Client, ClientRefusal, Product};
use crate::crypto::{random_bytes, sha256};
use crate::engine::Engine;
use crate::error::{CoreError, StoreError};
use crate::ids::{ClientId, JobId, LinkId};
use crate::job::{DeliverPayload, JobKind, NewJob};
use crate::link_session::{
    ClickError, LinkOutcome, LinkRecord, LinkSession, NewLink, PhoneMatch, TargetUrlError, UrlToken, check_target_url,
    looks_like_url_token, with_vfp,
};
use crate::lookup::{LineKind, LookupError, SubscriberState};
use crate::netauth::{ClickContext, NetworkAuthenticator};
use crate::phone::PhoneNumber;
use crate::verification::DEFAULT_JOB_ATTEMPTS;
use crate::workflow::Channel;

/// How long a link is valid by default, in seconds.
pub const DEFAULT_LINK_TTL_S: u32 = 300;
/// Where links point by default (`<public_base_url>/l/<token>`).
pub const DEFAULT_PUBLIC_BASE_URL: &str = "http://127.0.0.1:8080";
/// The SMS when the integrator gives no text of its own; the link follows after a space.
pub const DEFAULT_LINK_SMS: &str = "Your identity verification journey has started, please click on the following \
     link to verify possession of the device";
/// Longest custom SMS text accepted, in characters (before the link is added).
pub const MAX_CUSTOM_SMS: usize = 480;

/// A request to send an instant link, already parsed at the edge.
#[derive(Clone, Debug)]
pub struct NewLinkRequest {
    pub to: PhoneNumber,
    pub target_url: String,
    pub source_ip: Option<IpAddr>,
    /// Replaces the default text; `{link}` marks where the link goes, else it is appended.
    pub custom_sms: Option<String>,
}

/// What a start returns: the ids to hand back to the integrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStarted {
    pub request_id: LinkId,
    pub session_id: LinkId,
    pub expires_at: crate::time::Timestamp,
}

/// A link session as of now, with its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    pub record: LinkRecord,
    pub outcome: LinkOutcome,
}

/// Why a link operation failed. Each face maps these to its own catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The redirect target is not http(s) or not under the client's allowed origins.
    #[error(transparent)]
    InvalidTarget(#[from] TargetUrlError),
    /// The line cannot open a link on a phone the network identifies (landline, VoIP,
    /// toll-free).
    #[error("a {} line cannot receive links", .0.as_str())]
    LineNotSupported(LineKind),
    #[error("the subscriber is suspended")]
    SubscriberSuspended,
    #[error("the subscriber is deactivated")]
    SubscriberDeactivated,
    #[error("the subscriber is not eligible for the service")]
    SubscriberNotEligible,
    #[error("the subscriber cannot be identified")]
    CannotIdentifySubscriber,
    #[error("the operator has no data on the subscriber")]
    NoCrmData,
    #[error("the number's carrier does not match")]
    CarrierMismatch,
    #[error("not a valid or active number")]
    NotValidNumber,
    /// The number lookup service could not be reached (the detail is for logs).
    #[error("the number lookup service cannot be reached: {0}")]
    LookupUnreachable(String),
    /// No such link session (unknown, malformed, another client's, or a VFP that expired).
    #[error("no such link")]
    NotFound,
    /// The click was refused: already used, or expired.
    #[error(transparent)]
    Click(#[from] ClickError),
    /// The client may not send a link to this number (product off, blocklist, test mode).
    #[error(transparent)]
    Refused(#[from] ClientRefusal),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<StoreError> for LinkError {
    fn from(e: StoreError) -> Self {
        LinkError::Core(CoreError::Store(e))
    }
}

impl LinkError {
    /// The error for a subscriber state that refuses service; `None` for an active one.
    pub fn of_state(state: SubscriberState) -> Option<Self> {
        Some(match state {
            SubscriberState::Active => return None,
            SubscriberState::Suspended => LinkError::SubscriberSuspended,
            SubscriberState::Deactivated => LinkError::SubscriberDeactivated,
            SubscriberState::NotEligible => LinkError::SubscriberNotEligible,
            SubscriberState::CannotIdentify => LinkError::CannotIdentifySubscriber,
            SubscriberState::NoCrmData => LinkError::NoCrmData,
            SubscriberState::CarrierMismatch => LinkError::CarrierMismatch,
            SubscriberState::NotValid => LinkError::NotValidNumber,
        })
    }
}

/// A transaction id: 11 decimal digits, the first not zero, uniform (rejection sampling).
pub fn transaction_id() -> String {
    const LOW: u64 = 10_000_000_000;
    const SPAN: u64 = 90_000_000_000;
    // The largest multiple of SPAN that fits: values above it would bias the remainder.
    const LIMIT: u64 = u64::MAX - (u64::MAX % SPAN);
    loop {
        let x = u64::from_le_bytes(random_bytes::<8>());
        if x < LIMIT {
            return (LOW + x % SPAN).to_string();
        }
    }
}

/// The SMS text of a link: the custom text (with `{link}` replaced, or the link appended
/// after a space) or the default one.
/// The key of a client's own link SMS text in [`Client::templates`] (used when a request
/// brings no `customSms`); `{link}` marks where the link goes.
pub const LINK_TEMPLATE_KEY: &str = "link";

/// A link SMS text (a request's `customSms` or a client's link template): 1 to
/// [`MAX_CUSTOM_SMS`] characters, printable (line breaks allowed).
fn check_sms_text(field: &str, t: &str) -> Result<(), CoreError> {
    if t.trim().is_empty() || t.chars().count() > MAX_CUSTOM_SMS || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CoreError::invalid(
            field,
            format!("must be 1 to {MAX_CUSTOM_SMS} printable characters"),
        ));
    }
    Ok(())
}

pub fn link_sms_text(custom: Option<&str>, link: &str) -> String {
    match custom {
        Some(t) if t.contains("{link}") => t.replace("{link}", link),
        Some(t) => format!("{t} {link}"),
        None => format!("{DEFAULT_LINK_SMS} {link}"),
    }
}

impl Engine {
    /// Sets (or, with `None`, removes) a client's own link SMS text, used when a request
    /// brings no `customSms`; `{link}` marks where the link goes (else it is appended).
    pub async fn set_link_template(&self, id: &ClientId, text: Option<&str>) -> Result<Client, CoreError> {
        let before = self
            .store()
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let mut c = before.clone();
        match text {
            Some(t) => {
                check_sms_text("text", t)?;
                c.templates.insert(LINK_TEMPLATE_KEY.to_owned(), t.to_owned());
            }
            None => {
                c.templates.remove(LINK_TEMPLATE_KEY);
            }
        }
        self.write_settings(&before, &c).await?;
        Ok(c)
    }

    /// Sends a one-time link: checks the target against the client's allowed origins,
    /// looks the number up (refusing lines that cannot receive links and subscribers that
    /// cannot be served), asks about a recent SIM swap when the client checks (refusing a
    /// swapped number when it blocks: [`CoreError::SimSwapped`]), and stores the session
    /// with its SMS (a sealed deliver job) in one transaction.
    pub async fn start_link(&self, client: &Client, req: NewLinkRequest) -> Result<LinkStarted, LinkError> {
        client.may_serve(Product::Link, &req.to)?;
        check_target_url(&req.target_url, &client.allowed_origins)?;
        if let Some(t) = &req.custom_sms {
            check_sms_text("customSms", t)?;
        }
        self.ensure_upstream(&req.to, Channel::Sms)?;
        let found = match self.lookup.lookup(&req.to).await {
            Ok(r) => r,
            Err(LookupError::Unreachable(e)) => return Err(LinkError::LookupUnreachable(e)),
        };
        if let Some(e) = LinkError::of_state(found.state) {
            return Err(e);
        }
        if !found.line.can_receive_links() {
            return Err(LinkError::LineNotSupported(found.line));
        }
        self.admit_send(client, &req.to, req.source_ip, Channel::Sms).await?;
        let sim_swap = self.check_sim_swap(client, &req.to).await?;
        let now = self.now();
        let (session, token) = LinkSession::create(
            NewLink {
                client_id: client.id.clone(),
                to: req.to,
                target_url: req.target_url,
                source_ip: req.source_ip,
                carrier: found.carrier,
                line: found.line,
                ttl_s: self.link_ttl_s,
                sim_swap: sim_swap.map(|o| o.result),
            },
            now,
        );
        let link = format!("{}/l/{}", self.public_base_url, token.expose());
        let payload = DeliverPayload {
            to: session.to.e164().to_owned(),
            channel: Channel::Sms,
            text: link_sms_text(
                req.custom_sms
                    .as_deref()
                    .or(client.templates.get(LINK_TEMPLATE_KEY).map(String::as_str)),
                &link,
            ),
            locale: "en".into(),
            sender: None,
            step: None,
            // Link sessions are not verifications: they have no event history to announce.
            notify: false,
            seq: 0,
        };
        let job_id = JobId::generate();
        let plain = serde_json::to_vec(&payload).map_err(|e| CoreError::Internal(e.to_string()))?;
        let job = NewJob {
            payload: self.keys.seal(job_id.as_str(), &plain),
            id: job_id,
            kind: JobKind::Deliver,
            client_id: client.id.clone(),
            verification_id: None,
            due_at: now,
            max_attempts: DEFAULT_JOB_ATTEMPTS,
        };
        let record = LinkRecord {
            request_id: LinkId::generate(),
            session_id: LinkId::generate(),
            transaction_id: transaction_id(),
            session,
        };
        self.store.insert_link(&record, std::slice::from_ref(&job)).await?;
        self.wake();
        Ok(LinkStarted {
            request_id: record.request_id,
            session_id: record.session_id,
            expires_at: record.session.expires_at,
        })
    }

    /// The confirm step of a link page: accepts the click once, before expiry, and returns
    /// where to send the browser (the target with `vfp` added). Network authentication runs
    /// first, outside any lock; a failure of it gives an indeterminate verdict.
    pub async fn confirm_link(
        &self,
        token: &str,
        ip: IpAddr,
        user_agent: &str,
        netauth: &dyn NetworkAuthenticator,
    ) -> Result<String, LinkError> {
        if !looks_like_url_token(token) {
            return Err(LinkError::NotFound);
        }
        let hash = sha256(token.as_bytes());
        let before = self.store.link_by_token_hash(&hash).await?.ok_or(LinkError::NotFound)?;
        // Refuse a used or expired link before asking the network anything.
        if before.session.click.is_some() {
            return Err(ClickError::AlreadyUsed.into());
        }
        if self.now() >= before.session.expires_at {
            return Err(ClickError::Expired.into());
        }
        let ctx = ClickContext {
            ip,
            user_agent: user_agent.to_owned(),
        };
        let phone_match = match netauth.verify(&before.session.to, &ctx).await {
            Ok(m) => m,
            // No verdict is not a refusal: the click still counts, as "indeterminate".
            Err(_) => PhoneMatch::Indeterminate,
        };
        let now = self.now();
        let mut out: Option<Result<UrlToken, ClickError>> = None;
        let mut f = |s: &mut LinkSession| {
            out = Some(s.confirm(now, ip, user_agent, phone_match));
        };
        let after = self
            .store
            .update_link(&hash, &mut f)
            .await?
            .ok_or(LinkError::NotFound)?;
        let vfp = out.ok_or_else(|| CoreError::Internal("confirm did not run".into()))??;
        Ok(with_vfp(&after.session.target_url, &vfp))
    }

    /// The link session with these ids, as of now. Another client's ids are unknown ids.
    pub async fn link_result(
        &self,
        client: &ClientId,
        request_id: &LinkId,
        session_id: &LinkId,
    ) -> Result<LinkView, LinkError> {
        let record = self
            .store
            .get_link(client, request_id, session_id)
            .await?
            .ok_or(LinkError::NotFound)?;
        let outcome = record.session.outcome(self.now());
        Ok(LinkView { record, outcome })
    }

    /// The link session a VFP was issued for: only for the client that owns it, and only
    /// until the link expires.
    pub async fn link_result_by_vfp(&self, client: &ClientId, vfp: &str) -> Result<LinkView, LinkError> {
        if !looks_like_url_token(vfp) {
            return Err(LinkError::NotFound);
        }
        let now = self.now();
        let record = self
            .store
            .link_by_vfp_hash(client, &sha256(vfp.as_bytes()))
            .await?
            .filter(|r| r.session.vfp_valid(vfp, now))
            .ok_or(LinkError::NotFound)?;
        let outcome = record.session.outcome(now);
        Ok(LinkView { record, outcome })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_eleven_digits() {
        for _ in 0..200 {
            let t = transaction_id();
            assert_eq!(t.len(), 11, "{t}");
            assert!(t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0'));
        }
        assert_ne!(transaction_id(), transaction_id());
    }

    #[test]
    fn sms_text_places_the_link() {
        let l = "http://h/l/abc";
        assert_eq!(
            link_sms_text(None, l),
            "Your identity verification journey has started, please click on the following link to verify \
             possession of the device http://h/l/abc"
        );
        assert_eq!(
            link_sms_text(Some("Acme: {link} (5 min)"), l),
            "Acme: http://h/l/abc (5 min)"
        );
        assert_eq!(link_sms_text(Some("Acme link:"), l), "Acme link: http://h/l/abc");
    }

    #[test]
    fn each_refusing_state_has_its_own_error() {
        assert_eq!(LinkError::of_state(SubscriberState::Active), None);
        let all = [
            SubscriberState::Suspended,
            SubscriberState::Deactivated,
            SubscriberState::NotEligible,
            SubscriberState::CannotIdentify,
            SubscriberState::NoCrmData,
            SubscriberState::CarrierMismatch,
            SubscriberState::NotValid,
        ];
        let errs: std::collections::HashSet<String> = all
            .iter()
            .map(|s| format!("{:?}", LinkError::of_state(*s).unwrap()))
            .collect();
        assert_eq!(errs.len(), all.len());
    }
}

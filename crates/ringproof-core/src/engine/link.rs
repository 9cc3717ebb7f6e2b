//! The instant-link use cases over the injected ports: start a link verification (target
//! check, number lookup, the SMS queued as a sealed deliver job in the same transaction as
//! the session), confirm the click (network authentication, then one atomic store step),
//! and read the result by ids or by VFP. The rules themselves are in [`crate::link_session`].

use std::net::IpAddr;
use std::time::Duration;

use crate::client::{BrandColor, Client, ClientRefusal, Product, template_key};
use crate::crypto::{random_bytes, sha256};
use crate::engine::Engine;
use crate::error::{CoreError, StoreError};
use crate::i18n::Locale;
use crate::ids::{ClientId, JobId, LinkId};
use crate::job::{DeliverPayload, JobKind, NewJob};
use crate::link_session::{
    ClickError, LinkOutcome, LinkRecord, LinkSession, NewLink, PendingAuth, TargetUrlError, UrlToken, check_target_url,
    looks_like_url_token, with_vfp,
};
use crate::lookup::{LineKind, LookupError, SubscriberState};
use crate::netauth::{Begin, Callback, ClickContext, Verdict, same_device};
use crate::phone::PhoneNumber;
use crate::time::Timestamp;
use crate::verification::DEFAULT_JOB_ATTEMPTS;
use crate::workflow::Channel;

/// How long a link is valid by default, in seconds.
pub const DEFAULT_LINK_TTL_S: u32 = 300;
/// Where links point by default (`<public_base_url>/l/<token>`).
pub const DEFAULT_PUBLIC_BASE_URL: &str = "http://127.0.0.1:8080";
/// The SMS when the integrator gives no text of its own, in English (Signzy's wording; the
/// other languages' are in [`crate::i18n::messages`]); the link follows after a space.
pub const DEFAULT_LINK_SMS: &str = "Your identity verification journey has started, please click on the following \
     link to verify possession of the device";
/// Longest custom SMS text accepted, in characters (before the link is added).
pub const MAX_CUSTOM_SMS: usize = 480;

/// How the link page drives authentication through the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthFlow {
    /// The browser itself goes to the operator and comes back through the callback,
    /// which sends it on to the target (no script).
    Navigate,
    /// The page's script makes the round trip in the background (so it can give up at
    /// the deadline) and then asks for the target ([`Engine::finish_link`]).
    Fetch,
}

/// What a link's page shows before the click.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkPage {
    /// The client's brand (the name in its texts).
    pub brand: String,
    /// The client's accent colour for its link pages, if it set one.
    pub brand_color: Option<BrandColor>,
    /// The origin the browser is sent to after the click.
    pub target_origin: Option<String>,
}

/// Where a confirmed click goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmStep {
    /// The integrator's target with `vfp` added: done.
    Target(String),
    /// The operator's authorization URL: authentication under way, for at most
    /// `budget_ms` more.
    Operator { url: String, budget_ms: u64 },
}

/// What the operator's callback leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackStep {
    /// The browser came back itself: the target with `vfp` added.
    Target(String),
    /// The page's background round trip: the verdict is recorded, the page goes on.
    Settled,
}

/// What is kept, sealed, between the two halves of operator authentication.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    flow: AuthFlow,
    pending: serde_json::Value,
}

/// The sealing context of a pending authentication (binds the blob to its state).
fn auth_context(state_hash: &[u8; 32]) -> String {
    format!("netauth:{}", crate::crypto::hex(state_hash))
}

/// A request to send an instant link, already parsed at the edge.
#[derive(Clone, Debug)]
pub struct NewLinkRequest {
    pub to: PhoneNumber,
    pub target_url: String,
    pub source_ip: Option<IpAddr>,
    /// Replaces the default text; `{link}` marks where the link goes, else it is appended.
    pub custom_sms: Option<String>,
    /// The language of the SMS: its default text and the client's `link:<lang>` template.
    /// `None` is English, the Signzy face's (its requests name no language).
    pub locale: Option<Locale>,
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

/// The key of a client's own link SMS text in [`Client::templates`] (used when a request
/// brings no `customSms`); `{link}` marks where the link goes. `link:<lang>` is the text
/// for one language ([`Client::template_for`]).
pub const LINK_TEMPLATE_KEY: &str = "link";

/// A link SMS text (a request's `customSms` or a client's link template), or a client's
/// verification SMS template: 1 to [`MAX_CUSTOM_SMS`] characters, printable (line breaks
/// allowed).
pub(crate) fn check_sms_text(field: &str, t: &str) -> Result<(), CoreError> {
    if t.trim().is_empty() || t.chars().count() > MAX_CUSTOM_SMS || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(CoreError::invalid(
            field,
            format!("must be 1 to {MAX_CUSTOM_SMS} printable characters"),
        ));
    }
    Ok(())
}

/// The SMS text of a link: the custom text (with `{link}` replaced, or the link appended
/// after a space) or the language's default one.
pub fn link_sms_text(custom: Option<&str>, link: &str, language: Locale) -> String {
    match custom {
        Some(t) if t.contains("{link}") => t.replace("{link}", link),
        Some(t) => format!("{t} {link}"),
        None => language.texts().link_sms.replace("{link}", link),
    }
}

impl Engine {
    /// Sets (or, with `None`, removes) a client's own link SMS text, used when a request
    /// brings no `customSms`; `{link}` marks where the link goes (else it is appended).
    /// With a `language`, the text is that language's only (`link:es`).
    pub async fn set_link_template(
        &self,
        id: &ClientId,
        language: Option<Locale>,
        text: Option<&str>,
    ) -> Result<Client, CoreError> {
        let before = self
            .store()
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let mut c = before.clone();
        match text {
            Some(t) => {
                check_sms_text("text", t)?;
                c.templates
                    .insert(template_key(LINK_TEMPLATE_KEY, language), t.to_owned());
            }
            None => {
                c.templates.remove(&template_key(LINK_TEMPLATE_KEY, language));
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
        let language = req.locale.unwrap_or(Locale::En);
        let payload = DeliverPayload {
            to: session.to.e164().to_owned(),
            channel: Channel::Sms,
            text: link_sms_text(
                req.custom_sms
                    .as_deref()
                    .or(client.template_for(LINK_TEMPLATE_KEY, language.tag())),
                &link,
                language,
            ),
            locale: language.tag().to_owned(),
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

    /// What the link page shows before the click: the client's brand and the target's
    /// origin (where the browser will go). Reads only; a used, expired or unknown link is
    /// the error its page says.
    pub async fn link_page(&self, token: &str) -> Result<LinkPage, LinkError> {
        if !looks_like_url_token(token) {
            return Err(LinkError::NotFound);
        }
        let hash = sha256(token.as_bytes());
        let record = self.store.link_by_token_hash(&hash).await?.ok_or(LinkError::NotFound)?;
        if record.session.click.is_some() {
            return Err(ClickError::AlreadyUsed.into());
        }
        if self.now() >= record.session.expires_at {
            return Err(ClickError::Expired.into());
        }
        let client = self.store.client_by_id(&record.session.client_id).await?;
        Ok(LinkPage {
            brand: client.as_ref().map(|c| c.brand.clone()).unwrap_or_default(),
            brand_color: client.and_then(|c| c.brand_color),
            target_origin: crate::link_session::origin_of(&record.session.target_url),
        })
    }

    /// The brand (name and colour) of the client that sent a link, whatever the link's
    /// state: for the pages that say a link was used or has expired. `None` for a token
    /// that names no link (those pages carry no brand), or when the store cannot say.
    pub async fn link_brand(&self, token: &str) -> Option<(String, Option<BrandColor>)> {
        if !looks_like_url_token(token) {
            return None;
        }
        let record = self.store.link_by_token_hash(&sha256(token.as_bytes())).await.ok()??;
        let client = self.store.client_by_id(&record.session.client_id).await.ok()??;
        Some((client.brand, client.brand_color))
    }

    /// The confirm step of a link page: accepts the click once, before expiry. With a
    /// verdict at once (no operator, a trusted header) it records it and returns the
    /// target with `vfp` added; with an operator it records the click as authenticating
    /// and returns where to send the device ([`ConfirmStep::Operator`]). Network
    /// authentication runs outside any lock; no verdict is "indeterminate", never a refusal.
    pub async fn confirm_link(
        &self,
        token: &str,
        click: &ClickContext,
        flow: AuthFlow,
    ) -> Result<ConfirmStep, LinkError> {
        if !looks_like_url_token(token) {
            return Err(LinkError::NotFound);
        }
        let ip = click
            .ip
            .ok_or_else(|| CoreError::Internal("a click without an address".into()))?;
        let hash = sha256(token.as_bytes());
        let before = self.store.link_by_token_hash(&hash).await?.ok_or(LinkError::NotFound)?;
        // Refuse a used or expired link before asking the network anything.
        if before.session.click.is_some() {
            return Err(ClickError::AlreadyUsed.into());
        }
        let started = self.now();
        if started >= before.session.expires_at {
            return Err(ClickError::Expired.into());
        }
        let state = UrlToken::generate();
        // The round trip ends with the link at the latest, so its VFP is still valid.
        let deadline = started
            .plus_secs(i64::from(self.netauth_deadline_s))
            .min(before.session.expires_at);
        let begin = self
            .netauth
            .begin(&before.session.to, click, state.expose(), self.netauth_budget(deadline))
            .await;
        let now = self.now();
        match begin {
            Begin::Verdict(verdict) => {
                self.metrics.netauth_verdict(self.netauth.name(), &verdict);
                let mut out = None;
                let mut f = |s: &mut LinkSession| out = Some(s.confirm(now, ip, &click.user_agent, &verdict));
                let after = self
                    .store
                    .update_link(&hash, &mut f)
                    .await?
                    .ok_or(LinkError::NotFound)?;
                let vfp = out.ok_or_else(|| CoreError::Internal("confirm did not run".into()))??;
                Ok(ConfirmStep::Target(with_vfp(&after.session.target_url, &vfp)))
            }
            Begin::Redirect { url, pending } => {
                let budget_ms = u64::try_from(deadline.millis() - now.millis()).unwrap_or(0);
                let state_hash = state.hash();
                let plain =
                    serde_json::to_vec(&Pending { flow, pending }).map_err(|e| CoreError::Internal(e.to_string()))?;
                let auth = PendingAuth {
                    state_hash,
                    deadline,
                    sealed: Some(self.keys.seal(&auth_context(&state_hash), &plain)),
                };
                let mut out = None;
                let mut f = |s: &mut LinkSession| out = Some(s.start_auth(now, ip, &click.user_agent, auth.clone()));
                self.store
                    .update_link(&hash, &mut f)
                    .await?
                    .ok_or(LinkError::NotFound)?;
                out.ok_or_else(|| CoreError::Internal("start_auth did not run".into()))??;
                Ok(ConfirmStep::Operator { url, budget_ms })
            }
        }
    }

    /// The operator's callback (`state` with `code` or `error`): settles the verdict of
    /// the link once and, when the browser itself came back ([`AuthFlow::Navigate`]),
    /// returns the target with `vfp` added. A replayed or unknown state is refused.
    pub async fn link_callback(&self, state: &str, callback: &Callback) -> Result<CallbackStep, LinkError> {
        if !looks_like_url_token(state) {
            return Err(LinkError::NotFound);
        }
        let state_hash = sha256(state.as_bytes());
        let before = self
            .store
            .link_by_auth_state(&state_hash)
            .await?
            .ok_or(LinkError::NotFound)?;
        let Some(sealed) = before.session.auth.as_ref().and_then(|a| a.sealed.clone()) else {
            return Err(ClickError::Settled.into());
        };
        let deadline = before.session.auth.as_ref().map_or(Timestamp(0), |a| a.deadline);
        let pending: Pending = self
            .keys
            .open(&auth_context(&state_hash), &sealed)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or_else(|| CoreError::Internal("a sealed authentication state does not open".into()))?;
        let clicked_from = before.session.click.as_ref().map(|c| c.ip);
        let verdict = self
            .round_trip_verdict(&before.session.to, deadline, clicked_from, callback, || {
                Ok(pending.pending.clone())
            })
            .await?;
        let now = self.now();
        let mut out = None;
        let navigate = pending.flow == AuthFlow::Navigate;
        let mut f = |s: &mut LinkSession| {
            out = Some(
                s.settle(now, &verdict)
                    .and_then(|()| if navigate { s.mint_vfp().map(Some) } else { Ok(None) }),
            );
        };
        let after = self
            .store
            .update_link(&before.session.token_hash, &mut f)
            .await?
            .ok_or(LinkError::NotFound)?;
        let vfp = out.ok_or_else(|| CoreError::Internal("settle did not run".into()))??;
        if let Some(c) = &after.session.click {
            self.metrics
                .netauth_verdict(self.netauth.name(), &Verdict::new(c.phone_match, c.reason.clone()));
        }
        Ok(match vfp {
            Some(vfp) => CallbackStep::Target(with_vfp(&after.session.target_url, &vfp)),
            None => CallbackStep::Settled,
        })
    }

    /// The last step of the page-driven flow ([`AuthFlow::Fetch`]): the page comes back
    /// after the operator round trip, or when its deadline ran out. Settles a verdict the
    /// operator never gave as "indeterminate" and returns the target with `vfp` added.
    pub async fn finish_link(&self, token: &str) -> Result<String, LinkError> {
        if !looks_like_url_token(token) {
            return Err(LinkError::NotFound);
        }
        let hash = sha256(token.as_bytes());
        let now = self.now();
        let mut out = None;
        let mut settled_now = None;
        let mut f = |s: &mut LinkSession| {
            if s.auth.as_ref().is_some_and(|a| !a.settled()) {
                let v = Verdict::indeterminate("no_callback");
                if s.settle(now, &v).is_ok() {
                    settled_now = s.click.as_ref().map(|c| Verdict::new(c.phone_match, c.reason.clone()));
                }
            }
            out = Some(s.mint_vfp());
        };
        let after = self
            .store
            .update_link(&hash, &mut f)
            .await?
            .ok_or(LinkError::NotFound)?;
        if let Some(v) = settled_now {
            self.metrics.netauth_verdict(self.netauth.name(), &v);
        }
        let vfp = out.ok_or_else(|| CoreError::Internal("finish did not run".into()))??;
        Ok(with_vfp(&after.session.target_url, &vfp))
    }

    /// The verdict an operator's callback gives, for a link click and a silent step alike:
    /// none past the deadline, none when the callback comes from another address than the
    /// device that started the round trip (someone else's device was sent to the operator
    /// with its URL), else what the authenticator makes of it. `pending` (the sealed state)
    /// is opened only when the operator is asked.
    pub(crate) async fn round_trip_verdict(
        &self,
        number: &crate::phone::PhoneNumber,
        deadline: Timestamp,
        started_from: Option<IpAddr>,
        callback: &Callback,
        pending: impl FnOnce() -> Result<serde_json::Value, CoreError>,
    ) -> Result<Verdict, CoreError> {
        Ok(if self.now() >= deadline {
            Verdict::indeterminate("deadline")
        } else if !same_device(started_from, callback.from) {
            Verdict::indeterminate("device_mismatch")
        } else {
            self.netauth
                .finish(number, &pending()?, callback, self.netauth_budget(deadline))
                .await
        })
    }

    /// What is left of a deadline, for the authenticator's own timeouts.
    pub(crate) fn netauth_budget(&self, deadline: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(deadline.millis() - self.now().millis()).unwrap_or(0))
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
            link_sms_text(None, l, Locale::En),
            "Your identity verification journey has started, please click on the following link to verify \
             possession of the device http://h/l/abc"
        );
        assert_eq!(
            link_sms_text(Some("Acme: {link} (5 min)"), l, Locale::Es),
            "Acme: http://h/l/abc (5 min)"
        );
        assert_eq!(
            link_sms_text(Some("Acme link:"), l, Locale::En),
            "Acme link: http://h/l/abc"
        );
        assert_eq!(
            link_sms_text(None, l, Locale::De),
            "Ihre Identitätsprüfung hat begonnen. Öffnen Sie diesen Link, um zu bestätigen, dass Sie dieses \
             Gerät besitzen: http://h/l/abc"
        );
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

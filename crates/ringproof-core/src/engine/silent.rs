//! Silent network authentication as a workflow's first step (`/v1` `{"channel": "silent"}`;
//! Twilio's `sna`, Vonage's `silent_auth`): before any code is sent, the integrator's app
//! opens the verification's `check_url` on the device, over mobile data; ringproof sends
//! it through the operator (the same CAMARA round trip as a link click) and approves the
//! verification when the network confirms the number. When it cannot (Wi-Fi, an operator
//! error, the deadline), the first delivery step runs at once; when nobody opens the
//! `check_url`, it runs at the end of
//! [`SILENT_WINDOW_S`](crate::verification::SILENT_WINDOW_S). Every step is a durable job or
//! a stored state, so a restart in the middle loses nothing.
//!
//! The `check_url` carries the client, the verification and a keyed MAC of both (nothing
//! stored); the operator's `state` carries them too, with 128 random bits whose hash is
//! stored: both lead to the verification without an index, and neither can be guessed.

use crate::crypto::{base64url, ct_eq, hex, sha256};
use crate::engine::Engine;
use crate::error::CoreError;
use crate::ids::{ClientId, VerificationId};
use crate::link_session::UrlToken;
use crate::netauth::{Begin, Callback, ClickContext, Verdict};
use crate::status::Status;
use crate::verification::{SilentError, SilentPending, Verification};

/// Where a silent step stands, as its caller (the app on the device) sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilentView {
    pub verification_id: VerificationId,
    pub status: Status,
    /// The verdict's reason (`verified`, `not_verified`, `unidentified`, …).
    pub result: String,
}

/// What opening the `check_url` leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SilentStep {
    /// Go to the operator (a redirect the device follows).
    Operator(String),
    /// Decided at once (no operator round trip was possible, or none was needed).
    Settled(SilentView),
}

/// Why a silent step's URL or callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum SilentCheckError {
    /// Unknown, forged or malformed.
    #[error("no such silent check")]
    NotFound,
    #[error(transparent)]
    Silent(#[from] SilentError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<crate::error::StoreError> for SilentCheckError {
    fn from(e: crate::error::StoreError) -> Self {
        SilentCheckError::Core(CoreError::Store(e))
    }
}

/// `<client>.<verification>.<rest>`, each part checked.
fn parse_ids(s: &str) -> Option<(ClientId, VerificationId, &str)> {
    let mut parts = s.splitn(3, '.');
    let client = ClientId::parse(parts.next()?)?;
    let id = VerificationId::parse(parts.next()?)?;
    let rest = parts.next()?;
    (!rest.is_empty() && rest.len() <= 64).then_some((client, id, rest))
}

/// The sealing context of a silent step's pending authentication.
fn seal_context(state_hash: &str) -> String {
    format!("silent:{state_hash}")
}

impl Engine {
    /// The `check_url` of a verification that starts with a silent step.
    pub fn silent_check_url(&self, v: &Verification) -> Option<String> {
        v.options.silent.as_ref()?;
        let (c, id) = (v.client_id.as_str(), v.id.as_str());
        let mac = self.keys.url_mac("silent-check", &[c, id]);
        Some(format!("{}/v1/silent/{c}.{id}.{mac}", self.public_base_url))
    }

    /// The device opened the `check_url`: starts network authentication (once).
    pub async fn open_silent(&self, token: &str, click: &ClickContext) -> Result<SilentStep, SilentCheckError> {
        let (client, id, mac) = parse_ids(token).ok_or(SilentCheckError::NotFound)?;
        let want = self.keys.url_mac("silent-check", &[client.as_str(), id.as_str()]);
        if !ct_eq(want.as_bytes(), mac.as_bytes()) {
            return Err(SilentCheckError::NotFound);
        }
        let v = self
            .store
            .get_verification(&client, &id)
            .await?
            .ok_or(SilentCheckError::NotFound)?;
        let started = self.now();
        v.silent_may_start(started)?;
        let state = format!("{client}.{id}.{}", UrlToken::generate().expose());
        let deadline = started.plus_secs(i64::from(self.netauth_deadline_s)).min(v.expires_at);
        match self
            .netauth
            .begin(&v.to, click, &state, self.netauth_budget(deadline))
            .await
        {
            Begin::Verdict(verdict) => Ok(SilentStep::Settled(self.settle_silent(&client, &id, &verdict).await?)),
            Begin::Redirect { url, pending } => {
                let state_hash = hex(&sha256(state.as_bytes()));
                let plain = serde_json::to_vec(&pending).map_err(|e| CoreError::Internal(e.to_string()))?;
                let sealed = base64url(&self.keys.seal(&seal_context(&state_hash), &plain));
                let now = self.now();
                let mut refused = None;
                let pending = SilentPending {
                    state_hash,
                    deadline,
                    sealed,
                    ip: click.ip,
                };
                self.transition(&client, &id, |v, fx| {
                    refused = v.silent_start(now, pending.clone(), fx).err();
                    Ok(())
                })
                .await?;
                if let Some(e) = refused {
                    return Err(e.into());
                }
                self.wake();
                Ok(SilentStep::Operator(url))
            }
        }
    }

    /// The operator's callback for a silent step (its `state` holds the ids): finishes
    /// network authentication and settles the step once.
    pub async fn silent_callback(&self, state: &str, callback: &Callback) -> Result<SilentView, SilentCheckError> {
        let (client, id, _) = parse_ids(state).ok_or(SilentCheckError::NotFound)?;
        let v = self
            .store
            .get_verification(&client, &id)
            .await?
            .ok_or(SilentCheckError::NotFound)?;
        let silent = v.options.silent.clone().ok_or(SilentCheckError::NotFound)?;
        let state_hash = hex(&sha256(state.as_bytes()));
        if !silent
            .state_hash
            .as_deref()
            .is_some_and(|h| ct_eq(h.as_bytes(), state_hash.as_bytes()))
        {
            return Err(SilentCheckError::NotFound);
        }
        let Some(sealed) = silent.sealed.as_deref().filter(|_| silent.result.is_none()) else {
            return Err(SilentError::AlreadyUsed.into());
        };
        let deadline = crate::time::Timestamp::from_millis(silent.deadline.unwrap_or(0));
        let opened_from = silent.ip.as_deref().and_then(|ip| ip.parse().ok());
        let verdict = self
            .round_trip_verdict(&v.to, deadline, opened_from, callback, || {
                crate::crypto::unbase64url(sealed)
                    .and_then(|b| self.keys.open(&seal_context(&state_hash), &b).ok())
                    .and_then(|p| serde_json::from_slice(&p).ok())
                    .ok_or_else(|| CoreError::Internal("a sealed silent state does not open".into()))
            })
            .await?;
        self.settle_silent(&client, &id, &verdict).await
    }

    async fn settle_silent(
        &self,
        client: &ClientId,
        id: &VerificationId,
        verdict: &Verdict,
    ) -> Result<SilentView, SilentCheckError> {
        let now = self.now();
        let mut outcome = None;
        let (_, v) = self
            .transition(client, id, |v, fx| {
                outcome = Some(v.silent_settle(now, verdict, fx));
                Ok(())
            })
            .await?;
        let approved = outcome.ok_or_else(|| CoreError::Internal("settle did not run".into()))??;
        let result = v
            .options
            .silent
            .as_ref()
            .and_then(|s| s.result.clone())
            .unwrap_or_default();
        let matched = match result.as_str() {
            "verified" => crate::link_session::PhoneMatch::True,
            "not_verified" => crate::link_session::PhoneMatch::False,
            _ => crate::link_session::PhoneMatch::Indeterminate,
        };
        self.metrics
            .netauth_verdict(self.netauth.name(), &Verdict::new(matched, result.clone()));
        if approved {
            self.metrics.verification_approved(v.workflow.first_channel());
        }
        // Falling through queued the first delivery step: the worker should see it now.
        self.wake();
        Ok(SilentView {
            verification_id: v.id.clone(),
            status: v.status,
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_in_their_shape() {
        let c = ClientId::generate();
        let v = VerificationId::generate();
        let ok = format!("{c}.{v}.abc");
        assert_eq!(
            parse_ids(&ok).map(|(a, b, r)| (a, b, r.to_owned())),
            Some((c.clone(), v.clone(), "abc".into()))
        );
        assert!(parse_ids(&format!("{c}.{v}.")).is_none());
        assert!(parse_ids(&format!("{v}.{c}.x")).is_none());
        assert!(parse_ids("x.y.z").is_none());
        assert!(parse_ids(&format!("{c}.{v}")).is_none());
    }
}

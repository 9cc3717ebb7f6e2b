//! The use cases the Vonage face needs beyond a start and a check: its credentials (a
//! Vonage API key and secret, an application and its public key), the authentication of
//! an application's JWT with its replay refused, and running a verification's next
//! workflow step now (Vonage's `next_workflow`).

use std::net::IpAddr;

use serde_json::json;

use crate::access_key::{AccessKey, AccessKeyKind, IssuedKey};
use crate::audit::AuditAction;
use crate::client::Client;
use crate::crypto::{hex, random_bytes};
use crate::error::CoreError;
use crate::ids::{ClientId, VerificationId};
use crate::jose::RsaKey;
use crate::ports::ClientWrite;
use crate::throttle::{self, Secret};
use crate::verification::{Ctx, Effects, Status, Verification};
use crate::vonage_app::{VonageApplication, claimed_application, parse_application_id};

use super::Engine;

/// A random (version 4) UUID, lowercase.
pub(crate) fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl Engine {
    /// Issues a Vonage API key and secret of the client (HTTP Basic on the Vonage face).
    /// The secret is returned once; the audit entry names the kind only.
    pub async fn issue_vonage_key(&self, client: &ClientId) -> Result<IssuedKey, CoreError> {
        if self.store.client_by_id(client).await?.is_none() {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        let issued = AccessKey::issue(AccessKeyKind::Vonage, client, None, self.now());
        let entry = self.audit_entry(
            AuditAction::AccessKeyIssued,
            Some(client),
            json!({ "kind": AccessKeyKind::Vonage.as_str(), "rotated": false }),
        )?;
        if self
            .store
            .audited_client_write(ClientWrite::AccessKey(&issued.key), &entry)
            .await?
            == 0
        {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(issued)
    }

    /// Registers a Vonage application of the client with its public key (PEM): `id` keeps
    /// an application id the integrator already has (its code names it), else one is
    /// drawn. Registering the same id again replaces its key; another client's id is
    /// refused.
    pub async fn register_vonage_application(
        &self,
        client: &ClientId,
        id: Option<&str>,
        public_key_pem: &str,
    ) -> Result<VonageApplication, CoreError> {
        if self.store.client_by_id(client).await?.is_none() {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        let id = match id {
            Some(raw) => {
                parse_application_id(raw).ok_or_else(|| CoreError::invalid("application_id", "must be a UUID"))?
            }
            None => uuid_v4(),
        };
        let public_key =
            RsaKey::from_pem(public_key_pem).map_err(|e| CoreError::invalid("public_key", e.to_string()))?;
        let existing = self.store.vonage_application(&id).await?;
        if existing.as_ref().is_some_and(|a| &a.client_id != client) {
            return Err(CoreError::invalid("application_id", "belongs to another client"));
        }
        let app = VonageApplication {
            id,
            client_id: client.clone(),
            public_key,
            created_at: existing.map_or(self.now(), |a| a.created_at),
        };
        let entry = self.audit_entry(
            AuditAction::AccessKeyIssued,
            Some(client),
            json!({ "kind": "vonage_application", "application_id": app.id }),
        )?;
        if self
            .store
            .audited_client_write(ClientWrite::VonageApplication(&app), &entry)
            .await?
            == 0
        {
            return Err(CoreError::invalid("application_id", "belongs to another client"));
        }
        Ok(app)
    }

    /// Resolves a Vonage application's JWT, presented from `ip`, to its client: the
    /// checks of [`VonageApplication::check`], then its `jti` recorded, so the same token
    /// twice is refused. Failures count like wrong API secrets ([`Engine::authenticate`]),
    /// by address and by the claimed application.
    pub async fn authenticate_vonage_jwt(&self, token: &str, ip: IpAddr) -> Result<Client, CoreError> {
        let now = self.now();
        let claimed = claimed_application(token);
        let keys = self.throttle_keys(Secret::ApiSecret, ip, claimed.as_deref().unwrap_or("-"));
        let states = self.store.throttle_states(&keys).await?;
        self.throttle
            .gate(Secret::ApiSecret, &states, now)
            .map_err(CoreError::TooManyFailures)?;
        let app = match &claimed {
            Some(id) => self.store.vonage_application(id).await?,
            None => None,
        };
        let accepted = match &app {
            Some(a) => match a.check(token, now) {
                Ok(used) => self.store.use_token_once(&used.key, used.keep_until, now).await?,
                Err(_) => false,
            },
            None => false,
        };
        let client = match (&app, accepted) {
            (Some(a), true) => self.store.client_by_id(&a.client_id).await?,
            _ => None,
        };
        let Some(client) = client else {
            let limits = self.throttle;
            self.store
                .throttle_step(&keys, &mut |rows| limits.failed(rows, now))
                .await?;
            return Err(CoreError::Unauthorized);
        };
        if states[throttle::row::PAIR].failures > 0 {
            let limits = self.throttle;
            self.store
                .throttle_step(&keys, &mut |rows| limits.succeeded(rows, now, false))
                .await?;
        }
        Ok(client)
    }

    /// Runs the verification's next workflow step now instead of at its time (Vonage's
    /// `next_workflow`), admitted by the limits across verifications like any send. The
    /// step's own job then finds it done. [`CoreError::NoNextStep`] when every step has
    /// run, or the next cannot run yet (a silent step whose device is at the operator).
    pub async fn run_next_step(&self, client: &Client, id: &VerificationId) -> Result<Verification, CoreError> {
        let before = self
            .store
            .get_verification(&client.id, id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let now = self.now();
        let status = before.status_at(now);
        if status != Status::Pending {
            return Err(CoreError::NotPending { status });
        }
        let index = before.next_step;
        let Some(step) = before.workflow.steps().get(usize::from(index)).copied() else {
            return Err(CoreError::NoNextStep);
        };
        if !before.would_run_step(index, now) {
            return Err(CoreError::NoNextStep);
        }
        let admitted = self.admit_send(client, &before.to, None, step.channel).await?;
        let template = client.sms_template(&before.locale).map(str::to_owned);
        let (keys, codes) = (&self.keys, self.codes.as_ref());
        let result = self
            .transition(&client.id, id, |v, fx: &mut Effects| {
                let ctx = Ctx {
                    keys,
                    codes,
                    sms_template: template.as_deref(),
                    now,
                };
                v.run_step(index, &ctx, fx);
                Ok(())
            })
            .await;
        match result {
            Ok((_, after)) => {
                if after.sends == before.sends {
                    // Skipped after all (its code window passed, all sends used).
                    self.take_back(admitted).await;
                }
                self.wake();
                Ok(after)
            }
            Err(e) => {
                self.take_back(admitted).await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_application_ids_are_v4_uuids() {
        let id = uuid_v4();
        assert_eq!(parse_application_id(&id).as_deref(), Some(id.as_str()));
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(uuid_v4(), id);
    }
}

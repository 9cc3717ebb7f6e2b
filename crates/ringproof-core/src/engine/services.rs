//! The use cases of access keys and services (the Twilio face's credentials and Verify
//! Services): issue and authenticate a key; create, read, change and delete a service;
//! start, read, check, cancel and approve a verification *in* a service.
//!
//! A verification started in a service carries the service's id ([`Options::service`]);
//! the reads and writes that name a service answer a verification of another service (or
//! of none) exactly as an unknown one, as they do another client's.
//!
//! [`Options::service`]: crate::verification::Options::service

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::json;

use crate::access_key::{AccessKey, AccessKeyKind, IssuedKey};
use crate::audit::AuditAction;
use crate::client::Client;
use crate::error::CoreError;
use crate::ids::{ClientId, ServiceId, VerificationId};
use crate::phone::PhoneNumber;
use crate::ports::ClientWrite;
use crate::service::{Service, ServiceChange, ServiceSettings, parse_custom_code};
use crate::throttle::{self, Secret};
use crate::time::Timestamp;
use crate::verification::{CheckOutcome, Status, Verification};
use crate::webhook_format::FaceIds;
use crate::workflow::Channel;

use super::{Engine, StartOutcome, StartRequest};

/// The longest SMS text a start may bring (a service start's custom message), in characters.
pub const MAX_CUSTOM_TEXT: usize = 320;

/// The most services a client may have: a service is a configuration set, not a tenant,
/// and each is a row every list pages through.
pub const MAX_SERVICES: u64 = 100;

/// How often an update reads a service again when another update came in between.
const UPDATE_TRIES: usize = 5;

/// A client authenticated by an access key.
#[derive(Clone, Debug)]
pub struct KeyAuth {
    pub client: Client,
    /// The client's account key id (its Account SID), whichever key authenticated.
    pub account_id: String,
}

/// A start in a service, parsed at the edge; what it leaves unset, the service sets.
#[derive(Clone, Debug)]
pub struct ServiceStart {
    pub to: PhoneNumber,
    pub channel: Channel,
    /// A silent step first (carrier authentication), then `channel` if it cannot tell.
    pub silent: bool,
    /// The brand in the texts, instead of the service's friendly name.
    pub brand: Option<String>,
    /// The SMS text (the code is appended unless it has `{code}`), instead of the service's.
    pub sms_text: Option<String>,
    pub locale: Option<String>,
    /// A code brought by the integrator: only in a service that allows it.
    pub custom_code: Option<String>,
    pub end_user_ip: Option<IpAddr>,
    /// Values for the service's rate limits, by name ([`crate::ratelimit`]): the start
    /// must fit every bucket of each rate limit named, for its value.
    pub rate_limits: BTreeMap<String, String>,
    /// The Account SID the start was authenticated under, which the Twilio webhook format
    /// names ([`crate::webhook_format::FaceIds::Twilio`]).
    pub account_sid: Option<String>,
}

/// Which verification of a service a read or check means.
#[derive(Clone, Debug)]
pub enum InService {
    Id(VerificationId),
    /// The newest pending verification to the number in the service, else the newest one.
    To(PhoneNumber),
    /// The verification with this id, which must be to this number: one to another number
    /// answers as none (a check naming both must not go to a verification it did not mean).
    IdTo(VerificationId, PhoneNumber),
}

impl Engine {
    // ----- access keys -----

    /// Issues the client's account key: a new one the first time, else a new secret for
    /// the same id (the old secret stops working). The secret is returned once; the audit
    /// entry (`client.access_key_issued`) is written with the key.
    pub async fn issue_account_key(&self, client: &ClientId) -> Result<IssuedKey, CoreError> {
        self.client_exists(client).await?;
        let existing = self.account_key(client).await?.map(|k| k.id);
        let rotated = existing.is_some();
        let issued = AccessKey::issue(AccessKeyKind::Account, client, existing, self.now());
        self.write_key(&issued, rotated).await?;
        Ok(issued)
    }

    /// Issues a new API key of the client (and its account key first, if it has none, so
    /// every key has an account to name). The secret is returned once.
    pub async fn issue_api_key(&self, client: &ClientId) -> Result<(IssuedKey, Option<IssuedKey>), CoreError> {
        self.client_exists(client).await?;
        let account = match self.account_key(client).await? {
            Some(_) => None,
            None => Some(self.issue_account_key(client).await?),
        };
        let issued = AccessKey::issue(AccessKeyKind::ApiKey, client, None, self.now());
        self.write_key(&issued, false).await?;
        Ok((issued, account))
    }

    async fn client_exists(&self, client: &ClientId) -> Result<(), CoreError> {
        match self.store.client_by_id(client).await? {
            Some(_) => Ok(()),
            None => Err(CoreError::invalid("client_id", "no such client")),
        }
    }

    async fn write_key(&self, issued: &IssuedKey, rotated: bool) -> Result<(), CoreError> {
        let k = &issued.key;
        let entry = self.audit_entry(
            AuditAction::AccessKeyIssued,
            Some(&k.client_id),
            json!({ "key_id": k.id, "kind": k.kind.as_str(), "rotated": rotated }),
        )?;
        if self
            .store
            .audited_client_write(ClientWrite::AccessKey(k), &entry)
            .await?
            == 0
        {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(())
    }

    /// The client's access keys (ids, kinds and dates; no secrets), oldest first.
    pub async fn list_access_keys(&self, client: &ClientId) -> Result<Vec<AccessKey>, CoreError> {
        self.client_exists(client).await?;
        Ok(self.store.access_keys(client).await?)
    }

    /// Deletes one of the client's API keys (`SK…`, or a Vonage API key): it stops
    /// authenticating at once. The
    /// audit entry (`client.access_key_revoked`) names the key id. The account key
    /// (`AC…`) is not revoked but rotated ([`Engine::issue_account_key`]): every API key
    /// answers with its id, so a client keeps one.
    pub async fn revoke_api_key(&self, client: &ClientId, id: &str) -> Result<(), CoreError> {
        self.client_exists(client).await?;
        match AccessKeyKind::of_id(id) {
            Some(AccessKeyKind::ApiKey | AccessKeyKind::Vonage) => {}
            Some(AccessKeyKind::Account) => {
                return Err(CoreError::invalid(
                    "key_id",
                    "an Account SID is not revoked: issue a new Auth Token instead, which ends the old one",
                ));
            }
            None => {
                return Err(CoreError::invalid(
                    "key_id",
                    "must be SK followed by 32 lowercase hex digits, or a Vonage API key (8 hex digits)",
                ));
            }
        }
        let entry = self.audit_entry(AuditAction::AccessKeyRevoked, Some(client), json!({ "key_id": id }))?;
        if self
            .store
            .audited_client_write(ClientWrite::RevokeApiKey(client, id), &entry)
            .await?
            == 0
        {
            return Err(CoreError::invalid("key_id", "no such API key of this client"));
        }
        Ok(())
    }

    async fn account_key(&self, client: &ClientId) -> Result<Option<AccessKey>, CoreError> {
        Ok(self
            .store
            .access_keys(client)
            .await?
            .into_iter()
            .find(|k| k.kind == AccessKeyKind::Account))
    }

    /// The client's account key id (its Account SID), if it was issued one.
    pub async fn account_id(&self, client: &ClientId) -> Result<Option<String>, CoreError> {
        Ok(self.account_key(client).await?.map(|k| k.id))
    }

    /// Resolves an access key id and secret, presented from `ip`, to its client, with the
    /// same throttle as API secrets ([`Engine::authenticate`]): an unknown id and a wrong
    /// secret fail alike and count as failures of `ip` and of the id.
    pub async fn authenticate_key(&self, id: &str, secret: &str, ip: IpAddr) -> Result<KeyAuth, CoreError> {
        let now = self.now();
        let keys = self.throttle_keys(Secret::ApiSecret, ip, id);
        let states = self.store.throttle_states(&keys).await?;
        self.throttle
            .gate(Secret::ApiSecret, &states, now)
            .map_err(CoreError::TooManyFailures)?;
        let found = match AccessKeyKind::of_id(id) {
            Some(_) => self.store.access_key(id).await?,
            None => None,
        };
        let client = match &found {
            Some(k) if k.verify_secret(secret) => self.store.client_by_id(&k.client_id).await?,
            _ => None,
        };
        let (Some(key), Some(client)) = (found, client) else {
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
        let account_id = match key.kind {
            // A Vonage key is its own account (the Vonage face names no other).
            AccessKeyKind::Account | AccessKeyKind::Vonage => key.id,
            AccessKeyKind::ApiKey => self
                .account_key(&client.id)
                .await?
                .map(|k| k.id)
                .ok_or_else(|| CoreError::Internal("an API key of a client with no account key".into()))?,
        };
        Ok(KeyAuth { client, account_id })
    }

    // ----- services -----

    /// Creates a service of the client; `friendly_name` is required, the code length
    /// defaults to the client's.
    pub async fn create_service(&self, client: &Client, change: ServiceChange) -> Result<Service, CoreError> {
        if change.friendly_name.is_none() {
            return Err(CoreError::invalid("friendly_name", "is required"));
        }
        // Checked before the insert: two creates at once may end one over the cap.
        if !self
            .store
            .list_services(&client.id, MAX_SERVICES - 1, 1)
            .await?
            .is_empty()
        {
            return Err(CoreError::invalid(
                "service",
                format!("a client has at most {MAX_SERVICES} services; delete one first"),
            ));
        }
        let base = ServiceSettings {
            code_length: self.defaults.with(&client.policy).code_length,
            ..ServiceSettings::default()
        };
        let now = self.now();
        let service = Service {
            id: ServiceId::generate(),
            client_id: client.id.clone(),
            settings: base.changed(change)?,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_service(&service).await?;
        Ok(service)
    }

    pub async fn service(&self, client: &ClientId, id: &ServiceId) -> Result<Service, CoreError> {
        self.store.service(client, id).await?.ok_or(CoreError::ServiceNotFound)
    }

    /// The client's services, oldest first: `limit` of them from `offset`.
    pub async fn list_services(&self, client: &ClientId, offset: u64, limit: u64) -> Result<Vec<Service>, CoreError> {
        Ok(self.store.list_services(client, offset, limit).await?)
    }

    /// Changes the settings a change names: read, change, and write only if no other
    /// update came in between (`updated_at` as read; each write moves it forward by at
    /// least a millisecond), else read again. Two updates at once of different settings
    /// both take effect.
    pub async fn update_service(
        &self,
        client: &ClientId,
        id: &ServiceId,
        change: ServiceChange,
    ) -> Result<Service, CoreError> {
        for _ in 0..UPDATE_TRIES {
            let mut service = self.service(client, id).await?;
            let read_at = service.updated_at;
            service.settings = service.settings.changed(change.clone())?;
            service.updated_at = Timestamp(self.now().millis().max(read_at.millis() + 1));
            if self.store.update_service(&service, read_at).await? {
                return Ok(service);
            }
        }
        Err(CoreError::Internal(format!(
            "a service changed under {UPDATE_TRIES} updates in a row"
        )))
    }

    /// Deletes a service; its verifications are then found by no read that names it.
    pub async fn delete_service(&self, client: &ClientId, id: &ServiceId) -> Result<(), CoreError> {
        if self.store.delete_service(client, id).await? {
            Ok(())
        } else {
            Err(CoreError::ServiceNotFound)
        }
    }

    // ----- verifications in a service -----

    /// Starts a verification in a service: the request's brand, text and code, else the
    /// service's friendly name, text and code length; a custom code only if the service
    /// allows it. Everything else is [`Engine::start`]'s.
    pub async fn start_in_service(
        &self,
        client: &Client,
        service: &ServiceId,
        s: ServiceStart,
    ) -> Result<Verification, CoreError> {
        let svc = self.service(&client.id, service).await?;
        let code = match s.custom_code {
            Some(_) if !svc.settings.custom_code_enabled => {
                return Err(CoreError::invalid(
                    "custom_code",
                    "is not allowed: the service does not enable custom codes",
                ));
            }
            // A silent step's fallback SMS draws its code when it runs: a code brought
            // now would be dropped, so it is refused rather than ignored.
            Some(_) if s.silent => {
                return Err(CoreError::invalid(
                    "custom_code",
                    "cannot be used with a silent step (Channel sna): its SMS, if one is needed, carries a code of its own",
                ));
            }
            Some(c) => Some(parse_custom_code(&c)?),
            None => None,
        };
        if let Some(t) = &s.sms_text
            && (t.trim().is_empty()
                || t.chars().count() > MAX_CUSTOM_TEXT
                || t.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(CoreError::invalid(
                "custom_message",
                format!("must be 1 to {MAX_CUSTOM_TEXT} printable characters"),
            ));
        }
        let service_limits = self.bucket_checks(&client.id, &svc.id, &s.rate_limits).await?;
        let req = StartRequest {
            to: Some(s.to),
            channel: Some(s.channel),
            code_length: Some(svc.settings.code_length),
            locale: s.locale,
            brand: Some(s.brand.unwrap_or(svc.settings.friendly_name.clone())),
            sms_template: s.sms_text,
            do_not_share: svc.settings.do_not_share_warning,
            end_user_ip: s.end_user_ip,
            silent: s.silent,
            service: Some(svc.id.clone()),
            service_limits,
            code,
            face: s.account_sid.map(|account_sid| FaceIds::Twilio { account_sid }),
            ..StartRequest::default()
        };
        match self.start(client, req, None).await? {
            StartOutcome::Created(v) => Ok(*v),
            StartOutcome::Replayed { .. } => Err(CoreError::Internal("a start without a key was replayed".into())),
        }
    }

    /// The verification as of now, if it is the service's.
    pub async fn get_in_service(
        &self,
        client: &ClientId,
        service: &ServiceId,
        which: &InService,
    ) -> Result<Verification, CoreError> {
        self.service(client, service).await?;
        let v = self.find_in_service(client, service, which).await?;
        let mut v = v;
        v.status = v.status_at(self.now());
        Ok(v)
    }

    async fn find_in_service(
        &self,
        client: &ClientId,
        service: &ServiceId,
        which: &InService,
    ) -> Result<Verification, CoreError> {
        let found = match which {
            InService::Id(id) => self.store.get_verification(client, id).await?,
            InService::To(to) => self.store.latest_verification_in_service(client, service, to).await?,
            InService::IdTo(id, to) => self.store.get_verification(client, id).await?.filter(|v| &v.to == to),
        };
        found
            .filter(|v| v.options.service.as_deref() == Some(service.as_str()))
            .ok_or(CoreError::NotFound)
    }

    /// Checks a code against a verification of the service ([`Engine::check`]).
    pub async fn check_in_service(
        &self,
        client: &Client,
        service: &ServiceId,
        which: &InService,
        code: &str,
    ) -> Result<(CheckOutcome, Verification), CoreError> {
        super::verifications::check_code_shape(code)?;
        self.service(&client.id, service).await?;
        let v = self.find_in_service(&client.id, service, which).await?;
        let id = v.id.clone();
        self.check_read(client, &id, Some(v), code).await
    }

    /// Ends a pending verification of the service: `canceled`, or `approved` on the
    /// integrator's word ([`Verification::approve`]). An approval without a code counts
    /// as an approval in the metrics, but not as a conversion for the SMS-pumping guard:
    /// only a code the person typed shows that the range delivers to people.
    pub async fn finish_in_service(
        &self,
        client: &ClientId,
        service: &ServiceId,
        id: &VerificationId,
        status: Status,
    ) -> Result<Verification, CoreError> {
        self.service(client, service).await?;
        self.find_in_service(client, service, &InService::Id(id.clone()))
            .await?;
        let now = self.now();
        match status {
            Status::Canceled => self.cancel(client, id).await,
            Status::Approved => {
                let (_, v) = self.transition(client, id, |v, fx| v.approve(now, fx)).await?;
                self.metrics.verification_approved(v.workflow.first_channel());
                Ok(v)
            }
            other => Err(CoreError::invalid(
                "status",
                format!("cannot be set to {}; only canceled or approved", other.as_str()),
            )),
        }
    }
}

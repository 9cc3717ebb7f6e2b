//! Client administration: create, authenticate, change settings, rotate secrets, log in
//! and out, and the webhook settings.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::json;

use crate::audit::AuditAction;
use crate::client::{Client, NewClient, Product};
use crate::error::CoreError;
use crate::ids::ClientId;
use crate::phone::PhoneNumber;
use crate::policy::PolicyOverrides;
use crate::ports::ClientWrite;
use crate::sessions::{AccessToken, LoginAttempt, LoginError, Session, TokenRecord, looks_like_token, token_hash};
use crate::throttle::{self, Secret};
use crate::webhook::{self, WebhookConfig};

use super::Engine;

/// A change to a client's settings; `None` leaves a setting as it is. Policy fields set
/// here are merged into the client's existing overrides.
#[derive(Clone, Debug, Default)]
pub struct ClientChange {
    pub brand: Option<String>,
    /// The link pages' accent (`#rrggbb`, readable under white text:
    /// [`crate::client::BrandColor::parse`]); `Some(None)` removes it.
    pub brand_color: Option<Option<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub policy: PolicyOverrides,
    /// Products to switch on or off (a product in both lists is refused).
    pub enable_products: Vec<Product>,
    pub disable_products: Vec<Product>,
    pub test_mode: Option<bool>,
    /// Replaces the test-mode allowlist (E.164 numbers).
    pub allowed_numbers: Option<Vec<String>>,
    /// Replaces the blocklist (E.164 numbers).
    pub blocked_numbers: Option<Vec<String>>,
    /// Replaces the SMS-pumping guard's safe list (E.164 numbers).
    pub safe_numbers: Option<Vec<String>>,
    /// Limits to override (`NAME`, `VALUE` as in [`crate::guard::LimitOverrides::set`]:
    /// `default` gives the server's back), geo permissions included
    /// (`allowed_countries_sms`, `allowed_countries_voice`).
    pub limits: Vec<(String, String)>,
    /// Turns the SIM-swap check off, on, or on with blocking ([`crate::simswap`]).
    pub sim_swap: Option<crate::simswap::SimSwapMode>,
    /// The SIM-swap window in hours (1 to 2400; needs the check on).
    pub sim_swap_max_age_h: Option<u32>,
}

/// Parses E.164 numbers for a client's number list.
fn number_list(field: &'static str, numbers: Vec<String>) -> Result<BTreeSet<String>, CoreError> {
    numbers
        .iter()
        .map(|n| {
            PhoneNumber::parse_e164(n)
                .map(|p| p.e164().to_owned())
                .map_err(|_| CoreError::invalid(field, "must be E.164 numbers such as +14155550123"))
        })
        .collect()
}

impl Engine {
    // ----- clients -----

    /// Creates a client; if its derived username is taken, a numeric suffix is added.
    /// Recorded in the audit log (`client.created`) in the same transaction.
    pub async fn create_client(&self, name: &str, allowed_origins: Vec<String>) -> Result<NewClient, CoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(CoreError::invalid("name", "must be 1 to 100 characters"));
        }
        for o in &allowed_origins {
            validate_origin(o)?;
        }
        let mut created = Client::create(name, allowed_origins, self.now());
        let base = created.client.username.clone();
        for n in 2..=50 {
            if self.store.client_by_username(&created.client.username).await?.is_none() {
                let entry = self.audit_entry(
                    AuditAction::ClientCreated,
                    Some(&created.client.id),
                    json!({ "allowed_origins": created.client.allowed_origins.len() }),
                )?;
                self.store
                    .audited_client_write(ClientWrite::Insert(&created.client), &entry)
                    .await?;
                return Ok(created);
            }
            created.client.username = format!("{base}-{n}");
        }
        Err(CoreError::invalid("name", "too many clients with this name"))
    }

    /// Resolves an API key and secret, presented from `ip`, to its client. Unknown key
    /// and wrong secret fail the same way, and count as failures of `ip` and of the key
    /// ([`crate::throttle`]); past a limit the secret is not checked
    /// ([`CoreError::TooManyFailures`]).
    pub async fn authenticate(&self, api_key: &str, api_secret: &str, ip: IpAddr) -> Result<Client, CoreError> {
        let now = self.now();
        let keys = self.throttle_keys(Secret::ApiSecret, ip, api_key);
        // A plain read, one round trip for both: this runs on every authenticated request.
        // (The client is read even when the gate refuses; its secret is then not checked.)
        let (client, states) = self.store.client_by_api_key_with_throttle(api_key, &keys).await?;
        self.throttle
            .gate(Secret::ApiSecret, &states, now)
            .map_err(CoreError::TooManyFailures)?;
        match client {
            Some(c) if c.verify_secret(api_secret) => {
                if states[throttle::row::PAIR].failures > 0 {
                    let limits = self.throttle;
                    self.store
                        .throttle_step(&keys, &mut |rows| limits.succeeded(rows, now, false))
                        .await?;
                }
                Ok(c)
            }
            _ => {
                let limits = self.throttle;
                self.store
                    .throttle_step(&keys, &mut |rows| limits.failed(rows, now))
                    .await?;
                Err(CoreError::Unauthorized)
            }
        }
    }

    /// The keys of an attempt's throttle rows, in [`throttle::row`] order: keyed hashes of
    /// the address (IPv6 by /64) and the name, so no address or name is stored.
    pub(super) fn throttle_keys(&self, secret: Secret, ip: IpAddr, who: &str) -> Vec<String> {
        let address = throttle::address_key(ip);
        let (a, w) = (address.as_bytes(), who.as_bytes());
        let scope = secret.as_str();
        let mut keys = vec![
            self.keys.throttle_key(&format!("{scope}/pair"), &[a, b"\0", w]),
            self.keys.throttle_key(&format!("{scope}/ip"), &[a]),
            self.keys.throttle_key(&format!("{scope}/name"), &[w]),
        ];
        if secret == Secret::Password {
            keys.push(self.keys.throttle_key(&format!("{scope}/checks"), &[a]));
        }
        keys
    }

    /// Changes a client's settings. The resulting policy must be valid. Recorded in the
    /// audit log (`client.updated`, naming the settings changed) in the same transaction.
    pub async fn update_client(&self, id: &ClientId, change: ClientChange) -> Result<Client, CoreError> {
        let before = self
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let mut c = before.clone();
        if let Some(b) = change.brand {
            if b.trim().is_empty() || b.chars().count() > 40 || b.chars().any(char::is_control) {
                return Err(CoreError::invalid("brand", "must be 1 to 40 printable characters"));
            }
            c.brand = b;
        }
        if let Some(color) = change.brand_color {
            c.brand_color = color
                .as_deref()
                .map(crate::client::BrandColor::parse)
                .transpose()
                .map_err(|m| CoreError::invalid("brand_color", m))?;
        }
        if let Some(origins) = change.allowed_origins {
            for o in &origins {
                validate_origin(o)?;
            }
            c.allowed_origins = origins;
        }
        if let Some(p) = change
            .enable_products
            .iter()
            .find(|p| change.disable_products.contains(p))
        {
            return Err(CoreError::invalid(
                "products",
                format!("{} is both enabled and disabled", p.as_str()),
            ));
        }
        for p in &change.enable_products {
            c.controls.disabled_products.remove(p);
        }
        c.controls
            .disabled_products
            .extend(change.disable_products.iter().copied());
        if let Some(on) = change.test_mode {
            c.controls.test_mode = on;
        }
        if let Some(n) = change.allowed_numbers {
            c.controls.allowed_numbers = number_list("allowed_numbers", n)?;
        }
        if let Some(n) = change.blocked_numbers {
            c.controls.blocked_numbers = number_list("blocked_numbers", n)?;
        }
        if let Some(n) = change.safe_numbers {
            c.controls.safe_numbers = number_list("safe_numbers", n)?;
        }
        for (name, value) in &change.limits {
            c.controls
                .limits
                .set(name, value)
                .map_err(|m| CoreError::invalid("limits", m))?;
        }
        c.controls.sim_swap =
            crate::simswap::SimSwapMode::apply(change.sim_swap, change.sim_swap_max_age_h, c.controls.sim_swap)
                .map_err(|m| CoreError::invalid("sim_swap", m))?;
        self.limits
            .with(&c.controls.limits)
            .check()
            .map_err(|m| CoreError::invalid("limits", m))?;
        let p = change.policy;
        c.policy = PolicyOverrides {
            code_length: p.code_length.or(c.policy.code_length),
            validity_s: p.validity_s.or(c.policy.validity_s),
            max_checks: p.max_checks.or(c.policy.max_checks),
            max_sends: p.max_sends.or(c.policy.max_sends),
            resend_cooldown_s: p.resend_cooldown_s.or(c.policy.resend_cooldown_s),
        };
        self.defaults
            .with(&c.policy)
            .validate()
            .map_err(|m| CoreError::invalid("policy", m))?;
        self.write_settings(&before, &c).await?;
        Ok(c)
    }

    /// Replaces a client's API secret; the new one is returned once (and never audited:
    /// the entry says only that it was rotated).
    pub async fn rotate_secret(&self, id: &ClientId) -> Result<String, CoreError> {
        let secret = crate::client::new_api_secret();
        let hash = crate::crypto::sha256(secret.as_bytes());
        let entry = self.audit_entry(AuditAction::SecretRotated, Some(id), json!({}))?;
        if self
            .store
            .audited_client_write(ClientWrite::Secret(id, &hash), &entry)
            .await?
            > 0
        {
            Ok(secret)
        } else {
            Err(CoreError::invalid("client_id", "no such client"))
        }
    }

    // ----- login sessions (see `throttle` for the rule that limits guessing) -----

    /// Logs in with a username and password from `ip`: a new access token, shown once.
    /// Checks the password in line (about 30 ms of CPU); an async caller may prefer
    /// [`Engine::login_begin`], the check on a blocking thread, then [`Engine::login_finish`].
    pub async fn login(&self, username: &str, password: &str, ip: IpAddr) -> Result<Session, LoginError> {
        let attempt = self.login_begin(username, ip).await?;
        let ok = attempt.verify(password);
        self.login_finish(attempt, ok).await
    }

    /// The first half of a login: refuses it, without looking at any password, while `ip`
    /// or the (ip, username) pair must wait or is locked, or the username is guarded and
    /// `ip` failed for it ([`crate::throttle`]); otherwise counts it as a failure (and a
    /// password check of `ip`) *in the same atomic store step* (so a burst of concurrent
    /// attempts gets no more password checks than the rule allows one at a time) and finds
    /// the client (if any).
    pub async fn login_begin(&self, username: &str, ip: IpAddr) -> Result<LoginAttempt, LoginError> {
        // No usernames this long exist; not worth a password check either.
        if username.is_empty() || username.len() > 128 {
            return Err(LoginError::BadCredentials);
        }
        let now = self.now();
        let keys = self.throttle_keys(Secret::Password, ip, username);
        let limits = self.throttle;
        let mut verdict = Ok(());
        self.store
            .throttle_step(&keys, &mut |rows| verdict = limits.begin(rows, now))
            .await?;
        verdict.map_err(LoginError::Throttled)?;
        let client = self.store.client_by_username(username).await?;
        Ok(LoginAttempt { keys, client })
    }

    /// The second half: on success resets the pair's failures (and takes the failure
    /// `login_begin` counted back from the address and username) and issues a token. On
    /// failure there is nothing more to record: `login_begin` already counted the attempt.
    pub async fn login_finish(&self, attempt: LoginAttempt, password_ok: bool) -> Result<Session, LoginError> {
        let now = self.now();
        let client = match attempt.client {
            Some(c) if password_ok => c,
            _ => return Err(LoginError::BadCredentials),
        };
        let limits = self.throttle;
        self.store
            .throttle_step(&attempt.keys, &mut |rows| limits.succeeded(rows, now, true))
            .await?;
        let token = AccessToken::generate();
        self.store
            .insert_access_token(&TokenRecord {
                token_hash: token.hash(),
                client_id: client.id.clone(),
                created_at: now,
                expires_at: now.plus_secs(i64::from(self.token_ttl_s)),
            })
            .await?;
        Ok(Session {
            token,
            client_id: client.id,
            created_at: now,
            ttl_s: self.token_ttl_s,
        })
    }

    /// The client an access token belongs to. Unknown, malformed, expired and revoked
    /// tokens all fail the same way ([`CoreError::Unauthorized`]).
    pub async fn authenticate_token(&self, token: &str) -> Result<Client, CoreError> {
        if !looks_like_token(token) {
            return Err(CoreError::Unauthorized);
        }
        self.store
            .client_by_token_hash(&token_hash(token), self.now())
            .await?
            .ok_or(CoreError::Unauthorized)
    }

    /// Revokes every access token of a client; returns how many were revoked.
    pub async fn revoke_tokens(&self, client: &ClientId) -> Result<u64, CoreError> {
        if self.store.client_by_id(client).await?.is_none() {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        let entry = self.audit_entry(AuditAction::TokensRevoked, Some(client), json!({}))?;
        Ok(self
            .store
            .audited_client_write(ClientWrite::RevokeTokens(client), &entry)
            .await?)
    }

    /// Sets (or, with `None`, removes) a client's webhook URL. A client without a webhook
    /// secret gets a new one, returned once; an existing secret is kept (`None` returned).
    /// Verifications started from now on notify it.
    pub async fn set_webhook(&self, id: &ClientId, url: Option<&str>) -> Result<Option<String>, CoreError> {
        let mut c = self
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let mut new_secret = None;
        c.webhook = match (url, c.webhook.take()) {
            (None, _) => None,
            (Some(u), existing) => {
                webhook::validate_url(u)?;
                let format = existing.as_ref().map(|w| w.format).unwrap_or_default();
                let sealed_secret = match existing {
                    Some(w) => w.sealed_secret,
                    None => {
                        let s = webhook::new_secret();
                        let sealed = crate::crypto::hex(&self.keys.seal(&webhook::secret_context(id), s.as_bytes()));
                        new_secret = Some(s);
                        sealed
                    }
                };
                Some(WebhookConfig {
                    url: u.to_owned(),
                    sealed_secret,
                    format,
                })
            }
        };
        // The URL's origin only: a path or query may carry a token of the integrator's.
        let entry = match url {
            Some(u) => self.audit_entry(
                AuditAction::WebhookSet,
                Some(id),
                json!({
                    "origin": crate::link_session::origin_of(u),
                    "new_signing_secret": new_secret.is_some(),
                }),
            )?,
            None => self.audit_entry(AuditAction::WebhookCleared, Some(id), json!({}))?,
        };
        if self
            .store
            .audited_client_write(ClientWrite::Webhook(id, c.webhook.as_ref()), &entry)
            .await?
            == 0
        {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(new_secret)
    }

    /// Sets the shape of a client's webhooks ([`webhook::WebhookFormat`]); the client must
    /// have a webhook. Verifications started from now on take it; the signature headers of
    /// every attempt from now on follow it. Audited as `client.webhook_set` with the format.
    pub async fn set_webhook_format(&self, id: &ClientId, format: webhook::WebhookFormat) -> Result<(), CoreError> {
        let mut c = self
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let Some(w) = c.webhook.as_mut() else {
            return Err(CoreError::invalid(
                "webhook_format",
                "the client has no webhook; set its URL first",
            ));
        };
        w.format = format;
        let entry = self.audit_entry(AuditAction::WebhookSet, Some(id), json!({ "format": format.as_str() }))?;
        if self
            .store
            .audited_client_write(ClientWrite::Webhook(id, c.webhook.as_ref()), &entry)
            .await?
            == 0
        {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(())
    }

    /// Replaces a client's webhook secret; the new one is returned once. Webhooks not yet
    /// delivered are signed with the new secret from now on.
    pub async fn rotate_webhook_secret(&self, id: &ClientId) -> Result<String, CoreError> {
        let mut c = self
            .store
            .client_by_id(id)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let Some(w) = c.webhook.as_mut() else {
            return Err(CoreError::invalid(
                "webhook_url",
                "the client has no webhook; set one first",
            ));
        };
        let s = webhook::new_secret();
        w.sealed_secret = crate::crypto::hex(&self.keys.seal(&webhook::secret_context(id), s.as_bytes()));
        let entry = self.audit_entry(AuditAction::WebhookSecretRotated, Some(id), json!({}))?;
        if self
            .store
            .audited_client_write(ClientWrite::Webhook(id, c.webhook.as_ref()), &entry)
            .await?
            == 0
        {
            return Err(CoreError::invalid("client_id", "no such client"));
        }
        Ok(s)
    }
}

/// An allowed origin is `http(s)://host[:port]` with nothing after it.
pub fn validate_origin(o: &str) -> Result<(), CoreError> {
    let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty() && !r.contains(['/', '?', '#', '@', ' ']) && r.bytes().all(|b| b.is_ascii_graphic())
    });
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "allowed_origin",
            format!("'{o}' is not an origin like https://example.com"),
        ))
    }
}

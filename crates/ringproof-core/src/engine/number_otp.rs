//! One-time passwords to a phone number, addressed by the number (the Signzy-style
//! `send-otp` / `verify-otp` pair): no verification id travels between the two calls.
//!
//! - **Send** is a one-step SMS verification on the ordinary state machine (same outbox,
//!   hashing, attempt limit and expiry policy), whose text and code length come from an
//!   OTP template ([`crate::templates`]): built-in ids `"4"`..`"8"`, or the client's own,
//!   stored under `otp:<id>`. A new send to a number **supersedes** the client's pending
//!   verifications to that number: they are canceled in the same transaction that inserts
//!   the new one ([`crate::ports::Store::insert_verification_superseding`]), so only the
//!   newest code works and two concurrent sends leave exactly one pending.
//! - **Verify** checks a code against the client's verification to that number that a
//!   check should go to (the pending one; else the newest), and tells apart a wrong code,
//!   an expired one, used-up attempts and nothing pending. A code whose length differs
//!   from the live OTP's is refused without counting an attempt.
//!
//! The pool is the client's verifications to the number, whichever face started them: a
//! native `/v1` verification to the same number is superseded by a send here too.

use crate::client::{Client, ClientRefusal, Product};
use crate::code::{Code, MAX_CODE_LENGTH, MIN_CODE_LENGTH};
use crate::engine::Engine;
use crate::error::CoreError;
use crate::ids::ClientId;
use crate::phone::PhoneNumber;
use crate::templates::{self, TemplateError};
use crate::verification::{Effects, Options, StartParams, Status, Verification};
use crate::workflow::{Channel, Workflow};

/// Why an OTP could not be sent or verified. No variant carries a number or a code.
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// No built-in template and no template of the client with this id.
    #[error("no OTP template with this id")]
    UnknownTemplate,
    /// The submitted OTP is not 4 to 10 digits.
    #[error("an OTP is {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} digits")]
    MalformedCode,
    /// A well-formed code whose length differs from the pending OTP's: it cannot be the
    /// code, so it is refused without counting an attempt.
    #[error("the OTP pending for this number has {expected} digits")]
    WrongLength { expected: u8 },
    /// A wrong code; attempts remain.
    #[error("wrong OTP; {remaining_attempts} attempt(s) left")]
    WrongCode { remaining_attempts: u32 },
    /// The OTP's validity has passed.
    #[error("the OTP has expired")]
    Expired,
    /// The last allowed wrong attempt was used (by this check or an earlier one).
    #[error("no attempts left for this OTP")]
    AttemptsExhausted,
    /// No OTP was sent to this number, or it was already verified, superseded or not delivered.
    #[error("no OTP pending for this number")]
    NonePending,
    /// The client may not send an OTP to this number (product off, blocklist, test mode).
    #[error(transparent)]
    Refused(#[from] ClientRefusal),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<crate::error::StoreError> for OtpError {
    fn from(e: crate::error::StoreError) -> Self {
        OtpError::Core(e.into())
    }
}

/// The template with id `id` for this client: a built-in one (`"4"`..`"8"`, which a client
/// cannot override), else the client's own.
pub fn template_for<'a>(client: &'a Client, id: &str) -> Option<&'a str> {
    templates::builtin(id).or_else(|| client.templates.get(&templates::client_key(id)).map(String::as_str))
}

impl Engine {
    /// Sends an OTP to `to` with the client's template `template_id`, superseding the
    /// client's pending verifications to that number. Returns the new verification.
    pub async fn send_otp(
        &self,
        client: &Client,
        to: PhoneNumber,
        template_id: &str,
    ) -> Result<Verification, OtpError> {
        client.may_serve(Product::NumberOtp, &to)?;
        let template = template_for(client, template_id).ok_or(OtpError::UnknownTemplate)?;
        // A stored template was checked when it was set; a bad one is treated as missing.
        let code_length = templates::code_length(template).map_err(|_| OtpError::UnknownTemplate)?;
        self.ensure_upstream(&to, Channel::Sms)?;
        self.admit_send(client, &to, None, Channel::Sms).await?;
        let sim_swap = self.check_sim_swap(client, &to).await?;
        let now = self.now();
        let policy = self.defaults().with(&client.policy);
        let (v, fx) = Verification::start(
            StartParams {
                client_id: client.id.clone(),
                to,
                workflow: Workflow::single(Channel::Sms, &policy),
                locale: "en".to_owned(),
                brand: client.brand.clone(),
                code_length,
                policy,
                sms_template: Some(template),
                options: Options {
                    notify: client.webhook.is_some(),
                    ..Options::default()
                },
                sim_swap,
                now,
            },
            &self.keys,
            self.codes.as_ref(),
        );
        let mut supersede = |old: &mut Verification| {
            let mut fx = Effects::default();
            // Only pending records are handed over; one found expired ends as expired.
            let _ = old.cancel_because(Some("superseded by a new OTP".to_owned()), now, &mut fx);
            fx
        };
        self.store()
            .insert_verification_superseding(&v, &fx, &mut supersede)
            .await?;
        self.wake();
        self.metrics.verification_started(v.workflow.first_channel());
        Ok(v)
    }

    /// Verifies an OTP sent to `to` by [`Engine::send_otp`] (or any verification of the
    /// client to that number).
    pub async fn verify_otp(&self, client: &Client, to: &PhoneNumber, otp: &str) -> Result<(), OtpError> {
        if Code::from_digits(otp).is_none() {
            return Err(OtpError::MalformedCode);
        }
        let latest = self
            .store()
            .latest_verification_to(&client.id, to)
            .await?
            .ok_or(OtpError::NonePending)?;
        // A code of another length than the live OTP's cannot be right (a digit dropped or
        // doubled): say so without spending one of the OTP's attempts. The length is no
        // secret: it is the template's, chosen by this client. Only for a live OTP, so an
        // expired, used-up or finished one still gets its own answer.
        if latest.status == Status::Pending
            && self.now() < latest.expires_at
            && otp.len() != usize::from(latest.code_length)
        {
            return Err(OtpError::WrongLength {
                expected: latest.code_length,
            });
        }
        let id = latest.id.clone();
        let outcome = match self.check_read(client, &id, Some(latest), otp).await {
            Ok((outcome, _)) => outcome,
            Err(CoreError::NotPending { status }) => return Err(status_error(status)),
            // Purged between the lookup and the check.
            Err(CoreError::NotFound) => return Err(OtpError::NonePending),
            Err(e) => return Err(e.into()),
        };
        match outcome.status {
            Status::Approved if outcome.valid => Ok(()),
            Status::Pending => Err(OtpError::WrongCode {
                remaining_attempts: outcome.remaining_attempts,
            }),
            s => Err(status_error(s)),
        }
    }

    /// Sets (or replaces) the client's OTP template `id`, e.g. `"41"` →
    /// `"Acme: Your OTP for login is ####"`. The ids of the built-in templates are refused.
    pub async fn set_otp_template(&self, client: &ClientId, id: &str, text: &str) -> Result<Client, CoreError> {
        templates::check_id(id).map_err(|e| CoreError::invalid("template_id", e.to_string()))?;
        if templates::builtin(id).is_some() {
            return Err(CoreError::invalid(
                "template_id",
                "ids 4 to 8 are the built-in templates; choose another id",
            ));
        }
        templates::code_length(text).map_err(|e: TemplateError| CoreError::invalid("template", e.to_string()))?;
        let before = self
            .store()
            .client_by_id(client)
            .await?
            .ok_or_else(|| CoreError::invalid("client_id", "no such client"))?;
        let mut c = before.clone();
        c.templates.insert(templates::client_key(id), text.to_owned());
        self.write_settings(&before, &c).await?;
        Ok(c)
    }
}

/// The error for a verification that no longer takes a code.
fn status_error(status: Status) -> OtpError {
    match status {
        Status::Expired => OtpError::Expired,
        Status::MaxAttemptsReached => OtpError::AttemptsExhausted,
        Status::Pending | Status::Approved | Status::Canceled | Status::Failed => OtpError::NonePending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_by_id() {
        let mut c = Client::create("Acme", vec![], crate::time::Timestamp(0)).client;
        c.templates
            .insert("otp:41".into(), "Acme: Your OTP for login is ####".into());
        c.templates.insert("otp:6".into(), "ignored ######".into());
        assert_eq!(template_for(&c, "6"), templates::builtin("6"));
        assert_eq!(template_for(&c, "41"), Some("Acme: Your OTP for login is ####"));
        assert_eq!(template_for(&c, "51"), None);
    }
}

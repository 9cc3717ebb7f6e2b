//! The verification use cases: start, read, check, cancel, resend.

use crate::client::{Client, SMS_TEMPLATE, template_key};
use crate::code::{CodeSource, MAX_CODE_LENGTH, MIN_CODE_LENGTH};
use crate::error::{CoreError, StoreError};
use crate::i18n::Locale;
use crate::ids::{ClientId, VerificationId};
use crate::phone::PhoneNumber;
use crate::ports::IdempotentResponse;
use crate::time::Timestamp;
use crate::verification::{CheckOutcome, Ctx, Effects, Event, Options, StartParams, Status, Verification};
use crate::workflow::{Channel, StepInput, Workflow};

use super::{Engine, IDEMPOTENCY_WINDOW_S};

/// A request to start a verification, already parsed at the edge.
#[derive(Clone, Debug, Default)]
pub struct StartRequest {
    pub to: Option<PhoneNumber>,
    pub channel: Option<Channel>,
    pub workflow: Option<Vec<StepInput>>,
    pub code_length: Option<u8>,
    /// A BCP 47 tag whose language the catalogue has ([`Locale::parse`]); `None` picks the
    /// number's country's language.
    pub locale: Option<String>,
    pub brand: Option<String>,
    /// The SMS sender id (set by faces that take one, e.g. iDenfy's `sender_name`).
    pub sender: Option<String>,
    /// The SMS text template for this verification, instead of the client's.
    pub sms_template: Option<String>,
    /// The end user's IP address, when the integrator passes it: sends are limited per IP
    /// too ([`crate::guard`]). Only its keyed hash is kept, in the counters.
    pub end_user_ip: Option<std::net::IpAddr>,
    /// Start with a silent step: network authentication through the operator before the
    /// first delivery step ([`crate::engine::silent`]).
    pub silent: bool,
    /// The service the start is made in ([`crate::service`]; set by
    /// [`Engine::start_in_service`], which applies the service's settings).
    pub service: Option<crate::ids::ServiceId>,
    /// The buckets of the service's rate limits the start names (set by
    /// [`Engine::start_in_service`]): checked and counted with the guard's limits.
    pub service_limits: Vec<crate::ratelimit::BucketCheck>,
    /// The first code, brought by the integrator instead of drawn (a service that allows
    /// custom codes); its length is the code length.
    pub code: Option<crate::code::Code>,
    /// Refuse the start while another verification to the number of this client is
    /// pending ([`CoreError::ConcurrentVerification`]; the Vonage face's rule).
    pub one_pending_per_number: bool,
    /// The default SMS warns not to share the code ([`Options::do_not_share`]).
    pub do_not_share: bool,
    /// Take the SMS and voice texts from the client's Vonage templates
    /// ([`crate::vonage_template`]): `Some(Some(id))` the named template's fragments (then
    /// the default template's), `Some(None)` the default template's; `None` (every other
    /// face) leaves them alone. A text of `sms_template` comes first.
    pub vonage_template: Option<Option<String>>,
    /// The names a vendor's face gives the verification, for that vendor's webhook format
    /// ([`Options::face`]).
    pub face: Option<crate::webhook_format::FaceIds>,
}

/// The locale of a new verification: the request's tag when the catalogue has its language
/// (kept as given, `pt-BR`: voices want the region), a 400 naming the languages when it has
/// not; without one, the language of the number's country ([`Locale::of_country`], as
/// Twilio Verify chooses), else English.
fn choose_locale(requested: Option<String>, to: &PhoneNumber) -> Result<String, CoreError> {
    let Some(tag) = requested else {
        return Ok(Locale::of_country(to.region().as_deref()).tag().to_owned());
    };
    Locale::check_tag(&tag, "pt-BR")?;
    Ok(tag)
}

/// Idempotency for a start: the key, a hash of the canonical request, and how the face
/// renders the created verification (the stored response is replayed verbatim).
pub struct Idempotency<'a> {
    pub key: String,
    pub request_hash: [u8; 32],
    pub render: &'a (dyn Fn(&Verification) -> (u16, String) + Sync),
}

#[derive(Clone, Debug)]
pub enum StartOutcome {
    Created(Box<Verification>),
    /// The same key and body were seen before: the first response, byte for byte.
    Replayed {
        status: u16,
        body: String,
    },
}

/// A code a check may evaluate: 4 to 10 digits (anything else is refused before any
/// verification is looked up or any guess counted).
pub(crate) fn check_code_shape(code: &str) -> Result<(), CoreError> {
    if !(MIN_CODE_LENGTH as usize..=MAX_CODE_LENGTH as usize).contains(&code.len())
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(CoreError::invalid(
            "code",
            format!("must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} digits"),
        ));
    }
    Ok(())
}

impl Engine {
    /// Sets (or, with `None`, removes) a client's verification SMS template: `{brand}` and
    /// `{code}` are filled in (the code is appended when there is no `{code}`). With a
    /// `language` it is that language's only (`sms:es`); without, it serves every language
    /// that has none of its own, in place of the catalogue's text.
    pub async fn set_sms_template(
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
        let key = template_key(SMS_TEMPLATE, language);
        match text {
            Some(t) => {
                super::link::check_sms_text("text", t)?;
                c.templates.insert(key, t.to_owned());
            }
            None => {
                c.templates.remove(&key);
            }
        }
        self.write_settings(&before, &c).await?;
        Ok(c)
    }

    // ----- verifications -----

    pub async fn start(
        &self,
        client: &Client,
        req: StartRequest,
        idem: Option<Idempotency<'_>>,
    ) -> Result<StartOutcome, CoreError> {
        let now = self.now();
        if let Some(i) = &idem
            && let Some(prev) = self.replay(client, i, now).await?
        {
            return Ok(prev);
        }
        let policy = self.defaults.with(&client.policy);
        let to = req.to.ok_or_else(|| CoreError::invalid("to", "is required"))?;
        // The client's blocklist and test-mode allowlist, as on every other face.
        client.may_send_to(&to)?;
        let code_length = match &req.code {
            Some(c) => u8::try_from(c.len()).unwrap_or(u8::MAX),
            None => req.code_length.unwrap_or(policy.code_length),
        };
        if !(MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&code_length) {
            return Err(CoreError::invalid(
                "code_length",
                format!("must be {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH}"),
            ));
        }
        let workflow = match (req.workflow, req.channel) {
            (Some(_), Some(_)) => {
                return Err(CoreError::invalid(
                    "channel",
                    "give either channel or workflow, not both",
                ));
            }
            // With a silent step first, the request's step numbers count it.
            (Some(steps), None) => Workflow::build(&steps, &policy).map_err(|e| match e {
                CoreError::InvalidWorkflow { step, message } if req.silent => CoreError::InvalidWorkflow {
                    step: step + 1,
                    message,
                },
                e => e,
            })?,
            (None, ch) => Workflow::single(ch.unwrap_or(Channel::Sms), &policy),
        };
        let locale = choose_locale(req.locale, &to)?;
        let brand = match req.brand {
            Some(b) if b.trim().is_empty() || b.chars().count() > 40 || b.chars().any(char::is_control) => {
                return Err(CoreError::invalid("brand", "must be 1 to 40 printable characters"));
            }
            Some(b) => b,
            None => client.brand.clone(),
        };
        if req.silent {
            self.check_silent_workflow(&workflow)?;
        }
        self.ensure_upstream(&to, workflow.first_channel())?;
        if req.one_pending_per_number
            && self
                .store
                .latest_verification_to(&client.id, &to)
                .await?
                .is_some_and(|v| v.status_at(now) == Status::Pending)
        {
            return Err(CoreError::ConcurrentVerification);
        }
        let mut sms_own = req.sms_template;
        let mut voice_own = None;
        if let Some(template_id) = &req.vonage_template {
            let valid_for_s = workflow.steps().iter().find_map(|s| s.valid_for_s).unwrap_or(0);
            let texts = self
                .vonage_template_texts(&client.id, template_id.as_deref(), &locale, valid_for_s)
                .await?;
            sms_own = sms_own.or(texts.sms);
            voice_own = texts.voice;
        }
        // The limits across verifications, last: only a start that is otherwise good is
        // counted (a send; later steps are counted when they run).
        let limits = self.limits_for(client);
        let key = idem.as_ref().map(|i| i.key.as_str());
        self.admit_send_with(
            &limits,
            client,
            &to,
            req.end_user_ip,
            key,
            workflow.first_channel(),
            &req.service_limits,
        )
        .await?;
        let sim_swap = self.check_sim_swap(client, &to).await?;
        let sms_template = client.sms_template(&locale);
        let (v, fx) = Verification::start(
            StartParams {
                client_id: client.id.clone(),
                to,
                workflow,
                locale,
                brand,
                code_length,
                policy,
                sms_template,
                options: Options {
                    sender: req.sender,
                    sms_template: sms_own,
                    voice_template: voice_own,
                    notify: client.webhook.is_some(),
                    webhook_format: client
                        .webhook
                        .as_ref()
                        .map(|w| {
                            w.format
                                .for_face(req.face.as_ref(), req.service.as_ref().map(|s| s.as_str()))
                        })
                        .unwrap_or_default(),
                    silent: req.silent.then(Default::default),
                    service: req.service.map(|s| s.as_str().to_owned()),
                    do_not_share: req.do_not_share,
                    custom_code: req.code.is_some(),
                    face: req.face,
                    ..Options::default()
                },
                sim_swap,
                now,
            },
            &self.keys,
            match &req.code {
                Some(c) => c as &dyn CodeSource,
                None => self.codes.as_ref(),
            },
        );
        let record = idem.as_ref().map(|i| {
            let (status, body) = (i.render)(&v);
            IdempotentResponse {
                client_id: client.id.clone(),
                key: i.key.clone(),
                request_hash: i.request_hash,
                status,
                body,
                created_at: now,
            }
        });
        match (self.store.insert_verification(&v, &fx, record.as_ref()).await, &idem) {
            (Ok(()), _) => {}
            (Err(StoreError::Conflict(_)), Some(i)) => {
                // Another request with the same key won the race: answer as it did.
                return self
                    .replay(client, i, now)
                    .await?
                    .ok_or(CoreError::IdempotencyKeyReused);
            }
            (Err(e), _) => return Err(e.into()),
        }
        self.wake();
        self.metrics.verification_started(v.workflow.first_channel());
        Ok(StartOutcome::Created(Box::new(v)))
    }

    /// A silent step delays the first delivery step by up to the silent window plus the
    /// round trip's deadline: the workflow must leave room for that (the step numbers in
    /// errors count the silent step as step 1).
    fn check_silent_workflow(&self, workflow: &Workflow) -> Result<(), CoreError> {
        let bad = |step: usize, message: String| CoreError::InvalidWorkflow { step, message };
        if self.netauth.name() == "none" {
            return Err(bad(
                1,
                "a silent step needs carrier authentication, and this server has none \
                 ([netauth] authenticator, docs/network-auth.md)"
                    .into(),
            ));
        }
        let hold =
            u64::try_from(crate::verification::SILENT_WINDOW_S).unwrap_or(60) + u64::from(self.netauth_deadline_s);
        for (i, step) in workflow.steps().iter().enumerate() {
            if i == 0 && step.valid_for_s.is_some_and(|v| u64::from(v) <= hold) {
                return Err(bad(
                    2,
                    format!(
                        "after a silent step the first code must be valid for more than {hold} s (its step may run that late)"
                    ),
                ));
            }
            if i > 0 && u64::from(step.after_s) < hold {
                return Err(bad(
                    i + 2,
                    format!("after a silent step, later steps start at least {hold} s after the start"),
                ));
            }
        }
        Ok(())
    }

    async fn replay(
        &self,
        client: &Client,
        i: &Idempotency<'_>,
        now: Timestamp,
    ) -> Result<Option<StartOutcome>, CoreError> {
        let since = now.plus_secs(-IDEMPOTENCY_WINDOW_S);
        match self.store.idempotent_response(&client.id, &i.key, since).await? {
            Some(prev) if prev.request_hash == i.request_hash => Ok(Some(StartOutcome::Replayed {
                status: prev.status,
                body: prev.body,
            })),
            Some(_) => Err(CoreError::IdempotencyKeyReused),
            None => Ok(None),
        }
    }

    /// The verification as of now (an expiry that is due shows as `expired`).
    pub async fn get(&self, client: &ClientId, id: &VerificationId) -> Result<Verification, CoreError> {
        let mut v = self
            .store
            .get_verification(client, id)
            .await?
            .ok_or(CoreError::NotFound)?;
        v.status = v.status_at(self.now());
        Ok(v)
    }

    /// The verification's history. An expiry that is due but not yet recorded (nobody
    /// touched the verification since) is recorded first, so the list ends with it.
    pub async fn events(&self, client: &ClientId, id: &VerificationId) -> Result<Vec<Event>, CoreError> {
        let v = self
            .store
            .get_verification(client, id)
            .await?
            .ok_or(CoreError::NotFound)?;
        let now = self.now();
        if v.status_at(now) != v.status {
            self.transition(client, id, |v, fx| {
                v.refresh(now, fx);
                Ok(())
            })
            .await?;
        }
        Ok(self.store.list_events(client, id).await?)
    }

    /// Applies a fallible transition atomically and returns its value with the record.
    pub(crate) async fn transition<T: Send>(
        &self,
        client: &ClientId,
        id: &VerificationId,
        mut f: impl FnMut(&mut Verification, &mut Effects) -> Result<T, CoreError> + Send,
    ) -> Result<(T, Verification), CoreError> {
        let mut out: Option<Result<T, CoreError>> = None;
        let mut m = |v: &mut Verification| {
            let mut fx = Effects::default();
            out = Some(f(v, &mut fx));
            fx
        };
        let v = self
            .store
            .update_verification(client, id, None, &mut m)
            .await?
            .ok_or(CoreError::NotFound)?;
        let value = out.ok_or_else(|| CoreError::Internal("transition did not run".into()))??;
        Ok((value, v))
    }

    /// Checks a code; returns the outcome and the verification after the check. Every
    /// check is counted ([`crate::ports::Metrics`]), and an approval too.
    pub async fn check(
        &self,
        client: &Client,
        id: &VerificationId,
        code: &str,
    ) -> Result<(CheckOutcome, Verification), CoreError> {
        self.check_read(client, id, None, code).await
    }

    /// [`Self::check`], given the record if the caller already read it (to find it by
    /// number), so it is not read twice.
    pub(crate) async fn check_read(
        &self,
        client: &Client,
        id: &VerificationId,
        read: Option<Verification>,
        code: &str,
    ) -> Result<(CheckOutcome, Verification), CoreError> {
        let result = self.check_code(client, id, read, code).await;
        self.metrics.code_checked(match &result {
            Ok((o, _)) if o.valid => "approved",
            Ok((o, _)) if o.status == Status::MaxAttemptsReached => "max_attempts_reached",
            Ok(_) => "wrong",
            Err(e) => e.code(),
        });
        if let Ok((o, v)) = &result
            && o.valid
        {
            self.metrics.verification_approved(v.workflow.first_channel());
        }
        result
    }

    /// A check is a guess at the number's code: it is admitted by the number's guess
    /// budget ([`crate::guard`]) before the code is evaluated, and taken back unless it was
    /// a wrong code, so only wrong codes use the budget. Checks that cannot evaluate a
    /// code (a verification that is not pending) are answered without touching it.
    async fn check_code(
        &self,
        client: &Client,
        id: &VerificationId,
        read: Option<Verification>,
        code: &str,
    ) -> Result<(CheckOutcome, Verification), CoreError> {
        check_code_shape(code)?;
        let now = self.now();
        let keys = &self.keys;
        let before = match read {
            Some(v) => v,
            None => self
                .store
                .get_verification(&client.id, id)
                .await?
                .ok_or(CoreError::NotFound)?,
        };
        if before.status_at(now) != Status::Pending {
            return self
                .transition(&client.id, id, |v, fx| v.check(code, keys, now, fx))
                .await;
        }
        // The guess budget, the evaluation and what the budget keeps of it, in one store
        // step (two round trips to SQLite's single writer, where admit, evaluate and take
        // back were six: BENCHMARKS.md, "Issue 14: one store step per check").
        self.guarded_check(client, id, &before.to, before.options.custom_code, |v, fx| {
            v.check(code, keys, now, fx)
        })
        .await
    }

    pub async fn cancel(&self, client: &ClientId, id: &VerificationId) -> Result<Verification, CoreError> {
        let now = self.now();
        Ok(self.transition(client, id, |v, fx| v.cancel(now, fx)).await?.1)
    }

    /// Records in the verification's events that a limit refused a send to it (best
    /// effort: the refusal itself is what the caller gets).
    async fn record_refused_send(
        &self,
        client: &ClientId,
        id: &VerificationId,
        channel: Channel,
        r: crate::guard::Refusal,
    ) {
        let now = self.now();
        let why = format!("refused by the {} limit", r.rule.as_str());
        let _ = self
            .transition(client, id, |v, fx| {
                v.record_refused_send(channel, &why, now, fx);
                Ok(())
            })
            .await;
    }

    pub async fn resend(
        &self,
        client: &Client,
        id: &VerificationId,
        channel: Option<Channel>,
    ) -> Result<Verification, CoreError> {
        let current = self
            .store
            .get_verification(&client.id, id)
            .await?
            .ok_or(CoreError::NotFound)?;
        // A resend the verification refuses (cooling down, all sends used, not pending)
        // is refused before the limits count it (checked again in the transition).
        current.may_resend(self.now())?;
        let resend_channel = channel.unwrap_or_else(|| current.workflow.first_channel());
        let admitted = match self.admit_send(client, &current.to, None, resend_channel).await {
            Ok(a) => a,
            Err(CoreError::Limited(r)) => {
                // Refused by a limit: recorded in the verification's history too.
                self.record_refused_send(&client.id, id, resend_channel, r).await;
                return Err(CoreError::Limited(r));
            }
            Err(e) => return Err(e),
        };
        let now = self.now();
        let template = client.sms_template(&current.locale);
        let (keys, codes) = (&self.keys, self.codes.as_ref());
        let result = self
            .transition(&client.id, id, |v, fx| {
                let ctx = Ctx {
                    keys,
                    codes,
                    sms_template: template,
                    now,
                };
                v.resend(channel, &ctx, fx)
            })
            .await;
        let (_, v) = match result {
            Ok(done) => done,
            Err(e) => {
                // Refused by the verification (cooling down, all sends used…): not a send.
                self.take_back(admitted).await;
                return Err(e);
            }
        };
        self.wake();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn number(e164: &str) -> PhoneNumber {
        PhoneNumber::parse_e164(e164).unwrap()
    }

    #[test]
    fn the_locale_is_the_requests_else_the_countrys_else_english() {
        let us = number("+14155550123");
        // Given: kept as given when its language is in the catalogue.
        for tag in ["es", "pt-BR", "zh_Hant_TW", "EN", "ja"] {
            assert_eq!(choose_locale(Some(tag.into()), &us).unwrap(), tag);
        }
        // Not given: the language of the number's country, as its tag.
        for (to, want) in [
            ("+34612345678", "es"),
            ("+525512345678", "es"),
            ("+18092345678", "es"),
            ("+33612345678", "fr"),
            ("+4915112345678", "de"),
            ("+5511912345678", "pt"),
            ("+393123456789", "it"),
            ("+966501234567", "ar"),
            ("+8613812345678", "zh"),
            ("+819012345678", "ja"),
            ("+79161234567", "ru"),
            ("+6281234567890", "id"),
            ("+919812345678", "en"),
            ("+447911123456", "en"),
            ("+14155550123", "en"),
        ] {
            assert_eq!(choose_locale(None, &number(to)).unwrap(), want, "{to}");
        }
        // A language the catalogue lacks, or no tag at all: a 400 on `locale`.
        for bad in [
            "nl",
            "nl-NL",
            "xx",
            "",
            "en US",
            "en; DROP",
            "english",
            "en-abcdefghijklmnop",
        ] {
            match choose_locale(Some(bad.into()), &us) {
                Err(CoreError::InvalidParameter { field, message }) => {
                    assert_eq!(field, "locale", "{bad}");
                    assert!(
                        message.contains("en, es, fr, de, pt, it, hi, ar, zh, ja, ru, id"),
                        "{message}"
                    );
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}

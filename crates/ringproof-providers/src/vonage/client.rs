//! The Vonage client: SMS API (`POST /sms/json`, form-encoded, key and secret in the
//! body), Voice API (`POST /v1/calls` with a JWT and an NCCO), and the account balance as
//! the healthcheck.

use std::sync::Arc;

use async_trait::async_trait;
use ringproof_core::i18n::Locale;
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::time::Clock;
use ringproof_core::workflow::Channel;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::config::{Settings, VonageConfig};
use crate::classify;
use crate::error::BuildError;
use crate::gsm7::is_gsm7;

/// Vonage keeps at most this many characters of `client-ref`.
const CLIENT_REF_MAX: usize = 100;

pub struct VonageSender {
    name: String,
    http: reqwest::Client,
    s: Settings,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for VonageSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VonageSender")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl VonageSender {
    /// Checks `cfg` (errors name provider `name` and the key) and builds the client.
    pub fn new(name: &str, cfg: &VonageConfig, clock: Arc<dyn Clock>) -> Result<Self, BuildError> {
        let s = cfg.settings(name)?;
        Ok(VonageSender {
            name: name.to_owned(),
            http: classify::http_client(name, s.timeout)?,
            s,
            clock,
        })
    }

    async fn send_sms(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let to = msg.to.e164().trim_start_matches('+');
        let from = msg.sender.as_deref().unwrap_or(&self.s.from);
        let client_ref: String = msg.idempotency_key.chars().take(CLIENT_REF_MAX).collect();
        // Built in a block: the serializer is not `Send`, so it must not live across an await.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("api_key", &self.s.api_key)
                .append_pair("api_secret", self.s.api_secret.expose_secret())
                .append_pair("from", from)
                .append_pair("to", to)
                .append_pair("text", &msg.text)
                .append_pair("client-ref", &client_ref);
            if !is_gsm7(&msg.text) {
                form.append_pair("type", "unicode");
            }
            if let Some(cb) = &self.s.callback {
                form.append_pair("callback", cb.expose_secret());
            }
            form.finish()
        };
        let request = self
            .http
            .post(self.s.sms_url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let (status, bytes) = classify::exchange(&self.name, request).await?;
        if !(200..300).contains(&status) {
            // Not the body: Vonage's error texts may name the parameters we sent.
            return Err(classify::http_status(&self.name, status, ""));
        }
        let answer: SmsAnswer = serde_json::from_slice(&bytes).map_err(|_| {
            // It may or may not have been sent; retrying risks a duplicate, not a loss.
            SendError::Retryable(format!("{}: the answer could not be read", self.name))
        })?;
        // A long text is several parts, each with its own status and id.
        let mut first_id = None;
        for m in &answer.messages {
            if m.status != "0" {
                return Err(sms_status_error(&self.name, &m.status));
            }
            if first_id.is_none() {
                first_id = m.message_id.clone();
            }
        }
        if answer.messages.is_empty() {
            return Err(SendError::Retryable(format!(
                "{}: the answer lists no message",
                self.name
            )));
        }
        Ok(SendReceipt {
            provider: self.name.clone(),
            provider_message_id: first_id,
        })
    }

    async fn call(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let Some(voice) = &self.s.voice else {
            return Err(SendError::Permanent(format!(
                "{}: voice is not configured (`application_id`, `private_key`, `voice_from`)",
                self.name
            )));
        };
        let jwt = voice
            .jwt
            .token(self.clock.now())
            .map_err(|e| SendError::Retryable(format!("{}: {e}", self.name)))?;
        let mut talk = serde_json::json!({"action": "talk", "text": msg.text});
        if let Some(lang) = tts_language(&msg.locale) {
            talk["language"] = lang.into();
        }
        let mut body = serde_json::json!({
            "to": [{"type": "phone", "number": msg.to.e164().trim_start_matches('+')}],
            "from": {"type": "phone", "number": voice.from},
            "ncco": [talk],
        });
        if let Some(cb) = &self.s.callback {
            body["event_url"] = serde_json::json!([cb.expose_secret()]);
            body["event_method"] = "POST".into();
        }
        let request = self.http.post(voice.calls_url.clone()).bearer_auth(jwt).json(&body);
        let (status, bytes) = classify::exchange(&self.name, request).await?;
        if !(200..300).contains(&status) {
            // The problem's `title` is generic ("Bad Request", "Invalid Token");
            // `detail` and `invalid_parameters` may quote what we sent, so they are left out.
            let title = serde_json::from_slice::<Problem>(&bytes)
                .ok()
                .and_then(|p| p.title)
                .map(|t| classify::snippet(&t, 60))
                .unwrap_or_default();
            return Err(classify::http_status(&self.name, status, &title));
        }
        let uuid = serde_json::from_slice::<CallAnswer>(&bytes).ok().and_then(|a| a.uuid);
        Ok(SendReceipt {
            provider: self.name.clone(),
            provider_message_id: uuid,
        })
    }
}

#[async_trait]
impl Sender for VonageSender {
    fn name(&self) -> &str {
        &self.name
    }

    #[tracing::instrument(skip_all, fields(provider = %self.name, channel = msg.channel.as_str()))]
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        match msg.channel {
            Channel::Sms => self.send_sms(msg).await,
            Channel::Voice => self.call(msg).await,
        }
    }

    /// The account balance: proves the host answers and the key and secret work.
    async fn healthcheck(&self) -> Result<(), SendError> {
        // Basic auth, as the Account API documents it: no secret in a URL.
        let request = self
            .http
            .get(self.s.balance_url.clone())
            .basic_auth(&self.s.api_key, Some(self.s.api_secret.expose_secret()));
        classify::healthcheck(&self.name, request, "account/get-balance").await
    }
}

#[derive(Deserialize)]
struct SmsAnswer {
    #[serde(default)]
    messages: Vec<SmsPart>,
}

#[derive(Deserialize)]
struct SmsPart {
    status: String,
    #[serde(rename = "message-id", default)]
    message_id: Option<String>,
}

#[derive(Deserialize)]
struct Problem {
    title: Option<String>,
}

#[derive(Deserialize)]
struct CallAnswer {
    uuid: Option<String>,
}

/// The SMS API's non-zero `status` codes ("HTTP 200 with an error in the body"). The
/// description is ours, never Vonage's `error-text`, which may quote the request.
///
/// Retryable: throttling, Vonage's own faults, an empty balance, and every refusal of
/// *our account* (credentials, barred account, sender or destination not enabled for it):
/// another provider of the route can carry the message, and the circuit breaker takes
/// Vonage out meanwhile (like HTTP 401/403 in [`classify`]). Permanent: the message or
/// the number is refused.
fn sms_status_error(provider: &str, status: &str) -> SendError {
    let (retryable, what) = match status {
        "1" => (true, "throttled"),
        "2" => (false, "missing parameters"),
        "3" => (false, "invalid parameters"),
        "4" => (true, "invalid credentials"),
        "5" => (true, "internal error"),
        "6" => (false, "invalid message (e.g. unroutable number)"),
        "7" => (false, "number barred"),
        "8" => (true, "partner account barred"),
        "9" => (true, "partner quota violation (out of credit)"),
        "10" => (true, "too many existing binds"),
        "11" => (true, "account not enabled for HTTP"),
        "12" => (false, "message too long"),
        "14" => (true, "invalid signature"),
        "15" => (true, "invalid sender address"),
        "22" => (false, "invalid network code"),
        "23" => (false, "invalid callback URL"),
        "29" => (true, "non-whitelisted destination (a trial account)"),
        "32" => (true, "signature and API secret disallowed"),
        "33" => (false, "number de-activated"),
        _ => (false, "unknown error"),
    };
    // The status is Vonage's code; keep it short and printable.
    let code = classify::snippet(status, 8);
    let msg = format!("{provider}: status {code} ({what})");
    if retryable {
        SendError::Retryable(msg)
    } else {
        SendError::Permanent(msg)
    }
}

/// The Voice API's text-to-speech language for a locale. The catalogue's languages other
/// than English map to a code of Vonage's list
/// (<https://developer.vonage.com/en/voice/voice-api/guides/text-to-speech>, the same as
/// the `TTSLanguages` of its Node SDK): Mandarin is `cmn-CN` (`cmn-TW` for Taiwan), Arabic
/// is `ar` whatever the region, and a region picks a regional voice where Vonage has one
/// (`es-MX`, `fr-CA`, `de-AT`, `pt-PT`). English and tags outside the catalogue: the tag
/// when it has a region (`en-GB`), a bare language its most common region; `None`
/// (Vonage's default, en-US) when unknown.
fn tts_language(locale: &str) -> Option<String> {
    let region = ringproof_core::i18n::country::region(locale);
    let r = region.as_deref();
    let code = match Locale::parse(locale) {
        Some(Locale::Es) => match r {
            None | Some("ES") => "es-ES",
            Some("US") => "es-US",
            Some(_) => "es-MX",
        },
        Some(Locale::Fr) if r == Some("CA") => "fr-CA",
        Some(Locale::Fr) => "fr-FR",
        Some(Locale::De) if r == Some("AT") => "de-AT",
        Some(Locale::De) => "de-DE",
        Some(Locale::Pt) if r == Some("PT") => "pt-PT",
        Some(Locale::Pt) => "pt-BR",
        Some(Locale::It) => "it-IT",
        Some(Locale::Hi) => "hi-IN",
        Some(Locale::Ar) => "ar",
        Some(Locale::Zh) if r == Some("TW") => "cmn-TW",
        Some(Locale::Zh) => "cmn-CN",
        Some(Locale::Ja) => "ja-JP",
        Some(Locale::Ru) => "ru-RU",
        Some(Locale::Id) => "id-ID",
        Some(Locale::En) | None => return other_tts_language(locale),
    };
    Some(code.to_owned())
}

/// [`tts_language`] for English and tags outside the catalogue.
fn other_tts_language(locale: &str) -> Option<String> {
    let l = locale.trim().replace('_', "-");
    if let Some((lang, region)) = l.split_once('-') {
        if lang.len() == 2 && region.len() == 2 {
            return Some(format!("{}-{}", lang.to_ascii_lowercase(), region.to_ascii_uppercase()));
        }
        return None;
    }
    let region = match l.to_ascii_lowercase().as_str() {
        "en" => "en-US",
        "nl" => "nl-NL",
        "pl" => "pl-PL",
        "tr" => "tr-TR",
        "sv" => "sv-SE",
        "da" => "da-DK",
        "nb" | "no" => "nb-NO",
        "fi" => "fi-FI",
        "ko" => "ko-KR",
        "vi" => "vi-VN",
        "th" => "th-TH",
        "uk" => "uk-UA",
        "cs" => "cs-CZ",
        "ro" => "ro-RO",
        "hu" => "hu-HU",
        "el" => "el-GR",
        "he" => "he-IL",
        _ => return None,
    };
    Some(region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_outside_gsm7_goes_as_unicode() {
        assert!(is_gsm7("Code: 1234 {€} [ok] ~ é à Ñ"));
        assert!(!is_gsm7("Código 1234")); // ó is not GSM
        assert!(!is_gsm7("✓"));
    }

    #[test]
    fn locales_map_to_tts_languages() {
        assert_eq!(tts_language("en").as_deref(), Some("en-US"));
        assert_eq!(tts_language("de_at").as_deref(), Some("de-AT"));
        assert_eq!(tts_language("xx"), None);
        assert_eq!(tts_language("en-GB").as_deref(), Some("en-GB"));
        for (locale, code) in [
            ("es", "es-ES"),
            ("es-AR", "es-MX"),
            ("fr", "fr-FR"),
            ("fr_ca", "fr-CA"),
            ("de", "de-DE"),
            ("pt", "pt-BR"),
            ("pt-PT", "pt-PT"),
            ("it", "it-IT"),
            ("hi", "hi-IN"),
            ("ar", "ar"),
            ("ar-EG", "ar"),
            ("zh", "cmn-CN"),
            ("zh-CN", "cmn-CN"),
            ("zh-TW", "cmn-TW"),
            ("ja", "ja-JP"),
            ("ru", "ru-RU"),
            ("id", "id-ID"),
        ] {
            assert_eq!(tts_language(locale).as_deref(), Some(code), "{locale}");
        }
    }
}

//! The Twilio client: one form POST per message (Messages.json) or call (Calls.json), and
//! how Twilio's answers classify.

use std::fmt::Write as _;

use async_trait::async_trait;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use ringproof_core::i18n::Locale;
use ringproof_core::message::split_repetition;
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::workflow::Channel;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::config::{Credentials, SenderKind, Settings, SmsSender, TwilioConfig, sender_kind};
use crate::classify;
use crate::error::BuildError;

/// The request header carrying [`OutboundMessage::idempotency_key`] (see the module doc
/// for what Twilio does, and does not, promise about it).
pub const IDEMPOTENCY_HEADER: &str = "I-Twilio-Idempotency-Token";

/// Twilio's limit on the `Twiml` parameter of a call.
const TWIML_MAX_CHARS: usize = 4000;

/// Twilio error codes that mean "not now" or "not through this account" rather than
/// "never": throttling and queueing limits, Twilio's own internal errors, and refusals of
/// our account or sender (another provider of the route can carry the message; the circuit
/// breaker takes Twilio out meanwhile). Every other code is permanent.
const RETRYABLE_CODES: &[i64] = &[
    20003, // authentication failed
    20404, // resource not found (a Messaging Service or number of ours)
    21212, // invalid 'From' number
    21408, // permission to send to this region is not enabled on the account
    21606, // the 'From' number cannot send this way
    21612, // no route between this 'From' and 'To' (the account's numbers)
    14107, // SMS send rate limit exceeded (between two numbers)
    20429, // too many concurrent requests (HTTP 429; never processed, safe to retry)
    20500, // internal server error
    20503, // service unavailable
    21611, // the `From` number's queue is full
    30001, // queue overflow
    63017, // account rate limit exceeded
];

/// A short reason per well-known code, so an error never quotes Twilio's message (which
/// repeats the phone number: "The 'To' number +1… is not a valid phone number.").
fn known_code(code: i64) -> Option<&'static str> {
    Some(match code {
        14107 => "SMS send rate limit exceeded",
        20003 => "authentication failed: check account_sid and the credentials",
        20404 => "resource not found: check account_sid",
        20429 => "too many concurrent requests",
        21211 => "invalid 'To' phone number",
        21212 => "invalid 'From' number",
        21408 => "permission to send to this region is not enabled (Geo Permissions)",
        21606 => "the 'From' number cannot send SMS for this account",
        21608 => "a trial account can only send to verified numbers",
        21610 => "the recipient has unsubscribed from this sender (replied STOP)",
        21611 => "the 'From' number's message queue is full",
        21612 => "this 'To' and 'From' combination cannot be routed",
        21614 => "the 'To' number is not a mobile number",
        21217 => "the 'To' number does not appear to be valid",
        30001 => "message queue overflow",
        63017 => "account rate limit exceeded",
        _ => return None,
    })
}

/// Twilio as a [`Sender`]: SMS through the Messages API, voice through the Calls API with
/// inline TwiML. Build it with [`TwilioSender::new`].
pub struct TwilioSender {
    name: String,
    s: Settings,
    http: reqwest::Client,
}

impl std::fmt::Debug for TwilioSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSender")
            .field("name", &self.name)
            .field("account_sid", &self.s.account_sid)
            .finish_non_exhaustive()
    }
}

impl TwilioSender {
    /// Validates `config` (errors name provider `name` and the key) and builds the client.
    pub fn new(name: &str, config: &TwilioConfig) -> Result<Self, BuildError> {
        let s = config.settings(name)?;
        let http = classify::http_client(name, s.timeout)?;
        Ok(Self {
            name: name.to_owned(),
            s,
            http,
        })
    }

    /// `<base>/2010-04-01/Accounts/<sid><tail>`.
    fn url(&self, tail: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}{}", self.s.base_url, self.s.account_sid, tail)
    }

    fn authed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.s.credentials {
            Credentials::Account { password } => rb.basic_auth(&self.s.account_sid, Some(password.expose_secret())),
            Credentials::ApiKey { sid, secret } => rb.basic_auth(sid, Some(secret.expose_secret())),
        }
    }

    /// The form of a Messages.json POST.
    fn sms_form(&self, msg: &OutboundMessage) -> Vec<(&'static str, String)> {
        let mut form = vec![("To", msg.to.e164().to_owned())];
        match &self.s.sms_sender {
            SmsSender::MessagingService(mg) => form.push(("MessagingServiceSid", mg.clone())),
            SmsSender::From(from) => form.push(("From", self.sms_from(msg, from))),
        }
        form.push(("Body", msg.text.clone()));
        if let Some(cb) = &self.s.status_callback_url {
            form.push(("StatusCallback", cb.clone()));
        }
        form
    }

    /// The message's own alphanumeric sender ID when it has one Twilio can use, else the
    /// configured `from`. North American destinations (+1) do not accept alphanumeric
    /// senders, so they always get `from`.
    fn sms_from(&self, msg: &OutboundMessage, configured: &str) -> String {
        match msg.sender.as_deref() {
            Some(sender) if sender_kind(sender) == Some(SenderKind::Alphanumeric) && msg.to.country_code() != 1 => {
                sender.to_owned()
            }
            _ => configured.to_owned(),
        }
    }

    /// The form of a Calls.json POST, or why the call cannot be placed.
    fn call_form(&self, msg: &OutboundMessage) -> Result<Vec<(&'static str, String)>, SendError> {
        let Some(from) = &self.s.voice_from else {
            return Err(SendError::Permanent(format!(
                "{}: voice is not configured (set `voice_from`, a Twilio number in E.164)",
                self.name
            )));
        };
        let twiml = twiml_say(&msg.text, &msg.locale);
        if twiml.chars().count() > TWIML_MAX_CHARS {
            return Err(SendError::Permanent(format!(
                "{}: the call's TwiML is over Twilio's {TWIML_MAX_CHARS}-character limit",
                self.name
            )));
        }
        let mut form = vec![
            ("To", msg.to.e164().to_owned()),
            ("From", from.clone()),
            ("Twiml", twiml),
        ];
        if let Some(cb) = &self.s.status_callback_url {
            form.push(("StatusCallback", cb.clone()));
            // The final status only (completed, busy, no-answer, failed, canceled).
            form.push(("StatusCallbackEvent", "completed".into()));
        }
        Ok(form)
    }

    /// POSTs `form` to `<account>/<resource>.json` and classifies the answer.
    async fn create(
        &self,
        resource: &str,
        form: &[(&'static str, String)],
        idempotency_key: &str,
    ) -> Result<SendReceipt, SendError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let mut rb = self
            .authed(self.http.post(self.url(&format!("/{resource}.json"))))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(body);
        match HeaderValue::from_str(idempotency_key) {
            Ok(v) => rb = rb.header(IDEMPOTENCY_HEADER, v),
            Err(_) => tracing::debug!(provider = %self.name, "idempotency key is not a valid header value; not sent"),
        }
        let response = rb.send().await.map_err(|e| classify::transport(&self.name, &e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| classify::transport(&self.name, &e))?;
        classify_answer(&self.name, status, &text).map(|sid| SendReceipt {
            provider: self.name.clone(),
            provider_message_id: Some(sid),
        })
    }
}

#[async_trait]
impl Sender for TwilioSender {
    fn name(&self) -> &str {
        &self.name
    }

    #[tracing::instrument(skip_all, fields(provider = %self.name, channel = msg.channel.as_str()))]
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        match msg.channel {
            Channel::Sms => self.create("Messages", &self.sms_form(msg), &msg.idempotency_key).await,
            Channel::Voice => {
                let form = self.call_form(msg)?;
                self.create("Calls", &form, &msg.idempotency_key).await
            }
        }
    }

    /// `GET` the Account resource with the configured credentials. A Standard API key may
    /// not read `/Accounts/{sid}` (Twilio keeps that to Main keys), so with an API key the
    /// account's own phone numbers are listed instead (one page of one: no message data,
    /// nothing about the people we text).
    async fn healthcheck(&self) -> Result<(), SendError> {
        let url = match self.s.credentials {
            Credentials::Account { .. } => self.url(".json"),
            Credentials::ApiKey { .. } => self.url("/IncomingPhoneNumbers.json?PageSize=1"),
        };
        let response = self
            .authed(self.http.get(url))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| classify::transport(&self.name, &e))?;
        match response.status().as_u16() {
            200 => Ok(()),
            401 => Err(SendError::Permanent(format!(
                "{}: bad credentials (HTTP 401)",
                self.name
            ))),
            403 => Err(SendError::Permanent(format!(
                "{}: the credentials may not read this account (HTTP 403)",
                self.name
            ))),
            s => Err(SendError::Retryable(format!("{}: HTTP {s}", self.name))),
        }
    }
}

/// A created Message or Call, as far as we read it.
#[derive(Debug, Default, Deserialize)]
struct Created {
    sid: Option<String>,
    status: Option<String>,
    error_code: Option<serde_json::Value>,
}

/// Twilio's error body: `{code, message, more_info, status}`.
#[derive(Debug, Default, Deserialize)]
struct ApiError {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// An error code given as a number or a numeric string.
fn code_of(v: Option<&serde_json::Value>) -> Option<i64> {
    match v? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The sid of what was created, or how the failure classifies:
///
/// - 2xx with a `sid` and a status other than `failed`/`canceled`: success;
/// - 2xx without a `sid`, or `failed`/`canceled` ("HTTP 200 with an error in the body"):
///   permanent unless its `error_code` is a retryable one;
/// - otherwise [`classify::http_status`] (408/425/429/5xx retryable, other 4xx
///   permanent), with a retryable Twilio code (throttling) overriding a 4xx.
pub(crate) fn classify_answer(provider: &str, status: u16, body: &str) -> Result<String, SendError> {
    if (200..300).contains(&status) {
        let created: Created = serde_json::from_str(body).unwrap_or_default();
        let failed = matches!(created.status.as_deref(), Some("failed" | "canceled"));
        return match created.sid {
            Some(sid) if !sid.is_empty() && !failed => Ok(sid),
            _ => {
                let code = code_of(created.error_code.as_ref());
                let what = if failed {
                    format!("created with status `{}`", created.status.unwrap_or_default())
                } else {
                    "no sid in the answer".to_owned()
                };
                let reason = match code {
                    Some(c) => format!("{what}: {}", describe(Some(c), None)),
                    None => what,
                };
                Err(by_code(classify::http_status(provider, status, &reason), code))
            }
        };
    }
    let err: ApiError = serde_json::from_str(body).unwrap_or_default();
    let code = code_of(err.code.as_ref());
    let reason = if code.is_some() || err.message.is_some() {
        describe(code, err.message.as_deref())
    } else {
        classify::snippet(&redact_numbers(body), 120)
    };
    Err(by_code(classify::http_status(provider, status, &reason), code))
}

/// A retryable Twilio code makes the error retryable whatever the HTTP status said.
fn by_code(e: SendError, code: Option<i64>) -> SendError {
    match (e, code) {
        (SendError::Permanent(m), Some(c)) if RETRYABLE_CODES.contains(&c) => SendError::Retryable(m),
        (e, _) => e,
    }
}

/// `Twilio error 21211: invalid 'To' phone number`; for a code we don't know, Twilio's
/// message with every phone-number-like run of digits masked (before it is shortened, so
/// no half number survives the cut).
fn describe(code: Option<i64>, message: Option<&str>) -> String {
    let text = match code.and_then(known_code) {
        Some(known) => known.to_owned(),
        None => message
            .map(|m| classify::snippet(&redact_numbers(m), 160))
            .unwrap_or_default(),
    };
    match (code, text.is_empty()) {
        (Some(c), true) => format!("Twilio error {c}"),
        (Some(c), false) => format!("Twilio error {c}: {text}"),
        (None, _) => text,
    }
}

/// Masks every run of five or more digits (with the `+`, spaces, dots, dashes and
/// parentheses phone numbers are written with) as `[number]`.
pub(crate) fn redact_numbers(text: &str) -> String {
    let is_part = |c: char| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')');
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || chars[i] == '+' || chars[i] == '(' {
            let mut j = i;
            while j < chars.len() && is_part(chars[j]) {
                j += 1;
            }
            // Give back trailing separators (they belong to the sentence).
            while j > i && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            let digits = chars[i..j].iter().filter(|c| c.is_ascii_digit()).count();
            // Four digits already: a code of the shortest length must not slip through.
            if digits >= 4 {
                out.push_str("[number]");
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Twilio's `<Say language>` for English and for a locale outside the catalogue: `en` →
/// `en-US`, a bare language with one usual region gets it (`nl` → `nl-NL`), a tag with a
/// region passes through normalised (`en_gb` → `en-GB`); anything else is `en-US`.
pub(crate) fn say_language(locale: &str) -> String {
    let tag = locale.trim().replace('_', "-");
    let mut parts = tag.split('-');
    let lang = parts.next().unwrap_or_default().to_ascii_lowercase();
    let region = parts.next().map(str::to_ascii_uppercase);
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    if !lang_ok {
        return "en-US".into();
    }
    match region {
        Some(r) if r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()) => format!("{lang}-{r}"),
        Some(_) => "en-US".into(),
        None => match lang.as_str() {
            "en" => "en-US".into(),
            "nl" => "nl-NL".into(),
            "ko" => "ko-KR".into(),
            "pl" => "pl-PL".into(),
            "sv" => "sv-SE".into(),
            "da" => "da-DK".into(),
            "nb" | "no" => "nb-NO".into(),
            "tr" => "tr-TR".into(),
            _ => "en-US".into(),
        },
    }
}

/// The `<Say>` attributes for a locale: the catalogue's languages other than English are
/// spoken by a named voice of that language, since Twilio's default voice (`man`) speaks
/// only English, Spanish, French and German (<https://www.twilio.com/docs/voice/twiml/say>);
/// the voices are from Twilio's list (<https://www.twilio.com/docs/voice/twiml/say/text-speech>),
/// Amazon Polly's standard ones where Twilio has one for the language, else Google's. A
/// region picks a regional voice where there is one (`es-MX`, `fr-CA`, `pt-PT`, `zh-TW`).
/// English, and a tag outside the catalogue, keep the account's default voice.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SayVoice {
    pub language: String,
    pub voice: Option<&'static str>,
}

pub(crate) fn say_voice(locale: &str) -> SayVoice {
    let region = ringproof_core::i18n::country::region(locale);
    let r = region.as_deref();
    let named = |language: &str, voice: &'static str| SayVoice {
        language: language.to_owned(),
        voice: Some(voice),
    };
    match Locale::parse(locale) {
        Some(Locale::Es) => match r {
            None | Some("ES") => named("es-ES", "Polly.Lucia"),
            Some("US") => named("es-US", "Polly.Lupe"),
            // Latin America (es-MX, es-419, es-AR…): Mexican Spanish.
            Some(_) => named("es-MX", "Polly.Mia"),
        },
        Some(Locale::Fr) if r == Some("CA") => named("fr-CA", "Polly.Chantal"),
        Some(Locale::Fr) => named("fr-FR", "Polly.Celine"),
        Some(Locale::De) => named("de-DE", "Polly.Marlene"),
        Some(Locale::Pt) if r == Some("PT") => named("pt-PT", "Polly.Ines"),
        Some(Locale::Pt) => named("pt-BR", "Polly.Camila"),
        Some(Locale::It) => named("it-IT", "Polly.Carla"),
        Some(Locale::Hi) => named("hi-IN", "Polly.Aditi"),
        Some(Locale::Ar) => named("arb", "Polly.Zeina"),
        Some(Locale::Zh) if r == Some("TW") => named("cmn-TW", "Google.cmn-TW-Standard-A"),
        Some(Locale::Zh) => named("cmn-CN", "Polly.Zhiyu"),
        Some(Locale::Ja) => named("ja-JP", "Polly.Mizuki"),
        Some(Locale::Ru) => named("ru-RU", "Polly.Tatyana"),
        Some(Locale::Id) => named("id-ID", "Google.id-ID-Standard-A"),
        Some(Locale::En) | None => SayVoice {
            language: say_language(locale),
            voice: None,
        },
    }
}

/// `<Response><Say language="…" [voice="…"]>text</Say></Response>`, XML-escaped, in the
/// locale's voice ([`say_voice`]). The core's voice text says the code twice ("… is 1, 2,
/// 3. Again: 1, 2, 3." in English); a one-second pause goes before the repetition.
pub(crate) fn twiml_say(text: &str, locale: &str) -> String {
    let SayVoice { language, voice } = say_voice(locale);
    let mut out = String::from("<Response>");
    let say = |out: &mut String, words: &str| {
        let _ = write!(out, "<Say language=\"{}\"", xml_escape(&language));
        if let Some(v) = voice {
            let _ = write!(out, " voice=\"{}\"", xml_escape(v));
        }
        let _ = write!(out, ">{}</Say>", xml_escape(words));
    };
    match split_repetition(text, locale) {
        Some((first, again)) => {
            say(&mut out, first);
            out.push_str("<Pause length=\"1\"/>");
            say(&mut out, again);
        }
        None => say(&mut out, text),
    }
    out.push_str("</Response>");
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_classify() {
        assert_eq!(
            classify_answer("tw", 201, r#"{"sid":"SM123","status":"queued"}"#),
            Ok("SM123".into())
        );
        let e = classify_answer(
            "tw",
            400,
            r#"{"code":21211,"message":"The 'To' number +15005550001 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            SendError::Permanent("tw: HTTP 400: Twilio error 21211: invalid 'To' phone number".into())
        );
        assert!(matches!(
            classify_answer("tw", 400, r#"{"code":21611,"message":"queue full"}"#),
            Err(SendError::Retryable(_))
        ));
        assert!(matches!(
            classify_answer("tw", 429, r#"{"code":20429,"message":"Too Many Requests"}"#),
            Err(SendError::Retryable(_))
        ));
        assert!(matches!(
            classify_answer("tw", 503, "<html>"),
            Err(SendError::Retryable(_))
        ));
        // An error in a 200.
        assert_eq!(
            classify_answer("tw", 200, r#"{"status":"failed","sid":"SM1","error_code":30007}"#),
            Err(SendError::Permanent(
                "tw: HTTP 200: created with status `failed`: Twilio error 30007".into()
            ))
        );
        assert!(matches!(
            classify_answer("tw", 200, r#"{"status":"failed","sid":"SM1","error_code":"30001"}"#),
            Err(SendError::Retryable(_))
        ));
        assert!(matches!(classify_answer("tw", 200, "{}"), Err(SendError::Permanent(m)) if m.contains("no sid")));
        assert!(matches!(
            classify_answer("tw", 200, "not json"),
            Err(SendError::Permanent(_))
        ));
    }

    #[test]
    fn unknown_codes_quote_twilio_without_the_number() {
        let e = classify_answer(
            "tw",
            400,
            r#"{"code":29999,"message":"Number +44 7911 123456 refused (see (555) 123-4567)"}"#,
        )
        .unwrap_err();
        let SendError::Permanent(m) = e else {
            unreachable!("{e:?}")
        };
        assert_eq!(
            m,
            "tw: HTTP 400: Twilio error 29999: Number [number] refused (see [number])"
        );
        // Four digits are masked too (a code can be that short); shorter runs are not.
        assert_eq!(
            redact_numbers("code 1234 at 12:30, +1 415 555 0100."),
            "code [number] at 12:30, [number]."
        );
        // A number where the message is cut is masked before the cut, not half kept.
        let long = format!("{} +447911123456", "x".repeat(155));
        let d = describe(Some(29999), Some(&long));
        assert!(!d.contains("447"), "{d}");
    }

    #[test]
    fn languages() {
        assert_eq!(say_language("en"), "en-US");
        assert_eq!(say_language("en-GB"), "en-GB");
        assert_eq!(say_language("pt_br"), "pt-BR");
        assert_eq!(say_language("nl"), "nl-NL");
        assert_eq!(say_language("zz"), "en-US");
        assert_eq!(say_language(""), "en-US");
        assert_eq!(say_language("\"><x"), "en-US");
        assert_eq!(say_language("en-Latn-US"), "en-US", "scripts are not Twilio languages");
    }

    #[test]
    fn each_language_is_spoken_by_a_voice_of_its_own() {
        let say = |l: &str| {
            let v = say_voice(l);
            (v.language, v.voice)
        };
        assert_eq!(say("en"), ("en-US".into(), None));
        assert_eq!(say("en-GB"), ("en-GB".into(), None));
        assert_eq!(say("nl"), ("nl-NL".into(), None), "outside the catalogue, as before");
        assert_eq!(say("es"), ("es-ES".into(), Some("Polly.Lucia")));
        assert_eq!(say("es-MX"), ("es-MX".into(), Some("Polly.Mia")));
        assert_eq!(say("es-419"), ("es-MX".into(), Some("Polly.Mia")));
        assert_eq!(say("es_us"), ("es-US".into(), Some("Polly.Lupe")));
        assert_eq!(say("fr-CA"), ("fr-CA".into(), Some("Polly.Chantal")));
        assert_eq!(say("pt"), ("pt-BR".into(), Some("Polly.Camila")));
        assert_eq!(say("pt-PT"), ("pt-PT".into(), Some("Polly.Ines")));
        assert_eq!(say("ar-EG"), ("arb".into(), Some("Polly.Zeina")));
        assert_eq!(say("zh-Hant-TW"), ("cmn-TW".into(), Some("Google.cmn-TW-Standard-A")));
        assert_eq!(say("zh"), ("cmn-CN".into(), Some("Polly.Zhiyu")));
        assert_eq!(say("hi"), ("hi-IN".into(), Some("Polly.Aditi")));
        assert_eq!(say("id"), ("id-ID".into(), Some("Google.id-ID-Standard-A")));
        for l in Locale::ALL {
            let v = say_voice(l.tag());
            assert_eq!(v.voice.is_none(), l == Locale::En, "{l}");
            assert!(!v.language.is_empty(), "{l}");
        }
    }

    #[test]
    fn twiml_is_escaped_and_pauses_before_the_repetition() {
        assert_eq!(
            twiml_say("Your A&B <co> code is 1, 2. Again: 1, 2.", "en"),
            "<Response><Say language=\"en-US\">Your A&amp;B &lt;co&gt; code is 1, 2.</Say>\
             <Pause length=\"1\"/><Say language=\"en-US\">Again: 1, 2.</Say></Response>"
        );
        assert_eq!(
            twiml_say("Say \"hi\" 'x'", "en-GB"),
            "<Response><Say language=\"en-GB\">Say &quot;hi&quot; &apos;x&apos;</Say></Response>"
        );
        // Another language: its voice, and the pause before its own word for "again".
        let code = ringproof_core::code::Code::from_digits("1234").unwrap();
        let ja = ringproof_core::message::voice_text("Acme", &code, "ja");
        assert_eq!(
            twiml_say(&ja, "ja"),
            "<Response><Say language=\"ja-JP\" voice=\"Polly.Mizuki\">Acmeの にんしょうコードを おしらせします。1、2、3、4。\
             </Say><Pause length=\"1\"/><Say language=\"ja-JP\" voice=\"Polly.Mizuki\">くりかえします。1、2、3、4。\
             </Say></Response>"
        );
    }
}

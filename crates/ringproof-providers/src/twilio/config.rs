//! The `[providers.NAME]` table of `kind = "twilio"`, and its validation.
//!
//! [`TwilioConfig`] is what the file says; [`Settings`] is what a client runs with: every
//! key checked, secrets resolved (inline or `*_file`), defaults filled in. Build errors
//! name the provider and the key, never a secret's value.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::BuildError;
use crate::secret;

/// Twilio's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// Per-request deadline when `timeout_ms` is not given.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// One Twilio account (or subaccount) as a delivery provider.
///
/// ```toml
/// [providers.twilio_us]
/// kind = "twilio"
/// account_sid = "AC0123456789abcdef0123456789abcdef"
/// auth_token_file = "/run/secrets/twilio_auth_token"
/// from = "+14155550100"
/// status_callback_url = "https://rp.example.com/callbacks/twilio_us"
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// The Account SID (`AC` and 32 hex digits). It is in every API path, also with API
    /// key credentials.
    pub account_sid: String,
    /// The account's Auth Token: the API password unless an API key is given, and always
    /// the key of `X-Twilio-Signature` on status callbacks (Twilio signs callbacks with
    /// the Auth Token even for messages sent with an API key). Or `auth_token_file`.
    #[serde(default)]
    pub auth_token: Option<SecretString>,
    #[serde(default)]
    pub auth_token_file: Option<PathBuf>,
    /// An API key (`SK…`) to authenticate API requests instead of the Auth Token (Twilio's
    /// advice for production). Needs `api_key_secret` (or `api_key_secret_file`).
    #[serde(default)]
    pub api_key_sid: Option<String>,
    #[serde(default)]
    pub api_key_secret: Option<SecretString>,
    #[serde(default)]
    pub api_key_secret_file: Option<PathBuf>,
    /// The SMS sender: a Twilio number in E.164 (`+14155550100`), a short code, or an
    /// alphanumeric sender ID (1–11 letters, digits, spaces; at least one letter).
    /// This or `messaging_service_sid` is required.
    #[serde(default)]
    pub from: Option<String>,
    /// A Messaging Service (`MG…`) that picks the sender itself (number pools, alphanumeric
    /// senders per country). Takes precedence over `from` for SMS.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// The caller ID of voice calls, a Twilio number in E.164. Default: `from` when that
    /// is a phone number. Without either, this provider cannot place calls.
    #[serde(default)]
    pub voice_from: Option<String>,
    /// The public URL Twilio POSTs delivery statuses to, normally
    /// `<public_base_url>/callbacks/<provider name>`. Absent: no `StatusCallback` is sent
    /// (statuses may still come from a Messaging Service's own callback setting).
    #[serde(default)]
    pub status_callback_url: Option<String>,
    /// The API's base URL. Default `https://api.twilio.com` (overridden in tests).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The deadline of one API request, in milliseconds (1 to 120000). Default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// How API requests authenticate (HTTP Basic either way; the URL always has the Account SID).
#[derive(Clone, Debug)]
pub(crate) enum Credentials {
    /// Account SID and Auth Token.
    Account { password: SecretString },
    /// API key SID and secret.
    ApiKey { sid: String, secret: SecretString },
}

/// Who an SMS comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SmsSender {
    MessagingService(String),
    From(String),
}

/// A validated config, ready for the client.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub account_sid: String,
    pub credentials: Credentials,
    /// The Auth Token, for callback signatures (`None`: callbacks cannot be verified).
    pub auth_token: Option<SecretString>,
    pub sms_sender: SmsSender,
    pub voice_from: Option<String>,
    pub status_callback_url: Option<String>,
    /// Without a trailing slash.
    pub base_url: String,
    pub timeout: Duration,
}

impl TwilioConfig {
    /// Checks every key and resolves the secrets.
    pub(crate) fn settings(&self, name: &str) -> Result<Settings, BuildError> {
        let err = |m: String| BuildError::config(name, m);

        if !is_sid(&self.account_sid, "AC") {
            return Err(err(
                "`account_sid` must be `AC` followed by 32 hex digits (Twilio Console, Account Info)".into(),
            ));
        }
        let auth_token = secret::resolve_optional(
            name,
            "auth_token",
            self.auth_token.as_ref(),
            self.auth_token_file.as_deref(),
        )?;
        let api_secret = secret::resolve_optional(
            name,
            "api_key_secret",
            self.api_key_secret.as_ref(),
            self.api_key_secret_file.as_deref(),
        )?;
        let credentials = match (&self.api_key_sid, api_secret, &auth_token) {
            (Some(sid), Some(secret), _) => {
                if !is_sid(sid, "SK") {
                    return Err(err("`api_key_sid` must be `SK` followed by 32 hex digits".into()));
                }
                Credentials::ApiKey {
                    sid: sid.clone(),
                    secret,
                }
            }
            (Some(_), None, _) => {
                return Err(err(
                    "`api_key_sid` needs `api_key_secret` (or `api_key_secret_file`)".into()
                ));
            }
            (None, Some(_), _) => {
                return Err(err("`api_key_secret` is given without `api_key_sid`".into()));
            }
            (None, None, Some(token)) => Credentials::Account {
                password: token.clone(),
            },
            (None, None, None) => {
                return Err(err(
                    "`auth_token` (or `auth_token_file`) is required, or `api_key_sid` with `api_key_secret`".into(),
                ));
            }
        };

        let from = match &self.from {
            None => None,
            Some(f) if sender_kind(f).is_some() => Some(f.clone()),
            Some(_) => {
                return Err(err(
                    "`from` must be an E.164 number (+14155550100), a short code, or an alphanumeric \
                     sender ID (1 to 11 letters, digits or spaces, with at least one letter)"
                        .into(),
                ));
            }
        };
        let sms_sender = match (&self.messaging_service_sid, &from) {
            (Some(mg), _) if !is_sid(mg, "MG") => {
                return Err(err(
                    "`messaging_service_sid` must be `MG` followed by 32 hex digits".into()
                ));
            }
            (Some(mg), _) => SmsSender::MessagingService(mg.clone()),
            (None, Some(f)) => SmsSender::From(f.clone()),
            (None, None) => {
                return Err(err("`from` or `messaging_service_sid` is required".into()));
            }
        };
        let voice_from = match &self.voice_from {
            Some(v) if sender_kind(v) == Some(SenderKind::E164) => Some(v.clone()),
            Some(_) => {
                return Err(err(
                    "`voice_from` must be a Twilio number in E.164 form, like +14155550100".into(),
                ));
            }
            None => from.clone().filter(|f| sender_kind(f) == Some(SenderKind::E164)),
        };
        if voice_from.is_none() {
            tracing::info!(
                provider = name,
                "twilio: no E.164 `voice_from` (or `from`); this provider sends SMS only"
            );
        }

        let status_callback_url = match &self.status_callback_url {
            None => None,
            Some(u) => {
                let parsed =
                    reqwest::Url::parse(u).map_err(|e| err(format!("`status_callback_url` is not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
                    return Err(err("`status_callback_url` must be an absolute https:// URL".into()));
                }
                if parsed.scheme() == "http" {
                    tracing::warn!(
                        provider = name,
                        "twilio: `status_callback_url` is plain http; Twilio's callbacks (and their signatures) travel unencrypted"
                    );
                }
                if auth_token.is_none() {
                    return Err(err(
                        "`status_callback_url` needs `auth_token` (or `auth_token_file`): Twilio signs \
                         status callbacks with the account's Auth Token, also when requests use an API key"
                            .into(),
                    ));
                }
                Some(u.clone())
            }
        };

        let base = reqwest::Url::parse(&self.base_url).map_err(|e| err(format!("`base_url` is not a URL: {e}")))?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(err("`base_url` must be an http(s) URL".into()));
        }
        if !(1..=120_000).contains(&self.timeout_ms) {
            return Err(err("`timeout_ms` must be between 1 and 120000".into()));
        }

        Ok(Settings {
            account_sid: self.account_sid.clone(),
            credentials,
            auth_token,
            sms_sender,
            voice_from,
            status_callback_url,
            base_url: self.base_url.trim_end_matches('/').to_owned(),
            timeout: Duration::from_millis(self.timeout_ms),
        })
    }
}

/// `prefix` and 32 hex digits, Twilio's SID format (`AC…`, `SK…`, `MG…`).
fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SenderKind {
    E164,
    ShortCode,
    Alphanumeric,
}

/// What kind of SMS sender `s` is, if it is one Twilio accepts as `From`.
pub(crate) fn sender_kind(s: &str) -> Option<SenderKind> {
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix('+') {
        return (digits(rest) && (6..=15).contains(&rest.len())).then_some(SenderKind::E164);
    }
    if digits(s) {
        return (3..=8).contains(&s.len()).then_some(SenderKind::ShortCode);
    }
    let ok = (1..=11).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && s.bytes().any(|b| b.is_ascii_alphabetic());
    ok.then_some(SenderKind::Alphanumeric)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn parse(toml_like: serde_json::Value) -> Result<Settings, String> {
        let cfg: TwilioConfig = serde_json::from_value(toml_like).map_err(|e| e.to_string())?;
        cfg.settings("tw").map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let s = parse(serde_json::json!({
            "account_sid": SID, "auth_token": "tok", "from": "+14155550100"
        }))
        .unwrap();
        assert_eq!(s.base_url, DEFAULT_BASE_URL);
        assert_eq!(s.timeout, Duration::from_millis(DEFAULT_TIMEOUT_MS));
        assert_eq!(s.sms_sender, SmsSender::From("+14155550100".into()));
        assert_eq!(
            s.voice_from.as_deref(),
            Some("+14155550100"),
            "voice_from defaults to from"
        );
        assert!(matches!(&s.credentials, Credentials::Account { password } if password.expose_secret() == "tok"));
    }

    #[test]
    fn api_key_messaging_service_and_alphanumeric_from() {
        let s = parse(serde_json::json!({
            "account_sid": SID, "api_key_sid": "SK0123456789abcdef0123456789abcdef",
            "api_key_secret": "keysecret", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef",
            "from": "Acme", "base_url": "http://127.0.0.1:9/", "timeout_ms": 50
        }))
        .unwrap();
        assert!(matches!(&s.credentials, Credentials::ApiKey { sid, secret }
            if sid.starts_with("SK") && secret.expose_secret() == "keysecret"));
        assert!(matches!(s.sms_sender, SmsSender::MessagingService(_)));
        assert_eq!(s.voice_from, None, "an alphanumeric sender cannot place calls");
        assert_eq!(s.base_url, "http://127.0.0.1:9");
        assert!(s.auth_token.is_none());
    }

    #[test]
    fn errors_name_the_key_and_never_the_secret() {
        let cases = [
            (
                serde_json::json!({"account_sid": "AC123", "auth_token": "sekrit", "from": "+14155550100"}),
                "`account_sid`",
            ),
            (
                serde_json::json!({"account_sid": SID, "from": "+14155550100"}),
                "`auth_token`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit"}),
                "`from` or `messaging_service_sid`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "from": "not a sender!"}),
                "`from`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "from": "+14155550100", "voice_from": "Acme"}),
                "`voice_from`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "from": "+14155550100", "api_key_sid": "SK0123456789abcdef0123456789abcdef"}),
                "`api_key_secret`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "from": "+14155550100", "api_key_secret": "sekrit2"}),
                "without `api_key_sid`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "messaging_service_sid": "MGxyz"}),
                "`messaging_service_sid`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "from": "+14155550100", "timeout_ms": 0}),
                "`timeout_ms`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "from": "+14155550100", "status_callback_url": "ftp://x/y"}),
                "`status_callback_url`",
            ),
            (
                serde_json::json!({"account_sid": SID, "api_key_sid": "SK0123456789abcdef0123456789abcdef", "api_key_secret": "sekrit",
                "from": "+14155550100", "status_callback_url": "https://rp.example.com/callbacks/tw"}),
                "needs `auth_token`",
            ),
            (
                serde_json::json!({"account_sid": SID, "auth_token": "sekrit", "from": "+14155550100", "auth_tokn": "x"}),
                "unknown field `auth_tokn`",
            ),
        ];
        for (cfg, want) in cases {
            let e = parse(cfg.clone()).unwrap_err();
            assert!(e.contains(want), "{cfg}: {e}");
            assert!(!e.contains("sekrit"), "{e}");
        }
    }

    #[test]
    fn sender_kinds() {
        assert_eq!(sender_kind("+14155550100"), Some(SenderKind::E164));
        assert_eq!(sender_kind("12345"), Some(SenderKind::ShortCode));
        assert_eq!(sender_kind("Acme Bank"), Some(SenderKind::Alphanumeric));
        assert_eq!(sender_kind("AcmeBank123"), Some(SenderKind::Alphanumeric));
        assert_eq!(sender_kind("AcmeBank1234"), None, "12 characters");
        assert_eq!(sender_kind("1234567890123"), None, "digits only is not alphanumeric");
        assert_eq!(sender_kind("Acme-Bank"), None);
        assert_eq!(sender_kind(""), None);
        assert_eq!(sender_kind("+1"), None);
    }
}

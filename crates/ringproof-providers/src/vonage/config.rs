//! `[providers.NAME]` with `kind = "vonage"`.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::jwt::JwtSigner;
use crate::error::BuildError;
use crate::secret;

/// Vonage (formerly Nexmo): SMS through the SMS API, calls through the Voice API. Each
/// field's doc is the reference (docs/providers.md has an example).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VonageConfig {
    /// The account's API key (dashboard → API settings).
    #[serde(deserialize_with = "crate::lenient::string")]
    pub api_key: String,
    /// The API secret for that key.
    #[serde(default, deserialize_with = "crate::lenient::opt_secret")]
    pub api_secret: Option<SecretString>,
    #[serde(default)]
    pub api_secret_file: Option<PathBuf>,
    /// The SMS sender: an alphanumeric sender id (up to 11 characters) or a number
    /// (digits, no `+`), used when the message names none.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub from: String,

    /// The Voice API application id. Voice is enabled when it is given (with
    /// `private_key` and `voice_from`); without it a call fails permanently.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub application_id: Option<String>,
    /// The application's private key (PEM, PKCS#8 as Vonage issues it, or PKCS#1),
    /// which signs the JWT of each Voice API request.
    #[serde(default)]
    pub private_key: Option<SecretString>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The Vonage number calls come from (digits, `+` allowed).
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub voice_from: Option<String>,

    /// Where Vonage reports delivery: sent as the SMS `callback` and the call's
    /// `event_url`. Normally `<public_base_url>/callbacks/NAME`. Without it, the
    /// account's default (dashboard) applies to SMS and calls report nowhere.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// A random secret that callbacks must carry as `?token=…`: appended to
    /// `callback_url` here, and to be added to a DLR URL set in the dashboard. Receipts
    /// are accepted only when it is set (Vonage does not sign them by default).
    #[serde(default, deserialize_with = "crate::lenient::opt_secret")]
    pub callback_token: Option<SecretString>,
    #[serde(default)]
    pub callback_token_file: Option<PathBuf>,

    /// The SMS API's base URL (tests point it at a mock).
    #[serde(default = "default_rest_url")]
    pub rest_url: String,
    /// The Voice API's base URL.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Seconds before a request is abandoned (retryable).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
}

fn default_rest_url() -> String {
    "https://rest.nexmo.com".into()
}

fn default_api_url() -> String {
    "https://api.nexmo.com".into()
}

fn default_timeout_s() -> u64 {
    10
}

/// [`VonageConfig`] checked, with the secrets resolved and the URLs parsed.
pub(crate) struct Settings {
    pub api_key: String,
    pub api_secret: SecretString,
    pub from: String,
    pub voice: Option<Voice>,
    /// `callback_url` with `token=` appended when a token is set.
    pub callback: Option<SecretString>,
    pub sms_url: reqwest::Url,
    pub balance_url: reqwest::Url,
    pub timeout: Duration,
}

/// What calls need: given `application_id`, `private_key` and `voice_from`.
pub(crate) struct Voice {
    pub jwt: JwtSigner,
    pub from: String,
    pub calls_url: reqwest::Url,
}

impl VonageConfig {
    /// Checks every key (errors name provider `name` and the key, never a secret) and
    /// resolves the secrets.
    pub(crate) fn settings(&self, name: &str) -> Result<Settings, BuildError> {
        let err = |m: String| BuildError::config(name, m);
        if self.api_key.trim().is_empty() {
            return Err(err("`api_key` is empty".into()));
        }
        let api_secret = secret::resolve(
            name,
            "api_secret",
            self.api_secret.as_ref(),
            self.api_secret_file.as_deref(),
        )?;
        if self.from.trim().is_empty() {
            return Err(err("`from` is empty".into()));
        }
        let url = |field: &str, base: &str, path: &str| -> Result<reqwest::Url, BuildError> {
            reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| err(format!("`{field}` must be an http:// or https:// URL")))
        };
        let sms_url = url("rest_url", &self.rest_url, "/sms/json")?;
        let balance_url = url("rest_url", &self.rest_url, "/account/get-balance")?;

        let private_key = secret::resolve_optional(
            name,
            "private_key",
            self.private_key.as_ref(),
            self.private_key_file.as_deref(),
        )?;
        let voice = match (&self.application_id, private_key) {
            (None, None) => {
                if self.voice_from.is_some() {
                    return Err(err("`voice_from` needs `application_id` and `private_key`".into()));
                }
                None
            }
            (Some(app), Some(key)) => {
                let jwt = JwtSigner::new(app, key.expose_secret()).map_err(|e| err(format!("`private_key` {e}")))?;
                let from = self
                    .voice_from
                    .as_deref()
                    .map(|f| f.trim().trim_start_matches('+'))
                    .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()))
                    .ok_or_else(|| err("voice needs `voice_from`: the Vonage number calls come from".into()))?
                    .to_owned();
                Some(Voice {
                    jwt,
                    from,
                    calls_url: url("api_url", &self.api_url, "/v1/calls")?,
                })
            }
            (Some(_), None) => {
                return Err(err(
                    "`application_id` needs `private_key` (or `private_key_file`)".into()
                ));
            }
            (None, Some(_)) => return Err(err("`private_key` needs `application_id`".into())),
        };

        let token = self.callback_token(name)?;
        let callback = match &self.callback_url {
            None => None,
            Some(u) => {
                let mut u = reqwest::Url::parse(u)
                    .ok()
                    .filter(|u| u.scheme() == "https" || u.scheme() == "http")
                    .ok_or_else(|| err("`callback_url` must be an http:// or https:// URL".into()))?;
                if let Some(t) = &token {
                    u.query_pairs_mut().append_pair("token", t.expose_secret());
                }
                Some(SecretString::from(u.to_string()))
            }
        };
        if self.timeout_s == 0 {
            return Err(err("`timeout_s` must be at least 1".into()));
        }
        Ok(Settings {
            api_key: self.api_key.clone(),
            api_secret,
            from: self.from.clone(),
            voice,
            callback,
            sms_url,
            balance_url,
            timeout: Duration::from_secs(self.timeout_s),
        })
    }

    /// The `callback_token` (inline or `callback_token_file`) of provider `name`, if any:
    /// the sender appends it to its callback URLs, [`VonageCallbacks`](super::VonageCallbacks)
    /// checks it.
    pub(crate) fn callback_token(&self, name: &str) -> Result<Option<SecretString>, BuildError> {
        secret::resolve_optional(
            name,
            "callback_token",
            self.callback_token.as_ref(),
            self.callback_token_file.as_deref(),
        )
    }
}

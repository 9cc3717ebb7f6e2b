//! `[providers.NAME]` with `kind = "vonage"`.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

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

impl VonageConfig {
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

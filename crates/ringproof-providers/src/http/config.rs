//! `[providers.NAME]` with `kind = "http"`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// A generic HTTP SMS gateway. Each field's doc is the reference (docs/providers.md has
/// examples).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `POST` (default) or `GET`. A `GET` has no body: put the placeholders in `url`.
    #[serde(default)]
    pub method: HttpMethod,
    /// The gateway's URL. May hold placeholders (`{to}`, `{to_digits}`, `{text}`,
    /// `{sender}`, `{idempotency_key}`, `{locale}`), percent-encoded when substituted.
    pub url: String,
    /// Extra request headers. Values are literal, except `{idempotency_key}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The name of the one header that carries a secret (default `Authorization`), sent
    /// when `auth_header_value` or `auth_header_value_file` is given.
    #[serde(default)]
    pub auth_header: Option<String>,
    /// The secret header's value, e.g. `Bearer …` or `Basic …`.
    #[serde(default, deserialize_with = "crate::lenient::opt_secret")]
    pub auth_header_value: Option<SecretString>,
    #[serde(default)]
    pub auth_header_value_file: Option<PathBuf>,
    /// The request body template (POST only), with the placeholders of `url`.
    #[serde(default)]
    pub body: Option<String>,
    /// How the body is encoded, and so how values are escaped in it: `application/json`
    /// (default; values JSON-escaped, the template supplies the quotes) or
    /// `application/x-www-form-urlencoded` (values form-encoded).
    #[serde(default)]
    pub content_type: Option<String>,
    /// The statuses that mean "accepted" (default: any 2xx).
    #[serde(default)]
    pub success_status: Option<Vec<u16>>,
    /// When given, an accepted status whose body does not match is a failure ("HTTP 200
    /// with an error in the body"): permanent, unless `retry_regex` matches.
    #[serde(default)]
    pub success_regex: Option<String>,
    /// Marks a body that failed `success_regex` as worth retrying (e.g. `"code":\s*"THROTTLED"`).
    #[serde(default)]
    pub retry_regex: Option<String>,
    /// One capture group: the gateway's message id in an accepted body (for delivery
    /// receipts and support).
    #[serde(default)]
    pub message_id_regex: Option<String>,
    /// The sender id used when the message names none (required if a template uses
    /// `{sender}`).
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub sender: Option<String>,
    /// A URL answered by a `GET` with 2xx when the gateway is up (for `send-test` and
    /// readiness). Without it the healthcheck only says the config is loaded.
    #[serde(default)]
    pub healthcheck_url: Option<String>,
    /// Seconds before a request is abandoned (retryable).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    #[serde(alias = "post")]
    Post,
    #[serde(alias = "get")]
    Get,
}

fn default_timeout_s() -> u64 {
    10
}

/// Gateways often carry an API key in the URL's query or in a literal header: `Debug`
/// shows the URL without its query and the header names only.
impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.split(['?', '#']).next().unwrap_or_default();
        f.debug_struct("HttpConfig")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("auth_header", &self.auth_header)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

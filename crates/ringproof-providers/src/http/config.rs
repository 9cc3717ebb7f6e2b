//! `[providers.NAME]` with `kind = "http"`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::template::{Encoding, Placeholder, Template};
use crate::error::BuildError;
use crate::secret;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// Every placeholder: allowed in the URL and the body.
const MESSAGE_PLACEHOLDERS: &[Placeholder] = &[
    Placeholder::To,
    Placeholder::ToDigits,
    Placeholder::Text,
    Placeholder::Sender,
    Placeholder::IdempotencyKey,
    Placeholder::Locale,
];
/// Header values may name only what cannot hold a line break or personal data.
const HEADER_PLACEHOLDERS: &[Placeholder] = &[Placeholder::IdempotencyKey];

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

/// [`HttpConfig`] checked: templates parsed, regexes compiled, the secret resolved.
pub(crate) struct Settings {
    pub method: HttpMethod,
    pub url: Template,
    pub headers: Vec<(HeaderName, Template)>,
    /// The secret header, marked sensitive so it is never printed.
    pub auth: Option<(HeaderName, HeaderValue)>,
    pub body: Option<(Template, Encoding, &'static str)>,
    pub success_status: Option<Vec<u16>>,
    pub success_regex: Option<Regex>,
    pub retry_regex: Option<Regex>,
    pub message_id_regex: Option<Regex>,
    pub sender: Option<String>,
    pub healthcheck_url: Option<reqwest::Url>,
    pub timeout: Duration,
}

impl HttpConfig {
    /// Checks every key (errors name provider `name` and the key, never a secret or a
    /// value that may hold one).
    pub(crate) fn settings(&self, name: &str) -> Result<Settings, BuildError> {
        let err = |m: String| BuildError::config(name, m);

        let url = Template::parse(&self.url, MESSAGE_PLACEHOLDERS).map_err(|e| err(format!("`url`: {e}")))?;
        let sample_url = url.render(Encoding::Url, |_| "x".into());
        match reqwest::Url::parse(&sample_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(err("`url` must be an http:// or https:// URL".into())),
        }

        let body = match (&self.body, self.method) {
            (Some(_), HttpMethod::Get) => {
                return Err(err("a GET has no `body`: put the placeholders in `url`".into()));
            }
            (None, _) => {
                if self.content_type.is_some() {
                    return Err(err("`content_type` is given without a `body`".into()));
                }
                None
            }
            (Some(b), HttpMethod::Post) => {
                let t = Template::parse(b, MESSAGE_PLACEHOLDERS).map_err(|e| err(format!("`body`: {e}")))?;
                let (enc, ct) = match self.content_type.as_deref().map(str::trim) {
                    None | Some(JSON) => (Encoding::JsonString, JSON),
                    Some(FORM) => (Encoding::Form, FORM),
                    Some(other) => {
                        return Err(err(format!(
                            "`content_type` {other:?} is not supported (use {JSON:?} or {FORM:?})"
                        )));
                    }
                };
                Some((t, enc, ct))
            }
        };

        let mut headers = Vec::new();
        for (k, v) in &self.headers {
            let hn = HeaderName::from_bytes(k.as_bytes()).map_err(|_| err(format!("header name {k:?} is invalid")))?;
            let t = Template::parse(v, HEADER_PLACEHOLDERS).map_err(|e| err(format!("header `{k}`: {e}")))?;
            HeaderValue::from_str(&t.render(Encoding::Raw, |_| "x".into()))
                .map_err(|_| err(format!("header `{k}` has an invalid value")))?;
            headers.push((hn, t));
        }

        let auth_value = secret::resolve_optional(
            name,
            "auth_header_value",
            self.auth_header_value.as_ref(),
            self.auth_header_value_file.as_deref(),
        )?;
        let auth = match auth_value {
            None => {
                if self.auth_header.is_some() {
                    return Err(err("`auth_header` needs `auth_header_value` (or its _file)".into()));
                }
                None
            }
            Some(v) => {
                let n = self.auth_header.as_deref().unwrap_or("Authorization");
                let hn =
                    HeaderName::from_bytes(n.as_bytes()).map_err(|_| err(format!("`auth_header` {n:?} is invalid")))?;
                let mut hv = HeaderValue::from_str(v.expose_secret())
                    .map_err(|_| err("`auth_header_value` is not a valid header value".into()))?;
                hv.set_sensitive(true);
                Some((hn, hv))
            }
        };

        if let Some(list) = &self.success_status
            && (list.is_empty() || list.iter().any(|s| !(100..=599).contains(s)))
        {
            return Err(err("`success_status` must list HTTP statuses (100–599)".into()));
        }
        let regex = |field: &str, r: &Option<String>| -> Result<Option<Regex>, BuildError> {
            r.as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|e| err(format!("`{field}` is not a valid regex: {e}")))
        };
        let success_regex = regex("success_regex", &self.success_regex)?;
        let retry_regex = regex("retry_regex", &self.retry_regex)?;
        let message_id_regex = regex("message_id_regex", &self.message_id_regex)?;
        if retry_regex.is_some() && success_regex.is_none() {
            return Err(err(
                "`retry_regex` is read only when `success_regex` does not match: give `success_regex` too".into(),
            ));
        }
        if message_id_regex.as_ref().is_some_and(|r| r.captures_len() < 2) {
            return Err(err("`message_id_regex` needs one capture group: the message id".into()));
        }

        let uses_sender =
            url.uses(Placeholder::Sender) || body.as_ref().is_some_and(|(t, _, _)| t.uses(Placeholder::Sender));
        if uses_sender && self.sender.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(err("a template uses `{sender}`: give a default `sender`".into()));
        }

        let healthcheck_url = self
            .healthcheck_url
            .as_deref()
            .map(|u| match reqwest::Url::parse(u) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
                _ => Err(err("`healthcheck_url` must be an http:// or https:// URL".into())),
            })
            .transpose()?;

        if self.timeout_s == 0 {
            return Err(err("`timeout_s` must be at least 1".into()));
        }
        Ok(Settings {
            method: self.method,
            url,
            headers,
            auth,
            body,
            success_status: self.success_status.clone(),
            success_regex,
            retry_regex,
            message_id_regex,
            sender: self.sender.clone(),
            healthcheck_url,
            timeout: Duration::from_secs(self.timeout_s),
        })
    }
}

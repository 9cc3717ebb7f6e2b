//! The generic HTTP provider's client: templates checked once at build, then one request
//! per message.

use std::time::Duration;

use async_trait::async_trait;
use regex::Regex;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::workflow::Channel;
use secrecy::ExposeSecret;

use super::config::{HttpConfig, HttpMethod};
use super::template::{Encoding, Placeholder, Template};
use crate::classify;
use crate::error::BuildError;
use crate::secret;

/// Most of an answer's body that the regexes look at.
const MAX_BODY: usize = 64 * 1024;

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

pub struct HttpSender {
    name: String,
    http: reqwest::Client,
    method: HttpMethod,
    url: Template,
    headers: Vec<(HeaderName, Template)>,
    /// The secret header, marked sensitive so it is never printed.
    auth: Option<(HeaderName, HeaderValue)>,
    body: Option<(Template, Encoding, &'static str)>,
    success_status: Option<Vec<u16>>,
    success_regex: Option<Regex>,
    retry_regex: Option<Regex>,
    message_id_regex: Option<Regex>,
    sender: Option<String>,
    healthcheck_url: Option<reqwest::Url>,
}

impl std::fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSender")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl HttpSender {
    /// Checks the config (templates, regexes, headers, the secret) and builds the client.
    pub fn new(name: &str, cfg: &HttpConfig) -> Result<Self, BuildError> {
        let err = |m: String| BuildError::config(name, m);

        let url = Template::parse(&cfg.url, MESSAGE_PLACEHOLDERS).map_err(|e| err(format!("`url`: {e}")))?;
        let sample_url = url.render(Encoding::Url, |_| "x".into());
        match reqwest::Url::parse(&sample_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(err("`url` must be an http:// or https:// URL".into())),
        }

        let body = match (&cfg.body, cfg.method) {
            (Some(_), HttpMethod::Get) => {
                return Err(err("a GET has no `body`: put the placeholders in `url`".into()));
            }
            (None, _) => {
                if cfg.content_type.is_some() {
                    return Err(err("`content_type` is given without a `body`".into()));
                }
                None
            }
            (Some(b), HttpMethod::Post) => {
                let t = Template::parse(b, MESSAGE_PLACEHOLDERS).map_err(|e| err(format!("`body`: {e}")))?;
                let (enc, ct) = match cfg.content_type.as_deref().map(str::trim) {
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
        for (k, v) in &cfg.headers {
            let hn = HeaderName::from_bytes(k.as_bytes()).map_err(|_| err(format!("header name {k:?} is invalid")))?;
            let t = Template::parse(v, HEADER_PLACEHOLDERS).map_err(|e| err(format!("header `{k}`: {e}")))?;
            HeaderValue::from_str(&t.render(Encoding::Raw, |_| "x".into()))
                .map_err(|_| err(format!("header `{k}` has an invalid value")))?;
            headers.push((hn, t));
        }

        let auth_value = secret::resolve_optional(
            name,
            "auth_header_value",
            cfg.auth_header_value.as_ref(),
            cfg.auth_header_value_file.as_deref(),
        )?;
        let auth = match auth_value {
            None => {
                if cfg.auth_header.is_some() {
                    return Err(err("`auth_header` needs `auth_header_value` (or its _file)".into()));
                }
                None
            }
            Some(v) => {
                let n = cfg.auth_header.as_deref().unwrap_or("Authorization");
                let hn =
                    HeaderName::from_bytes(n.as_bytes()).map_err(|_| err(format!("`auth_header` {n:?} is invalid")))?;
                let mut hv = HeaderValue::from_str(v.expose_secret())
                    .map_err(|_| err("`auth_header_value` is not a valid header value".into()))?;
                hv.set_sensitive(true);
                Some((hn, hv))
            }
        };

        if let Some(list) = &cfg.success_status
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
        let success_regex = regex("success_regex", &cfg.success_regex)?;
        let retry_regex = regex("retry_regex", &cfg.retry_regex)?;
        let message_id_regex = regex("message_id_regex", &cfg.message_id_regex)?;
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
        if uses_sender && cfg.sender.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(err("a template uses `{sender}`: give a default `sender`".into()));
        }

        let healthcheck_url = cfg
            .healthcheck_url
            .as_deref()
            .map(|u| match reqwest::Url::parse(u) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
                _ => Err(err("`healthcheck_url` must be an http:// or https:// URL".into())),
            })
            .transpose()?;

        if cfg.timeout_s == 0 {
            return Err(err("`timeout_s` must be at least 1".into()));
        }
        Ok(HttpSender {
            name: name.to_owned(),
            http: classify::http_client(name, Duration::from_secs(cfg.timeout_s))?,
            method: cfg.method,
            url,
            headers,
            auth,
            body,
            success_status: cfg.success_status.clone(),
            success_regex,
            retry_regex,
            message_id_regex,
            sender: cfg.sender.clone(),
            healthcheck_url,
        })
    }

    fn value(&self, msg: &OutboundMessage, p: Placeholder) -> String {
        match p {
            Placeholder::To => msg.to.e164().to_owned(),
            Placeholder::ToDigits => digits(&msg.to).to_owned(),
            Placeholder::Text => msg.text.clone(),
            Placeholder::Sender => msg.sender.clone().or_else(|| self.sender.clone()).unwrap_or_default(),
            Placeholder::IdempotencyKey => msg.idempotency_key.clone(),
            Placeholder::Locale => msg.locale.clone(),
        }
    }

    fn accepted(&self, status: u16) -> bool {
        match &self.success_status {
            Some(list) => list.contains(&status),
            None => (200..300).contains(&status),
        }
    }

    /// The receipt for an accepted status, or the "error in the body".
    fn judge_body(&self, body: &str) -> Result<SendReceipt, SendError> {
        if let Some(ok) = &self.success_regex
            && !ok.is_match(body)
        {
            let retry = self.retry_regex.as_ref().is_some_and(|r| r.is_match(body));
            // Never the body itself: gateways echo the text (the code) and the number.
            return Err(if retry {
                SendError::Retryable(format!("{}: error in the body (matched retry_regex)", self.name))
            } else {
                SendError::Permanent(format!("{}: error in the body (no match for success_regex)", self.name))
            });
        }
        let provider_message_id = self
            .message_id_regex
            .as_ref()
            .and_then(|r| r.captures(body))
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_owned())
            .filter(|id| !id.is_empty());
        Ok(SendReceipt {
            provider: self.name.clone(),
            provider_message_id,
        })
    }
}

/// The number without its `+`.
fn digits(to: &PhoneNumber) -> &str {
    to.e164().trim_start_matches('+')
}

#[async_trait]
impl Sender for HttpSender {
    fn name(&self) -> &str {
        &self.name
    }

    #[tracing::instrument(skip_all, fields(provider = %self.name))]
    async fn send(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        if msg.channel != Channel::Sms {
            return Err(SendError::Permanent(format!(
                "{}: the generic HTTP provider sends SMS only (give its routes `channel = \"sms\"`)",
                self.name
            )));
        }
        let value = |p| self.value(msg, p);
        let url = reqwest::Url::parse(&self.url.render(Encoding::Url, value))
            .map_err(|_| SendError::Permanent(format!("{}: `url` renders an invalid URL", self.name)))?;
        let mut req = match self.method {
            HttpMethod::Post => self.http.post(url),
            HttpMethod::Get => self.http.get(url),
        };
        let mut headers = HeaderMap::new();
        for (name, t) in &self.headers {
            let v = HeaderValue::from_str(&t.render(Encoding::Raw, value)).map_err(|_| {
                SendError::Permanent(format!("{}: header `{name}` renders an invalid value", self.name))
            })?;
            headers.insert(name.clone(), v);
        }
        if let Some((name, v)) = &self.auth {
            headers.insert(name.clone(), v.clone());
        }
        if let Some((t, enc, ct)) = &self.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            req = req.body(t.render(*enc, value));
        }
        let resp = req
            .headers(headers)
            .send()
            .await
            .map_err(|e| classify::transport(&self.name, &e))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| classify::transport(&self.name, &e))?;
        if !self.accepted(status) {
            // Only the status: the body may echo the message.
            return Err(if (200..300).contains(&status) {
                SendError::Permanent(format!("{}: HTTP {status} is not in success_status", self.name))
            } else {
                classify::http_status(&self.name, status, "")
            });
        }
        let body = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]);
        self.judge_body(&body)
    }

    async fn healthcheck(&self) -> Result<(), SendError> {
        let Some(url) = &self.healthcheck_url else {
            return Ok(());
        };
        classify::healthcheck(&self.name, self.http.get(url.clone()), "healthcheck_url").await
    }
}

//! The generic HTTP provider's client: one request per message, from the templates
//! [`HttpConfig::settings`] checked at build.

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::workflow::Channel;

use super::config::{HttpConfig, HttpMethod, Settings};
use super::template::{Encoding, Placeholder};
use crate::classify;
use crate::error::BuildError;

/// Most of an answer's body that the regexes look at.
const MAX_BODY: usize = 64 * 1024;

pub struct HttpSender {
    name: String,
    http: reqwest::Client,
    s: Settings,
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
        let s = cfg.settings(name)?;
        Ok(HttpSender {
            name: name.to_owned(),
            http: classify::http_client(name, s.timeout)?,
            s,
        })
    }

    fn value(&self, msg: &OutboundMessage, p: Placeholder) -> String {
        match p {
            Placeholder::To => msg.to.e164().to_owned(),
            Placeholder::ToDigits => digits(&msg.to).to_owned(),
            Placeholder::Text => msg.text.clone(),
            Placeholder::Sender => msg.sender.clone().or_else(|| self.s.sender.clone()).unwrap_or_default(),
            Placeholder::IdempotencyKey => msg.idempotency_key.clone(),
            Placeholder::Locale => msg.locale.clone(),
        }
    }

    fn accepted(&self, status: u16) -> bool {
        match &self.s.success_status {
            Some(list) => list.contains(&status),
            None => (200..300).contains(&status),
        }
    }

    /// The receipt for an accepted status, or the "error in the body".
    fn judge_body(&self, body: &str) -> Result<SendReceipt, SendError> {
        if let Some(ok) = &self.s.success_regex
            && !ok.is_match(body)
        {
            let retry = self.s.retry_regex.as_ref().is_some_and(|r| r.is_match(body));
            // Never the body itself: gateways echo the text (the code) and the number.
            return Err(if retry {
                SendError::Retryable(format!("{}: error in the body (matched retry_regex)", self.name))
            } else {
                SendError::Permanent(format!("{}: error in the body (no match for success_regex)", self.name))
            });
        }
        let provider_message_id = self
            .s
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
        let url = reqwest::Url::parse(&self.s.url.render(Encoding::Url, value))
            .map_err(|_| SendError::Permanent(format!("{}: `url` renders an invalid URL", self.name)))?;
        let mut req = match self.s.method {
            HttpMethod::Post => self.http.post(url),
            HttpMethod::Get => self.http.get(url),
        };
        let mut headers = HeaderMap::new();
        for (name, t) in &self.s.headers {
            let v = HeaderValue::from_str(&t.render(Encoding::Raw, value)).map_err(|_| {
                SendError::Permanent(format!("{}: header `{name}` renders an invalid value", self.name))
            })?;
            headers.insert(name.clone(), v);
        }
        if let Some((name, v)) = &self.s.auth {
            headers.insert(name.clone(), v.clone());
        }
        if let Some((t, enc, ct)) = &self.s.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            req = req.body(t.render(*enc, value));
        }
        let (status, bytes) = classify::exchange(&self.name, req.headers(headers)).await?;
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
        let Some(url) = &self.s.healthcheck_url else {
            return Ok(());
        };
        classify::healthcheck(&self.name, self.http.get(url.clone()), "healthcheck_url").await
    }
}

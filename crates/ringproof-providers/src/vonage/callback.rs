//! Vonage's delivery reports at `<public_base_url>/callbacks/NAME`: SMS delivery receipts
//! (DLRs: a `GET` with the fields in the query, or a `POST` of JSON or a form, as the
//! dashboard's "HTTP method" says) and the Voice API's call events (a JSON `POST`).
//!
//! Authenticity: Vonage signs neither by default (signed SMS webhooks must be enabled by
//! Vonage support; signed Voice events use a JWT of their own), so each callback must
//! carry the provider's `callback_token` as `?token=…`, compared in constant time. The
//! sender appends it to the `callback`/`event_url` it sends; a DLR URL set in the
//! dashboard must include it by hand.

use std::collections::BTreeMap;

use ringproof_core::crypto::ct_eq;
use ringproof_core::ports::{CallbackError, CallbackParser, CallbackRequest, DeliveryReceipt, DeliveryStatus};
use secrecy::{ExposeSecret, SecretString};

use super::config::VonageConfig;
use crate::classify;
use crate::error::BuildError;

pub struct VonageCallbacks {
    name: String,
    token: SecretString,
}

impl VonageCallbacks {
    pub fn new(name: &str, token: SecretString) -> Self {
        VonageCallbacks {
            name: name.to_owned(),
            token,
        }
    }

    /// The reader of provider `name`'s reports, when `config` names a `callback_token`;
    /// `None` without one (its reports could not be authenticated).
    pub fn from_config(name: &str, config: &VonageConfig) -> Result<Option<Self>, BuildError> {
        Ok(config.callback_token(name)?.map(|token| Self::new(name, token)))
    }

    fn receipt(&self, id: &str, status: DeliveryStatus, reason: Option<String>) -> DeliveryReceipt {
        DeliveryReceipt {
            provider: self.name.clone(),
            provider_message_id: id.to_owned(),
            status,
            reason,
        }
    }
}

impl CallbackParser for VonageCallbacks {
    fn parse_callback(&self, req: &CallbackRequest<'_>) -> Result<Vec<DeliveryReceipt>, CallbackError> {
        let url =
            reqwest::Url::parse(req.url).map_err(|_| CallbackError::Malformed("the URL is not absolute".into()))?;
        let mut fields: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let token = fields.remove("token").unwrap_or_default();
        if !ct_eq(token.as_bytes(), self.token.expose_secret().as_bytes()) {
            return Err(CallbackError::BadSignature);
        }
        if !req.body.is_empty() {
            fields.extend(body_fields(req)?);
        }
        let field = |k: &str| fields.get(k).map(String::as_str).filter(|v| !v.is_empty());

        if let Some(id) = field("messageId") {
            // SMS DLR. `err-code` 0 means no error.
            let reason = field("err-code")
                .filter(|c| *c != "0")
                .map(|c| classify::snippet(c, 16));
            let status = match field("status").unwrap_or_default() {
                "delivered" => DeliveryStatus::Delivered,
                "accepted" | "buffered" => DeliveryStatus::Sent,
                "failed" => DeliveryStatus::Undelivered,
                "expired" | "rejected" => DeliveryStatus::Failed,
                // `unknown`, or a status added later: nothing to record.
                _ => return Ok(Vec::new()),
            };
            return Ok(vec![self.receipt(id, status, reason)]);
        }
        if let Some(uuid) = field("uuid") {
            // Voice API call event; the call's uuid is the send's message id.
            let status = field("status").unwrap_or_default();
            let (status, reason) = match status {
                "answered" => (DeliveryStatus::Delivered, None),
                "busy" | "timeout" | "unanswered" | "rejected" | "cancelled" => {
                    (DeliveryStatus::Undelivered, Some(status.to_owned()))
                }
                "failed" => (DeliveryStatus::Failed, Some(status.to_owned())),
                // started, ringing, completed, machine, …: progress only.
                _ => return Ok(Vec::new()),
            };
            return Ok(vec![self.receipt(uuid, status, reason)]);
        }
        Err(CallbackError::Malformed(
            "neither `messageId` nor `uuid` is given".into(),
        ))
    }
}

/// The fields of a POST body: JSON (strings and numbers) or a form, by content type;
/// without one, JSON if it parses as an object, else a form.
fn body_fields(req: &CallbackRequest<'_>) -> Result<BTreeMap<String, String>, CallbackError> {
    let ct = req
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let json = || -> Option<BTreeMap<String, String>> {
        let v: serde_json::Value = serde_json::from_slice(req.body).ok()?;
        Some(
            v.as_object()?
                .iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k.clone(), s.clone())),
                    serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
                    _ => None,
                })
                .collect(),
        )
    };
    let form = || {
        form_urlencoded::parse(req.body)
            .into_owned()
            .collect::<BTreeMap<_, _>>()
    };
    if ct.starts_with("application/json") {
        json().ok_or_else(|| CallbackError::Malformed("the body is not a JSON object".into()))
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        Ok(form())
    } else {
        Ok(json().unwrap_or_else(form))
    }
}

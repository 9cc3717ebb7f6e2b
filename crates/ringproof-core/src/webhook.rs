//! Webhooks: every event of a verification whose client has a webhook is POSTed to the
//! client's URL as JSON, signed the way Stripe signs its webhooks.
//!
//! ```text
//! Ringproof-Signature: t=1732252800,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//! ```
//!
//! `v1` is the lowercase hex HMAC-SHA256, under the client's webhook secret (the whole
//! `whsec_…` string, as bytes), of `<t>.<raw body>`, where `t` is the Unix time in seconds
//! when the attempt was made. A receiver recomputes it over the raw body, compares in
//! constant time, and refuses a `t` too far from its own clock (replays). Each delivery
//! attempt is signed afresh; the body and its `id` stay the same across retries, so a
//! receiver can drop duplicates by `id`. See docs/webhooks.md.
//!
//! The body is built when the event happens (in the same transaction that records it) and
//! carries neither the phone number nor any code:
//!
//! ```json
//! {"id":"JB…","type":"verification.approved","created_at":"2026-11-22T10:00:00.000Z",
//!  "data":{"verification_id":"VE…","channel":null,"detail":null}}
//! ```

use serde::{Deserialize, Serialize};

use crate::crypto::{base64url, ct_eq, hex, hmac_sha256, random_bytes, unhex};
use crate::error::CoreError;
use crate::event::NewEvent;
use crate::ids::{ClientId, JobId, VerificationId};
use crate::job::{JobKind, NewJob};
use crate::verification::Verification;
pub use crate::webhook_format::WebhookFormat;
use crate::workflow::Channel;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Ringproof-Signature";
/// How many times a webhook is attempted before it is given up (at least 3, per the
/// contract); with the default backoff the last try is about an hour after the first.
pub const DEFAULT_WEBHOOK_ATTEMPTS: u32 = 8;
/// How far a receiver should let `t` drift from its clock (what our example checks).
pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// A client's webhook: where events go, and the secret that signs them, sealed under the
/// server key (it must be readable to sign, so it cannot be hashed).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    pub url: String,
    /// The secret sealed by [`crate::crypto::Keys::seal`] with context [`secret_context`],
    /// hex encoded.
    pub sealed_secret: String,
    /// The shape of the bodies (and the vendor's signature headers): verifications started
    /// from now on take it ([`crate::webhook_format`]).
    #[serde(default, skip_serializing_if = "WebhookFormat::is_ringproof")]
    pub format: WebhookFormat,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    pub fn sealed_secret_bytes(&self) -> Option<Vec<u8>> {
        unhex(&self.sealed_secret)
    }
}

/// The AEAD context a client's webhook secret is sealed under.
pub fn secret_context(client: &ClientId) -> String {
    format!("webhook-secret:{client}")
}

/// A fresh webhook secret: `whsec_` and 32 base64url characters (192 bits).
pub fn new_secret() -> String {
    format!("whsec_{}", base64url(&random_bytes::<24>()))
}

/// Checks a webhook URL: absolute http(s), a host, no credentials, no fragment.
pub fn validate_url(url: &str) -> Result<(), CoreError> {
    let bad = || {
        CoreError::invalid(
            "webhook_url",
            "must be an absolute http:// or https:// URL without credentials",
        )
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if url.len() > 2000
        || authority.is_empty()
        || authority.contains('@')
        || url.contains('#')
        || !url.bytes().all(|b| b.is_ascii_graphic())
        || url.contains('\\')
    {
        return Err(bad());
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: String,
    created_at: String,
    data: Data<'a>,
}

#[derive(Serialize, Deserialize)]
struct Data<'a> {
    verification_id: &'a str,
    channel: Option<Channel>,
    detail: Option<&'a str>,
}

/// The webhook jobs announcing `event` of `v` in its format
/// ([`crate::verification::Options::webhook_format`]): ringproof's one body, or the vendor's
/// bodies ([`crate::webhook_format`]; none for an event the vendor does not announce). Queued
/// only by [`crate::verification::Effects::record`], for a verification that notifies.
pub fn announce(v: &Verification, event: &NewEvent) -> Vec<NewJob> {
    if v.options.webhook_format.is_ringproof() {
        return vec![job(&v.client_id, &v.id, event)];
    }
    crate::webhook_format::bodies(v, event, &mut JobId::generate)
        .into_iter()
        .map(|(id, body)| NewJob {
            payload: serde_json::to_vec(&body).unwrap_or_default(),
            id,
            kind: JobKind::Webhook,
            client_id: v.client_id.clone(),
            verification_id: Some(v.id.clone()),
            due_at: event.at,
            max_attempts: DEFAULT_WEBHOOK_ATTEMPTS,
        })
        .collect()
}

/// The webhook job announcing `event` of verification `vid` in ringproof's format; queued
/// only through [`announce`] and [`crate::verification::announcement`] in the engine (the
/// stores' tests build them directly).
pub fn job(client: &ClientId, vid: &VerificationId, event: &NewEvent) -> NewJob {
    let id = JobId::generate();
    let body = Body {
        id: id.as_str(),
        kind: format!("verification.{}", event.kind),
        created_at: event.at.to_rfc3339(),
        data: Data {
            verification_id: vid.as_str(),
            channel: event.channel,
            detail: event.detail.as_deref(),
        },
    };
    NewJob {
        payload: serde_json::to_vec(&body).unwrap_or_default(),
        id,
        kind: JobKind::Webhook,
        client_id: client.clone(),
        verification_id: Some(vid.clone()),
        due_at: event.at,
        max_attempts: DEFAULT_WEBHOOK_ATTEMPTS,
    }
}

/// The signature header value for `body` sent at Unix time `t` (seconds).
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
    format!("t={t},v1={}", hex(&mac))
}

/// Why a signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the header is not `t=<seconds>,v1=<hex>`")]
    Malformed,
    #[error("the timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Verifies a signature header the way a receiver should (the reference for the examples
/// in docs/webhooks.md): any `v1` may match (ringproof sends one today; a receiver that
/// accepts several is ready for signing with an old and a new secret during a rotation),
/// compared in constant time, and `t` must be within `tolerance_s` of `now_s`.
pub fn verify(secret: &str, header: &str, body: &[u8], now_s: i64, tolerance_s: i64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.extend(unhex(v)),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now_s.abs_diff(t) > tolerance_s.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = hmac_sha256(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
    if sigs.iter().any(|s| ct_eq(s, &expected)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// One webhook POST as the worker hands it to the HTTP client.
#[derive(Clone, Debug)]
pub struct WebhookRequest {
    /// The client's URL (with Twilio's `bodySHA256` added in that format).
    pub url: String,
    pub signature: String,
    /// The vendor's signature headers, in a vendor's format
    /// ([`crate::webhook_format::vendor_signing`]).
    pub headers: Vec<(&'static str, String)>,
    /// The job id, also the body's `id`, sent as `Ringproof-Webhook-Id` too.
    pub id: String,
    pub body: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn signature_round_trip_and_refusals() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 32);
        let body = br#"{"id":"x"}"#;
        let h = signature(&secret, 1_700_000_000, body);
        assert!(h.starts_with("t=1700000000,v1="));
        assert_eq!(verify(&secret, &h, body, 1_700_000_100, 300), Ok(()));
        assert_eq!(
            verify(&secret, &h, b"{\"id\":\"y\"}", 1_700_000_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_other", &h, body, 1_700_000_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&secret, &h, body, 1_700_000_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&secret, "v1=abcd", body, 1_700_000_000, 300),
            Err(SignatureError::Malformed)
        );
        // A second, rotated-in signature alongside a wrong one still verifies.
        let both = format!(
            "{},v1={}",
            h.replace("v1=", "v1=00"),
            &h[h.find("v1=").unwrap_or(0) + 3..]
        );
        assert_eq!(verify(&secret, &both, body, 1_700_000_000, 300), Ok(()));
    }

    #[test]
    fn known_answer() {
        // Recomputable with: printf '%s' '1732252800.{}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_732_252_800, b"{}"),
            format!(
                "t=1732252800,v1={}",
                hex(&hmac_sha256(b"whsec_test", &[b"1732252800.{}"]))
            )
        );
    }

    #[test]
    fn body_names_the_event_and_nothing_personal() {
        let c = ClientId::generate();
        let v = VerificationId::generate();
        let e = NewEvent {
            kind: crate::event::EventKind::Approved,
            channel: Some(Channel::Voice),
            detail: Some("step 2".into()),
            at: Timestamp::from_millis(1_732_252_800_000),
        };
        let j = job(&c, &v, &e);
        let body: serde_json::Value = serde_json::from_slice(&j.payload).unwrap_or_default();
        assert_eq!(body["id"], j.id.as_str());
        assert_eq!(body["type"], "verification.approved");
        assert_eq!(body["data"]["verification_id"], v.as_str());
        assert_eq!(body["data"]["channel"], "voice");
        assert_eq!(body["data"]["detail"], "step 2");
        assert_eq!(body["created_at"], "2024-11-22T05:20:00.000Z");
        assert_eq!(j.due_at, e.at);
    }

    #[test]
    fn urls() {
        assert!(validate_url("https://example.com/hooks").is_ok());
        assert!(validate_url("http://127.0.0.1:9000/x?y=1").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https://u:p@host/",
            "https://h/#f",
            "https://h/ x",
            "example.com",
        ] {
            assert!(validate_url(bad).is_err(), "{bad}");
        }
    }
}

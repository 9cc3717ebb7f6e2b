//! Twilio's status callbacks: verifying `X-Twilio-Signature` and reading the status.
//!
//! Twilio signs each callback with the account's Auth Token:
//! `base64(HMAC-SHA1(auth_token, URL + name₁ + value₁ + name₂ + value₂ …))`, where URL is
//! the full URL it requested (scheme, host, path, query) and the POST parameters are
//! sorted by name. The URL must therefore be the public one Twilio called (what
//! `status_callback_url` says), not what a reverse proxy forwarded. Twilio's own helper
//! libraries also accept the signature over the URL with the default port added or removed
//! (`https://host:443/…`), since the port Twilio signed is not visible; so do we.
//!
//! Twilio may deliver a callback more than once (its connection retries, and the
//! `I-Twilio-Idempotency-Token` header it sends is the same on a retry); receipts are
//! facts about a message, so applying one twice is harmless.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use ringproof_core::crypto::ct_eq;
use ringproof_core::ports::{CallbackError, CallbackParser, CallbackRequest, DeliveryReceipt, DeliveryStatus};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

use super::config::TwilioConfig;
use crate::error::BuildError;

/// The header Twilio signs callbacks in (lowercase, as [`CallbackRequest::headers`] has them).
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// Verifies and reads the status callbacks of one configured Twilio provider.
pub struct TwilioCallbacks {
    provider: String,
    auth_token: SecretString,
}

impl std::fmt::Debug for TwilioCallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioCallbacks")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl TwilioCallbacks {
    /// `provider` is the configured name (it goes into every receipt); `auth_token` is the
    /// account's Auth Token.
    pub fn new(provider: &str, auth_token: SecretString) -> Self {
        Self {
            provider: provider.to_owned(),
            auth_token,
        }
    }

    /// The verifier of provider `name`'s status callbacks, when `config` names an Auth
    /// Token (Twilio signs callbacks with it); `None` without one. Checks the whole table,
    /// as building the sender does.
    pub fn from_config(name: &str, config: &TwilioConfig) -> Result<Option<Self>, BuildError> {
        Ok(config.settings(name)?.auth_token.map(|token| Self::new(name, token)))
    }
}

/// The signature Twilio computes for a request to `url` with these POST parameters.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(auth_token.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `url` with its default port removed if it has one, else added (`https` 443, `http` 80).
fn other_port_form(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // The host part ends after any userinfo; an IPv6 host is in brackets.
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &authority[host_start..];
    let port_sep = match host_port.rfind(']') {
        Some(b) => host_port[b..].find(':').map(|i| b + i),
        None => host_port.rfind(':'),
    };
    let new_authority = match port_sep {
        Some(i) if &host_port[i + 1..] == default => format!("{}{}", &authority[..host_start], &host_port[..i]),
        Some(_) => return None,
        None => format!("{authority}:{default}"),
    };
    Some(format!("{scheme}://{new_authority}{tail}"))
}

impl CallbackParser for TwilioCallbacks {
    fn parse_callback(&self, req: &CallbackRequest<'_>) -> Result<Vec<DeliveryReceipt>, CallbackError> {
        let Some(given) = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(SIGNATURE_HEADER))
            .map(|(_, v)| v.trim())
        else {
            return Err(CallbackError::BadSignature);
        };
        // Only a POST's form body is signed as parameters; a GET's are in the URL.
        let params: Vec<(String, String)> = if req.method.eq_ignore_ascii_case("POST") {
            form_urlencoded::parse(req.body).into_owned().collect()
        } else {
            Vec::new()
        };
        let token = self.auth_token.expose_secret();
        let candidates = std::iter::once(req.url.to_owned()).chain(other_port_form(req.url));
        let mut ok = false;
        for url in candidates {
            // Every candidate is computed and compared: no early exit to time.
            ok |= ct_eq(signature(token, &url, &params).as_bytes(), given.as_bytes());
        }
        if !ok {
            return Err(CallbackError::BadSignature);
        }
        // A GET callback carries its parameters in the query string.
        let params = if params.is_empty() {
            req.url
                .split_once('?')
                .map(|(_, q)| {
                    form_urlencoded::parse(q.split('#').next().unwrap_or_default().as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default()
        } else {
            params
        };
        receipts(&self.provider, &params)
    }
}

/// The receipt a verified callback carries (none for a progress status).
fn receipts(provider: &str, params: &[(String, String)]) -> Result<Vec<DeliveryReceipt>, CallbackError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (sid, status) = if let Some(status) = get("MessageStatus").or_else(|| get("SmsStatus")) {
        let sid = get("MessageSid").or_else(|| get("SmsSid"));
        (sid, message_status(status))
    } else if let Some(status) = get("CallStatus") {
        (get("CallSid"), call_status(status))
    } else {
        return Err(CallbackError::Malformed(
            "neither MessageStatus nor CallStatus is present".into(),
        ));
    };
    let Some(sid) = sid else {
        return Err(CallbackError::Malformed(
            "the status has no MessageSid or CallSid".into(),
        ));
    };
    let Some(status) = status else {
        return Ok(Vec::new());
    };
    Ok(vec![DeliveryReceipt {
        provider: provider.to_owned(),
        provider_message_id: sid.to_owned(),
        status,
        reason: get("ErrorCode").map(str::to_owned),
    }])
}

/// A Message's status; `None` for progress before it left Twilio (queued, accepted,
/// scheduled, sending) and for statuses we don't know.
fn message_status(s: &str) -> Option<DeliveryStatus> {
    match s {
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" | "read" => Some(DeliveryStatus::Delivered),
        "undelivered" => Some(DeliveryStatus::Undelivered),
        "failed" | "canceled" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

/// A Call's status; `None` while it is in progress (queued, initiated, ringing,
/// in-progress). `completed` means it was answered — by a person or a voicemail.
fn call_status(s: &str) -> Option<DeliveryStatus> {
    match s {
        "completed" => Some(DeliveryStatus::Delivered),
        "busy" | "no-answer" => Some(DeliveryStatus::Undelivered),
        "failed" | "canceled" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn doc_params(caller: &str) -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", caller),
            ("Digits", "1234"),
            ("From", caller),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Callbacks are read only with the Auth Token; an API key alone cannot verify them,
    /// and a table the sender would refuse is refused here too.
    #[test]
    fn from_config_needs_the_auth_token() {
        let table = |extra: serde_json::Value| -> TwilioConfig {
            let mut t = serde_json::json!({
                "account_sid": "AC0123456789abcdef0123456789abcdef",
                "from": "+14155550100",
            });
            for (k, v) in extra.as_object().cloned().unwrap_or_default() {
                t[k] = v;
            }
            serde_json::from_value(t).unwrap()
        };
        let with_token = table(serde_json::json!({"auth_token": "tok"}));
        assert!(TwilioCallbacks::from_config("tw", &with_token).unwrap().is_some());
        let key_only = table(serde_json::json!({
            "api_key_sid": "SK0123456789abcdef0123456789abcdef", "api_key_secret": "s"}));
        assert!(TwilioCallbacks::from_config("tw", &key_only).unwrap().is_none());
        let bad = table(serde_json::json!({"auth_token": "tok", "account_sid": "nope"}));
        let e = TwilioCallbacks::from_config("tw", &bad).unwrap_err().to_string();
        assert!(e.contains("provider `tw`") && e.contains("account_sid"), "{e}");
    }

    #[test]
    fn signature_matches_twilios_documented_examples() {
        // Twilio's security docs (auth token 12345); the current page uses …310, older
        // versions and the helper libraries' tests …309.
        assert_eq!(
            signature("12345", DOC_URL, &doc_params("+14158675310")),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
        assert_eq!(
            signature("12345", DOC_URL, &doc_params("+14158675309")),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        let mut shuffled = doc_params("+14158675310");
        shuffled.reverse();
        assert_eq!(
            signature("12345", DOC_URL, &shuffled),
            "GvWf1cFY/Q7PnoempGyD5oXAezc=",
            "order-free"
        );
    }

    fn body(params: &[(String, String)]) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish()
            .into_bytes()
    }

    fn parse(
        parser: &TwilioCallbacks,
        url: &str,
        sig: &str,
        body: &[u8],
    ) -> Result<Vec<DeliveryReceipt>, CallbackError> {
        let headers = vec![
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            (SIGNATURE_HEADER.to_owned(), sig.to_owned()),
        ];
        parser.parse_callback(&CallbackRequest {
            method: "POST",
            url,
            headers: &headers,
            body,
        })
    }

    #[test]
    fn the_documented_request_verifies_and_tampering_does_not() {
        let p = TwilioCallbacks::new("tw", SecretString::from("12345".to_owned()));
        let params = doc_params("+14158675310");
        let sig = "GvWf1cFY/Q7PnoempGyD5oXAezc=";
        // Verifies; the example is a voice request with no CallStatus, so it is malformed
        // as a status callback — past the signature.
        assert!(matches!(
            parse(&p, DOC_URL, sig, &body(&params)),
            Err(CallbackError::Malformed(_))
        ));
        assert_eq!(
            parse(&p, "https://mycompany.com/myapp.php?foo=1&bar=3", sig, &body(&params)),
            Err(CallbackError::BadSignature),
            "tampered URL"
        );
        let mut tampered = params.clone();
        tampered[2].1 = "9999".into();
        assert_eq!(
            parse(&p, DOC_URL, sig, &body(&tampered)),
            Err(CallbackError::BadSignature),
            "tampered param"
        );
        let mut extra = params.clone();
        extra.push(("Extra".into(), "1".into()));
        assert_eq!(
            parse(&p, DOC_URL, sig, &body(&extra)),
            Err(CallbackError::BadSignature),
            "added param"
        );
        let wrong = TwilioCallbacks::new("tw", SecretString::from("54321".to_owned()));
        assert_eq!(
            parse(&wrong, DOC_URL, sig, &body(&params)),
            Err(CallbackError::BadSignature),
            "other token"
        );
        let no_header = p.parse_callback(&CallbackRequest {
            method: "POST",
            url: DOC_URL,
            headers: &[],
            body: &body(&params),
        });
        assert_eq!(no_header, Err(CallbackError::BadSignature));
    }

    #[test]
    fn statuses_map_to_receipts() {
        let p = TwilioCallbacks::new("tw", SecretString::from("tok".to_owned()));
        let url = "https://rp.example.com/callbacks/tw";
        let case = |pairs: &[(&str, &str)]| {
            let params: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            parse(&p, url, &signature("tok", url, &params), &body(&params))
        };
        let one = |status, reason: Option<&str>, id: &str| {
            Ok(vec![DeliveryReceipt {
                provider: "tw".into(),
                provider_message_id: id.into(),
                status,
                reason: reason.map(str::to_owned),
            }])
        };
        assert_eq!(
            case(&[
                ("MessageSid", "SM1"),
                ("MessageStatus", "delivered"),
                ("To", "+14155550100")
            ]),
            one(DeliveryStatus::Delivered, None, "SM1")
        );
        assert_eq!(
            case(&[
                ("MessageSid", "SM1"),
                ("MessageStatus", "undelivered"),
                ("ErrorCode", "30003")
            ]),
            one(DeliveryStatus::Undelivered, Some("30003"), "SM1")
        );
        assert_eq!(
            case(&[("MessageSid", "SM1"), ("MessageStatus", "sent")]),
            one(DeliveryStatus::Sent, None, "SM1")
        );
        assert_eq!(
            case(&[
                ("MessageSid", "SM1"),
                ("MessageStatus", "failed"),
                ("ErrorCode", "30007")
            ]),
            one(DeliveryStatus::Failed, Some("30007"), "SM1")
        );
        assert_eq!(case(&[("MessageSid", "SM1"), ("MessageStatus", "sending")]), Ok(vec![]));
        assert_eq!(case(&[("MessageSid", "SM1"), ("MessageStatus", "queued")]), Ok(vec![]));
        assert_eq!(
            case(&[("SmsSid", "SM2"), ("SmsStatus", "delivered")]),
            one(DeliveryStatus::Delivered, None, "SM2")
        );
        assert_eq!(
            case(&[("CallSid", "CA1"), ("CallStatus", "completed")]),
            one(DeliveryStatus::Delivered, None, "CA1")
        );
        assert_eq!(
            case(&[("CallSid", "CA1"), ("CallStatus", "no-answer")]),
            one(DeliveryStatus::Undelivered, None, "CA1")
        );
        assert_eq!(
            case(&[("CallSid", "CA1"), ("CallStatus", "busy")]),
            one(DeliveryStatus::Undelivered, None, "CA1")
        );
        assert_eq!(
            case(&[("CallSid", "CA1"), ("CallStatus", "canceled")]),
            one(DeliveryStatus::Failed, None, "CA1")
        );
        assert_eq!(
            case(&[("CallSid", "CA1"), ("CallStatus", "failed")]),
            one(DeliveryStatus::Failed, None, "CA1")
        );
        assert_eq!(case(&[("CallSid", "CA1"), ("CallStatus", "ringing")]), Ok(vec![]));
        assert!(matches!(
            case(&[("MessageStatus", "delivered")]),
            Err(CallbackError::Malformed(_))
        ));
        assert!(matches!(case(&[("Foo", "bar")]), Err(CallbackError::Malformed(_))));
    }

    #[test]
    fn values_are_form_decoded_before_signing() {
        // Twilio signs the decoded values: `+` in a number arrives as %2B, a space as `+`.
        let p = TwilioCallbacks::new("tw", SecretString::from("tok".to_owned()));
        let url = "https://rp.example.com/callbacks/tw";
        let params = vec![
            ("MessageSid".to_owned(), "SM1".to_owned()),
            ("MessageStatus".to_owned(), "delivered".to_owned()),
            ("To".to_owned(), "+14155550100".to_owned()),
            ("Note".to_owned(), "a b&c".to_owned()),
        ];
        let raw = b"MessageSid=SM1&MessageStatus=delivered&To=%2B14155550100&Note=a+b%26c";
        assert_eq!(parse(&p, url, &signature("tok", url, &params), raw).unwrap().len(), 1);
    }

    #[test]
    fn the_default_port_may_or_may_not_have_been_signed() {
        assert_eq!(
            other_port_form("https://rp.example.com/callbacks/tw?x=1").as_deref(),
            Some("https://rp.example.com:443/callbacks/tw?x=1")
        );
        assert_eq!(
            other_port_form("https://rp.example.com:443/callbacks/tw").as_deref(),
            Some("https://rp.example.com/callbacks/tw")
        );
        assert_eq!(
            other_port_form("http://u:p@[::1]/cb").as_deref(),
            Some("http://u:p@[::1]:80/cb")
        );
        assert_eq!(other_port_form("https://rp.example.com:8443/cb"), None);
        let p = TwilioCallbacks::new("tw", SecretString::from("tok".to_owned()));
        let params = vec![
            ("CallSid".to_owned(), "CA1".to_owned()),
            ("CallStatus".to_owned(), "completed".to_owned()),
        ];
        let signed_with_port = signature("tok", "https://rp.example.com:443/callbacks/tw", &params);
        assert_eq!(
            parse(
                &p,
                "https://rp.example.com/callbacks/tw",
                &signed_with_port,
                &body(&params)
            )
            .unwrap()
            .len(),
            1
        );
    }
}

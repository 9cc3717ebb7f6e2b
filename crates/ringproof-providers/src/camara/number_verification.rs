//! CAMARA Number Verification as ringproof's [`NetworkAuthenticator`].
//!
//! `begin`: the operator for the number (longest prefix), its discovery document (a
//! reachability check that must fit in the deadline), and the `/authorize` URL:
//! `response_type=code`, `prompt=none`, the scope `openid dpv:FraudPreventionAndDetection
//! number-verification:verify`, `state`, a fresh `nonce`, a PKCE S256 challenge and, when
//! the operator wants it, `login_hint=tel:+…`.
//!
//! `finish`: the operator's `error` (Wi-Fi: it could not identify the subscriber; refused
//! consent) or `code`; the code is exchanged at `/token` with the PKCE verifier and a
//! `private_key_jwt` assertion; the ID token's signature (the operator's JWKS), issuer,
//! audience, expiry and nonce are checked; then `POST /number-verification/vwip/verify`
//! with `phoneNumber` (or `hashedPhoneNumber`) gives `devicePhoneNumberVerified`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use ringproof_core::crypto::{base64url, hex, random_bytes, sha256};
use ringproof_core::jose::{pkce_challenge, unverified_header};
use ringproof_core::netauth::{Begin, Callback, ClickContext, NetworkAuthenticator, Verdict};
use ringproof_core::phone::PhoneNumber;
use serde::Deserialize;
use serde_json::{Value, json};

use super::operator::{Discovery, Operator, OperatorError, Operators, json_of};

/// The scope of a Number Verification authorization.
pub const SCOPE: &str = "openid dpv:FraudPreventionAndDetection number-verification:verify";

/// How long the reachability check before a redirect may take at most (the rest of the
/// deadline is the device's round trip).
const PREFLIGHT_MAX: Duration = Duration::from_secs(3);

pub struct CamaraNumberVerification {
    operators: Arc<Operators>,
    /// Where operators send the device back (`<public_base_url>/l/callback`).
    redirect_uri: String,
}

impl CamaraNumberVerification {
    pub fn new(operators: Arc<Operators>, redirect_uri: String) -> Self {
        CamaraNumberVerification {
            operators,
            redirect_uri,
        }
    }
}

/// What `finish` needs, kept sealed by the engine.
#[derive(serde::Serialize, Deserialize)]
struct Pending {
    operator: String,
    nonce: String,
    verifier: String,
}

#[derive(Deserialize)]
struct VerifyResponse {
    #[serde(rename = "devicePhoneNumberVerified")]
    verified: bool,
}

#[async_trait]
impl NetworkAuthenticator for CamaraNumberVerification {
    fn name(&self) -> &str {
        "camara"
    }

    async fn begin(&self, number: &PhoneNumber, _click: &ClickContext, state: &str, budget: Duration) -> Begin {
        let Some(op) = self.operators.for_number(number) else {
            return Begin::Verdict(Verdict::indeterminate("no_operator"));
        };
        let d = match self.operators.discovery(op, budget.min(PREFLIGHT_MAX)).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(operator = op.name(), error = %e, "network authentication: operator discovery failed");
                return Begin::Verdict(Verdict::indeterminate(e.reason()));
            }
        };
        let verifier = base64url(&random_bytes::<32>());
        let nonce = base64url(&random_bytes::<16>());
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &op.config.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("state", state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "none");
        if op.config.login_hint {
            q.append_pair("login_hint", &format!("tel:{}", number.e164()));
        }
        let sep = if d.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!("{}{sep}{}", d.authorization_endpoint, q.finish());
        let pending = json!(Pending {
            operator: op.name().to_owned(),
            nonce,
            verifier,
        });
        Begin::Redirect { url, pending }
    }

    async fn finish(&self, number: &PhoneNumber, pending: &Value, callback: &Callback, budget: Duration) -> Verdict {
        let Ok(p) = serde_json::from_value::<Pending>(pending.clone()) else {
            return Verdict::indeterminate("bad_state");
        };
        let Some(op) = self.operators.named(&p.operator) else {
            return Verdict::indeterminate("no_operator");
        };
        if let Some(e) = &callback.error {
            return Verdict::indeterminate(error_reason(e));
        }
        let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
            return Verdict::indeterminate("operator_error");
        };
        match self.verify(op, number, &p, code, Instant::now() + budget).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(operator = op.name(), error = %e, "network authentication failed");
                Verdict::indeterminate(e.reason())
            }
        }
    }

    fn origins(&self) -> Vec<String> {
        self.operators.origins()
    }
}

impl CamaraNumberVerification {
    async fn verify(
        &self,
        op: &Operator,
        number: &PhoneNumber,
        p: &Pending,
        code: &str,
        until: Instant,
    ) -> Result<Verdict, OperatorError> {
        let left = || until.saturating_duration_since(Instant::now());
        let d = self.operators.discovery(op, left()).await?;
        let token = self
            .operators
            .token(
                op,
                &d,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", &p.verifier),
                ],
                left(),
            )
            .await?;
        let id_token = token
            .id_token
            .as_deref()
            .ok_or_else(|| OperatorError::Invalid("no id_token".into()))?;
        if let Err(why) = self.check_id_token(op, &d, id_token, &p.nonce, left()).await? {
            tracing::warn!(operator = op.name(), why, "network authentication: ID token refused");
            return Ok(Verdict::indeterminate("id_token_invalid"));
        }
        let body = if op.config.hashed_phone_number {
            json!({ "hashedPhoneNumber": hex(&sha256(number.e164().as_bytes())) })
        } else {
            json!({ "phoneNumber": number.e164() })
        };
        let res = self
            .operators
            .http()
            .post(format!("{}/number-verification/vwip/verify", op.api_root()))
            .bearer_auth(&token.access_token)
            .header("x-correlator", base64url(&random_bytes::<12>()))
            .json(&body)
            .timeout(left())
            .send()
            .await
            .map_err(|e| match e.is_timeout() {
                true => OperatorError::Timeout,
                false => OperatorError::Unreachable(e.to_string()),
            })?;
        let r: VerifyResponse = json_of(res).await?;
        Ok(Verdict::of(r.verified))
    }

    /// `Ok(Err(why))` when the ID token is not one the operator issued for this request.
    async fn check_id_token(
        &self,
        op: &Operator,
        d: &Discovery,
        id_token: &str,
        nonce: &str,
        budget: Duration,
    ) -> Result<Result<(), &'static str>, OperatorError> {
        let kid = unverified_header(id_token)
            .ok()
            .and_then(|h| h["kid"].as_str().map(str::to_owned));
        let keys = self.operators.operator_keys(op, d, kid.as_deref(), budget).await?;
        let Ok((_, c)) = keys.verify(id_token) else {
            return Ok(Err("signature"));
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Ok(check_claims(&c, &d.issuer, &op.config.client_id, nonce, now))
    }
}

/// The claims of an ID token (whose signature verified) for this request: issued by the
/// operator, for ringproof, not expired (60 s of clock skew allowed), with our nonce.
fn check_claims(c: &Value, issuer: &str, client_id: &str, nonce: &str, now: u64) -> Result<(), &'static str> {
    let aud_ok = match &c["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(a) => a.iter().any(|x| x == client_id),
        _ => false,
    };
    if c["iss"].as_str() != Some(issuer) {
        Err("issuer")
    } else if !aud_ok {
        Err("audience")
    } else if c["exp"].as_u64().is_none_or(|exp| exp.saturating_add(60) < now) {
        Err("expired")
    } else if c["nonce"].as_str() != Some(nonce) {
        Err("nonce")
    } else {
        Ok(())
    }
}

/// The reason token of an `error` the operator sent back to the callback.
fn error_reason(error: &str) -> &'static str {
    match error {
        // prompt=none and the network could not tell who the subscriber is (Wi-Fi, roaming).
        "login_required" | "access_denied" => "unidentified",
        "consent_required" | "interaction_required" | "account_selection_required" => "consent_refused",
        _ => "operator_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_token_claims_must_be_this_requests() {
        let good = json!({"iss": "https://op", "aud": "rp", "exp": 1000, "nonce": "n1"});
        let check = |c: &Value| check_claims(c, "https://op", "rp", "n1", 1000);
        assert_eq!(check(&good), Ok(()));
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            c
        };
        assert_eq!(
            check(&with("aud", json!(["x", "rp"]))),
            Ok(()),
            "an audience list naming us"
        );
        assert_eq!(check(&with("iss", json!("https://other"))), Err("issuer"));
        assert_eq!(check(&with("aud", json!("other"))), Err("audience"));
        assert_eq!(check(&with("aud", json!(["other"]))), Err("audience"));
        assert_eq!(check(&with("exp", json!(939))), Err("expired"));
        assert_eq!(check(&with("exp", json!(940))), Ok(()), "60 s of skew");
        assert_eq!(check(&with("exp", json!(u64::MAX))), Ok(()), "no overflow");
        assert_eq!(check(&with("exp", json!("soon"))), Err("expired"));
        assert_eq!(check(&with("nonce", json!("n2"))), Err("nonce"));
        let mut no_nonce = good.clone();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert_eq!(check(&no_nonce), Err("nonce"));
    }

    #[test]
    fn operator_errors_map_to_reasons() {
        assert_eq!(error_reason("access_denied"), "unidentified");
        assert_eq!(error_reason("login_required"), "unidentified");
        assert_eq!(error_reason("consent_required"), "consent_refused");
        assert_eq!(error_reason("server_error"), "operator_error");
    }
}

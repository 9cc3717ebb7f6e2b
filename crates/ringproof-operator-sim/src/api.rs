//! The CAMARA APIs: Number Verification (`/number-verification/vwip/verify`,
//! `/device-phone-number`) and SIM Swap (`/sim-swap/vwip/check`, `/retrieve-date`).
//!
//! Checks run in the order the conformance features imply: the access token (401
//! `UNAUTHENTICATED`), its scope (403 `PERMISSION_DENIED`), the body's schema (400
//! `INVALID_ARGUMENT` / `OUT_OF_RANGE`), then how the subject is identified (403
//! `NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK`, 422 `MISSING_IDENTIFIER` /
//! `UNNECESSARY_IDENTIFIER` / `SERVICE_NOT_APPLICABLE`, 404 `IDENTIFIER_NOT_FOUND`).
//! Every answer echoes a well-formed `x-correlator`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ringproof_core::crypto::{hex, sha256};
use serde_json::{Map, Value, json};

use crate::config::{PhoneConfig, is_e164};
use crate::{Inner, SCOPE_NV_READ, SCOPE_NV_VERIFY, SCOPE_SS_ALL, SCOPE_SS_CHECK, SCOPE_SS_DATE, lock};

pub(crate) fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/number-verification/vwip/verify", post(nv_verify))
        .route("/number-verification/vwip/device-phone-number", get(nv_share))
        .route("/sim-swap/vwip/check", post(ss_check))
        .route("/sim-swap/vwip/retrieve-date", post(ss_retrieve_date))
}

/// A CAMARA error: `{status, code, message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        code,
        message: message.into(),
    }
}

/// The request's `x-correlator`, checked against the specification's pattern
/// `^[a-zA-Z0-9-_:;.\/<>{}]{0,256}$`.
fn correlator(headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
    let Some(v) = headers.get("x-correlator") else {
        return Ok(None);
    };
    let ok = v.to_str().is_ok_and(|s| {
        s.len() <= 256
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:;./<>{}".contains(&b))
    });
    if ok {
        Ok(Some(v.clone()))
    } else {
        Err(err(
            400,
            "INVALID_ARGUMENT",
            "The x-correlator header does not match its pattern.",
        ))
    }
}

fn respond(correlator: Option<HeaderValue>, result: Result<Value, ApiError>) -> Response {
    let mut r = match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => {
            tracing::info!(target: "operator_sim", code = e.code, "api: error");
            (
                e.status,
                Json(json!({"status": e.status.as_u16(), "code": e.code, "message": e.message})),
            )
                .into_response()
        }
    };
    if let Some(c) = correlator {
        r.headers_mut().insert("x-correlator", c);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Runs `op` with the request's correlator handled on both paths.
fn handle(headers: &HeaderMap, op: impl FnOnce() -> Result<Value, ApiError>) -> Response {
    match correlator(headers) {
        Ok(c) => respond(c, op()),
        Err(e) => respond(None, Err(e)),
    }
}

/// What the bearer token grants, as the API sees it.
struct Grant {
    number: Option<String>,
}

/// Checks the bearer token (401) and that it carries one of `wanted` (403). A Number
/// Verification token is then spent: the API allows one call per token.
fn authorize(s: &Inner, headers: &HeaderMap, wanted: &[&str], single_use: bool) -> Result<Grant, ApiError> {
    let unauthenticated = |m: &str| {
        err(
            401,
            "UNAUTHENTICATED",
            format!(
                "Request not authenticated due to missing, invalid, or expired credentials: {m}. A new authentication is required."
            ),
        )
    };
    let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(unauthenticated("no Authorization header"));
    };
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => return Err(unauthenticated("not a Bearer token")),
    };
    let now = s.now();
    let mut tokens = lock(&s.tokens);
    tokens.retain(|_, t| t.expires.plus_secs(3600) > now);
    let Some(t) = tokens.get_mut(token) else {
        return Err(unauthenticated("unknown access token"));
    };
    if t.expires <= now {
        return Err(unauthenticated("the access token has expired"));
    }
    if t.used {
        return Err(unauthenticated(
            "the access token was already used (Number Verification tokens are single-use)",
        ));
    }
    if !t.scopes.iter().any(|sc| wanted.contains(&sc.as_str())) {
        return Err(err(
            403,
            "PERMISSION_DENIED",
            "Client does not have sufficient permissions to perform this action.",
        ));
    }
    if single_use {
        t.used = true;
    }
    tracing::debug!(target: "operator_sim", client_id = t.client_id, "api: token accepted");
    Ok(Grant {
        number: t.number.clone(),
    })
}

/// The body as a JSON object; a missing or non-object body is `INVALID_ARGUMENT`.
fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(err(
            400,
            "INVALID_ARGUMENT",
            "Client specified an invalid argument, request body or query param: the body must be a JSON object.",
        )),
    }
}

fn not_by_network() -> ApiError {
    err(
        403,
        "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK",
        "Client must authenticate via the mobile network to use this service",
    )
}

// ---------------------------------------------------------------------------------------
// Number Verification

async fn nv_verify(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&headers, || {
        let grant = authorize(&s, &headers, &[SCOPE_NV_VERIFY], true)?;
        let m = object(&body)?;
        let invalid = |m: &str| {
            err(
                400,
                "INVALID_ARGUMENT",
                format!("Client specified an invalid argument: {m}"),
            )
        };
        if m.len() != 1 {
            return Err(invalid("exactly one of phoneNumber and hashedPhoneNumber is required"));
        }
        enum Claimed {
            Plain(String),
            Hashed(String),
        }
        let claimed = match (m.get("phoneNumber"), m.get("hashedPhoneNumber")) {
            (Some(Value::String(n)), None) if is_e164(n) => Claimed::Plain(n.clone()),
            (Some(_), None) => return Err(invalid("phoneNumber must be E.164 (^\\+[1-9][0-9]{4,14}$)")),
            (None, Some(Value::String(h))) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Claimed::Hashed(h.to_ascii_lowercase())
            }
            (None, Some(_)) => return Err(invalid("hashedPhoneNumber must be 64 hexadecimal digits")),
            _ => return Err(invalid("the body must hold phoneNumber or hashedPhoneNumber")),
        };
        let Some(device) = grant.number else {
            return Err(not_by_network());
        };
        let verified = match claimed {
            Claimed::Plain(n) => n == device,
            Claimed::Hashed(h) => h == hex(&sha256(device.as_bytes())),
        };
        tracing::info!(target: "operator_sim", verified, "number-verification: verify");
        Ok(json!({"devicePhoneNumberVerified": verified}))
    })
}

async fn nv_share(State(s): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    handle(&headers, || {
        let grant = authorize(&s, &headers, &[SCOPE_NV_READ], true)?;
        let device = grant.number.ok_or_else(not_by_network)?;
        tracing::info!(target: "operator_sim", "number-verification: device-phone-number");
        Ok(json!({"devicePhoneNumber": device}))
    })
}

// ---------------------------------------------------------------------------------------
// SIM Swap

/// The line a SIM Swap request is about, after the identifier rules of the specification.
fn subject(s: &Inner, grant: &Grant, body: &Map<String, Value>) -> Result<PhoneConfig, ApiError> {
    let given = match body.get("phoneNumber") {
        None => None,
        Some(Value::String(n)) if is_e164(n) => Some(n.clone()),
        Some(_) => {
            return Err(err(
                400,
                "INVALID_ARGUMENT",
                "Client specified an invalid argument: phoneNumber must be E.164 (^\\+[1-9][0-9]{4,14}$)",
            ));
        }
    };
    let phone = match (&grant.number, given) {
        (Some(_), Some(_)) => {
            return Err(err(
                422,
                "UNNECESSARY_IDENTIFIER",
                "The device is already identified by the access token.",
            ));
        }
        (None, None) => return Err(err(422, "MISSING_IDENTIFIER", "The device cannot be identified.")),
        // A 3-legged token's number was authenticated by the network: a number the file does
        // not list (an override) is a line with no SIM history.
        (Some(n), None) => s.phone(n).cloned().unwrap_or_else(|| PhoneConfig::new(n)),
        (None, Some(n)) => s
            .phone(&n)
            .cloned()
            .ok_or_else(|| err(404, "IDENTIFIER_NOT_FOUND", "Device identifier not found."))?,
    };
    if !phone.sim_swap_applicable {
        return Err(err(
            422,
            "SERVICE_NOT_APPLICABLE",
            "The service is not available for the provided identifier.",
        ));
    }
    Ok(phone)
}

async fn ss_check(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&headers, || {
        let grant = authorize(&s, &headers, &[SCOPE_SS_CHECK, SCOPE_SS_ALL], false)?;
        let m = object(&body)?;
        let max_age = match m.get("maxAge") {
            None => 240,
            Some(v) => match v.as_i64() {
                Some(h) if (1..=2400).contains(&h) => h,
                Some(_) => {
                    return Err(err(
                        400,
                        "OUT_OF_RANGE",
                        "Client specified an invalid range: maxAge must be 1..2400 hours.",
                    ));
                }
                None => {
                    return Err(err(
                        400,
                        "INVALID_ARGUMENT",
                        "Client specified an invalid argument: maxAge must be an integer.",
                    ));
                }
            },
        };
        if let Some(days) = s.cfg.monitored_period_days
            && max_age > i64::from(days) * 24
        {
            return Err(err(
                400,
                "OUT_OF_RANGE",
                format!("Check monitor period could not exceed local regulations ({days} days)."),
            ));
        }
        let phone = subject(&s, &grant, &m)?;
        let since = s.now().plus_secs(-max_age * 3600);
        let swapped = phone.latest_sim_change().is_some_and(|t| t >= since);
        tracing::info!(target: "operator_sim", swapped, max_age, "sim-swap: check");
        Ok(json!({"swapped": swapped}))
    })
}

async fn ss_retrieve_date(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&headers, || {
        let grant = authorize(&s, &headers, &[SCOPE_SS_DATE, SCOPE_SS_ALL], false)?;
        let m = object(&body)?;
        let phone = subject(&s, &grant, &m)?;
        let latest = phone.latest_sim_change();
        let answer = match s.cfg.monitored_period_days {
            Some(days) if latest.is_some_and(|t| t < s.now().plus_secs(-i64::from(days) * 86_400)) => {
                json!({"latestSimChange": null, "monitoredPeriod": days})
            }
            _ => json!({"latestSimChange": latest.map(|t| t.to_rfc3339())}),
        };
        tracing::info!(target: "operator_sim", known = latest.is_some(), "sim-swap: retrieve-date");
        Ok(answer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlator_pattern() {
        let mut h = HeaderMap::new();
        assert!(correlator(&h).unwrap().is_none());
        h.insert(
            "x-correlator",
            HeaderValue::from_static("b4333c46-49c0-4f62-80d7-f0ef930f1c46"),
        );
        assert!(correlator(&h).unwrap().is_some());
        h.insert("x-correlator", HeaderValue::from_static("has space"));
        assert!(correlator(&h).is_err());
    }
}

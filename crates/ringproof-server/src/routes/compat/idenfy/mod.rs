//! The iDenfy-compatible face, base `/fraud`: iDenfy's phone verification (`send-sms`,
//! `verify-sms`) over [`ringproof_core::engine::fallback`], where the timeline, the sender id rule
//! and the SMS text live. This file checks the shapes of the fields, authenticates and
//! renders. Contract and error catalogue: `docs/compat-idenfy.md`.
//!
//! Authentication: HTTP Basic, the client's API key as user name and its API secret as
//! password. `request_id` is the verification id without its `VE` prefix (32 lowercase hex
//! characters).

pub mod error;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringproof_core::client::Client;
use ringproof_core::engine::fallback::{self, NumberError, SenderId, SenderIdError};
use ringproof_core::ids::VerificationId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::error::IdenfyError;
use self::error::{IdenfyErrorBody, Rendered};
use crate::state::AppState;

/// Where the face lives.
pub const BASE: &str = "/fraud";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_sms))
        .routes(routes!(verify_sms))
}

/// Whether a request path belongs to this face.
pub fn is_face_path(path: &str) -> bool {
    path == BASE || path.strip_prefix(BASE).is_some_and(|rest| rest.starts_with('/'))
}

/// Gives every error response under `/fraud` iDenfy's body: those the face rendered pass
/// through; anything else (axum's unknown route and wrong method, a panic caught by the
/// server) is replaced by the face's body for its status.
pub async fn envelope_everything(req: Request, next: Next) -> Response {
    if !is_face_path(req.uri().path()) {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && res.extensions().get::<Rendered>().is_none() {
        let mut replaced = IdenfyError::for_status(status).into_response();
        // Keep what the outer middleware reads (the matched route, for logs and metrics).
        replaced.extensions_mut().extend(res.extensions().clone());
        return replaced;
    }
    res
}

/// The client authenticated by HTTP Basic (key as user name, secret as password).
pub struct IdenfyClient(pub Client);

impl FromRequestParts<AppState> for IdenfyClient {
    type Rejection = IdenfyError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (key, secret) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::credentials)
            .ok_or(IdenfyError::Unauthorized)?;
        Ok(IdenfyClient(state.engine.authenticate(&key, &secret).await?))
    }
}

/// A JSON object body with this face's errors: a non-JSON `Content-Type` → 415; over the
/// body limit → 413; not UTF-8 → `ENCODING_ERROR`; not JSON or not an object → `JSON_ERROR`.
pub struct IdenfyJson(pub serde_json::Map<String, Value>);

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(t, suffix)| t.starts_with("application/") && suffix.eq_ignore_ascii_case("json"))
}

impl<S: Send + Sync> FromRequest<S> for IdenfyJson {
    type Rejection = IdenfyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        if !json_type {
            return Err(IdenfyError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                IdenfyError::PayloadTooLarge
            } else {
                IdenfyError::JsonError
            }
        })?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(IdenfyError::EncodingError);
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(Self(m)),
            _ => Err(IdenfyError::JsonError),
        }
    }
}

fn bad(field: &'static str, reason: impl Into<String>) -> IdenfyError {
    IdenfyError::BadValue {
        field,
        reason: reason.into(),
    }
}

impl IdenfyJson {
    /// A string field: `None` when missing or null; another type is a bad value.
    fn optional_str(&self, field: &'static str) -> Result<Option<&str>, IdenfyError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(field, "must be a string")),
        }
    }

    /// A required string field: missing or null → `MISSING_VALUE`.
    fn required_str(&self, field: &'static str) -> Result<&str, IdenfyError> {
        self.optional_str(field)?.ok_or(IdenfyError::Missing(field))
    }
}

/// The body of `send-sms`. The handler reads the fields itself, to name each problem.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SendSmsRequest {
    /// E.164: `+`, the country code and the number, digits only. The calling code must be in
    /// the supported-country table and the number valid for its plan.
    #[schema(example = "+12025550163", pattern = r"^\+[1-9][0-9]{6,14}$")]
    phone_number: String,
    /// The SMS sender id: 1 to 11 ASCII letters, digits and spaces (not starting or ending
    /// with a space). Default: the client's brand, reduced to those characters and cut to 11.
    #[schema(
        example = "The Sender",
        min_length = 1,
        max_length = 11,
        pattern = "^[A-Za-z0-9]([A-Za-z0-9 ]*[A-Za-z0-9])?$"
    )]
    sender_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SendSmsResponse {
    /// 32 lowercase hex characters; send it to `verify-sms`.
    #[schema(example = "3d50e1584e0946e789e0185c009aaadf")]
    request_id: String,
}

/// The body of `verify-sms`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct VerifySmsRequest {
    /// The `request_id` of `send-sms` (32 to 40 characters).
    #[schema(example = "3d50e1584e0946e789e0185c009aaadf", min_length = 32, max_length = 40)]
    request_id: String,
    /// The 4 digits the person entered.
    #[schema(example = "1234", pattern = "^[0-9]{4}$")]
    received_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct VerifySmsResponse {
    /// `true` only when this code verifies the number now.
    is_verified: bool,
}

/// Sends an SMS with a 4-digit code, then runs the fallback timeline (iDenfy's Send SMS).
///
/// The SMS reads `<sender_name> code: 1234. Valid for 5 minutes.` If the number is not
/// verified by `idenfy.first_call_after_s` (default 120 s), a call speaks the same code; if
/// not by `idenfy.second_call_after_s` (default 300 s, when the SMS code stops working), a
/// call speaks a new code valid for `idenfy.second_code_valid_s` (default 300 s).
#[utoipa::path(
    post,
    path = "/fraud/send-sms",
    tag = "idenfy",
    security(("basic" = [])),
    request_body = SendSmsRequest,
    responses(
        (status = 200, description = "`{\"request_id\":\"<32 lowercase hex>\"}`", body = SendSmsResponse),
        (status = 400, description = "`MISSING_VALUE` or `BAD_VALUE` naming the field; `JSON_ERROR`; `ENCODING_ERROR`", body = IdenfyErrorBody),
        (status = 401, description = "`UNAUTHORIZED`: no HTTP Basic credentials, or wrong ones", body = IdenfyErrorBody),
        (status = 403, description = "`PARTNER_CONTRACT_ERROR` (client not enabled for `idenfy-sms`) or `PERMISSIONS_ERROR` (blocklist, test-mode allowlist)", body = IdenfyErrorBody),
        (status = 413, description = "`VALIDATION_ERROR`: body over 16 KiB", body = IdenfyErrorBody),
        (status = 415, description = "`VALIDATION_ERROR`: Content-Type is not JSON", body = IdenfyErrorBody),
        (status = 503, description = "`INTERNAL_ERROR`: the provider or the database is unavailable; retry", body = IdenfyErrorBody)
    )
)]
async fn send_sms(
    State(state): State<AppState>,
    IdenfyClient(client): IdenfyClient,
    body: IdenfyJson,
) -> Result<axum::Json<SendSmsResponse>, IdenfyError> {
    let phone = body.required_str("phone_number")?;
    let to = fallback::parse_number(phone).map_err(|e: NumberError| bad("phone_number", e.to_string()))?;
    let sender = match body.optional_str("sender_name")? {
        Some(s) => SenderId::parse(s).map_err(|e: SenderIdError| bad("sender_name", e.to_string()))?,
        None => SenderId::from_brand(&client.brand),
    };
    let v = state
        .engine
        .start_fallback(&client, to, sender, &state.config.idenfy)
        .await?;
    let id = v.id.as_str();
    Ok(axum::Json(SendSmsResponse {
        request_id: id.strip_prefix("VE").unwrap_or(id).to_owned(),
    }))
}

/// Verifies the code the person entered (iDenfy's Verify SMS).
///
/// `is_verified` is `true` only for the code that is valid now; `false` for a wrong or
/// expired code, a request already verified, and after the 5th wrong code (then even the
/// right one is `false`).
#[utoipa::path(
    post,
    path = "/fraud/verify-sms",
    tag = "idenfy",
    security(("basic" = [])),
    request_body = VerifySmsRequest,
    responses(
        (status = 200, description = "`{\"is_verified\":true}` or `{\"is_verified\":false}`", body = VerifySmsResponse),
        (status = 400, description = "`MISSING_VALUE` or `BAD_VALUE` naming the field (`request_id` 32 to 40 characters, `received_code` 4 digits); `JSON_ERROR`; `ENCODING_ERROR`", body = IdenfyErrorBody),
        (status = 401, description = "`UNAUTHORIZED`: no HTTP Basic credentials, or wrong ones", body = IdenfyErrorBody),
        (status = 404, description = "`TOKEN_NOT_VALID`: no verification of this client has this `request_id` (another client's answers the same)", body = IdenfyErrorBody),
        (status = 413, description = "`VALIDATION_ERROR`: body over 16 KiB", body = IdenfyErrorBody),
        (status = 415, description = "`VALIDATION_ERROR`: Content-Type is not JSON", body = IdenfyErrorBody),
        (status = 503, description = "`INTERNAL_ERROR`: the database is unavailable; retry", body = IdenfyErrorBody)
    )
)]
async fn verify_sms(
    State(state): State<AppState>,
    IdenfyClient(client): IdenfyClient,
    body: IdenfyJson,
) -> Result<axum::Json<VerifySmsResponse>, IdenfyError> {
    let request_id = body.required_str("request_id")?;
    let code = body.required_str("received_code")?;
    if !(32..=40).contains(&request_id.chars().count()) {
        return Err(bad("request_id", "must be 32 to 40 characters"));
    }
    if code.len() != usize::from(fallback::CODE_LENGTH) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("received_code", "must be exactly 4 digits"));
    }
    let id = VerificationId::parse(&format!("VE{request_id}")).ok_or(IdenfyError::UnknownRequest)?;
    let is_verified = state.engine.verify_fallback(&client.id, &id, code).await?;
    Ok(axum::Json(VerifySmsResponse { is_verified }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_and_face_paths() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/vnd.api+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for no in ["text/plain", "application/x-www-form-urlencoded", "", "json"] {
            assert!(!is_json(no), "{no}");
        }
        assert!(is_face_path("/fraud"));
        assert!(is_face_path("/fraud/send-sms"));
        assert!(is_face_path("/fraud/nope/deeper"));
        assert!(!is_face_path("/fraudulent"));
        assert!(!is_face_path("/v1/fraud"));
    }
}

//! The iDenfy-compatible face, base `/fraud`: iDenfy's phone verification (`send-sms`,
//! `verify-sms`) over [`ringproof_core::engine::fallback`], where the timeline, the sender id rule
//! and the SMS text live. This file checks the shapes of the fields, authenticates and
//! renders. Contract and error catalogue: `docs/compat-idenfy.md`.
//!
//! Authentication: HTTP Basic, the client's API key as user name and its API secret as
//! password. `request_id` is the verification id without its `VE` prefix (32 lowercase hex
//! characters).

pub mod error;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringproof_core::client::Client;
use ringproof_core::countries;
use ringproof_core::engine::fallback::{self, SenderId, SenderIdError};
use ringproof_core::ids::VerificationId;
use ringproof_core::phone::{Dashed, ParseOptions, PhoneError, PhoneNumber};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::error::IdenfyError;
use self::error::{IdenfyErrorBody, Rendered};
use crate::json_body::{BodyProblem, Field, FieldValue, Json, JsonFace, field_value};
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
        let ip = crate::client_ip::of_parts(parts, state);
        match state.engine.authenticate(&key, &secret, ip).await {
            Ok(c) => Ok(IdenfyClient(c)),
            Err(e) => {
                if let ringproof_core::CoreError::TooManyFailures(t) = &e {
                    crate::telemetry::auth_throttled("idenfy", t);
                }
                Err(e.into())
            }
        }
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(t, suffix)| t.starts_with("application/") && suffix.eq_ignore_ascii_case("json"))
}

/// How this face reads JSON bodies: a non-JSON `Content-Type` → 415; over the body limit
/// → 413; not UTF-8 → `ENCODING_ERROR`; not JSON or not an object → `JSON_ERROR`.
pub struct Idenfy;

impl JsonFace for Idenfy {
    type Rejection = IdenfyError;
    const OBJECT: bool = true;

    fn content_type_ok(headers: &HeaderMap) -> bool {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json)
    }

    fn reject(problem: BodyProblem) -> IdenfyError {
        match problem {
            BodyProblem::ContentType => IdenfyError::UnsupportedMediaType,
            BodyProblem::Read(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => IdenfyError::PayloadTooLarge,
            BodyProblem::NotUtf8 => IdenfyError::EncodingError,
            BodyProblem::Read(_) | BodyProblem::NotAnObject | BodyProblem::Json(_) => IdenfyError::JsonError,
        }
    }
}

/// A JSON body of this face, into one of its request structs.
pub type IdenfyJson<T> = Json<T, Idenfy>;

fn bad(field: &'static str, reason: impl Into<String>) -> IdenfyError {
    IdenfyError::BadValue {
        field,
        reason: reason.into(),
    }
}

/// A string field: `None` when missing or null; another type is a bad value.
fn optional_str<'a>(value: &'a Field, field: &'static str) -> Result<Option<&'a str>, IdenfyError> {
    match field_value(value) {
        FieldValue::Absent => Ok(None),
        FieldValue::Str(s) => Ok(Some(s)),
        FieldValue::Other => Err(bad(field, "must be a string")),
    }
}

/// A required string field: missing or null → `MISSING_VALUE`.
fn required_str<'a>(value: &'a Field, field: &'static str) -> Result<&'a str, IdenfyError> {
    optional_str(value, field)?.ok_or(IdenfyError::Missing(field))
}

/// A `phone_number`: strict E.164 (`+` and digits only) whose calling code is in the
/// supported-country table with a length that code allows, and a valid number of its plan.
/// Each refusal is a `BAD_VALUE` saying which rule failed.
fn parse_phone(s: &str) -> Result<PhoneNumber, IdenfyError> {
    let options = ParseOptions {
        dashed: Dashed::Refuse,
        country_table: Some(countries::table()),
    };
    PhoneNumber::parse(s, options).map_err(|e| {
        let reason = match e {
            PhoneError::NotE164 | PhoneError::NotDashedOrE164 => {
                "must be in E.164 format: '+', the country code and the number, digits only (e.g. +12025550163)"
                    .to_owned()
            }
            PhoneError::UnknownCallingCode => "has a country code that is not supported".to_owned(),
            PhoneError::WrongLength { calling_code } => {
                format!("has the wrong number of digits for country code +{calling_code}")
            }
            PhoneError::Invalid => "is not a valid number for its country".to_owned(),
        };
        bad("phone_number", reason)
    })
}

/// The body of `send-sms`.
// What the API description shows is what the handler reads: the fields are raw JSON values
// (`Field`) so the handler can name each problem in iDenfy's body.
#[derive(Deserialize, ToSchema)]
pub struct SendSmsRequest {
    /// E.164: `+`, the country code and the number, digits only. The calling code must be in
    /// the supported-country table and the number valid for its plan.
    #[schema(value_type = String, required = true, example = "+12025550163", pattern = r"^\+[1-9][0-9]{6,14}$")]
    phone_number: Field,
    /// The SMS sender id: 1 to 11 ASCII letters, digits and spaces (not starting or ending
    /// with a space). Default: the client's brand, reduced to those characters and cut to 11.
    #[schema(
        value_type = Option<String>,
        example = "The Sender",
        min_length = 1,
        max_length = 11,
        pattern = "^[A-Za-z0-9]([A-Za-z0-9 ]*[A-Za-z0-9])?$"
    )]
    sender_name: Field,
}

#[derive(Serialize, ToSchema)]
pub struct SendSmsResponse {
    /// 32 lowercase hex characters; send it to `verify-sms`.
    #[schema(example = "3d50e1584e0946e789e0185c009aaadf")]
    request_id: String,
}

/// The body of `verify-sms`.
#[derive(Deserialize, ToSchema)]
pub struct VerifySmsRequest {
    /// The `request_id` of `send-sms` (32 to 40 characters).
    #[schema(
        value_type = String,
        required = true,
        example = "3d50e1584e0946e789e0185c009aaadf",
        min_length = 32,
        max_length = 40
    )]
    request_id: Field,
    /// The 4 digits the person entered.
    #[schema(value_type = String, required = true, example = "1234", pattern = "^[0-9]{4}$")]
    received_code: Field,
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
        (status = 429, description = "`TOO_MANY_REQUESTS`: too many failed credentials from this address or for this key; not checked (see `Retry-After`)", body = IdenfyErrorBody),
        (status = 403, description = "`PARTNER_CONTRACT_ERROR` (client not enabled for `idenfy-sms`) or `PERMISSIONS_ERROR` (blocklist, test-mode allowlist, a non-personal number kind, the client's geo permissions naming the country, a range blocked by the SMS-pumping guard, a SIM swap within the window of a client that blocks them)", body = IdenfyErrorBody),
        (status = 413, description = "`VALIDATION_ERROR`: body over 16 KiB", body = IdenfyErrorBody),
        (status = 415, description = "`VALIDATION_ERROR`: Content-Type is not JSON", body = IdenfyErrorBody),
        (status = 503, description = "`INTERNAL_ERROR`: the provider or the database is unavailable; retry", body = IdenfyErrorBody)
    )
)]
async fn send_sms(
    State(state): State<AppState>,
    IdenfyClient(client): IdenfyClient,
    body: IdenfyJson<SendSmsRequest>,
) -> Result<axum::Json<SendSmsResponse>, IdenfyError> {
    let phone = required_str(&body.phone_number, "phone_number")?;
    let to = parse_phone(phone)?;
    let sender = match optional_str(&body.sender_name, "sender_name")? {
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
        (status = 429, description = "`TOO_MANY_REQUESTS`: too many failed credentials from this address or for this key; not checked (see `Retry-After`)", body = IdenfyErrorBody),
        (status = 404, description = "`TOKEN_NOT_VALID`: no verification of this client has this `request_id` (another client's answers the same)", body = IdenfyErrorBody),
        (status = 413, description = "`VALIDATION_ERROR`: body over 16 KiB", body = IdenfyErrorBody),
        (status = 415, description = "`VALIDATION_ERROR`: Content-Type is not JSON", body = IdenfyErrorBody),
        (status = 503, description = "`INTERNAL_ERROR`: the database is unavailable; retry", body = IdenfyErrorBody)
    )
)]
async fn verify_sms(
    State(state): State<AppState>,
    IdenfyClient(client): IdenfyClient,
    body: IdenfyJson<VerifySmsRequest>,
) -> Result<axum::Json<VerifySmsResponse>, IdenfyError> {
    let request_id = required_str(&body.request_id, "request_id")?;
    let code = required_str(&body.received_code, "received_code")?;
    if !(32..=40).contains(&request_id.chars().count()) {
        return Err(bad("request_id", "must be 32 to 40 characters"));
    }
    if code.len() != usize::from(fallback::CODE_LENGTH) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("received_code", "must be exactly 4 digits"));
    }
    let id = VerificationId::parse(&format!("VE{request_id}")).ok_or(IdenfyError::UnknownRequest)?;
    let is_verified = state.engine.verify_fallback(&client, &id, code).await?;
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

    /// The face's number rule: each refusal names its reason (the rule moved here from the
    /// core's fallback module; the parser is `PhoneNumber::parse`).
    #[test]
    fn phone_numbers() {
        let reason = |s: &str| match parse_phone(s) {
            Ok(n) => Ok(n.e164().to_owned()),
            Err(IdenfyError::BadValue { field, reason }) => Err(format!("{field} {reason}")),
            Err(e) => Err(format!("{e:?}")),
        };
        assert_eq!(reason("+12025550163"), Ok("+12025550163".to_owned()));
        // Niue: four national digits.
        assert_eq!(reason("+6834002"), Ok("+6834002".to_owned()));
        let not_e164 = "phone_number must be in E.164 format: '+', the country code and the number, digits only (e.g. +12025550163)";
        for s in ["12025550163", "+1-2025550163", "+1 2025550163", "+"] {
            assert_eq!(reason(s), Err(not_e164.to_owned()), "{s}");
        }
        assert_eq!(
            reason("+999123456789"),
            Err("phone_number has a country code that is not supported".to_owned())
        );
        assert_eq!(
            reason("+120255501"),
            Err("phone_number has the wrong number of digits for country code +1".to_owned())
        );
        // In the table's range, but not a valid North American number.
        assert_eq!(
            reason("+19907676111"),
            Err("phone_number is not a valid number for its country".to_owned())
        );
    }
}

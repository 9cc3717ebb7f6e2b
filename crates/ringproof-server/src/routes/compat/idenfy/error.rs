//! The iDenfy face's errors: iDenfy's standard error body `{"identifier": "...",
//! "message": "..."}`, with `identifier` one of iDenfy's constants (`MISSING_VALUE`,
//! `BAD_VALUE`, `UNAUTHORIZED`, `JSON_ERROR`, …) and a human-readable `message`.
//!
//! [`IdenfyError::body`] is the one mapping from a condition to its status and body; the
//! catalogue in `docs/compat-idenfy.md` lists the same conditions. Every response of the
//! face that is not a success, including those axum produces itself under `/fraud` (an
//! unknown route, a wrong method), is rendered here (see [`super::envelope_everything`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::CoreError;
use ringproof_core::client::ClientRefusal;
use ringproof_core::engine::fallback::FallbackError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::{Failure, log_failure};

/// The error conditions of the iDenfy face.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdenfyError {
    /// No HTTP Basic credentials, or an unknown key or wrong secret.
    Unauthorized,
    /// Too many failed credentials from this address or for this key: not checked.
    TooManyFailures { retry_after_s: u64 },
    /// The body is not JSON, or not a JSON object.
    JsonError,
    /// The body is not UTF-8.
    EncodingError,
    /// The `Content-Type` is not JSON.
    UnsupportedMediaType,
    /// The body is over the server's limit (16 KiB).
    PayloadTooLarge,
    /// A required field is missing or null.
    Missing(&'static str),
    /// A field has the wrong type or an invalid value; the message says which and why.
    BadValue { field: &'static str, reason: String },
    /// verify-sms: no verification of this client has this `request_id`.
    UnknownRequest,
    /// A path under `/fraud` that is no route.
    RouteNotFound,
    /// A route of the face with another method than its own.
    MethodNotAllowed,
    /// The client is not enabled for the product (`idenfy-sms`).
    ProductDisabled,
    /// The number is on the client's blocklist.
    NumberBlocked,
    /// The client is in test mode and the number is not on its allowlist.
    NotOnAllowlist,
    /// A kind of number that receives nothing (premium rate, satellite, …).
    NumberKindRefused(String),
    /// The client blocks recent SIM swaps and the operator says this number's SIM was
    /// changed within `max_age_h` hours: nothing was sent.
    SimSwapped { max_age_h: u32 },
    /// A limit across verifications (too many sends or wrong codes): 429 with
    /// Retry-After; the message names the limit.
    RateLimited { message: String, retry_after_s: u64 },
    /// The delivery provider reports that nothing can be sent now.
    UpstreamDown,
    /// The store is unavailable or overloaded.
    Unavailable,
    /// A bug; the cause is logged with the request id.
    Internal,
}

/// iDenfy's error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct IdenfyErrorBody {
    /// A constant naming the kind of error, to match on in code.
    #[schema(example = "BAD_VALUE")]
    pub identifier: &'static str,
    /// What went wrong, for a person.
    #[schema(
        example = "Field 'phone_number' must be in E.164 format: '+', the country code and the number, digits only (e.g. +12025550163)."
    )]
    pub message: String,
}

/// Marks a response rendered by this face, so [`super::envelope_everything`] leaves it alone.
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

impl IdenfyError {
    /// The HTTP status and body of each condition: the one mapping of this face.
    pub fn body(&self) -> (u16, IdenfyErrorBody) {
        let (status, identifier, message): (u16, &'static str, String) = match self {
            IdenfyError::Unauthorized => (
                401,
                "UNAUTHORIZED",
                "Invalid authorization credentials: send HTTP Basic auth with the API key as user name and the API secret as password.".into(),
            ),
            IdenfyError::TooManyFailures { retry_after_s } => (
                429,
                "TOO_MANY_REQUESTS",
                format!("Too many failed authentication attempts; retry in {retry_after_s} s."),
            ),
            IdenfyError::JsonError => (400, "JSON_ERROR", "The request body must be a JSON object.".into()),
            IdenfyError::EncodingError => (400, "ENCODING_ERROR", "The request body must be UTF-8.".into()),
            IdenfyError::UnsupportedMediaType => (
                415,
                "VALIDATION_ERROR",
                "Content-Type must be application/json.".into(),
            ),
            IdenfyError::PayloadTooLarge => (
                413,
                "VALIDATION_ERROR",
                "The request body is larger than 16 KiB.".into(),
            ),
            IdenfyError::Missing(field) => (400, "MISSING_VALUE", format!("Field '{field}' is required.")),
            IdenfyError::BadValue { field, reason } => (400, "BAD_VALUE", format!("Field '{field}' {reason}.")),
            IdenfyError::UnknownRequest => (
                404,
                "TOKEN_NOT_VALID",
                "No SMS verification with this request_id.".into(),
            ),
            IdenfyError::RouteNotFound => (404, "NOT_FOUND", "No such endpoint.".into()),
            IdenfyError::MethodNotAllowed => (
                405,
                "METHOD_NOT_ALLOWED",
                "This endpoint accepts only POST.".into(),
            ),
            IdenfyError::ProductDisabled => (
                403,
                "PARTNER_CONTRACT_ERROR",
                "This client is not enabled for SMS verification (idenfy-sms).".into(),
            ),
            IdenfyError::NumberBlocked => (
                403,
                "PERMISSIONS_ERROR",
                "Field 'phone_number' is a number this client may not send to (blocklist).".into(),
            ),
            IdenfyError::NotOnAllowlist => (
                403,
                "PERMISSIONS_ERROR",
                "Field 'phone_number' is not on this client's test-mode allowlist.".into(),
            ),
            IdenfyError::NumberKindRefused(m) => (403, "PERMISSIONS_ERROR", format!("Field 'phone_number': {m}.")),
            IdenfyError::SimSwapped { max_age_h } => (
                403,
                "PERMISSIONS_ERROR",
                format!(
                    "Field 'phone_number': the SIM card of this number was changed within the last {max_age_h} hours (SIM swap risk); this client does not verify it now."
                ),
            ),
            IdenfyError::RateLimited { message, .. } => (429, "TOO_MANY_REQUESTS", format!("{message}.")),
            IdenfyError::UpstreamDown => (
                503,
                "INTERNAL_ERROR",
                "The SMS provider is unavailable; retry later.".into(),
            ),
            IdenfyError::Unavailable => (
                503,
                "INTERNAL_ERROR",
                "The request cannot be processed at this time; retry later.".into(),
            ),
            IdenfyError::Internal => (
                500,
                "INTERNAL_ERROR",
                "Internal error; quote the x-request-id header when reporting it.".into(),
            ),
        };
        (status, IdenfyErrorBody { identifier, message })
    }

    /// The condition of a response that axum (not this face) produced for a request
    /// under `/fraud`, by its status.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => IdenfyError::RouteNotFound,
            StatusCode::METHOD_NOT_ALLOWED => IdenfyError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => IdenfyError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => IdenfyError::UnsupportedMediaType,
            StatusCode::UNAUTHORIZED => IdenfyError::Unauthorized,
            StatusCode::SERVICE_UNAVAILABLE => IdenfyError::Unavailable,
            s if s.is_client_error() => IdenfyError::JsonError,
            _ => IdenfyError::Internal,
        }
    }
}

impl From<CoreError> for IdenfyError {
    fn from(e: CoreError) -> Self {
        match e {
            // The faces check the client's controls before they start anything; should the
            // engine refuse one anyway, it answers as the face's own refusal does.
            CoreError::Refused(r) => r.into(),
            CoreError::Limited(r) => match r.retry_after_s {
                Some(retry_after_s) if r.rule.is_rate() => IdenfyError::RateLimited {
                    message: r.sentence(),
                    retry_after_s,
                },
                _ => IdenfyError::NumberKindRefused(r.message()),
            },
            CoreError::SimSwapped { max_age_h } => IdenfyError::SimSwapped { max_age_h },
            CoreError::Unauthorized => IdenfyError::Unauthorized,
            CoreError::TooManyFailures(t) => IdenfyError::TooManyFailures {
                retry_after_s: t.retry_after_s.max(1),
            },
            CoreError::NotFound => IdenfyError::UnknownRequest,
            e => match log_failure(&e) {
                Failure::UpstreamDown => IdenfyError::UpstreamDown,
                Failure::StoreUnavailable => IdenfyError::Unavailable,
                Failure::Internal => IdenfyError::Internal,
            },
        }
    }
}

impl From<ClientRefusal> for IdenfyError {
    fn from(e: ClientRefusal) -> Self {
        match e {
            ClientRefusal::ProductDisabled(_) => IdenfyError::ProductDisabled,
            ClientRefusal::NumberBlocked => IdenfyError::NumberBlocked,
            ClientRefusal::NotOnAllowlist => IdenfyError::NotOnAllowlist,
        }
    }
}

impl From<FallbackError> for IdenfyError {
    fn from(e: FallbackError) -> Self {
        match e {
            FallbackError::Refused(r) => r.into(),
            FallbackError::Core(e) => e.into(),
        }
    }
}

impl IntoResponse for IdenfyError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(body)).into_response();
        let headers = res.headers_mut();
        match self {
            IdenfyError::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"ringproof\""),
                );
            }
            IdenfyError::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            IdenfyError::Unavailable | IdenfyError::UpstreamDown => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            IdenfyError::RateLimited { retry_after_s, .. } | IdenfyError::TooManyFailures { retry_after_s } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_s.max(1).to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        res.extensions_mut().insert(Rendered);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let (s, b) = IdenfyError::Missing("phone_number").body();
        assert_eq!(s, 400);
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"identifier":"MISSING_VALUE","message":"Field 'phone_number' is required."}"#
        );
        assert_eq!(IdenfyError::Unauthorized.body().0, 401);
        let (s, b) = IdenfyError::TooManyFailures { retry_after_s: 7 }.body();
        assert_eq!((s, b.identifier), (429, "TOO_MANY_REQUESTS"));
        assert_eq!(IdenfyError::UnknownRequest.body().0, 404);
        assert_eq!(
            IdenfyError::for_status(StatusCode::NOT_FOUND),
            IdenfyError::RouteNotFound
        );
        assert_eq!(
            IdenfyError::for_status(StatusCode::METHOD_NOT_ALLOWED),
            IdenfyError::MethodNotAllowed
        );
    }
}

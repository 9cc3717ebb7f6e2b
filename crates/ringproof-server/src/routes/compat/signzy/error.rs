//! The Signzy face's errors: `{"error":{"name","message","status","reason","type",
//! "statusCode"}}` with the HTTP status equal to `error.status`, as Signzy's documentation
//! shows them (`statusCode` quirks included), plus the bare
//! `{"message":"No API key found in request"}` of a request without credentials.
//!
//! [`SignzyError::body`] is the one mapping from a condition to its body; the table in
//! `docs/compat-signzy.md` lists the same conditions.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::otp::OtpError;
use ringproof_core::sessions::LoginError;
use ringproof_core::{CoreError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::current_request_id;

/// The error conditions of the Signzy face.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignzyError {
    /// No `Authorization` header (or an empty one).
    MissingApiKey,
    /// A token that is unknown, malformed, expired or revoked.
    InvalidCredentials,
    /// Login with an unknown username or a wrong password.
    LoginFailed,
    /// Login refused without a password check (lockout rule); `locked` after 10 failures.
    TooManyLogins { retry_after_s: u64, locked: bool },
    /// A body that is not a JSON object.
    ParseFailure,
    /// A required field is missing, null or empty.
    Required(&'static str),
    /// A field has the wrong type.
    InvalidParameter,
    /// A body over the server's limit (16 KiB).
    PayloadTooLarge,
    /// OTP: a `phoneNumber` not in the country table or not valid in its numbering plan.
    MobileNumberInvalid,
    /// OTP: a `clientId` that is not the authenticated client's.
    CustomerNotFound,
    /// OTP: a `customTextId` that is neither built in nor the client's.
    CustomTextNotFound,
    /// verify-otp: a wrong code; attempts remain.
    OtpInvalid,
    /// verify-otp: the OTP's validity has passed.
    OtpExpired,
    /// verify-otp: the OTP's wrong attempts are used up.
    OtpAttemptsExhausted,
    /// verify-otp: nothing pending for the number (never sent, verified, superseded).
    OtpNotPending,
    /// The store is unavailable or overloaded.
    Unavailable,
    /// A bug; the cause is logged with the request id.
    Internal,
}

/// `statusCode` is a number in most of Signzy's bodies and a string (`"400"`) in its
/// validation errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StatusCodeField {
    Number(u16),
    Text(String),
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignzyErrorBody {
    #[schema(example = "Error")]
    pub name: &'static str,
    #[schema(example = "Invalid authentication credentials")]
    pub message: String,
    /// Equals the HTTP status.
    #[schema(example = 401)]
    pub status: u16,
    #[schema(example = "authentication error")]
    pub reason: &'static str,
    #[serde(rename = "type")]
    #[schema(example = "bad request")]
    pub kind: &'static str,
    #[serde(rename = "statusCode")]
    pub status_code: StatusCodeField,
}

/// The Signzy error envelope.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignzyErrorResponse {
    pub error: SignzyErrorBody,
}

/// The body of a request without credentials.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NoApiKey {
    #[schema(example = "No API key found in request")]
    pub message: &'static str,
}

/// The 401 of a token-authenticated route, for the API description: the bare no-key body
/// without a token, the envelope for a bad one.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignzyUnauthorized {
    NoApiKey(NoApiKey),
    Envelope(SignzyErrorResponse),
}

/// What a condition renders as: the bare no-key body, or the envelope.
#[derive(Clone, Debug)]
pub enum Body {
    NoApiKey(NoApiKey),
    Envelope(SignzyErrorResponse),
}

fn envelope(message: impl Into<String>, status: u16, reason: &'static str, kind: &'static str) -> Body {
    envelope_with(message, status, reason, kind, StatusCodeField::Number(status))
}

fn envelope_with(
    message: impl Into<String>,
    status: u16,
    reason: &'static str,
    kind: &'static str,
    status_code: StatusCodeField,
) -> Body {
    Body::Envelope(SignzyErrorResponse {
        error: SignzyErrorBody {
            name: "Error",
            message: message.into(),
            status,
            reason,
            kind,
            status_code,
        },
    })
}

impl SignzyError {
    /// The HTTP status and body of each condition: the one mapping of this face.
    pub fn body(&self) -> (u16, Body) {
        let body = match self {
            SignzyError::MissingApiKey => Body::NoApiKey(NoApiKey {
                message: "No API key found in request",
            }),
            SignzyError::InvalidCredentials => envelope(
                "Invalid authentication credentials",
                401,
                "authentication error",
                "bad request",
            ),
            SignzyError::LoginFailed => envelope("login failed", 401, "authentication error", "unauthorized"),
            SignzyError::TooManyLogins { locked: false, .. } => envelope(
                "Too many failed login attempts; retry later",
                429,
                "rate limit",
                "too many requests",
            ),
            SignzyError::TooManyLogins { locked: true, .. } => envelope(
                "Too many failed login attempts; login is locked for 15 minutes",
                429,
                "rate limit",
                "too many requests",
            ),
            SignzyError::ParseFailure => envelope("Request parse failure", 400, "error", "conflict"),
            SignzyError::Required(field) => envelope_with(
                format!("{field} is required"),
                400,
                "validation error",
                "bad request",
                StatusCodeField::Text("400".into()),
            ),
            SignzyError::InvalidParameter => envelope("Parameter is invalid", 400, "error", "conflict"),
            SignzyError::PayloadTooLarge => envelope("Request body too large", 413, "error", "payload too large"),
            SignzyError::MobileNumberInvalid => {
                envelope("Mobile number is not valid/allowed", 400, "error", "bad request")
            }
            SignzyError::CustomerNotFound => envelope("Customer not found", 400, "error", "bad request"),
            SignzyError::CustomTextNotFound => envelope("Custom text does not exist", 400, "error", "bad request"),
            SignzyError::OtpInvalid => envelope("Invalid OTP", 400, "error", "bad request"),
            SignzyError::OtpExpired => envelope("OTP expired", 400, "error", "bad request"),
            SignzyError::OtpAttemptsExhausted => {
                envelope("Maximum OTP attempts exceeded", 429, "error", "too many requests")
            }
            SignzyError::OtpNotPending => envelope("No OTP pending for this phone number", 404, "error", "not found"),
            SignzyError::Unavailable => envelope("Request cannot be processed at this time", 503, "error", "conflict"),
            SignzyError::Internal => envelope(
                "Internal server error; quote the x-request-id header when reporting it",
                500,
                "error",
                "internal server error",
            ),
        };
        let status = match &body {
            Body::NoApiKey(_) => 401,
            Body::Envelope(e) => e.error.status,
        };
        (status, body)
    }
}

impl From<CoreError> for SignzyError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Unauthorized => SignzyError::InvalidCredentials,
            CoreError::Store(StoreError::Unavailable(_)) => {
                tracing::warn!(request_id = %current_request_id(), error = %e, "store unavailable");
                SignzyError::Unavailable
            }
            e => {
                tracing::error!(request_id = %current_request_id(), error = %e, "request failed");
                SignzyError::Internal
            }
        }
    }
}

impl From<OtpError> for SignzyError {
    fn from(e: OtpError) -> Self {
        match e {
            OtpError::InvalidNumber => SignzyError::MobileNumberInvalid,
            OtpError::UnknownTemplate => SignzyError::CustomTextNotFound,
            OtpError::MalformedCode => SignzyError::InvalidParameter,
            OtpError::WrongCode { .. } => SignzyError::OtpInvalid,
            OtpError::Expired => SignzyError::OtpExpired,
            OtpError::AttemptsExhausted => SignzyError::OtpAttemptsExhausted,
            OtpError::NonePending => SignzyError::OtpNotPending,
            OtpError::Core(e) => e.into(),
        }
    }
}

impl From<LoginError> for SignzyError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::BadCredentials => SignzyError::LoginFailed,
            LoginError::Throttled { retry_after_s } => SignzyError::TooManyLogins {
                retry_after_s,
                locked: false,
            },
            LoginError::Locked { retry_after_s } => SignzyError::TooManyLogins {
                retry_after_s,
                locked: true,
            },
            LoginError::Core(e) => e.into(),
        }
    }
}

impl IntoResponse for SignzyError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = match body {
            Body::NoApiKey(b) => (status, axum::Json(b)).into_response(),
            Body::Envelope(b) => (status, axum::Json(b)).into_response(),
        };
        let retry_after = match self {
            SignzyError::TooManyLogins { retry_after_s, .. } => Some(retry_after_s.max(1)),
            SignzyError::Unavailable => Some(1),
            _ => None,
        };
        if let Some(s) = retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every envelope's `status` is its HTTP status, and `statusCode` agrees with it.
    #[test]
    fn status_equals_error_status() {
        for e in [
            SignzyError::InvalidCredentials,
            SignzyError::LoginFailed,
            SignzyError::TooManyLogins {
                retry_after_s: 1,
                locked: false,
            },
            SignzyError::TooManyLogins {
                retry_after_s: 1,
                locked: true,
            },
            SignzyError::ParseFailure,
            SignzyError::Required("username"),
            SignzyError::InvalidParameter,
            SignzyError::PayloadTooLarge,
            SignzyError::MobileNumberInvalid,
            SignzyError::CustomerNotFound,
            SignzyError::CustomTextNotFound,
            SignzyError::OtpInvalid,
            SignzyError::OtpExpired,
            SignzyError::OtpAttemptsExhausted,
            SignzyError::OtpNotPending,
            SignzyError::Unavailable,
            SignzyError::Internal,
        ] {
            let (status, body) = e.body();
            let Body::Envelope(b) = body else {
                unreachable!("{e:?} is an envelope")
            };
            assert_eq!(b.error.status, status, "{e:?}");
            let code = match b.error.status_code {
                StatusCodeField::Number(n) => n,
                StatusCodeField::Text(t) => t.parse().unwrap_or(0),
            };
            assert_eq!(code, status, "{e:?}");
        }
        assert_eq!(SignzyError::MissingApiKey.body().0, 401);
    }
}

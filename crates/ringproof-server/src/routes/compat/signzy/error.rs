//! The Signzy face's errors: `{"error":{"name","message","status","reason","type",
//! "statusCode"}}` with the HTTP status equal to `error.status`, as Signzy's documentation
//! shows them (`statusCode` quirks included), plus the bare
//! `{"message":"No API key found in request"}` of a request without credentials.
//!
//! ringproof adds one key to Signzy's bodies: `error.field`, the request parameter at
//! fault (`"phoneNumber"`, `"targetUrl"`, a path parameter), when one is. Every other key
//! and the `message` stay exactly the seeds'; a client that reads only Signzy's keys sees
//! no difference ([`SignzyError::field`]).
//!
//! [`SignzyError::body`] is the one mapping from a condition to its body; the table in
//! `docs/compat-signzy.md` lists the same conditions.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::CoreError;
use ringproof_core::client::ClientRefusal;
use ringproof_core::engine::link::LinkError;
use ringproof_core::engine::number_otp::OtpError;
use ringproof_core::guard::{Refusal, Rule};
use ringproof_core::link_session::ClickError;
use ringproof_core::sessions::LoginError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::{Failure, current_request_id, log_failure};

/// The error conditions of the Signzy face.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignzyError {
    /// No `Authorization` header (or an empty one).
    MissingApiKey,
    /// A token that is unknown, malformed, expired or revoked.
    InvalidCredentials,
    /// Login with an unknown username or a wrong password.
    LoginFailed,
    /// Login refused without a password check (`ringproof_core::throttle`); `locked` for
    /// the 15-minute lockout of an (address, username) pair.
    TooManyLogins {
        retry_after_s: u64,
        locked: bool,
    },
    /// A body that is not a JSON object.
    ParseFailure,
    /// A required field is missing, null or empty.
    Required(&'static str),
    /// A field has the wrong type or an unacceptable value ("Parameter is invalid"),
    /// naming it when it is known.
    InvalidParameter(Option<&'static str>),
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
    /// send-instant-link: `+1` and the 10 digits is not a valid number of the plan, or the
    /// lookup says the number is not valid or active.
    NotValidNumber,
    /// send-instant-link: a landline, VoIP or toll-free line (cannot open a link).
    SubscriberNotSupported,
    /// send-instant-link: the lookup's subscriber states.
    SubscriberSuspended,
    SubscriberDeactivated,
    SubscriberNotEligible,
    CannotIdentifySubscriber,
    NoCrmData,
    CarrierMismatch,
    /// send-instant-link: the number lookup service cannot be reached.
    ProviderUnreachable,
    /// poll-check-verify: a path id that does not match `^[0-9a-fA-F]{24}$`
    /// (`"requestId"` or `"sessionId"`).
    IdPattern(&'static str),
    /// poll-check-verify: unknown ids, or another client's.
    InvalidLinkIds,
    /// instant-link-result: no completed link of this client has this VFP (unknown,
    /// expired, another client's).
    TransactionNotCompleted,
    /// The client is not enabled for the product (its controls).
    ProductNotEnabled,
    /// The client is in test mode and the number is not on its allowlist.
    NotOnWhitelist,
    /// The number is on the client's blocklist, or of a kind that receives nothing
    /// (premium rate, satellite, …: a limit across verifications).
    BlockedNumber,
    /// A limit across verifications (a rate: too many sends to the number, from the end
    /// user's IP or by the client; too many wrong OTPs for the number). A 429 in the
    /// envelope, with Retry-After; the message names the limit.
    RateLimited {
        message: String,
        retry_after_s: u64,
    },
    /// The client may not send to the number's country (its geo permissions): a 403 in
    /// the envelope naming the country (ringproof's own message: the seed has none).
    CountryNotAllowed(String),
    /// send-otp / send-instant-link: the client blocks recent SIM swaps and the operator
    /// says this number's SIM was changed within `max_age_h` hours (ringproof's own
    /// condition: the seeds have none). Nothing was sent.
    SimSwapped {
        max_age_h: u32,
    },
    /// The store is unavailable or overloaded.
    Unavailable,
    /// send-otp / send-instant-link: the delivery provider reports that nothing can be
    /// sent now (`Sender::available`).
    UpstreamDown,
    /// The request ran past `signzy.request_timeout_ms`.
    RequestTimeout,
    /// verify-otp: a well-formed `otp` whose length is not the pending OTP's.
    UnprocessableEntity,
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
    /// ringproof's addition: the request parameter at fault, when there is one (absent
    /// otherwise). Not in Signzy's bodies; the `message` is still Signzy's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "phoneNumber")]
    pub field: Option<&'static str>,
}

/// The Signzy error envelope.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignzyErrorResponse {
    pub error: SignzyErrorBody,
}

/// The body of a path parameter that does not match its pattern (Signzy's Check Link Status page): no `name`,
/// `statusCode` first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignzyPatternBody {
    #[serde(rename = "statusCode")]
    #[schema(example = 400)]
    pub status_code: u16,
    #[schema(example = "params sessionId should match pattern \"^[0-9a-fA-F]{24}$\"")]
    pub message: String,
    #[schema(example = 400)]
    pub status: u16,
    #[schema(example = "Bad Request")]
    pub reason: &'static str,
    #[serde(rename = "type")]
    #[schema(example = "Bad Request")]
    pub kind: &'static str,
    /// ringproof's addition: the path parameter at fault (as the message names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "sessionId")]
    pub field: Option<&'static str>,
}

/// The envelope of [`SignzyPatternBody`].
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignzyPatternResponse {
    pub error: SignzyPatternBody,
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
    Pattern(SignzyPatternResponse),
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
            field: None,
        },
    })
}

impl SignzyError {
    /// The request parameter a condition is about, named as the request names it: what
    /// `error.field` carries. `None` when the fault is not one parameter's (a credential, a
    /// limit, the subscriber's state, an outage).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            SignzyError::Required(f) | SignzyError::IdPattern(f) => Some(f),
            SignzyError::InvalidParameter(f) => *f,
            SignzyError::MobileNumberInvalid => Some("phoneNumber"),
            SignzyError::CustomerNotFound => Some("clientId"),
            SignzyError::CustomTextNotFound => Some("customTextId"),
            SignzyError::OtpInvalid | SignzyError::UnprocessableEntity => Some("otp"),
            SignzyError::NotValidNumber => Some("mobileNumber"),
            SignzyError::TransactionNotCompleted => Some("vfp"),
            _ => None,
        }
    }

    /// The HTTP status and body of each condition: the one mapping of this face.
    pub fn body(&self) -> (u16, Body) {
        let mut body = match self {
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
            SignzyError::InvalidParameter(_) => envelope("Parameter is invalid", 400, "error", "conflict"),
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
            SignzyError::NotValidNumber => envelope("Not a valid or active number", 400, "error", "conflict"),
            SignzyError::SubscriberNotSupported => {
                envelope("Subscriber is not supported for this service", 400, "error", "conflict")
            }
            SignzyError::SubscriberSuspended => envelope("Subscriber is suspended", 403, "error", "conflict"),
            SignzyError::SubscriberDeactivated => envelope("Subscriber is deactivated", 403, "error", "conflict"),
            SignzyError::SubscriberNotEligible => {
                envelope("Subscriber is not eligible for the service", 403, "error", "conflict")
            }
            // Signzy's Send Link page's quirk: status 404, statusCode 409.
            SignzyError::CannotIdentifySubscriber => envelope_with(
                "Cannot identify subscriber",
                404,
                "error",
                "conflict",
                StatusCodeField::Number(409),
            ),
            SignzyError::NoCrmData => envelope("No CRM data available", 404, "error", "conflict"),
            SignzyError::CarrierMismatch => envelope("Carrier mismatch", 400, "error", "conflict"),
            SignzyError::ProviderUnreachable => {
                envelope("The external provider cannot be reached", 503, "error", "conflict")
            }
            SignzyError::IdPattern(param) => Body::Pattern(SignzyPatternResponse {
                error: SignzyPatternBody {
                    status_code: 400,
                    message: format!("params {param} should match pattern \"^[0-9a-fA-F]{{24}}$\""),
                    status: 400,
                    reason: "Bad Request",
                    kind: "Bad Request",
                    field: None,
                },
            }),
            // Signzy's Check Link Status page's quirk: status 401, statusCode 500.
            SignzyError::InvalidLinkIds => envelope_with(
                "Invalid requestId or sessionId",
                401,
                "error",
                "unauthorized",
                StatusCodeField::Number(500),
            ),
            SignzyError::TransactionNotCompleted => envelope("Transaction has not completed", 400, "error", "conflict"),
            SignzyError::ProductNotEnabled => envelope(
                "ApiClient or Operator not enabled for this service",
                400,
                "error",
                "conflict",
            ),
            SignzyError::NotOnWhitelist => envelope(
                "Subscriber is not found on the required whitelist",
                403,
                "error",
                "conflict",
            ),
            // Signzy's Send OTP page's quirk: status 404, statusCode 200.
            SignzyError::BlockedNumber => envelope_with(
                "Blocked phone number",
                404,
                "error",
                "not found",
                StatusCodeField::Number(200),
            ),
            SignzyError::RateLimited { message, .. } => {
                envelope(message.clone(), 429, "rate limit", "too many requests")
            }
            SignzyError::CountryNotAllowed(message) => envelope(message.clone(), 403, "error", "forbidden"),
            SignzyError::SimSwapped { max_age_h } => envelope(
                format!("SIM swap detected: the SIM card of this number was changed within the last {max_age_h} hours"),
                403,
                "sim swap",
                "forbidden",
            ),
            SignzyError::Unavailable => envelope("Request cannot be processed at this time", 503, "error", "conflict"),
            SignzyError::UpstreamDown => envelope("Upstream down", 409, "error", "conflict"),
            SignzyError::RequestTimeout => envelope("Request timeout", 408, "error", "conflict"),
            SignzyError::UnprocessableEntity => envelope("Unprocessable entity", 422, "error", "unprocessable entity"),
            SignzyError::Internal => envelope(
                "Internal server error; quote the x-request-id header when reporting it",
                500,
                "error",
                "internal server error",
            ),
        };
        match &mut body {
            Body::NoApiKey(_) => {}
            Body::Envelope(e) => e.error.field = self.field(),
            Body::Pattern(e) => e.error.field = self.field(),
        }
        let status = match &body {
            Body::NoApiKey(_) => 401,
            Body::Envelope(e) => e.error.status,
            Body::Pattern(e) => e.error.status,
        };
        (status, body)
    }
}

impl From<CoreError> for SignzyError {
    fn from(e: CoreError) -> Self {
        match e {
            // The faces check the client's controls before they start anything; should the
            // engine refuse one anyway, it answers as the face's own refusal does.
            CoreError::Refused(r) => r.into(),
            CoreError::Limited(r) => r.into(),
            CoreError::SimSwapped { max_age_h } => SignzyError::SimSwapped { max_age_h },
            CoreError::Unauthorized => SignzyError::InvalidCredentials,
            CoreError::TooManyFailures(t) => SignzyError::TooManyLogins {
                retry_after_s: t.retry_after_s,
                locked: false,
            },
            e => match log_failure(&e) {
                Failure::UpstreamDown => SignzyError::UpstreamDown,
                Failure::StoreUnavailable => SignzyError::Unavailable,
                Failure::Internal => SignzyError::Internal,
            },
        }
    }
}

impl From<Refusal> for SignzyError {
    fn from(r: Refusal) -> Self {
        if let Rule::CountryNotAllowed(..) = r.rule {
            return SignzyError::CountryNotAllowed(r.sentence());
        }
        match r.retry_after_s {
            Some(retry_after_s) if r.rule.is_rate() => SignzyError::RateLimited {
                message: r.sentence(),
                retry_after_s,
            },
            // A kind of number that receives nothing, or a range blocked against SMS
            // pumping, reads as the seed's blocked number.
            _ => SignzyError::BlockedNumber,
        }
    }
}

impl From<ClientRefusal> for SignzyError {
    fn from(e: ClientRefusal) -> Self {
        match e {
            ClientRefusal::ProductDisabled(_) => SignzyError::ProductNotEnabled,
            ClientRefusal::NotOnAllowlist => SignzyError::NotOnWhitelist,
            ClientRefusal::NumberBlocked => SignzyError::BlockedNumber,
        }
    }
}

impl From<OtpError> for SignzyError {
    fn from(e: OtpError) -> Self {
        match e {
            OtpError::UnknownTemplate => SignzyError::CustomTextNotFound,
            OtpError::MalformedCode => SignzyError::InvalidParameter(Some("otp")),
            OtpError::WrongLength { .. } => SignzyError::UnprocessableEntity,
            OtpError::WrongCode { .. } => SignzyError::OtpInvalid,
            OtpError::Expired => SignzyError::OtpExpired,
            OtpError::AttemptsExhausted => SignzyError::OtpAttemptsExhausted,
            OtpError::NonePending => SignzyError::OtpNotPending,
            OtpError::Refused(r) => r.into(),
            OtpError::Core(e) => e.into(),
        }
    }
}

/// The link errors of the instant-link endpoints. `NotFound` depends on the call (poll:
/// [`SignzyError::InvalidLinkIds`]; VFP: [`SignzyError::TransactionNotCompleted`]), so the
/// handlers map it themselves; here it is the poll's body.
impl From<LinkError> for SignzyError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::InvalidTarget(_) => SignzyError::InvalidParameter(Some("targetUrl")),
            LinkError::LineNotSupported(_) => SignzyError::SubscriberNotSupported,
            LinkError::SubscriberSuspended => SignzyError::SubscriberSuspended,
            LinkError::SubscriberDeactivated => SignzyError::SubscriberDeactivated,
            LinkError::SubscriberNotEligible => SignzyError::SubscriberNotEligible,
            LinkError::CannotIdentifySubscriber => SignzyError::CannotIdentifySubscriber,
            LinkError::NoCrmData => SignzyError::NoCrmData,
            LinkError::CarrierMismatch => SignzyError::CarrierMismatch,
            LinkError::NotValidNumber => SignzyError::NotValidNumber,
            LinkError::LookupUnreachable(detail) => {
                tracing::warn!(request_id = %current_request_id(), error = %detail, "number lookup unreachable");
                SignzyError::ProviderUnreachable
            }
            LinkError::NotFound => SignzyError::InvalidLinkIds,
            LinkError::Refused(r) => r.into(),
            // Only the link page's confirm step clicks; these calls never do.
            LinkError::Click(ClickError::AlreadyUsed | ClickError::Expired | ClickError::Settled) => {
                tracing::error!(request_id = %current_request_id(), error = %e, "unexpected click error");
                SignzyError::Internal
            }
            LinkError::Core(CoreError::InvalidParameter { field, .. }) => {
                SignzyError::InvalidParameter(REQUEST_FIELDS.iter().copied().find(|f| *f == field))
            }
            LinkError::Core(e) => e.into(),
        }
    }
}

/// The request fields of this face, for naming one the engine refused (by the same name:
/// the engine checks `customSms` as `customSms`).
const REQUEST_FIELDS: [&str; 8] = [
    "targetUrl",
    "mobileNumber",
    "countryCode",
    "sourceIp",
    "customSms",
    "clientId",
    "phoneNumber",
    "otp",
];

impl From<LoginError> for SignzyError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::BadCredentials => SignzyError::LoginFailed,
            LoginError::Throttled(t) => SignzyError::TooManyLogins {
                retry_after_s: t.retry_after_s,
                locked: t.rule == ringproof_core::throttle::Rule::Lockout,
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
            Body::Pattern(b) => (status, axum::Json(b)).into_response(),
        };
        let retry_after = match self {
            SignzyError::TooManyLogins { retry_after_s, .. } | SignzyError::RateLimited { retry_after_s, .. } => {
                Some(retry_after_s.max(1))
            }
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

    /// Every envelope's `status` is its HTTP status, and `statusCode` agrees with it, except
    /// the seeds' listed quirks (`CannotIdentifySubscriber`, `InvalidLinkIds`,
    /// `BlockedNumber`: Signzy's Send OTP page lists status 404 with statusCode 200).
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
            SignzyError::InvalidParameter(None),
            SignzyError::InvalidParameter(Some("sourceIp")),
            SignzyError::PayloadTooLarge,
            SignzyError::MobileNumberInvalid,
            SignzyError::CustomerNotFound,
            SignzyError::CustomTextNotFound,
            SignzyError::OtpInvalid,
            SignzyError::OtpExpired,
            SignzyError::OtpAttemptsExhausted,
            SignzyError::OtpNotPending,
            SignzyError::NotValidNumber,
            SignzyError::SubscriberNotSupported,
            SignzyError::SubscriberSuspended,
            SignzyError::SubscriberDeactivated,
            SignzyError::SubscriberNotEligible,
            SignzyError::NoCrmData,
            SignzyError::CarrierMismatch,
            SignzyError::ProviderUnreachable,
            SignzyError::TransactionNotCompleted,
            SignzyError::ProductNotEnabled,
            SignzyError::NotOnWhitelist,
            SignzyError::SimSwapped { max_age_h: 240 },
            SignzyError::Unavailable,
            SignzyError::UpstreamDown,
            SignzyError::RequestTimeout,
            SignzyError::UnprocessableEntity,
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
        // The seeds' quirks: `status` is the HTTP status, `statusCode` is what they list.
        for (e, status, code) in [
            (SignzyError::CannotIdentifySubscriber, 404, 409),
            (SignzyError::InvalidLinkIds, 401, 500),
            (SignzyError::BlockedNumber, 404, 200),
        ] {
            let (s, body) = e.body();
            let Body::Envelope(b) = body else {
                unreachable!("{e:?} is an envelope")
            };
            assert_eq!(
                (s, b.error.status, b.error.status_code),
                (status, status, StatusCodeField::Number(code))
            );
        }
        let (s, body) = SignzyError::IdPattern("sessionId").body();
        let Body::Pattern(b) = body else {
            unreachable!("a pattern body")
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"error":{"statusCode":400,"message":"params sessionId should match pattern \"^[0-9a-fA-F]{24}$\"","status":400,"reason":"Bad Request","type":"Bad Request","field":"sessionId"}}"#
        );
        assert_eq!(s, 400);
    }

    /// `field` is added after Signzy's keys, only when a parameter is at fault; the
    /// `message` is Signzy's either way.
    #[test]
    fn the_field_at_fault_is_named_after_the_seeds_keys() {
        let json = |e: SignzyError| match e.body().1 {
            Body::Envelope(b) => serde_json::to_string(&b).unwrap(),
            _ => unreachable!("an envelope"),
        };
        assert_eq!(
            json(SignzyError::Required("phoneNumber")),
            r#"{"error":{"name":"Error","message":"phoneNumber is required","status":400,"reason":"validation error","type":"bad request","statusCode":"400","field":"phoneNumber"}}"#
        );
        assert_eq!(
            json(SignzyError::MobileNumberInvalid),
            r#"{"error":{"name":"Error","message":"Mobile number is not valid/allowed","status":400,"reason":"error","type":"bad request","statusCode":400,"field":"phoneNumber"}}"#
        );
        assert_eq!(
            json(SignzyError::InvalidParameter(None)),
            r#"{"error":{"name":"Error","message":"Parameter is invalid","status":400,"reason":"error","type":"conflict","statusCode":400}}"#
        );
        assert!(!json(SignzyError::InvalidCredentials).contains("field"));
        assert_eq!(
            SignzyError::from(LinkError::Core(CoreError::invalid("customSms", "too long"))).field(),
            Some("customSms")
        );
        assert_eq!(
            SignzyError::from(LinkError::Core(CoreError::invalid("internal_name", "x"))).field(),
            None
        );
    }
}

//! The Twilio face's errors: Twilio's body `{"code", "message", "more_info", "status"}`
//! with Twilio's error codes where one exists, so the SDKs raise their own exception
//! (`TwilioRestException` in Python, `RestException` in Node) with the code an integrator
//! already handles.
//!
//! [`TwilioError::body`] is the one mapping from a condition to its status, code and
//! message, and `From<CoreError>` the one mapping from the core's errors; the catalogue in
//! `docs/compat-twilio.md` lists the same conditions. Every error response under
//! `/v2/Services` (an unknown route, a wrong method, a panic) is rendered here too
//! ([`super::envelope_everything`]). No message quotes a phone number or a code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::CoreError;
use ringproof_core::client::ClientRefusal;
use ringproof_core::guard::Rule;
use ringproof_core::ratelimit::{MAX_BUCKETS, MAX_RATE_LIMITS, MAX_UNIQUE_NAME, RateLimitRefusal};
use ringproof_core::status::Status;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::{Failure, log_failure};

/// The error conditions of the Twilio face.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TwilioError {
    /// No HTTP Basic credentials, or an unknown SID or wrong token (20003).
    Unauthorized,
    /// Too many failed credentials from this address or for this SID: not checked (20429).
    TooManyFailures { retry_after_s: u64 },
    /// A parameter is missing or invalid (60200); `param` is Twilio's name for it.
    InvalidParameter { param: String, reason: String },
    /// The body is not `application/x-www-form-urlencoded` UTF-8 (60200).
    BadBody,
    /// The body is over the server's limit (16 KiB).
    PayloadTooLarge,
    /// No such service, verification or route, or one that is over (20404).
    NotFound,
    /// A route of the face with another method than its own (20004).
    MethodNotAllowed,
    /// `email`, `whatsapp`, … (60223).
    ChannelDisabled { channel: String },
    /// The verification used all its wrong codes, or the number its guess budget (60202).
    MaxCheckAttempts { retry_after_s: Option<u64> },
    /// The verification or the number used all its sends (60203).
    MaxSendAttempts { retry_after_s: Option<u64> },
    /// Another send to the number too soon after the last (60212).
    TooManyConcurrent { retry_after_s: u64 },
    /// A start over a bucket of the service's rate limit named (60203, as Twilio's other
    /// send limits: an integrator's handling of "too many sends" applies as it is).
    ServiceRateLimited { rate_limit: String, retry_after_s: u64 },
    /// A rate limit or bucket refused: too many (60207, 60210), a name taken (60208) or
    /// malformed (60209), an interval taken (60211).
    RateLimitConfig { code: u32, message: String },
    /// Too many sends of the client or the end user's address (20429).
    RateLimited { message: String, retry_after_s: u64 },
    /// A destination refused: a blocked range (the SMS-pumping guard), a kind of number
    /// that receives nothing, the client's blocklist, a recent SIM swap (60410).
    Blocked { message: String },
    /// The client's geo permissions do not include the number's country (60605).
    GeoPermission { message: String },
    /// The client is in test mode and the number is not on its allowlist (21608, as a
    /// Twilio trial account and an unverified number).
    Unverified,
    /// A path segment or query parameter axum could not read (60200).
    BadRequest,
    /// The provider or the database is unavailable (20503).
    Unavailable,
    /// A bug; the cause is logged with the request id (20500).
    Internal,
}

/// Twilio's error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TwilioErrorBody {
    /// Twilio's error code (20404, 60200, …).
    #[schema(example = 60200)]
    pub code: u32,
    /// What went wrong, for a person.
    #[schema(example = "Invalid parameter `To`: must be in E.164 format")]
    pub message: String,
    /// Twilio's page about the code.
    #[schema(example = "https://www.twilio.com/docs/errors/60200")]
    pub more_info: String,
    /// The HTTP status, again.
    #[schema(example = 400)]
    pub status: u16,
}

/// Marks a response rendered by this face, so [`super::envelope_everything`] leaves it alone.
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

impl TwilioError {
    pub fn invalid(param: &str, reason: impl Into<String>) -> Self {
        TwilioError::InvalidParameter {
            param: param.to_owned(),
            reason: reason.into(),
        }
    }

    /// The HTTP status and body of each condition: the one mapping of this face.
    pub fn body(&self) -> TwilioErrorBody {
        let (status, code, message): (u16, u32, String) = match self {
            TwilioError::Unauthorized => (
                401,
                20003,
                "Authenticate: send HTTP Basic auth with the Account SID (or API Key SID) as user name and the Auth Token (or API key secret) as password".into(),
            ),
            TwilioError::TooManyFailures { retry_after_s } => (
                429,
                20429,
                format!("Too many failed authentication attempts; retry in {retry_after_s} s"),
            ),
            TwilioError::InvalidParameter { param, reason } => {
                (400, 60200, format!("Invalid parameter `{param}`: {reason}"))
            }
            TwilioError::BadBody => (
                400,
                60200,
                "Invalid parameter: the body must be application/x-www-form-urlencoded UTF-8".into(),
            ),
            TwilioError::PayloadTooLarge => (413, 60200, "The request body is larger than 16 KiB".into()),
            TwilioError::NotFound => (404, 20404, "The requested resource was not found".into()),
            TwilioError::MethodNotAllowed => (405, 20004, "Method not allowed".into()),
            TwilioError::ChannelDisabled { channel } => (
                400,
                60223,
                format!("Delivery channel disabled: {}", channel.to_uppercase()),
            ),
            TwilioError::MaxCheckAttempts { .. } => (429, 60202, "Max check attempts reached".into()),
            TwilioError::MaxSendAttempts { .. } => (429, 60203, "Max send attempts reached".into()),
            TwilioError::TooManyConcurrent { retry_after_s } => (
                429,
                60212,
                format!("Too many concurrent requests for phone number; retry in {retry_after_s} s"),
            ),
            TwilioError::ServiceRateLimited { rate_limit, retry_after_s } => (
                429,
                60203,
                format!(
                    "Max send attempts reached: the service's rate limit `{rate_limit}` allows no more verifications for this value now; retry in {retry_after_s} s"
                ),
            ),
            TwilioError::RateLimitConfig { code, message } => (400, *code, message.clone()),
            TwilioError::RateLimited { message, .. } => (429, 20429, format!("Too many requests: {message}")),
            TwilioError::Blocked { message } => (
                403,
                60410,
                format!("Verification delivery attempt blocked: {message}"),
            ),
            TwilioError::GeoPermission { message } => (
                403,
                60605,
                format!("Verification delivery is not enabled for this country (geo permissions): {message}"),
            ),
            TwilioError::Unverified => (
                400,
                21608,
                "The number is unverified: this client is in test mode and the number is not on its allowlist".into(),
            ),
            TwilioError::BadRequest => (
                400,
                60200,
                "Invalid parameter: a path segment or query parameter could not be read (check its percent-encoding)"
                    .into(),
            ),
            TwilioError::Unavailable => (
                503,
                20503,
                "Service unavailable; retry later".into(),
            ),
            TwilioError::Internal => (
                500,
                20500,
                "Internal error; quote the x-request-id header when reporting it".into(),
            ),
        };
        TwilioErrorBody {
            code,
            message,
            more_info: format!("https://www.twilio.com/docs/errors/{code}"),
            status,
        }
    }

    fn retry_after_s(&self) -> Option<u64> {
        match self {
            TwilioError::TooManyFailures { retry_after_s }
            | TwilioError::TooManyConcurrent { retry_after_s }
            | TwilioError::RateLimited { retry_after_s, .. }
            | TwilioError::ServiceRateLimited { retry_after_s, .. } => Some(*retry_after_s),
            TwilioError::MaxCheckAttempts { retry_after_s } | TwilioError::MaxSendAttempts { retry_after_s } => {
                *retry_after_s
            }
            TwilioError::Unavailable => Some(1),
            _ => None,
        }
    }

    /// The condition of a response that axum (not this face) produced under the face's
    /// paths, by its status.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => TwilioError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => TwilioError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => TwilioError::PayloadTooLarge,
            StatusCode::UNAUTHORIZED => TwilioError::Unauthorized,
            StatusCode::SERVICE_UNAVAILABLE => TwilioError::Unavailable,
            // Bodies are read by `TwilioForm`, which answers `BadBody` itself: what is left
            // is the path and the query.
            s if s.is_client_error() => TwilioError::BadRequest,
            _ => TwilioError::Internal,
        }
    }
}

/// Twilio's name of a parameter the core names.
fn param_name(field: &str) -> String {
    match field {
        "to" => "To",
        "code" => "Code",
        "channel" => "Channel",
        "locale" => "Locale",
        "brand" => "CustomFriendlyName",
        "custom_code" => "CustomCode",
        "custom_message" => "CustomMessage",
        "code_length" => "CodeLength",
        "friendly_name" => "FriendlyName",
        "default_template" => "DefaultTemplateSid",
        "status" => "Status",
        "unique_name" => "UniqueName",
        "description" => "Description",
        "max" => "Max",
        "interval" => "Interval",
        "rate_limits" => "RateLimits",
        other => other,
    }
    .to_owned()
}

impl From<CoreError> for TwilioError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidPhoneNumber(p) => TwilioError::invalid("To", p.to_string()),
            CoreError::InvalidParameter { field, message } => TwilioError::InvalidParameter {
                param: param_name(&field),
                reason: message,
            },
            // Only a silent (`sna`) start builds a workflow on this face.
            CoreError::InvalidWorkflow { message, .. } => TwilioError::invalid("Channel", format!("sna: {message}")),
            CoreError::NotFound | CoreError::ServiceNotFound => TwilioError::NotFound,
            // Twilio: a verification whose wrong codes are used up answers 60202 while it
            // exists; one that is over any other way is gone (20404).
            CoreError::NotPending {
                status: Status::MaxAttemptsReached,
            } => TwilioError::MaxCheckAttempts { retry_after_s: None },
            CoreError::NotPending { .. } => TwilioError::NotFound,
            CoreError::ResendCooldown { retry_after_s } => TwilioError::TooManyConcurrent {
                retry_after_s: retry_after_s.max(1),
            },
            CoreError::MaxSendsReached => TwilioError::MaxSendAttempts { retry_after_s: None },
            CoreError::IdempotencyKeyReused => TwilioError::invalid("Idempotency-Key", "was used with another request"),
            CoreError::Unauthorized => TwilioError::Unauthorized,
            CoreError::TooManyFailures(t) => TwilioError::TooManyFailures {
                retry_after_s: t.retry_after_s.max(1),
            },
            CoreError::Refused(r) => match r {
                ClientRefusal::NumberBlocked => TwilioError::Blocked {
                    message: "the number is on this client's blocklist".into(),
                },
                ClientRefusal::NotOnAllowlist => TwilioError::Unverified,
                // No product of the client's controls gates this face (its starts are
                // the core's plain start), so this is a bug if it happens.
                ClientRefusal::ProductDisabled(p) => {
                    tracing::error!(product = p.as_str(), "a product refusal on the Twilio face");
                    TwilioError::Internal
                }
            },
            CoreError::Limited(r) => {
                let retry = r.retry_after_s.map(|s| s.max(1));
                match r.rule {
                    Rule::GuessBudget => TwilioError::MaxCheckAttempts { retry_after_s: retry },
                    Rule::NumberSends => TwilioError::MaxSendAttempts { retry_after_s: retry },
                    Rule::IpSends | Rule::ClientSends => TwilioError::RateLimited {
                        message: r.sentence(),
                        retry_after_s: retry.unwrap_or(1),
                    },
                    Rule::NumberKind(_) | Rule::Pumping(_) => TwilioError::Blocked { message: r.message() },
                    Rule::CountryNotAllowed(..) => TwilioError::GeoPermission { message: r.message() },
                }
            }
            CoreError::RateLimit(r) => {
                // Twilio's titles of these codes, with the bound in Twilio's names.
                let config = |code: u32, message: String| TwilioError::RateLimitConfig { code, message };
                match &r {
                    RateLimitRefusal::NotFound => TwilioError::NotFound,
                    RateLimitRefusal::TooManyRateLimits => config(
                        60207,
                        format!("Max rate limits per service reached ({MAX_RATE_LIMITS}); delete one first"),
                    ),
                    RateLimitRefusal::NameTaken => {
                        config(60208, "Rate limit with that UniqueName already exists".into())
                    }
                    RateLimitRefusal::BadName => config(
                        60209,
                        format!(
                            "UniqueName format is invalid: 1 to {MAX_UNIQUE_NAME} letters, digits, '_', '-' or '.'"
                        ),
                    ),
                    RateLimitRefusal::TooManyBuckets => config(
                        60210,
                        format!("Max Buckets per Rate limit reached ({MAX_BUCKETS}); delete or change one"),
                    ),
                    RateLimitRefusal::IntervalTaken => {
                        config(60211, "Bucket with the given Interval already exists".into())
                    }
                    RateLimitRefusal::Exceeded {
                        rate_limit,
                        retry_after_s,
                    } => TwilioError::ServiceRateLimited {
                        rate_limit: rate_limit.clone(),
                        retry_after_s: (*retry_after_s).max(1),
                    },
                }
            }
            CoreError::SimSwapped { max_age_h } => TwilioError::Blocked {
                message: format!("the SIM card of this number was changed within the last {max_age_h} hours"),
            },
            e => match log_failure(&e) {
                Failure::UpstreamDown | Failure::StoreUnavailable => TwilioError::Unavailable,
                Failure::Internal => TwilioError::Internal,
            },
        }
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let body = self.body();
        let status = StatusCode::from_u16(body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(body)).into_response();
        let headers = res.headers_mut();
        if self == TwilioError::Unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ringproof\""),
            );
        }
        if let Some(s) = self.retry_after_s()
            && let Ok(v) = HeaderValue::from_str(&s.max(1).to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        res.extensions_mut().insert(Rendered);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_twilio_codes() {
        let b = TwilioError::invalid("To", "is required").body();
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({
                "code": 60200,
                "message": "Invalid parameter `To`: is required",
                "more_info": "https://www.twilio.com/docs/errors/60200",
                "status": 400
            })
        );
        for (e, status, code) in [
            (TwilioError::Unauthorized, 401, 20003),
            (TwilioError::NotFound, 404, 20404),
            (TwilioError::MaxCheckAttempts { retry_after_s: None }, 429, 60202),
            (TwilioError::MaxSendAttempts { retry_after_s: None }, 429, 60203),
            (TwilioError::TooManyConcurrent { retry_after_s: 3 }, 429, 60212),
            (TwilioError::Blocked { message: "x".into() }, 403, 60410),
            (TwilioError::GeoPermission { message: "x".into() }, 403, 60605),
            (
                TwilioError::from(CoreError::RateLimit(RateLimitRefusal::Exceeded {
                    rate_limit: "ip".into(),
                    retry_after_s: 0,
                })),
                429,
                60203,
            ),
            (
                TwilioError::from(CoreError::RateLimit(RateLimitRefusal::TooManyRateLimits)),
                400,
                60207,
            ),
            (
                TwilioError::from(CoreError::RateLimit(RateLimitRefusal::NameTaken)),
                400,
                60208,
            ),
            (
                TwilioError::from(CoreError::RateLimit(RateLimitRefusal::BadName)),
                400,
                60209,
            ),
            (
                TwilioError::from(CoreError::RateLimit(RateLimitRefusal::TooManyBuckets)),
                400,
                60210,
            ),
            (
                TwilioError::from(CoreError::RateLimit(RateLimitRefusal::IntervalTaken)),
                400,
                60211,
            ),
            (
                TwilioError::from(CoreError::RateLimit(RateLimitRefusal::NotFound)),
                404,
                20404,
            ),
            (
                TwilioError::ChannelDisabled {
                    channel: "whatsapp".into(),
                },
                400,
                60223,
            ),
        ] {
            let b = e.body();
            assert_eq!((b.status, b.code), (status, code), "{e:?}");
        }
        assert_eq!(
            TwilioError::from(CoreError::NotPending {
                status: Status::Approved
            }),
            TwilioError::NotFound
        );
        assert_eq!(
            TwilioError::from(CoreError::invalid("brand", "x")),
            TwilioError::invalid("CustomFriendlyName", "x")
        );
        assert_eq!(
            TwilioError::for_status(StatusCode::METHOD_NOT_ALLOWED),
            TwilioError::MethodNotAllowed
        );
    }
}

//! The Vonage face's errors: Vonage's RFC 7807-style problem bodies `{"type", "title",
//! "detail", "instance"}` (and `invalid_parameters` on a 422), served as
//! `application/problem+json`, with Vonage's statuses, so the SDK's error (a `VetchError`
//! whose `response.status` an integrator already switches on) is the one they handle.
//!
//! [`VonageError::body`] is the one mapping from a condition to its status and body, and
//! `From<CoreError>` the one mapping from the core's errors; the catalogue in
//! `docs/compat-vonage.md` lists the same conditions. Every error response under
//! `/v2/verify` (an unknown route, a wrong method, a panic) is rendered here too
//! ([`super::envelope_everything`]). No detail quotes a phone number or a code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::CoreError;
use ringproof_core::client::ClientRefusal;
use ringproof_core::guard::Rule;
use ringproof_core::status::Status;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api_error::{Failure, current_request_id, log_failure};

/// The error conditions of the Vonage face.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VonageError {
    /// No credentials, a wrong API key or secret, or a JWT refused (bad signature, other
    /// application, expired, replayed…) (401).
    Unauthorized,
    /// Too many failed credentials from this address or for this key or application (429).
    TooManyFailures { retry_after_s: u64 },
    /// A parameter is missing or invalid (422), named as Vonage names it.
    InvalidParameter { name: String, reason: String },
    /// The body is not a JSON object (422).
    BadBody,
    /// The body is over the server's limit (16 KiB) (413).
    PayloadTooLarge,
    /// No such request of this client, or no such route (404).
    NotFound,
    /// A route of the face with another method than its own (405).
    MethodNotAllowed,
    /// `whatsapp`, `email`, … (422 on `workflow`).
    ChannelDisabled { channel: String },
    /// A wrong code; the request is still pending (400).
    InvalidCode,
    /// The request used all its wrong codes (410, Vonage's `expired`).
    TooManyWrongCodes,
    /// The request is over: approved, canceled, expired or failed (410).
    Ended { status: Status },
    /// Another request to the same number is still in progress (409, Vonage's `concurrent`).
    Concurrent,
    /// `next_workflow` with no workflow left to move to (409).
    NoNextWorkflow,
    /// No such template or template fragment of this client (404).
    TemplateNotFound,
    /// A template rule refused the change (409): a name taken, a second fragment for a
    /// channel and locale, deleting a template that still has fragments.
    TemplateConflict { detail: String },
    /// Too many requests: sends of the number, the client or the address, guesses at the
    /// number's codes, another send too soon (429).
    RateLimited { detail: String, retry_after_s: Option<u64> },
    /// A destination refused: a blocked range (the SMS-pumping guard, Vonage's fraud
    /// check), a kind of number that receives nothing, the client's blocklist, a country
    /// outside its geo permissions, a recent SIM swap (403).
    Blocked { detail: String },
    /// The client may not use this product (403).
    Forbidden,
    /// The provider or the database is unavailable (503).
    Unavailable,
    /// A bug; the cause is logged with the request id (500).
    Internal,
}

/// Vonage's problem body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct VonageErrorBody {
    /// A link to Vonage's description of the error.
    #[schema(example = "https://developer.vonage.com/en/api-errors/verify-v2#invalid-code")]
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(example = "Invalid Code")]
    pub title: String,
    /// What went wrong, for a person.
    #[schema(example = "The code you provided does not match the expected value.")]
    pub detail: String,
    /// The request id (the `x-request-id` header): quote it when reporting a problem.
    #[schema(example = "bf0ca0bf927b3b52e3cb03217e1a1ddf")]
    pub instance: String,
    /// On a 422: each parameter at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_parameters: Option<Vec<InvalidParameter>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct InvalidParameter {
    #[schema(example = "brand")]
    pub name: String,
    #[schema(example = "is required")]
    pub reason: String,
}

/// Marks a response rendered by this face, so [`super::envelope_everything`] leaves it alone.
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

const VERIFY: &str = "https://developer.vonage.com/en/api-errors/verify-v2";
const GENERAL: &str = "https://developer.vonage.com/en/api-errors";

impl VonageError {
    pub fn invalid(name: &str, reason: impl Into<String>) -> Self {
        VonageError::InvalidParameter {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// The HTTP status and body of each condition: the one mapping of this face.
    pub fn body(&self) -> (u16, VonageErrorBody) {
        let mut invalid = None;
        let (status, kind, title, detail): (u16, String, &str, String) = match self {
            VonageError::Unauthorized => (
                401,
                format!("{GENERAL}#unauthorized"),
                "Unauthorized",
                "You did not provide correct credentials: a JWT of a registered application (RS256) as a Bearer token, or the API key and secret as HTTP Basic".into(),
            ),
            VonageError::TooManyFailures { retry_after_s } => (
                429,
                format!("{GENERAL}#throttled"),
                "Rate Limit Hit",
                format!("Too many failed authentication attempts; retry in {retry_after_s} s"),
            ),
            VonageError::InvalidParameter { name, reason } => {
                invalid = Some(vec![InvalidParameter {
                    name: name.clone(),
                    reason: reason.clone(),
                }]);
                (
                    422,
                    format!("{GENERAL}#invalid-params"),
                    "Invalid params",
                    format!("The value of one or more parameters is invalid: {name} {reason}"),
                )
            }
            VonageError::BadBody => (
                422,
                format!("{GENERAL}#invalid-params"),
                "Invalid params",
                "The body must be a JSON object (Content-Type: application/json)".into(),
            ),
            VonageError::PayloadTooLarge => (
                413,
                format!("{GENERAL}#invalid-params"),
                "Payload Too Large",
                "The request body is larger than 16 KiB".into(),
            ),
            VonageError::NotFound => (
                404,
                format!("{VERIFY}#request-not-found"),
                "Not Found",
                "Request not found: the request ID provided could not be found".into(),
            ),
            VonageError::MethodNotAllowed => (
                405,
                format!("{GENERAL}#method-not-allowed"),
                "Method Not Allowed",
                "This route does not accept that method".into(),
            ),
            VonageError::ChannelDisabled { channel } => {
                invalid = Some(vec![InvalidParameter {
                    name: "workflow".into(),
                    reason: format!("the {channel} channel is not enabled on this server"),
                }]);
                (
                    422,
                    format!("{GENERAL}#invalid-params"),
                    "Invalid params",
                    format!("The {channel} channel is not enabled on this server (only sms, voice and silent_auth)"),
                )
            }
            VonageError::InvalidCode => (
                400,
                format!("{VERIFY}#invalid-code"),
                "Invalid Code",
                "The code you provided does not match the expected value.".into(),
            ),
            VonageError::TooManyWrongCodes => (
                410,
                format!("{VERIFY}#expired"),
                "Invalid Code",
                "An incorrect code has been provided too many times. Workflow terminated.".into(),
            ),
            VonageError::Ended { status } => (
                410,
                format!("{VERIFY}#expired"),
                "Gone",
                format!("The request is over ({}); request a new verification", status.as_str()),
            ),
            VonageError::Concurrent => (
                409,
                format!("{VERIFY}#concurrent"),
                "Conflict",
                "Concurrent verifications to the same number are not allowed.".into(),
            ),
            VonageError::NoNextWorkflow => (
                409,
                format!("{VERIFY}#conflict"),
                "Conflict",
                "There is no next workflow to move to (every workflow has run, or a silent authentication is in progress at the operator)".into(),
            ),
            VonageError::TemplateNotFound => (
                404,
                format!("{VERIFY}#template-not-found"),
                "Not Found",
                "Template not found: the template (or fragment) ID provided could not be found".into(),
            ),
            VonageError::TemplateConflict { detail } => (
                409,
                format!("{VERIFY}#conflict"),
                "Conflict",
                detail.clone(),
            ),
            VonageError::RateLimited { detail, .. } => (
                429,
                format!("{GENERAL}#throttled"),
                "Rate Limit Hit",
                format!("Please wait, then retry your request: {detail}"),
            ),
            VonageError::Blocked { detail } => (
                403,
                format!("{VERIFY}#forbidden"),
                "Forbidden",
                format!("The verification cannot be sent: {detail}"),
            ),
            VonageError::Forbidden => (
                403,
                format!("{VERIFY}#forbidden"),
                "Forbidden",
                "This client is not enabled for this product".into(),
            ),
            VonageError::Unavailable => (
                503,
                format!("{GENERAL}#internal-error"),
                "Service Unavailable",
                "Service unavailable; retry later".into(),
            ),
            VonageError::Internal => (
                500,
                format!("{GENERAL}#internal-error"),
                "Internal error",
                "There was an error processing your request; quote the instance when reporting it".into(),
            ),
        };
        (
            status,
            VonageErrorBody {
                kind,
                title: title.to_owned(),
                detail,
                instance: current_request_id(),
                invalid_parameters: invalid,
            },
        )
    }

    fn retry_after_s(&self) -> Option<u64> {
        match self {
            VonageError::TooManyFailures { retry_after_s } => Some(*retry_after_s),
            VonageError::RateLimited { retry_after_s, .. } => *retry_after_s,
            VonageError::Unavailable => Some(1),
            _ => None,
        }
    }

    /// The condition of a response that axum (not this face) produced under the face's
    /// paths, by its status.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => VonageError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => VonageError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => VonageError::PayloadTooLarge,
            StatusCode::UNAUTHORIZED => VonageError::Unauthorized,
            StatusCode::SERVICE_UNAVAILABLE => VonageError::Unavailable,
            s if s.is_client_error() => VonageError::BadBody,
            _ => VonageError::Internal,
        }
    }
}

/// Vonage's name of a parameter the core names.
fn param_name(field: &str) -> String {
    match field {
        "custom_code" => "code",
        "to" => "workflow[].to",
        other => other,
    }
    .to_owned()
}

impl From<CoreError> for VonageError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidPhoneNumber(p) => VonageError::invalid("workflow[].to", p.to_string()),
            CoreError::InvalidParameter { field, message } => VonageError::InvalidParameter {
                name: param_name(&field),
                reason: message,
            },
            // Steps count from 1 in the core (a silent step first counts), from 0 in
            // Vonage's workflow array; `silent_auth` without carrier authentication lands
            // here too, on `workflow[0]`, saying so.
            CoreError::InvalidWorkflow { step, message } => {
                VonageError::invalid(&format!("workflow[{}]", step.saturating_sub(1)), message)
            }
            CoreError::NotFound | CoreError::ServiceNotFound => VonageError::NotFound,
            CoreError::NotPending {
                status: Status::MaxAttemptsReached,
            } => VonageError::TooManyWrongCodes,
            CoreError::NotPending { status } => VonageError::Ended { status },
            CoreError::ConcurrentVerification => VonageError::Concurrent,
            CoreError::NoNextStep => VonageError::NoNextWorkflow,
            CoreError::TemplateNotFound => VonageError::TemplateNotFound,
            CoreError::TemplateConflict(detail) => VonageError::TemplateConflict { detail },
            CoreError::ResendCooldown { retry_after_s } => VonageError::RateLimited {
                detail: "another message to this number was sent too recently".into(),
                retry_after_s: Some(retry_after_s.max(1)),
            },
            CoreError::MaxSendsReached => VonageError::RateLimited {
                detail: "this request has sent all the messages it may".into(),
                retry_after_s: None,
            },
            CoreError::IdempotencyKeyReused => VonageError::invalid("Idempotency-Key", "was used with another request"),
            CoreError::Unauthorized => VonageError::Unauthorized,
            CoreError::TooManyFailures(t) => VonageError::TooManyFailures {
                retry_after_s: t.retry_after_s.max(1),
            },
            CoreError::Refused(r) => match r {
                ClientRefusal::NumberBlocked => VonageError::Blocked {
                    detail: "the number is on this client's blocklist".into(),
                },
                ClientRefusal::NotOnAllowlist => VonageError::Blocked {
                    detail: "this client is in test mode and the number is not on its allowlist".into(),
                },
                ClientRefusal::ProductDisabled(_) => VonageError::Forbidden,
            },
            CoreError::Limited(r) => match r.rule {
                Rule::GuessBudget | Rule::NumberSends | Rule::IpSends | Rule::ClientSends => VonageError::RateLimited {
                    detail: r.sentence(),
                    retry_after_s: r.retry_after_s.map(|s| s.max(1)),
                },
                Rule::NumberKind(_) | Rule::Pumping(_) | Rule::CountryNotAllowed(..) => {
                    VonageError::Blocked { detail: r.message() }
                }
            },
            CoreError::SimSwapped { max_age_h } => VonageError::Blocked {
                detail: format!("the SIM card of this number was changed within the last {max_age_h} hours"),
            },
            e => match log_failure(&e) {
                Failure::UpstreamDown | Failure::StoreUnavailable => VonageError::Unavailable,
                Failure::Internal => VonageError::Internal,
            },
        }
    }
}

impl IntoResponse for VonageError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let json = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
        let mut res = (status, json).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self == VonageError::Unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ringproof\", Basic realm=\"ringproof\""),
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
    fn bodies_carry_vonage_statuses_and_types() {
        let (status, b) = VonageError::invalid("brand", "is required").body();
        assert_eq!(status, 422);
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["type"], "https://developer.vonage.com/en/api-errors#invalid-params");
        assert_eq!(
            v["invalid_parameters"],
            serde_json::json!([{"name": "brand", "reason": "is required"}])
        );
        assert!(v["instance"].is_string());
        for (e, want) in [
            (VonageError::Unauthorized, 401),
            (VonageError::NotFound, 404),
            (VonageError::InvalidCode, 400),
            (VonageError::TooManyWrongCodes, 410),
            (
                VonageError::Ended {
                    status: Status::Expired,
                },
                410,
            ),
            (VonageError::Concurrent, 409),
            (VonageError::NoNextWorkflow, 409),
            (VonageError::TemplateNotFound, 404),
            (VonageError::TemplateConflict { detail: "x".into() }, 409),
            (
                VonageError::RateLimited {
                    detail: "x".into(),
                    retry_after_s: None,
                },
                429,
            ),
            (VonageError::Blocked { detail: "x".into() }, 403),
            (
                VonageError::ChannelDisabled {
                    channel: "whatsapp".into(),
                },
                422,
            ),
        ] {
            assert_eq!(e.body().0, want, "{e:?}");
            assert!(e.body().1.invalid_parameters.is_none() || want == 422);
        }
        assert_eq!(
            VonageError::from(CoreError::NotPending {
                status: Status::MaxAttemptsReached
            }),
            VonageError::TooManyWrongCodes
        );
        assert_eq!(
            VonageError::from(CoreError::ConcurrentVerification),
            VonageError::Concurrent
        );
        assert_eq!(
            VonageError::from(CoreError::invalid("custom_code", "x")),
            VonageError::invalid("code", "x")
        );
        assert_eq!(
            VonageError::for_status(StatusCode::METHOD_NOT_ALLOWED),
            VonageError::MethodNotAllowed
        );
    }
}

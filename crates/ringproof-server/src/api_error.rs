//! The native API's error envelope and the one place that maps [`CoreError`] to it:
//! `{"error":{"code","message","request_id"}}` with the HTTP status that fits.
//!
//! Also the request-scoped id: set by the request middleware in a task-local, so any
//! response (error bodies included) and every log line of the request carry the same id.

use axum::extract::FromRequestParts;
use axum::extract::rejection::JsonRejection;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::ratelimit::RateLimitRefusal;
use ringproof_core::{CoreError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::json_body::{BodyProblem, Json, JsonFace, axum_json_content_type};

tokio::task_local! {
    pub static REQUEST_ID: String;
}

/// The id of the request being served, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into())
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `verification_not_found`.
    #[schema(example = "invalid_parameter")]
    pub code: &'static str,
    /// What was wrong, for a human.
    pub message: String,
    /// The request field at fault, when one is (`to`, `code_length`, `workflow[1]`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "code_length")]
    pub field: Option<String>,
    /// Also in the `x-request-id` response header and the server's logs.
    pub request_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_s: Option<u64>,
    /// The request field at fault.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
            field: None,
        }
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }
}

/// The generic answer to a [`CoreError`] that a face has no answer of its own for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The delivery provider reports that nothing can be sent now.
    UpstreamDown,
    /// The store is unavailable or overloaded.
    StoreUnavailable,
    /// Anything else: a bug, whose cause the client is not shown.
    Internal,
}

/// The one place every face logs a failed request's [`CoreError`]: once, with the request
/// id — a warning for an unavailable provider, an error with its cause for anything
/// else — and says which generic answer it calls for.
pub fn log_failure(e: &CoreError) -> Failure {
    match e {
        CoreError::UpstreamDown => {
            tracing::warn!(request_id = %current_request_id(), "delivery provider unavailable");
            Failure::UpstreamDown
        }
        CoreError::Store(StoreError::Unavailable(_)) => {
            // An error, not a warning: the database being gone is an outage, and alerting
            // keyed on error lines must see it (the native face logged it so before the
            // faces shared this function).
            tracing::error!(request_id = %current_request_id(), error = %e, "store unavailable");
            Failure::StoreUnavailable
        }
        e => {
            tracing::error!(request_id = %current_request_id(), error = %e, "request failed");
            Failure::Internal
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let status = match &e {
            CoreError::InvalidPhoneNumber(_)
            | CoreError::InvalidParameter { .. }
            | CoreError::InvalidWorkflow { .. } => StatusCode::BAD_REQUEST,
            CoreError::NotFound | CoreError::ServiceNotFound | CoreError::TemplateNotFound => StatusCode::NOT_FOUND,
            CoreError::NotPending { .. }
            | CoreError::ConcurrentVerification
            | CoreError::NoNextStep
            | CoreError::TemplateConflict(_) => StatusCode::CONFLICT,
            CoreError::ResendCooldown { .. } | CoreError::MaxSendsReached => StatusCode::TOO_MANY_REQUESTS,
            CoreError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            CoreError::Unauthorized => StatusCode::UNAUTHORIZED,
            CoreError::TooManyFailures(_) => StatusCode::TOO_MANY_REQUESTS,
            CoreError::Refused(_) | CoreError::SimSwapped { .. } => StatusCode::FORBIDDEN,
            CoreError::Limited(r) if r.rule.is_rate() => StatusCode::TOO_MANY_REQUESTS,
            CoreError::Limited(_) => StatusCode::FORBIDDEN,
            CoreError::RateLimit(RateLimitRefusal::NotFound) => StatusCode::NOT_FOUND,
            CoreError::RateLimit(RateLimitRefusal::Exceeded { .. }) => StatusCode::TOO_MANY_REQUESTS,
            CoreError::RateLimit(_) => StatusCode::BAD_REQUEST,
            CoreError::Store(StoreError::Unavailable(_)) | CoreError::UpstreamDown => StatusCode::SERVICE_UNAVAILABLE,
            CoreError::Store(_) | CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The cause is logged once, with the request id; the client gets no internals.
        let message = if status.is_server_error() {
            match log_failure(&e) {
                Failure::UpstreamDown => e.to_string(),
                Failure::StoreUnavailable => "the service is temporarily unavailable; retry later".to_owned(),
                Failure::Internal => "internal error; quote the request id when reporting it".to_owned(),
            }
        } else {
            e.to_string()
        };
        // The field at fault, in the native API's names (a phone number is always `to`;
        // a workflow step by its index, the silent step counting).
        let field = match &e {
            CoreError::InvalidParameter { field, .. } => Some(field.clone()),
            CoreError::InvalidPhoneNumber(_) => Some("to".to_owned()),
            CoreError::InvalidWorkflow { step, .. } if *step >= 1 => Some(format!("workflow[{}]", step - 1)),
            CoreError::InvalidWorkflow { .. } => Some("workflow".to_owned()),
            _ => None,
        };
        let retry_after_s = match e {
            CoreError::ResendCooldown { retry_after_s } => Some(retry_after_s),
            CoreError::Limited(r) => r.retry_after_s,
            CoreError::RateLimit(RateLimitRefusal::Exceeded { retry_after_s, .. }) => Some(retry_after_s),
            CoreError::TooManyFailures(t) => Some(t.retry_after_s.max(1)),
            CoreError::Store(StoreError::Unavailable(_)) => Some(1),
            _ => None,
        };
        Self {
            status,
            code: e.code(),
            message,
            retry_after_s,
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: ErrorBody {
                code: self.code,
                message: self.message,
                field: self.field,
                request_id: current_request_id(),
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"ringproof\""),
            );
        }
        res
    }
}

/// The native face's reading of JSON bodies: axum's `Content-Type` rule and typed
/// decoding, every rejection in the native envelope (malformed JSON, wrong types, unknown
/// fields, a missing content type and oversized bodies are all 4xx).
pub struct Native;

impl JsonFace for Native {
    type Rejection = ApiError;
    const OBJECT: bool = false;

    fn content_type_ok(headers: &HeaderMap) -> bool {
        axum_json_content_type(headers)
    }

    fn reject(problem: BodyProblem) -> ApiError {
        match problem {
            BodyProblem::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            BodyProblem::Read(e) => json_rejection(JsonRejection::BytesRejection(e)),
            BodyProblem::Json(e) => json_rejection(e),
            // Only object faces read bodies as objects.
            BodyProblem::NotUtf8 | BodyProblem::NotAnObject => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is not a JSON object",
            ),
        }
    }
}

/// A JSON body of the native API: [`Json`] read by the [`Native`] face's rules.
pub type ApiJson<T> = Json<T, Native>;

pub fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            e.body_text()
                .replace("Failed to deserialize the JSON body into the target type: ", ""),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 16 KiB",
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", other.body_text()),
    }
}

/// `axum::extract::Query` with its rejection in our envelope (400 `invalid_parameter`).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", r.body_text()))
    }
}

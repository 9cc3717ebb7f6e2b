//! The Signzy-compatible face, base `/api/v3`: Signzy's request and response shapes over
//! the same engine as the native API. Handlers translate shapes; the rules (token expiry in
//! `ringproof_core::sessions`, the login throttle in `ringproof_core::throttle`) live in
//! the core. Contract and error catalogue:
//! `docs/compat-signzy.md`.
//!
//! Authentication: `POST /api/v3/patrons/login` trades a username and password for an
//! access token, sent afterwards as `Authorization: <token>` (or `Bearer <token>`) and
//! resolved by the [`SignzyClient`] extractor.

pub mod error;
pub mod instant_link;
pub mod otp;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringproof_core::client::Client;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::error::SignzyError;
use self::error::SignzyErrorResponse;
use crate::json_body::{BodyProblem, Field, FieldValue, Json, JsonFace, field_value};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(me))
        .merge(otp::router())
        .merge(instant_link::router())
        .route_layer(axum::middleware::from_fn(deadline))
}

/// The deadline of this face's requests (`signzy.request_timeout_ms`), put on every request
/// by the app so [`deadline`] can read it.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Duration);

/// Runs a request of this face (its extractors, so reading the body, included) under the
/// deadline; past it, the handler is dropped and the answer is 408 "Request timeout".
/// Dropping is safe: store transactions roll back when dropped, and work that already
/// committed stays as committed (a login attempt stays counted as a failure; an OTP or link
/// whose transaction committed is sent, and a new send supersedes it).
async fn deadline(req: Request, next: Next) -> Response {
    let limit = req
        .extensions()
        .get::<Deadline>()
        .map_or(Duration::from_millis(30_000), |d| d.0);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(
                request_id = %crate::api_error::current_request_id(),
                timeout_ms = limit.as_millis() as u64,
                "signzy request timed out"
            );
            SignzyError::RequestTimeout.into_response()
        }
    }
}

/// The client a Signzy access token belongs to.
pub struct SignzyClient(pub Client);

/// The request's source address ([`crate::client_ip`]), which the login throttle counts.
pub struct SourceIp(pub std::net::IpAddr);

impl FromRequestParts<AppState> for SourceIp {
    type Rejection = SignzyError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(SourceIp(crate::client_ip::of_parts(parts, state)))
    }
}

/// The token of an `Authorization` value: `<token>` or `Bearer <token>`. `None` when
/// there is nothing in it.
pub fn token_of(value: &str) -> Option<&str> {
    let v = value.trim();
    let token = match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => v,
    };
    (!token.is_empty() && !token.eq_ignore_ascii_case("bearer")).then_some(token)
}

impl FromRequestParts<AppState> for SignzyClient {
    type Rejection = SignzyError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(SignzyError::MissingApiKey);
        };
        let token = match value.to_str() {
            Ok(v) => token_of(v).ok_or(SignzyError::MissingApiKey)?,
            Err(_) => return Err(SignzyError::InvalidCredentials),
        };
        Ok(SignzyClient(state.engine.authenticate_token(token).await?))
    }
}

/// How this face reads JSON bodies: a JSON object, else "Request parse failure"; over the
/// body limit → 413. The content type is not enforced: Signzy's clients send JSON, some
/// without saying so.
pub struct Signzy;

impl JsonFace for Signzy {
    type Rejection = SignzyError;
    const OBJECT: bool = true;

    fn content_type_ok(_: &HeaderMap) -> bool {
        true
    }

    fn reject(problem: BodyProblem) -> SignzyError {
        match problem {
            BodyProblem::Read(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => SignzyError::PayloadTooLarge,
            _ => SignzyError::ParseFailure,
        }
    }
}

/// A JSON body of this face, into one of its request structs.
pub type SignzyJson<T> = Json<T, Signzy>;

/// A required string field: missing, null or empty → "`<field>` is required"; another
/// type → "Parameter is invalid".
pub fn required_str<'a>(value: &'a Field, field: &'static str) -> Result<&'a str, SignzyError> {
    match field_value(value) {
        FieldValue::Absent | FieldValue::Str("") => Err(SignzyError::Required(field)),
        FieldValue::Str(s) => Ok(s),
        FieldValue::Other => Err(SignzyError::InvalidParameter(Some(field))),
    }
}

/// An optional string field: absent, `null` or `""` is not given; another type is
/// "Parameter is invalid" (naming `field`).
pub fn optional_str<'a>(value: &'a Field, field: &'static str) -> Result<Option<&'a str>, SignzyError> {
    match field_value(value) {
        FieldValue::Absent | FieldValue::Str("") => Ok(None),
        FieldValue::Str(s) => Ok(Some(s)),
        FieldValue::Other => Err(SignzyError::InvalidParameter(Some(field))),
    }
}

// What the API description shows is what the handler reads (see `SignzyJson`).
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = String, required = true, example = "acme-bank")]
    pub username: Field,
    #[schema(value_type = String, required = true)]
    pub password: Field,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The access token: 64 characters `[A-Za-z0-9]`, shown once. Send it as
    /// `Authorization: <token>`.
    pub id: String,
    /// Seconds the token is valid (`signzy.token_ttl_s`, default 86400).
    #[schema(example = 86400)]
    pub ttl: u32,
    /// When the token was issued (RFC 3339).
    #[schema(example = "2026-01-01T00:00:00.000Z")]
    pub created: String,
    /// The client id (24 hex characters).
    #[serde(rename = "userId")]
    #[schema(example = "6462150e29c23b4d42352a63")]
    pub user_id: String,
}

/// Logs in with a client's username and password; returns an access token.
///
/// Failures are throttled per source address *and* username (`ringproof_core::throttle`):
/// from one address, failures for one username slow down and then lock further attempts
/// from that address (5 free, then waits of 1, 2, 4, 8, 16 s, locked for 15 minutes at 10)
/// while other addresses are still checked; an address may have at most
/// `auth_throttle.password_checks_per_min` password checks a minute (default 20) and
/// `auth_throttle.ip_failures` failures per `window_s` (30 per 15 minutes); a username with
/// `name_guard_failures` failures (20) refuses the addresses that failed for it. A refused
/// attempt is a 429 with `Retry-After` and its password is not checked.
#[utoipa::path(
    post,
    path = "/api/v3/patrons/login",
    tag = "signzy",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "Not a JSON object, or a field missing or of the wrong type", body = SignzyErrorResponse),
        (status = 401, description = "Unknown username or wrong password (`login failed`)", body = SignzyErrorResponse),
        (status = 429, description = "Too many failed logins from this address (for this username, or at all), or too many password checks from it this minute; see `Retry-After`", body = SignzyErrorResponse),
        (status = 408, description = "Request timeout (past `signzy.request_timeout_ms`)", body = SignzyErrorResponse),
        (status = 503, description = "Request cannot be processed at this time", body = SignzyErrorResponse)
    )
)]
async fn login(
    State(state): State<AppState>,
    SourceIp(ip): SourceIp,
    body: SignzyJson<LoginRequest>,
) -> Result<axum::Json<LoginResponse>, SignzyError> {
    let username = required_str(&body.username, "username")?;
    let password = required_str(&body.password, "password")?.to_owned();
    let attempt = match state.engine.login_begin(username, ip).await {
        Ok(a) => a,
        Err(e) => {
            if let ringproof_core::sessions::LoginError::Throttled(t) = &e {
                crate::telemetry::auth_throttled("signzy", t);
            }
            return Err(e.into());
        }
    };
    // argon2id is ~30 ms of CPU: keep it off the async workers.
    let (attempt, ok) = tokio::task::spawn_blocking(move || {
        let ok = attempt.verify(&password);
        (attempt, ok)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "password check task failed");
        SignzyError::Internal
    })?;
    let session = state.engine.login_finish(attempt, ok).await?;
    Ok(axum::Json(LoginResponse {
        id: session.token.expose().to_owned(),
        ttl: session.ttl_s,
        created: session.created_at.to_rfc3339(),
        user_id: session.client_id.to_string(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    /// The client id, as `userId` in the login response.
    #[serde(rename = "userId")]
    #[schema(example = "6462150e29c23b4d42352a63")]
    pub user_id: String,
    #[schema(example = "Acme Bank")]
    pub name: String,
}

/// The client the access token belongs to (a ringproof extension, not in Signzy's API):
/// a cheap way to check a token.
#[utoipa::path(
    get,
    path = "/api/v3/patrons/me",
    tag = "signzy",
    security(("signzy_token" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, description = "`{\"message\":\"No API key found in request\"}` without a token; `Invalid authentication credentials` for an unknown, expired or revoked one", body = error::SignzyUnauthorized),
        (status = 408, description = "Request timeout (past `signzy.request_timeout_ms`)", body = SignzyErrorResponse),
        (status = 503, description = "Request cannot be processed at this time", body = SignzyErrorResponse)
    )
)]
async fn me(SignzyClient(client): SignzyClient) -> axum::Json<MeResponse> {
    axum::Json(MeResponse {
        user_id: client.id.to_string(),
        name: client.name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_header_forms() {
        assert_eq!(token_of("abc"), Some("abc"));
        assert_eq!(token_of("Bearer abc"), Some("abc"));
        assert_eq!(token_of("bearer  abc "), Some("abc"));
        assert_eq!(token_of("   "), None);
        assert_eq!(token_of("Bearer "), None);
    }
}

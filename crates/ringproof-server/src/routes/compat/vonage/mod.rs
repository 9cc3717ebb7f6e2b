//! The Vonage-Verify-v2-compatible face, base `/v2/verify`: new request, check code, next
//! workflow and cancel over the engine's verifications (every rule is the core's: the
//! workflow's steps, the one pending request per number, the code checks). Vonage's
//! official SDKs work against it with their API host changed. Contract and error
//! catalogue: `docs/compat-vonage.md`.
//!
//! Authentication, as Vonage: a JWT (RS256) of an application registered with its public
//! key (`ringproof client vonage-application`), as `Authorization: Bearer`, which is what
//! the SDKs send for Verify v2; or HTTP Basic with a Vonage API key and secret
//! (`ringproof client vonage-credentials`). Bodies and responses are JSON with Vonage's
//! snake_case names.

pub mod error;
pub mod templates;
pub mod verify;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringproof_core::access_key::AccessKeyKind;
use ringproof_core::client::Client;
use utoipa_axum::router::OpenApiRouter;

use self::error::Rendered;
pub use self::error::VonageError;
use crate::json_body::{BodyProblem, Json, JsonFace};
use crate::state::AppState;

/// Where the face lives.
pub const BASE: &str = "/v2/verify";

pub fn router() -> OpenApiRouter<AppState> {
    verify::router().merge(templates::router())
}

/// Whether a request path belongs to this face (the Twilio face shares `/v2`).
pub fn is_face_path(path: &str) -> bool {
    path == BASE || path.strip_prefix(BASE).is_some_and(|rest| rest.starts_with('/'))
}

/// Gives every error response under `/v2/verify` Vonage's body: those the face rendered
/// pass through; anything else (an unknown route, a wrong method, a caught panic) is
/// replaced by the face's body for its status.
pub async fn envelope_everything(req: Request, next: Next) -> Response {
    if !is_face_path(req.uri().path()) {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && res.extensions().get::<Rendered>().is_none() {
        let mut replaced = VonageError::for_status(status).into_response();
        replaced.extensions_mut().extend(res.extensions().clone());
        return replaced;
    }
    res
}

/// The client authenticated by an application's JWT or a Vonage API key.
pub struct VonageClient(pub Client);

impl FromRequestParts<AppState> for VonageClient {
    type Rejection = VonageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(VonageError::Unauthorized)?
            .trim();
        let ip = crate::client_ip::of_parts(parts, state);
        let (scheme, rest) = value.split_once(' ').ok_or(VonageError::Unauthorized)?;
        let result = if scheme.eq_ignore_ascii_case("bearer") {
            state.engine.authenticate_vonage_jwt(rest.trim(), ip).await
        } else {
            let (key, secret) = crate::auth::credentials(value).ok_or(VonageError::Unauthorized)?;
            // Only a Vonage key here: the other faces' keys have their own faces.
            if AccessKeyKind::of_id(&key) != Some(AccessKeyKind::Vonage) {
                return Err(VonageError::Unauthorized);
            }
            state.engine.authenticate_key(&key, &secret, ip).await.map(|a| a.client)
        };
        match result {
            Ok(client) => Ok(VonageClient(client)),
            Err(e) => {
                if let ringproof_core::CoreError::TooManyFailures(t) = &e {
                    crate::telemetry::auth_throttled("vonage", t);
                }
                Err(e.into())
            }
        }
    }
}

/// How this face reads JSON bodies ([`crate::json_body`]): a JSON `Content-Type`
/// (`application/json` or `…+json`) and an object, whose members the handler reads in
/// Vonage's terms, naming the one at fault (no parser message, which could quote a value,
/// reaches the response); anything else is a 422, over the body limit a 413.
pub struct VonageBody;

impl JsonFace for VonageBody {
    type Rejection = VonageError;
    const OBJECT: bool = true;

    fn content_type_ok(headers: &HeaderMap) -> bool {
        crate::json_body::axum_json_content_type(headers)
    }

    fn reject(problem: BodyProblem) -> VonageError {
        match problem {
            BodyProblem::Read(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => VonageError::PayloadTooLarge,
            _ => VonageError::BadBody,
        }
    }
}

/// A JSON body of this face, into one of its request structs (raw members).
pub type VonageJson<T> = Json<T, VonageBody>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_paths() {
        assert!(is_face_path("/v2/verify"));
        assert!(is_face_path("/v2/verify/abc/next_workflow"));
        assert!(!is_face_path("/v2/verifyx"));
        assert!(!is_face_path("/v2/Services"));
    }
}

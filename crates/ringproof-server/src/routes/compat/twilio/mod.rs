//! The Twilio-Verify-compatible face, base `/v2/Services`: Twilio Verify v2's Services,
//! their Rate Limits and Buckets, Verifications and VerificationCheck over the engine's service use cases
//! ([`ringproof_core::engine::services`], where the rules of services, custom codes and
//! approvals live). Twilio's official SDKs work against it with their base URL changed.
//! Contract and error catalogue: `docs/compat-twilio.md`.
//!
//! Authentication: HTTP Basic with the client's Account SID (`AC…`) and Auth Token, or an
//! API Key SID (`SK…`) and its secret (`ringproof client twilio-credentials`). Bodies are
//! `application/x-www-form-urlencoded` with Twilio's PascalCase names; responses are JSON
//! with Twilio's snake_case fields, absolute `url`s and ISO 8601 dates.

pub mod error;
pub mod rate_limits;
pub mod services;
pub mod verifications;

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ringproof_core::client::Client;
use ringproof_core::time::Timestamp;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;

use self::error::Rendered;
pub use self::error::TwilioError;
use crate::state::AppState;

/// Where the face lives.
pub const BASE: &str = "/v2/Services";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(services::router())
        .merge(rate_limits::router())
        .merge(verifications::router())
}

/// Whether a request path belongs to this face (the Vonage face shares `/v2` and answers
/// its own paths).
pub fn is_face_path(path: &str) -> bool {
    path == BASE || path.strip_prefix(BASE).is_some_and(|rest| rest.starts_with('/'))
}

/// Gives every error response under `/v2/Services` Twilio's body: those the face rendered
/// pass through; anything else (an unknown route, a wrong method, a caught panic) is
/// replaced by the face's body for its status.
pub async fn envelope_everything(req: Request, next: Next) -> Response {
    if !is_face_path(req.uri().path()) {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let status = res.status();
    if (status.is_client_error() || status.is_server_error()) && res.extensions().get::<Rendered>().is_none() {
        let mut replaced = TwilioError::for_status(status).into_response();
        replaced.extensions_mut().extend(res.extensions().clone());
        return replaced;
    }
    res
}

/// The client authenticated by an access key, and its Account SID for the responses.
pub struct TwilioClient {
    pub client: Client,
    pub account_sid: String,
}

impl FromRequestParts<AppState> for TwilioClient {
    type Rejection = TwilioError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (sid, secret) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::credentials)
            .ok_or(TwilioError::Unauthorized)?;
        let ip = crate::client_ip::of_parts(parts, state);
        match state.engine.authenticate_key(&sid, &secret, ip).await {
            Ok(auth) => Ok(TwilioClient {
                client: auth.client,
                account_sid: auth.account_id,
            }),
            Err(e) => {
                if let ringproof_core::CoreError::TooManyFailures(t) = &e {
                    crate::telemetry::auth_throttled("twilio", t);
                }
                Err(e.into())
            }
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`) into one of the face's request
/// structs, whose fields are the raw strings (`Option<String>`, Twilio's PascalCase names):
/// the handler parses each in Twilio's terms, and the struct is also what the OpenAPI
/// document shows. Of a repeated parameter the last counts; unknown ones are ignored, as
/// Twilio does. An empty body needs no `Content-Type` (an update with no change).
pub struct TwilioForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for TwilioForm<T> {
    type Rejection = TwilioError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                TwilioError::PayloadTooLarge
            } else {
                TwilioError::BadBody
            }
        })?;
        if !bytes.is_empty() && form_type != Some(true) {
            return Err(TwilioError::BadBody);
        }
        if std::str::from_utf8(&bytes).is_err() {
            return Err(TwilioError::BadBody);
        }
        let map: BTreeMap<String, serde_json::Value> = form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
            .collect();
        let value = serde_json::Value::Object(map.into_iter().collect());
        T::deserialize(value).map(TwilioForm).map_err(|_| TwilioError::BadBody)
    }
}

/// A parameter's value: `None` when absent.
pub type Param = Option<String>;

/// A required parameter.
fn required<'a>(value: &'a Param, name: &str) -> Result<&'a str, TwilioError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| TwilioError::invalid(name, "is required"))
}

/// A boolean parameter (`true`/`false`, any case, as the SDKs send them).
fn boolean(value: &Param, name: &str) -> Result<Option<bool>, TwilioError> {
    match value.as_deref() {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(TwilioError::invalid(name, "must be true or false")),
    }
}

/// An integer parameter.
fn integer(value: &Param, name: &str) -> Result<Option<i64>, TwilioError> {
    value
        .as_deref()
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| TwilioError::invalid(name, "must be an integer"))
        })
        .transpose()
}

/// A parameter holding a JSON object (`Tags`, `RateLimits`).
fn json_object(value: &Param, name: &str) -> Result<Option<serde_json::Map<String, serde_json::Value>>, TwilioError> {
    match value.as_deref() {
        None => Ok(None),
        Some(v) => match serde_json::from_str::<serde_json::Value>(v) {
            Ok(serde_json::Value::Object(m)) => Ok(Some(m)),
            _ => Err(TwilioError::invalid(name, "must be a JSON object")),
        },
    }
}

/// Twilio's date format: ISO 8601 in UTC, whole seconds (`2015-07-30T20:00:00Z`).
fn date(t: Timestamp) -> String {
    let full = t.to_rfc3339();
    match full.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => full,
    }
}

/// Where the face's resources are, for their absolute `url`s (what the SDKs follow for
/// the next page): the server's public base URL.
fn base_url(state: &AppState) -> String {
    format!("{}/v2", state.engine.public_base_url().trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_paths_params_and_dates() {
        assert!(is_face_path("/v2/Services"));
        assert!(is_face_path("/v2/Services/VA1/Verifications"));
        assert!(!is_face_path("/v2/verify"));
        assert!(!is_face_path("/v2/ServicesX"));
        assert_eq!(boolean(&Some("True".into()), "X").unwrap(), Some(true));
        assert!(boolean(&Some("yes".into()), "X").is_err());
        assert_eq!(integer(&Some("6".into()), "X").unwrap(), Some(6));
        assert!(integer(&Some("six".into()), "X").is_err());
        assert!(json_object(&Some("[1]".into()), "Tags").is_err());
        assert!(json_object(&Some(r#"{"a":"b"}"#.into()), "Tags").unwrap().is_some());
        assert!(required(&Some(String::new()), "To").is_err());
        let d = date(Timestamp(1_438_286_400_123));
        assert_eq!(d, "2015-07-30T20:00:00Z");
    }
}

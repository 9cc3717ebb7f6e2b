//! Authentication of integrators on the native API: `Authorization: Bearer KEY:SECRET` or
//! HTTP Basic with the key as user name and the secret as password. An unknown key and a
//! wrong secret are answered the same way (401 `unauthorized`); past the throttle's limits
//! for the request's source address ([`crate::client_ip`]) or key, 429
//! `too_many_failures` with `Retry-After`, the secret unchecked (`ringproof_core::throttle`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine as _;
use ringproof_core::client::Client;

use crate::api_error::ApiError;
use crate::state::AppState;

/// The authenticated client of a request.
pub struct ApiClient(pub Client);

/// Splits an `Authorization` header value into (key, secret).
pub fn credentials(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let pair = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let bytes = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        String::from_utf8(bytes).ok()?
    } else {
        return None;
    };
    let (k, s) = pair.split_once(':')?;
    (!k.is_empty() && !s.is_empty()).then(|| (k.to_owned(), s.to_owned()))
}

impl FromRequestParts<AppState> for ApiClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some((key, secret)) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(credentials)
        else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send credentials as `Authorization: Bearer API_KEY:API_SECRET` or HTTP Basic",
            ));
        };
        let ip = crate::client_ip::of_parts(parts, state);
        match state.engine.authenticate(&key, &secret, ip).await {
            Ok(c) => Ok(ApiClient(c)),
            Err(e) => {
                if let ringproof_core::CoreError::TooManyFailures(t) = &e {
                    crate::telemetry::auth_throttled("native", t);
                }
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic() {
        assert_eq!(credentials("Bearer rk_1:rs_2"), Some(("rk_1".into(), "rs_2".into())));
        let b = base64::engine::general_purpose::STANDARD.encode("rk_1:rs_2");
        assert_eq!(credentials(&format!("Basic {b}")), Some(("rk_1".into(), "rs_2".into())));
        assert_eq!(credentials("Bearer rk_1"), None);
        assert_eq!(credentials("Bearer :x"), None);
        assert_eq!(credentials("Digest abc"), None);
        assert_eq!(credentials("Basic !!!"), None);
    }
}

//! Delivery receipts sent to us by providers: `GET|POST /callbacks/{provider}`, where
//! `{provider}` is a configured provider's name. The provider verifies its own request
//! (Twilio's signature, say) and reads the receipts out of it ([`CallbackParser`]); the
//! engine matches each to its send and records it ([`Engine::delivery_receipt`]), through
//! [`crate::receipts::Receipts`].
//!
//! Answers 204 when the callback was read (also when it matched no send: a provider
//! retries anything else), 403 for a bad signature, 400 for an unreadable callback, 404 for
//! a provider that takes no callbacks.
//!
//! [`Engine::delivery_receipt`]: ringproof_core::engine::Engine::delivery_receipt

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use ringproof_core::ports::{CallbackError, CallbackRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::{ApiError, ErrorResponse};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callback_get, callback_post))
}

/// A provider's delivery receipt (GET)
///
/// For providers that report by GET with a query string (Vonage's default DLR method).
#[utoipa::path(
    get,
    path = "/callbacks/{provider}",
    tag = "providers",
    params(("provider" = String, Path, description = "The configured provider's name")),
    responses(
        (status = 204, description = "Read (and recorded when it matched a send)"),
        (status = 400, description = "The callback cannot be read", body = ErrorResponse),
        (status = 403, description = "The callback's signature does not verify", body = ErrorResponse),
        (status = 404, description = "No such provider, or it takes no callbacks", body = ErrorResponse)
    )
)]
async fn callback_get(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    handle(&state, &provider, &Method::GET, &uri, &headers, &[]).await
}

/// A provider's delivery receipt (POST)
///
/// Twilio status callbacks (form-encoded, signed with `X-Twilio-Signature`), Vonage
/// delivery receipts (JSON or form), and other providers' callbacks.
#[utoipa::path(
    post,
    path = "/callbacks/{provider}",
    tag = "providers",
    params(("provider" = String, Path, description = "The configured provider's name")),
    responses(
        (status = 204, description = "Read (and recorded when it matched a send)"),
        (status = 400, description = "The callback cannot be read", body = ErrorResponse),
        (status = 403, description = "The callback's signature does not verify", body = ErrorResponse),
        (status = 404, description = "No such provider, or it takes no callbacks", body = ErrorResponse)
    )
)]
async fn callback_post(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    handle(&state, &provider, &Method::POST, &uri, &headers, &body).await
}

async fn handle(
    state: &AppState,
    provider: &str,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<StatusCode, ApiError> {
    let parser = state.callbacks.get(provider).ok_or_else(ApiError::not_found)?;
    // The URL the provider called, as it signed it: our public base URL and the path and
    // query it requested.
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
    let url = format!("{}{}", state.engine.public_base_url(), path_and_query);
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let req = CallbackRequest {
        method: method.as_str(),
        url: &url,
        headers: &headers,
        body,
    };
    let receipts = parser.parse_callback(&req).map_err(|e| match e {
        CallbackError::BadSignature => ApiError::new(StatusCode::FORBIDDEN, "bad_signature", e.to_string()),
        CallbackError::Malformed(_) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_callback", e.to_string()),
    })?;
    for r in receipts {
        state.receipts.apply(r).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

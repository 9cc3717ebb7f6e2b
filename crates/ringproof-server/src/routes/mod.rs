//! The HTTP surface: every face's routes, the OpenAPI document built from them, and the
//! middleware every request passes (request id, logging, metrics, body limit, panics).

pub mod callbacks;
pub mod compat;
pub mod ops;
pub mod sandbox;
pub mod silent;
pub mod v1;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ringproof_core::crypto::{hex, random_bytes};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::api_error::{ApiError, REQUEST_ID};
use crate::state::AppState;

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 16 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ringproof",
        description = "Self-hosted phone number verification: one-time codes by SMS and voice with fallback workflows.\n\nAuthenticate with `Authorization: Bearer API_KEY:API_SECRET` or HTTP Basic (key as user, secret as password). Errors are `{\"error\":{\"code\",\"message\",\"request_id\"}}`.\n\nA client with a webhook URL (set with `ringproof client update ID --webhook-url URL`) also receives every event of its verifications as a signed POST (`verification.approved`, …; header `Ringproof-Signature`): see docs/webhooks.md."
    ),
    modifiers(&Security),
    tags(
        (name = "verifications", description = "The native API"),
        (name = "signzy", description = "The Signzy-compatible face, base `/api/v3` (docs/compat-signzy.md)"),
        (name = "idenfy", description = "The iDenfy-compatible face, base `/fraud` (docs/compat-idenfy.md)"),
        (name = "twilio", description = "The Twilio-Verify-compatible face, base `/v2/Services`: form-encoded bodies, HTTP Basic with an Account SID (`AC…`) or API Key SID (`SK…`) (docs/compat-twilio.md)"),
        (name = "vonage", description = "The Vonage-Verify-v2-compatible face, base `/v2/verify`: JSON bodies, a registered application's RS256 JWT as `Bearer` (what Vonage's SDKs send) or HTTP Basic with a Vonage API key and secret; errors as `application/problem+json` (docs/compat-vonage.md)"),
        (name = "links", description = "One-time link pages, opened by the phone (HTML, no authentication)"),
        (name = "demo", description = "The end-user demo on the demo client (development mode only; HTML)"),
        (name = "sandbox", description = "The development phone (sandbox provider only)"),
        (name = "providers", description = "Delivery receipts from providers (status callbacks)"),
        (name = "operations", description = "Health, readiness, metrics")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some("`API_KEY:API_SECRET` as the bearer token".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let mut signzy = ApiKeyValue::new("Authorization");
        signzy.description =
            Some("Signzy face: the `id` of `POST /api/v3/patrons/login`, as `<token>` or `Bearer <token>`".into());
        let mut vonage = Http::new(HttpAuthScheme::Bearer);
        vonage.bearer_format = Some("JWT".into());
        vonage.description = Some(
            "Vonage face: a JWT signed RS256 by a registered application's private key (claims `application_id`, `iat`, `exp`, `jti`; each `jti` once)".into(),
        );
        components.add_security_scheme("vonage_jwt", SecurityScheme::Http(vonage));
        components.add_security_scheme("signzy_token", SecurityScheme::ApiKey(ApiKey::Header(signzy)));
    }
}

/// All routes with their OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(v1::router())
        .merge(silent::router())
        .merge(ops::router())
        .merge(sandbox::router())
        .merge(callbacks::router())
        .merge(compat::router())
        .merge(crate::pages::router())
        .split_for_parts()
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi_json() -> String {
    api().1.to_pretty_json().unwrap_or_else(|_| "{}".into())
}

pub fn app(state: AppState) -> Router {
    let (router, _) = api();
    let spec = openapi_json();
    let signzy_deadline =
        compat::signzy::Deadline(std::time::Duration::from_millis(state.config.signzy.request_timeout_ms));
    router
        .route(
            "/openapi.json",
            get(move || async move { ([("content-type", "application/json")], spec.clone()) }),
        )
        .route("/docs", get(ops::docs_page))
        .route_layer(middleware::from_fn(remember_route))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error; quote the request id when reporting it",
            )
            .into_response()
        }))
        .layer(middleware::from_fn(compat::idenfy::envelope_everything))
        .layer(middleware::from_fn(compat::twilio::envelope_everything))
        .layer(middleware::from_fn(compat::vonage::envelope_everything))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::Extension(signzy_deadline))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

/// A worker node's routes (`serve --role worker`): only the operations routes, so probes
/// and Prometheus reach it; every other path is the native 404.
pub fn ops_app(state: AppState) -> Router {
    let (router, _) = OpenApiRouter::new().merge(ops::router()).split_for_parts();
    router
        .route_layer(middleware::from_fn(remember_route))
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

/// The matched route template, carried out on the response for the outer middleware
/// (which runs before routing and so cannot see it on the request).
#[derive(Clone)]
struct Route(String);

async fn remember_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let mut res = next.run(req).await;
    if let Some(r) = route {
        res.extensions_mut().insert(Route(r));
    }
    res
}

fn acceptable_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| s.to_owned())
}

/// Gives each request an id (the caller's `x-request-id` if sane, else a fresh one),
/// scopes it for error bodies and logs, returns it in `x-request-id`, and logs one line per
/// request with the route template — never the raw URI, whose query may hold a number.
async fn request_context(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| hex(&random_bytes::<12>()));
    let method = req.method().clone();
    let start = Instant::now();
    let span = tracing::info_span!("request", id = %id, method = %method);
    let mut res = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let route = res
        .extensions()
        .get::<Route>()
        .map_or_else(|| "unmatched".to_owned(), |r| r.0.clone());
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    span.in_scope(|| tracing::info!(route = %route, status, ms = elapsed.as_secs_f64() * 1000.0, "request"));
    metrics::histogram!("ringproof_http_request_duration_seconds", "route" => route, "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use ringproof_core::verification::EventKind;

    /// The OpenAPI document names every event kind the events list can hold.
    #[test]
    fn openapi_lists_every_event_kind() {
        let doc: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap();
        let kind = doc["components"]["schemas"]["EventView"]["properties"]["kind"]["description"]
            .as_str()
            .unwrap()
            .to_owned();
        for k in EventKind::ALL {
            assert!(
                kind.contains(&format!("`{k}`")),
                "EventView.kind does not name {k}: {kind}"
            );
        }
    }
}

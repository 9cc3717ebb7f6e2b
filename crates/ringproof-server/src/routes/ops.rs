//! Operations: liveness, readiness, Prometheus metrics, and the API description.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health))
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<Health>) {
    match state.engine.store().ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(Health { status: "ok" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(Health {
                    status: "database unavailable",
                }),
            )
        }
    }
}

/// Prometheus metrics
///
/// Verifications started and approved by channel, checks by outcome, deliveries by
/// channel/provider/outcome, the job queue by state, and delivery latency.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
async fn metrics_text(State(state): State<AppState>) -> Response {
    if let Ok(stats) = state.engine.store().job_stats(state.engine.now()).await {
        metrics::gauge!("ringproof_jobs", "state" => "due").set(stats.due as f64);
        metrics::gauge!("ringproof_jobs", "state" => "scheduled").set(stats.scheduled as f64);
        metrics::gauge!("ringproof_jobs", "state" => "dead").set(stats.dead as f64);
    }
    state.metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The API reference page: renders `/openapi.json` with a few lines of inline script, so it
/// works offline (no CDN).
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("../../assets/docs.html"))
}

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

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers, and the server is not shutting down
///
/// 503 with `status` `database unavailable` while the database does not answer within
/// 2 s (a database that refuses connections would otherwise hold the probe for the pool's
/// 10 s acquire timeout), and
/// `draining` from the shutdown signal on (for `shutdown_grace_ms` the server still serves
/// every other route, so a load balancer takes it out before it stops accepting).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health))
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<Health>) {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Health { status: "draining" }),
        );
    }
    let ping = tokio::time::timeout(READY_TIMEOUT, state.engine.store().ping()).await;
    match ping.unwrap_or_else(|_| Err(ringproof_core::StoreError::Unavailable("no answer within 2 s".into()))) {
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

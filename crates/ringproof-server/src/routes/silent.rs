//! The silent step's `check_url` (`GET /v1/silent/{token}`), opened by the integrator's
//! app on the device, over mobile data, following redirects: a 302 to the operator, whose
//! redirect to `/l/callback` ends in the JSON result ([`callback`], called by the link
//! pages' callback for a `state` of a silent step). No credentials: the token is the
//! capability, and the verdict is about the device that follows it.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::engine::silent::{SilentCheckError, SilentStep, SilentView};
use ringproof_core::netauth::Callback;
use ringproof_core::verification::SilentError;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::{ApiError, ErrorResponse};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(open_check))
}

/// Where a silent step ended.
#[derive(Serialize, ToSchema)]
pub struct SilentResult {
    pub verification_id: String,
    /// The verification's status: `approved` when the network confirmed the number; else
    /// `pending` (the next step's code is on its way).
    #[schema(example = "approved")]
    pub status: String,
    /// The verdict's reason (`verified`, `not_verified`, `unidentified`, `deadline`, …).
    #[schema(example = "verified")]
    pub silent: String,
}

impl From<SilentView> for SilentResult {
    fn from(v: SilentView) -> Self {
        SilentResult {
            verification_id: v.verification_id.to_string(),
            status: v.status.as_str().to_owned(),
            silent: v.result,
        }
    }
}

fn refusal(e: SilentCheckError) -> ApiError {
    match e {
        SilentCheckError::NotFound | SilentCheckError::Silent(SilentError::NoSilentStep) => ApiError::not_found(),
        SilentCheckError::Silent(SilentError::AlreadyUsed) => ApiError::new(
            StatusCode::CONFLICT,
            "silent_check_used",
            "this check URL was already used, or the verification went on to its next step",
        ),
        SilentCheckError::Silent(SilentError::NotPending(s)) => ApiError::new(
            StatusCode::CONFLICT,
            "not_pending",
            format!("the verification is {}", s.as_str()),
        ),
        SilentCheckError::Core(e) => e.into(),
    }
}

/// Open a silent check
///
/// The `check_url` of a verification started with a silent step. Open it on the device,
/// over mobile data, following redirects: it redirects (302) to the operator, which
/// identifies the device by its connection and redirects back to `/l/callback`; that ends in
/// the JSON result. When no round trip is possible (no operator for the number, the operator
/// unreachable) the result comes at once. `approved`: done, no code sent. Otherwise the next
/// workflow step runs at once. One use per verification.
#[utoipa::path(
    get,
    path = "/v1/silent/{token}",
    tag = "verifications",
    params(("token" = String, Path, description = "From the `check_url` of the create response")),
    responses(
        (status = 200, description = "Settled at once", body = SilentResult),
        (status = 302, description = "To the operator (follow it)", headers(("Location" = String, description = "The operator's authorization URL"))),
        (status = 404, description = "Unknown check URL", body = ErrorResponse),
        (status = 409, description = "`silent_check_used` (opened already, or the next step ran) or `not_pending`", body = ErrorResponse),
    )
)]
async fn open_check(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let click = crate::netauth::click_context(&state, peer.ip(), &headers);
    match state.engine.open_silent(&token, &click).await.map_err(refusal)? {
        SilentStep::Operator(url) => Ok((
            StatusCode::FOUND,
            [(header::LOCATION, url), (header::CACHE_CONTROL, "no-store".into())],
        )
            .into_response()),
        SilentStep::Settled(view) => Ok(axum::Json(SilentResult::from(view)).into_response()),
    }
}

/// The operator's callback for a silent step: the JSON result.
pub async fn callback(state: &AppState, oidc_state: &str, cb: &Callback) -> Response {
    match state.engine.silent_callback(oidc_state, cb).await {
        Ok(view) => axum::Json(SilentResult::from(view)).into_response(),
        Err(e) => refusal(e).into_response(),
    }
}

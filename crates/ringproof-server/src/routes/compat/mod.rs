//! The compatibility faces: other vendors' API shapes over the same engine. Each face
//! has its own folder, its own error envelope (mapped in its own `error.rs`) and no
//! business rule of its own.

pub mod idenfy;
pub mod signzy;
pub mod twilio;
pub mod vonage;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every compatibility face's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(signzy::router())
        .merge(idenfy::router())
        .merge(twilio::router())
        .merge(vonage::router())
}

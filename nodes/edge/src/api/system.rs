//! `GET /api/admin/system`: the system report, for admins (the admin node
//! gathers it and checks the caller's role itself).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use bazaar_subjects::system::{GetSystem, SystemReport};
use bazaar_subjects::{Empty, ErrorEnvelope};

use crate::error::ApiError;
use crate::extract::Meta;
use crate::state::EdgeState;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/api/admin/system", get(system))
}

/// Which nodes run and how many copies of each, their versions and uptimes,
/// requests and failures per subject, the latest failures, and JetStream's
/// streams with their consumers' lag (admins).
#[utoipa::path(get, path = "/api/admin/system", tag = "admin",
    responses((status = 200, body = SystemReport), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)))]
pub async fn system(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<SystemReport>, ApiError> {
    Ok(Json(s.call::<GetSystem>(&meta, &Empty {}).await?))
}

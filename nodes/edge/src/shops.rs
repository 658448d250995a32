//! REST routes for shops.

use axum::Router;
use utoipa::OpenApi;

use crate::EdgeState;

#[derive(OpenApi)]
#[openapi(paths())]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
}

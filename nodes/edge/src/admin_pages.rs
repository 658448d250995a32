//! Pages: admin_pages.

use axum::Router;

use crate::EdgeState;

pub fn routes() -> Router<EdgeState> {
    Router::new()
}

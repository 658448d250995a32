//! The OpenAPI document, generated from the handlers, and its browsable UI
//! (Swagger UI's assets are compiled in, so it works without internet).

use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{auth, commerce, images, products, recommend, reviews, shops, site};
use crate::health;
use crate::state::EdgeState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bazaar API",
        description = "The multi-vendor marketplace's public API. Every error has the same JSON envelope."
    ),
    paths(
        site::list_categories,
        site::get_category,
        site::create_category,
        site::replace_category,
        site::delete_category,
        site::get_site,
        site::update_site,
        health::healthz,
        health::readyz,
        auth::register_user,
        auth::register_seller,
        auth::verify,
        auth::resend,
        auth::login,
        auth::logout,
        auth::refresh,
        auth::forgot_password,
        auth::reset_password,
        auth::change_password,
        auth::me,
        auth::update_me,
        auth::list_addresses,
        auth::create_address,
        auth::update_address,
        auth::delete_address,
        auth::add_admin,
        images::upload,
    ),
    components(schemas(
        bazaar_subjects::ErrorEnvelope,
        bazaar_subjects::FieldError,
        bazaar_subjects::ErrorCode
    ))
)]
pub struct ApiDoc;

/// The whole document: this one plus each area's own.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(shops::Doc::openapi());
    doc.merge(products::Doc::openapi());
    doc.merge(commerce::Doc::openapi());
    doc.merge(reviews::Doc::openapi());
    doc.merge(recommend::Doc::openapi());
    doc
}

pub fn routes() -> Router<EdgeState> {
    Router::new().merge(SwaggerUi::new("/api-docs").url("/api-docs/openapi.json", document()))
}

//! REST routes: each parses, calls one subject, and maps the answer.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::admin::{
    self, Category, CategoryInput, CategoryList, CategorySlug, SiteConfig, SiteConfigUpdate,
};

use crate::error::ApiError;
use crate::extract::{ApiJson, Meta};
use crate::state::EdgeState;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route(
            "/api/categories",
            get(list_categories).post(create_category),
        )
        .route(
            "/api/categories/{slug}",
            get(get_category)
                .put(replace_category)
                .delete(delete_category),
        )
        .route("/api/site", get(get_site).patch(update_site))
}

/// Every category with its subcategories, in display order.
#[utoipa::path(get, path = "/api/categories", tag = "categories",
    responses((status = 200, body = CategoryList), (status = 503, body = ErrorEnvelope)))]
pub async fn list_categories(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<CategoryList>, ApiError> {
    Ok(Json(s.categories(&meta).await?))
}

/// One category.
#[utoipa::path(get, path = "/api/categories/{slug}", tag = "categories",
    params(("slug" = String, Path, description = "category slug")),
    responses((status = 200, body = Category), (status = 404, body = ErrorEnvelope)))]
pub async fn get_category(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<Json<Category>, ApiError> {
    Ok(Json(
        s.call::<admin::GetCategory>(&meta, &CategorySlug { slug })
            .await?,
    ))
}

/// Create a category (admins).
#[utoipa::path(post, path = "/api/categories", tag = "categories", request_body = CategoryInput,
    responses((status = 200, body = Category), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn create_category(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(input): ApiJson<CategoryInput>,
) -> Result<Json<Category>, ApiError> {
    Ok(Json(s.call::<admin::UpsertCategory>(&meta, &input).await?))
}

/// Create or replace the category at this slug (admins).
#[utoipa::path(put, path = "/api/categories/{slug}", tag = "categories", request_body = CategoryInput,
    params(("slug" = String, Path, max_length = 64, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
            description = "category slug: lowercase letters, digits and single dashes")),
    responses((status = 200, body = Category), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn replace_category(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    ApiJson(mut input): ApiJson<CategoryInput>,
) -> Result<Json<Category>, ApiError> {
    input.slug = Some(slug);
    Ok(Json(s.call::<admin::UpsertCategory>(&meta, &input).await?))
}

/// Delete a category (admins).
#[utoipa::path(delete, path = "/api/categories/{slug}", tag = "categories",
    params(("slug" = String, Path, description = "category slug")),
    responses((status = 204), (status = 404, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn delete_category(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    s.call::<admin::DeleteCategory>(&meta, &CategorySlug { slug })
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The site's name, tagline, logo and banner.
#[utoipa::path(get, path = "/api/site", tag = "site", responses((status = 200, body = SiteConfig)))]
pub async fn get_site(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<SiteConfig>, ApiError> {
    Ok(Json(s.site(&meta).await?))
}

/// Change the site configuration (admins); absent fields stay, "" clears an image.
#[utoipa::path(patch, path = "/api/site", tag = "site", request_body = SiteConfigUpdate,
    responses((status = 200, body = SiteConfig), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn update_site(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(update): ApiJson<SiteConfigUpdate>,
) -> Result<Json<SiteConfig>, ApiError> {
    Ok(Json(s.call::<admin::UpdateSite>(&meta, &update).await?))
}

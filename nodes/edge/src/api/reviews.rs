//! REST routes for reviews: anyone reads a product's or shop's reviews (by
//! the slug the rest of the API uses); a signed-in buyer writes or edits
//! theirs. The orders node checks that the buyer's order was delivered.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::catalog::{self, ProductSlug};
use bazaar_subjects::orders::{
    ListReviews, ListTargetReviews, Review, ReviewInput, ReviewTarget, Reviews, UpsertReview,
};
use bazaar_subjects::sellers::{self, ShopSlug};
use serde::Deserialize;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::extract::{ApiJson, FormQuery, Meta};
use crate::state::EdgeState;

#[derive(OpenApi)]
#[openapi(paths(product_reviews, shop_reviews, write_review))]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/products/{slug}/reviews", get(product_reviews))
        .route("/api/shops/{slug}/reviews", get(shop_reviews))
        .route("/api/reviews", put(write_review).post(write_review))
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// 1-based; ten reviews a page.
    #[serde(default)]
    pub page: Option<u32>,
}

/// A live product's reviews, newest first, with its average and count.
#[utoipa::path(get, path = "/api/products/{slug}/reviews", tag = "reviews",
    params(("slug" = String, Path), ("page" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "1-based; ten reviews a page")),
    responses((status = 200, body = Reviews), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn product_reviews(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    FormQuery(q): FormQuery<PageQuery>,
) -> Result<Json<Reviews>, ApiError> {
    let product = s
        .call::<catalog::GetProduct>(&meta, &ProductSlug { slug })
        .await?;
    let reviews = s
        .call::<ListTargetReviews>(
            &meta,
            &ListReviews {
                target: ReviewTarget::Product,
                target_id: product.id,
                page: q.page,
            },
        )
        .await?;
    Ok(Json(reviews))
}

/// A shop's reviews, newest first, with its average and count.
#[utoipa::path(get, path = "/api/shops/{slug}/reviews", tag = "reviews",
    params(("slug" = String, Path), ("page" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "1-based; ten reviews a page")),
    responses((status = 200, body = Reviews), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn shop_reviews(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    FormQuery(q): FormQuery<PageQuery>,
) -> Result<Json<Reviews>, ApiError> {
    let shop = s
        .call::<sellers::GetShop>(&meta, &ShopSlug { slug })
        .await?
        .shop;
    let reviews = s
        .call::<ListTargetReviews>(
            &meta,
            &ListReviews {
                target: ReviewTarget::Shop,
                target_id: shop.id,
                page: q.page,
            },
        )
        .await?;
    Ok(Json(reviews))
}

/// Write or replace the caller's review of a product or shop (`target_id`
/// is its id). Allowed once one of the caller's orders of it was delivered.
#[utoipa::path(put, path = "/api/reviews", tag = "reviews", request_body = ReviewInput,
    responses((status = 200, body = Review),
              (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope, description = "no delivered order of it yet"),
              (status = 404, body = ErrorEnvelope, description = "no such product or shop"),
              (status = 422, body = ErrorEnvelope, description = "rating not 1–5, title or text too long, bad image ids")))]
pub async fn write_review(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(input): ApiJson<ReviewInput>,
) -> Result<Json<Review>, ApiError> {
    Ok(Json(s.call::<UpsertReview>(&meta, &input).await?))
}

//! REST routes for recommendations: for the caller, like a product, and
//! bought with the cart's products. Each answer is a `Recommendations`
//! whose `source` says whether the model, co-purchases or popularity made it.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::catalog::{self, ProductSlug};
use bazaar_subjects::recommend::{
    ForYouRequest, RecommendForYou, Recommendations, SimilarProducts, SimilarRequest,
};
use serde::Deserialize;
use utoipa::OpenApi;

use crate::api::commerce::cart_session;
use crate::error::ApiError;
use crate::extract::{FormQuery, Meta};
use crate::state::EdgeState;

#[derive(OpenApi)]
#[openapi(paths(for_you, similar, cart_also_bought))]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/recommendations", get(for_you))
        .route("/api/products/{slug}/similar", get(similar))
        .route("/api/cart/also-bought", get(cart_also_bought))
}

#[derive(Debug, Default, Deserialize)]
pub struct Limit {
    #[serde(default)]
    limit: Option<u32>,
}

impl Limit {
    fn get(&self) -> u32 {
        self.limit.unwrap_or(0)
    }
}

/// Products recommended to the signed-in account (from its history), or
/// the most popular ones for guests and new accounts.
#[utoipa::path(get, path = "/api/recommendations", tag = "recommend",
    params(("limit" = Option<u32>, Query, description = "1 to 24, default 12")),
    responses((status = 200, body = Recommendations), (status = 503, body = ErrorEnvelope)))]
pub async fn for_you(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<Limit>,
) -> Result<Json<Recommendations>, ApiError> {
    let request = ForYouRequest { limit: q.get() };
    Ok(Json(s.call::<RecommendForYou>(&meta, &request).await?))
}

/// Products like this one.
#[utoipa::path(get, path = "/api/products/{slug}/similar", tag = "recommend",
    params(("slug" = String, Path), ("limit" = Option<u32>, Query, description = "1 to 24, default 12")),
    responses((status = 200, body = Recommendations), (status = 404, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)))]
pub async fn similar(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    FormQuery(q): FormQuery<Limit>,
) -> Result<Json<Recommendations>, ApiError> {
    let product = s
        .call::<catalog::GetProduct>(&meta, &ProductSlug { slug })
        .await?;
    let request = SimilarRequest {
        product_id: product.id,
        limit: q.get(),
    };
    Ok(Json(s.call::<SimilarProducts>(&meta, &request).await?))
}

/// What customers who bought the cart's products also bought.
#[utoipa::path(get, path = "/api/cart/also-bought", tag = "recommend",
    params(("limit" = Option<u32>, Query, description = "1 to 24, default 12")),
    responses((status = 200, body = Recommendations), (status = 503, body = ErrorEnvelope)))]
pub async fn cart_also_bought(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    FormQuery(q): FormQuery<Limit>,
) -> Result<Response, ApiError> {
    let mut session = cart_session(&s, &meta, &headers).await?;
    let cart = session.cart(&s, &meta).await?;
    let answer = crate::pages::cart::also_bought(&s, &meta, &cart, q.get())
        .await
        .map_err(ApiError)?;
    Ok((session.headers(), Json(answer)).into_response())
}

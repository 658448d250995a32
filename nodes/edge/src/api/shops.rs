//! Shops over HTTP: REST routes (each parses, calls one sellers subject and
//! maps the answer). The seller's shop form and the public shop page are in
//! [`crate::pages::shops`].

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bazaar_subjects::sellers::{
    self, FollowState, OnboardingLink, PayoutStatus, Shop, ShopCards, ShopInput, ShopPage,
    ShopSlug, TopShopsRequest,
};
use bazaar_subjects::{Empty, ErrorEnvelope};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::extract::{ApiJson, Meta};
use crate::state::EdgeState;

#[derive(OpenApi)]
#[openapi(
    paths(
        create_shop,
        my_shop,
        replace_my_shop,
        update_my_shop,
        top_shops,
        get_shop,
        follow_shop,
        unfollow_shop,
        my_payouts,
        connect_payouts
    ),
    components(schemas(
        PayoutStatus,
        OnboardingLink,
        ShopInput,
        Shop,
        ShopPage,
        ShopCards,
        sellers::ShopCard,
        sellers::SocialLink,
        sellers::OpeningHours,
        FollowState
    ))
)]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/shops", post(create_shop))
        .route(
            "/api/shops/mine",
            get(my_shop).put(replace_my_shop).patch(update_my_shop),
        )
        .route("/api/shops/top", get(top_shops))
        .route("/api/shops/mine/payouts", get(my_payouts))
        .route("/api/shops/mine/payouts/connect", post(connect_payouts))
        .route("/api/shops/{slug}", get(get_shop))
        .route(
            "/api/shops/{slug}/follow",
            post(follow_shop).delete(unfollow_shop),
        )
}

/// Open your shop (sellers; one each). The slug comes from the name and is
/// made unique (`-2`, `-3` …).
#[utoipa::path(post, path = "/api/shops", tag = "shops", request_body = ShopInput,
    responses((status = 201, body = Shop), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn create_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(input): ApiJson<ShopInput>,
) -> Result<(StatusCode, Json<Shop>), ApiError> {
    let shop = s.call::<sellers::CreateShop>(&meta, &input).await?;
    Ok((StatusCode::CREATED, Json(shop)))
}

/// Your shop's card payments (sellers): whether the site takes cards,
/// whether your Stripe account is connected and ready.
#[utoipa::path(get, path = "/api/shops/mine/payouts", tag = "shops",
    responses((status = 200, body = PayoutStatus), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn my_payouts(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<PayoutStatus>, ApiError> {
    Ok(Json(
        s.call::<sellers::GetPayoutStatus>(&meta, &Empty {}).await?,
    ))
}

/// Connect your shop to Stripe (sellers): opens your shop's Stripe account
/// once and answers with a fresh onboarding link to send you to.
#[utoipa::path(post, path = "/api/shops/mine/payouts/connect", tag = "shops",
    responses((status = 200, body = OnboardingLink), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)))]
pub async fn connect_payouts(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<OnboardingLink>, ApiError> {
    Ok(Json(
        s.call::<sellers::ConnectPayouts>(&meta, &Empty {}).await?,
    ))
}

/// Your shop (sellers); 404 until you open it.
#[utoipa::path(get, path = "/api/shops/mine", tag = "shops",
    responses((status = 200, body = Shop), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn my_shop(State(s): State<EdgeState>, Meta(meta): Meta) -> Result<Json<Shop>, ApiError> {
    Ok(Json(s.call::<sellers::GetMyShop>(&meta, &Empty {}).await?))
}

/// Replace your shop's details (sellers). Send the whole shop: fields left
/// out are cleared. The slug never changes.
#[utoipa::path(put, path = "/api/shops/mine", tag = "shops", request_body = ShopInput,
    responses((status = 200, body = Shop), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn replace_my_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(input): ApiJson<ShopInput>,
) -> Result<Json<Shop>, ApiError> {
    Ok(Json(s.call::<sellers::UpdateMyShop>(&meta, &input).await?))
}

/// The same as `PUT /api/shops/mine`: send the whole shop (fields left out
/// are cleared; the slug never changes).
#[utoipa::path(patch, path = "/api/shops/mine", tag = "shops", request_body = ShopInput,
    responses((status = 200, body = Shop), (status = 401, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn update_my_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(input): ApiJson<ShopInput>,
) -> Result<Json<Shop>, ApiError> {
    Ok(Json(s.call::<sellers::UpdateMyShop>(&meta, &input).await?))
}

/// The best shops: by sales, then rating, then followers.
#[utoipa::path(get, path = "/api/shops/top", tag = "shops",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 50, description = "default 10")),
    responses((status = 200, body = ShopCards), (status = 422, body = ErrorEnvelope)))]
pub async fn top_shops(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<ShopCards>, ApiError> {
    let limit = match q.get("limit").map(|l| l.trim()).filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => Some(l.parse::<u32>().map_err(|_| {
            ApiError(ErrorEnvelope::validation(vec![
                bazaar_subjects::FieldError {
                    field: "limit".into(),
                    message: "ask for between 1 and 50 shops".into(),
                },
            ]))
        })?),
    };
    Ok(Json(
        s.call::<sellers::TopShops>(&meta, &TopShopsRequest { limit })
            .await?,
    ))
}

/// A shop's public page; `following` is set when you are signed in.
#[utoipa::path(get, path = "/api/shops/{slug}", tag = "shops",
    params(("slug" = String, Path, description = "shop slug")),
    responses((status = 200, body = ShopPage), (status = 404, body = ErrorEnvelope)))]
pub async fn get_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<Json<ShopPage>, ApiError> {
    Ok(Json(
        s.call::<sellers::GetShop>(&meta, &ShopSlug { slug })
            .await?,
    ))
}

/// Follow a shop (signed in; doing it twice changes nothing).
#[utoipa::path(post, path = "/api/shops/{slug}/follow", tag = "shops",
    params(("slug" = String, Path, description = "shop slug")),
    responses((status = 200, body = FollowState), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn follow_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<Json<FollowState>, ApiError> {
    Ok(Json(
        s.call::<sellers::FollowShop>(&meta, &ShopSlug { slug })
            .await?,
    ))
}

/// Stop following a shop (signed in; doing it twice changes nothing).
#[utoipa::path(delete, path = "/api/shops/{slug}/follow", tag = "shops",
    params(("slug" = String, Path, description = "shop slug")),
    responses((status = 200, body = FollowState), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn unfollow_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(slug): Path<String>,
) -> Result<Json<FollowState>, ApiError> {
    Ok(Json(
        s.call::<sellers::UnfollowShop>(&meta, &ShopSlug { slug })
            .await?,
    ))
}

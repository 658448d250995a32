//! REST routes for analytics, read from the analytics node's rollups (it
//! checks the caller): a seller's own shop (admins: any shop, by
//! `shop_id`) and the platform's (admins).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::analytics::{
    AnalyticsRange, GetPlatformAnalytics, GetShopAnalytics, PlatformAnalytics, ShopAnalytics,
};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::extract::{FormQuery, Meta};
use crate::state::{EdgeState, Relayed};

#[derive(OpenApi)]
#[openapi(paths(shop, platform))]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/seller/analytics", get(shop))
        .route("/api/admin/analytics", get(platform))
}

/// A shop's figures over a range of days and the period just before it:
/// totals, every day, top products (sellers: their own shop; admins: any,
/// by `shop_id`).
#[utoipa::path(get, path = "/api/seller/analytics", tag = "analytics",
    params(
        ("from" = String, Query, description = "first day, YYYY-MM-DD"),
        ("to" = String, Query, description = "last day, YYYY-MM-DD (at most 731 days in all)"),
        ("shop_id" = Option<String>, Query, description = "admins: the shop to read"),
    ),
    responses(
        (status = 200, body = ShopAnalytics),
        (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope, description = "the seller has no shop yet"),
    ))]
pub async fn shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<AnalyticsRange>,
) -> Result<Relayed<ShopAnalytics>, ApiError> {
    s.relay::<GetShopAnalytics>(&meta, &q).await
}

/// The platform's figures over a range of days and the period just before
/// it: GMV, fees, orders, new buyers and sellers, active and top shops
/// (admins).
#[utoipa::path(get, path = "/api/admin/analytics", tag = "analytics",
    params(
        ("from" = String, Query, description = "first day, YYYY-MM-DD"),
        ("to" = String, Query, description = "last day, YYYY-MM-DD (at most 731 days in all)"),
    ),
    responses(
        (status = 200, body = PlatformAnalytics),
        (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope),
    ))]
pub async fn platform(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<AnalyticsRange>,
) -> Result<Relayed<PlatformAnalytics>, ApiError> {
    s.relay::<GetPlatformAnalytics>(&meta, &q).await
}

//! REST routes for carts, wishlists, discount codes, checkout, orders and
//! notifications, and the one-box test payment page. The orders node checks
//! who owns what; the edge only keeps the guest cart cookie.
//!
//! Guests get a random cart id in a signed, httpOnly cookie. Once the same
//! browser is signed in, the guest cart is merged into the account's cart on
//! its next cart request and the cookie is dropped.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use bazaar_runtime::RequestMeta;
use bazaar_runtime::jetstream::enqueue_job;
use bazaar_subjects::orders::{
    self as o, AddToCart, ApplyCoupon, Cart, CheckoutId, CheckoutRequest, CheckoutResult, Coupon,
    CouponId, CouponInput, Coupons, ListOrders, MarkRead, MergeCart, Notifications, Order, OrderId,
    OrderList, OrderStatus, PaymentMethod, PaymentNotification, RemoveCartLine, ShippingAddress,
    UpdateCartLine, Wishlist, WishlistChange,
};
use bazaar_subjects::{Empty, ErrorEnvelope};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use utoipa::{OpenApi, ToSchema};

use crate::error::ApiError;
use crate::extract::{ApiJson, FormQuery, Meta, cookie_value};
use crate::state::EdgeState;

/// The guest cart cookie: `<id>.<hmac>`.
pub(crate) const CART_COOKIE: &str = "bazaar_cart";
const CART_COOKIE_DAYS: u32 = 30;

#[derive(OpenApi)]
#[openapi(paths(
    get_cart,
    add_item,
    update_item,
    remove_item,
    apply_coupon,
    get_wishlist,
    add_wish,
    remove_wish,
    create_coupon,
    list_coupons,
    delete_coupon,
    checkout,
    get_checkout,
    my_orders,
    my_order,
    cancel_order,
    shop_orders,
    shop_order,
    advance_order,
    refund_order,
    all_orders,
    notifications,
    mark_read
))]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/cart", get(get_cart))
        .route("/api/cart/items", post(add_item))
        .route(
            "/api/cart/items/{line_id}",
            axum::routing::patch(update_item).delete(remove_item),
        )
        .route("/api/cart/coupon", post(apply_coupon))
        .route("/api/wishlist", get(get_wishlist).post(add_wish))
        .route(
            "/api/wishlist/{product_id}",
            axum::routing::delete(remove_wish),
        )
        .route("/api/seller/coupons", get(list_coupons).post(create_coupon))
        .route(
            "/api/seller/coupons/{id}",
            axum::routing::delete(delete_coupon),
        )
        .route("/api/checkout", post(checkout))
        .route("/api/checkouts/{id}", get(get_checkout))
        .route("/api/orders", get(my_orders))
        .route("/api/orders/{id}", get(my_order))
        .route("/api/orders/{id}/cancel", post(cancel_order))
        .route("/api/seller/orders", get(shop_orders))
        .route("/api/seller/orders/{id}", get(shop_order))
        .route("/api/seller/orders/{id}/status", post(advance_order))
        .route("/api/seller/orders/{id}/refund", post(refund_order))
        .route("/api/admin/orders", get(all_orders))
        .route("/api/notifications", get(notifications))
        .route("/api/notifications/read", post(mark_read))
        .route(
            "/pay/test/{checkout_id}",
            get(test_payment_page).post(test_payment),
        )
}

fn sign(state: &EdgeState, id: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&state.inner.cart_key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The guest cart id from a correctly signed cookie.
fn guest_from_cookie(state: &EdgeState, headers: &HeaderMap) -> Option<String> {
    let raw = cookie_value(headers, CART_COOKIE)?;
    let (id, tag) = raw.split_once('.')?;
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&state.inner.cart_key) else {
        return None;
    };
    mac.update(id.as_bytes());
    let tag = hex::decode(tag).ok()?;
    mac.verify_slice(&tag).ok()?;
    o::is_guest_id(id).then(|| id.to_owned())
}

fn cart_cookie(state: &EdgeState, id: Option<&str>) -> HeaderValue {
    let secure = if state.inner.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = match id {
        Some(id) => format!(
            "{CART_COOKIE}={id}.{}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            sign(state, id),
            CART_COOKIE_DAYS * 86_400
        ),
        None => format!("{CART_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

/// Who the cart is for, and the cookie to send back (if it changes).
pub(crate) struct CartSession {
    pub guest_id: Option<String>,
    pub set_cookie: Option<HeaderValue>,
    /// The cart as the merge left it (with what changed: read it only once).
    pub merged: Option<Cart>,
}

impl CartSession {
    /// The cart now: as the sign-in merge left it (read once, with what
    /// changed), else fetched from the orders node.
    pub(crate) async fn cart(
        &mut self,
        s: &EdgeState,
        meta: &RequestMeta,
    ) -> Result<Cart, ApiError> {
        match self.merged.take() {
            Some(cart) => Ok(cart),
            None => {
                s.call::<o::GetCart>(
                    meta,
                    &o::CartOwner {
                        guest_id: self.guest_id.clone(),
                    },
                )
                .await
            }
        }
    }

    pub(crate) fn headers(&self) -> AppendHeaders<Vec<(header::HeaderName, HeaderValue)>> {
        AppendHeaders(
            self.set_cookie
                .iter()
                .map(|v| (header::SET_COOKIE, v.clone()))
                .collect(),
        )
    }
}

/// Signed in: merge any guest cart first. A guest: their cart id (a new
/// one if they have none yet).
pub(crate) async fn cart_session(
    state: &EdgeState,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<CartSession, ApiError> {
    let guest = guest_from_cookie(state, headers);
    if meta.authorization.is_some() {
        if let Some(guest_id) = guest {
            let merged = state
                .call::<o::MergeGuestCart>(meta, &MergeCart { guest_id })
                .await?;
            return Ok(CartSession {
                guest_id: None,
                set_cookie: Some(cart_cookie(state, None)),
                merged: Some(merged),
            });
        }
        return Ok(CartSession {
            guest_id: None,
            set_cookie: None,
            merged: None,
        });
    }
    match guest {
        Some(id) => Ok(CartSession {
            guest_id: Some(id),
            set_cookie: None,
            merged: None,
        }),
        None => {
            let id = uuid::Uuid::new_v4().simple().to_string();
            Ok(CartSession {
                set_cookie: Some(cart_cookie(state, Some(&id))),
                guest_id: Some(id),
                merged: None,
            })
        }
    }
}

/// The cart, re-priced now, with what changed since it was last seen.
#[utoipa::path(get, path = "/api/cart", tag = "cart",
    responses((status = 200, body = Cart)))]
pub async fn get_cart(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut session = cart_session(&s, &meta, &headers).await?;
    let cart = session.cart(&s, &meta).await?;
    Ok((session.headers(), Json(cart)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddItem {
    pub product_id: String,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub quantity: Option<i64>,
}

/// Add a product (with color and size when it has them).
#[utoipa::path(post, path = "/api/cart/items", tag = "cart", request_body = AddItem,
    responses((status = 200, body = Cart), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn add_item(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    ApiJson(item): ApiJson<AddItem>,
) -> Result<Response, ApiError> {
    let session = cart_session(&s, &meta, &headers).await?;
    let cart = s
        .call::<o::AddCartItem>(
            &meta,
            &AddToCart {
                guest_id: session.guest_id.clone(),
                product_id: item.product_id,
                color: item.color,
                size: item.size,
                quantity: item.quantity,
            },
        )
        .await?;
    Ok((session.headers(), Json(cart)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Quantity {
    pub quantity: i64,
}

/// Change a line's quantity (0 removes it).
#[utoipa::path(patch, path = "/api/cart/items/{line_id}", tag = "cart", request_body = Quantity,
    params(("line_id" = String, Path)),
    responses((status = 200, body = Cart), (status = 404, body = ErrorEnvelope)))]
pub async fn update_item(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Path(line_id): Path<String>,
    ApiJson(q): ApiJson<Quantity>,
) -> Result<Response, ApiError> {
    let session = cart_session(&s, &meta, &headers).await?;
    let cart = s
        .call::<o::UpdateCartItem>(
            &meta,
            &UpdateCartLine {
                guest_id: session.guest_id.clone(),
                line_id,
                quantity: q.quantity,
            },
        )
        .await?;
    Ok((session.headers(), Json(cart)).into_response())
}

/// Remove a line.
#[utoipa::path(delete, path = "/api/cart/items/{line_id}", tag = "cart",
    params(("line_id" = String, Path)), responses((status = 200, body = Cart)))]
pub async fn remove_item(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Path(line_id): Path<String>,
) -> Result<Response, ApiError> {
    let session = cart_session(&s, &meta, &headers).await?;
    let cart = s
        .call::<o::RemoveCartItem>(
            &meta,
            &RemoveCartLine {
                guest_id: session.guest_id.clone(),
                line_id,
            },
        )
        .await?;
    Ok((session.headers(), Json(cart)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CouponCode {
    pub code: String,
}

/// Apply a discount code ("" removes it); 422 says why one does not apply.
#[utoipa::path(post, path = "/api/cart/coupon", tag = "cart", request_body = CouponCode,
    responses((status = 200, body = Cart), (status = 422, body = ErrorEnvelope)))]
pub async fn apply_coupon(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    ApiJson(c): ApiJson<CouponCode>,
) -> Result<Response, ApiError> {
    let session = cart_session(&s, &meta, &headers).await?;
    let cart = s
        .call::<o::ApplyCartCoupon>(
            &meta,
            &ApplyCoupon {
                guest_id: session.guest_id.clone(),
                code: c.code,
            },
        )
        .await?;
    Ok((session.headers(), Json(cart)).into_response())
}

/// The wishlist.
#[utoipa::path(get, path = "/api/wishlist", tag = "wishlist", responses((status = 200, body = Wishlist)))]
pub async fn get_wishlist(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = cart_session(&s, &meta, &headers).await?;
    let list = s
        .call::<o::GetWishlist>(
            &meta,
            &o::CartOwner {
                guest_id: session.guest_id.clone(),
            },
        )
        .await?;
    Ok((session.headers(), Json(list)).into_response())
}

/// The product to add to a wishlist.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WishlistAdd {
    pub product_id: String,
}

/// Add a product to the wishlist (idempotent).
#[utoipa::path(post, path = "/api/wishlist", tag = "wishlist", request_body = WishlistAdd,
    responses((status = 200, body = Wishlist), (status = 404, body = ErrorEnvelope)))]
pub async fn add_wish(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    ApiJson(p): ApiJson<WishlistAdd>,
) -> Result<Response, ApiError> {
    let session = cart_session(&s, &meta, &headers).await?;
    let list = s
        .call::<o::AddWishlistItem>(
            &meta,
            &WishlistChange {
                guest_id: session.guest_id.clone(),
                product_id: p.product_id,
            },
        )
        .await?;
    Ok((session.headers(), Json(list)).into_response())
}

/// Remove a product from the wishlist.
#[utoipa::path(delete, path = "/api/wishlist/{product_id}", tag = "wishlist",
    params(("product_id" = String, Path)), responses((status = 200, body = Wishlist)))]
pub async fn remove_wish(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Path(product_id): Path<String>,
) -> Result<Response, ApiError> {
    let session = cart_session(&s, &meta, &headers).await?;
    let list = s
        .call::<o::RemoveWishlistItem>(
            &meta,
            &WishlistChange {
                guest_id: session.guest_id.clone(),
                product_id,
            },
        )
        .await?;
    Ok((session.headers(), Json(list)).into_response())
}

/// Create a discount code for the caller's shop (sellers).
#[utoipa::path(post, path = "/api/seller/coupons", tag = "seller coupons", request_body = CouponInput,
    responses((status = 201, body = Coupon), (status = 422, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn create_coupon(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(input): ApiJson<CouponInput>,
) -> Result<(StatusCode, Json<Coupon>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.call::<o::CreateCoupon>(&meta, &input).await?),
    ))
}

/// The caller's discount codes.
#[utoipa::path(get, path = "/api/seller/coupons", tag = "seller coupons", responses((status = 200, body = Coupons), (status = 403, body = ErrorEnvelope)))]
pub async fn list_coupons(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<Coupons>, ApiError> {
    Ok(Json(s.call::<o::ListCoupons>(&meta, &Empty {}).await?))
}

/// Delete one of the caller's discount codes.
#[utoipa::path(delete, path = "/api/seller/coupons/{id}", tag = "seller coupons",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn delete_coupon(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.call::<o::DeleteCoupon>(&meta, &CouponId { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckoutBody {
    #[serde(default)]
    pub address_id: Option<String>,
    #[serde(default)]
    pub address: Option<ShippingAddress>,
    #[serde(default)]
    pub coupon: Option<String>,
    pub payment: PaymentMethod,
}

/// Turn the cart into one order per shop. Send an `Idempotency-Key` header:
/// the same key always gives the same result and never a second order.
#[utoipa::path(post, path = "/api/checkout", tag = "checkout", request_body = CheckoutBody,
    params(("Idempotency-Key" = String, Header, description = "unique per checkout attempt")),
    responses((status = 201, body = CheckoutResult), (status = 400, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope, description = "cart changed, out of stock, key reused"),
              (status = 422, body = ErrorEnvelope)))]
pub async fn checkout(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CheckoutBody>,
) -> Result<(StatusCode, Json<CheckoutResult>), ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let result = s
        .call::<o::PlaceCheckout>(
            &meta,
            &CheckoutRequest {
                address_id: body.address_id,
                address: body.address,
                coupon: body.coupon,
                payment: body.payment,
                idempotency_key: key,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(result)))
}

/// Where a checkout stands (after the payment page).
#[utoipa::path(get, path = "/api/checkouts/{id}", tag = "checkout",
    params(("id" = String, Path)), responses((status = 200, body = CheckoutResult), (status = 404, body = ErrorEnvelope)))]
pub async fn get_checkout(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<CheckoutResult>, ApiError> {
    Ok(Json(
        s.call::<o::GetCheckout>(&meta, &CheckoutId { checkout_id: id })
            .await?,
    ))
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders",
    params(("status" = Option<OrderStatus>, Query),
           ("page" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "1-based"),
           ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "default 20")),
    responses((status = 200, body = OrderList), (status = 422, body = ErrorEnvelope)))]
pub async fn my_orders(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<ListOrders>,
) -> Result<Json<OrderList>, ApiError> {
    Ok(Json(s.call::<o::ListMyOrders>(&meta, &q).await?))
}

/// One of the caller's orders, with its delivery timeline.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders",
    params(("id" = String, Path)), responses((status = 200, body = Order), (status = 404, body = ErrorEnvelope)))]
pub async fn my_order(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(s.call::<o::GetMyOrder>(&meta, &OrderId { id }).await?))
}

/// Cancel one of the caller's orders before it ships.
#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders",
    params(("id" = String, Path)), responses((status = 200, body = Order), (status = 409, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn cancel_order(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(
        s.call::<o::CancelMyOrder>(&meta, &OrderId { id }).await?,
    ))
}

/// The caller's shop's orders (sellers).
#[utoipa::path(get, path = "/api/seller/orders", tag = "seller orders",
    params(("status" = Option<OrderStatus>, Query),
           ("page" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "1-based"),
           ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "default 20")),
    responses((status = 200, body = OrderList), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn shop_orders(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<ListOrders>,
) -> Result<Json<OrderList>, ApiError> {
    Ok(Json(s.call::<o::ListShopOrders>(&meta, &q).await?))
}

/// One order of the caller's shop.
#[utoipa::path(get, path = "/api/seller/orders/{id}", tag = "seller orders",
    params(("id" = String, Path)), responses((status = 200, body = Order), (status = 404, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn shop_order(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(
        s.call::<o::GetShopOrder>(&meta, &OrderId { id }).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStatus {
    pub status: OrderStatus,
}

/// Move an order forward: packed, shipped, out_for_delivery, delivered.
#[utoipa::path(post, path = "/api/seller/orders/{id}/status", tag = "seller orders", request_body = NewStatus,
    params(("id" = String, Path)), responses((status = 200, body = Order), (status = 409, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn advance_order(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewStatus>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(
        s.call::<o::AdvanceShopOrder>(
            &meta,
            &o::AdvanceOrder {
                id,
                status: b.status,
            },
        )
        .await?,
    ))
}

/// Refund (card) or cancel (cash on delivery) an order; its stock comes back.
#[utoipa::path(post, path = "/api/seller/orders/{id}/refund", tag = "seller orders",
    params(("id" = String, Path)), responses((status = 200, body = Order), (status = 409, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn refund_order(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(
        s.call::<o::RefundShopOrder>(&meta, &OrderId { id }).await?,
    ))
}

/// Every order (admins).
#[utoipa::path(get, path = "/api/admin/orders", tag = "admin",
    params(("status" = Option<OrderStatus>, Query),
           ("page" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "1-based"),
           ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "default 20"),
           ("buyer" = Option<String>, Query, max_length = 200, description = "only this buyer's orders (account id)"),
           ("seller" = Option<String>, Query, max_length = 200, description = "only this seller's shop's orders (the seller's account id)")),
    responses((status = 200, body = OrderList), (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn all_orders(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<ListOrders>,
) -> Result<Json<OrderList>, ApiError> {
    Ok(Json(s.call::<o::ListAllOrders>(&meta, &q).await?))
}

/// The caller's notifications, newest first, and how many are unread.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", responses((status = 200, body = Notifications)))]
pub async fn notifications(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<Notifications>, ApiError> {
    Ok(Json(
        s.call::<o::ListNotifications>(&meta, &Empty {}).await?,
    ))
}

/// Mark notifications read (no ids: all of them).
#[utoipa::path(post, path = "/api/notifications/read", tag = "notifications", request_body = MarkRead,
    responses((status = 200, body = Notifications)))]
pub async fn mark_read(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(b): ApiJson<MarkRead>,
) -> Result<Json<Notifications>, ApiError> {
    Ok(Json(s.call::<o::MarkNotificationsRead>(&meta, &b).await?))
}

fn test_payments_off() -> ApiError {
    ApiError(ErrorEnvelope::not_found(
        "the test payment page only exists in one-box development without a payment provider",
    ))
}

/// The clearly labelled stand-in for a payment page (one box only).
async fn test_payment_page(
    State(s): State<EdgeState>,
    Path(checkout_id): Path<String>,
) -> Result<Response, ApiError> {
    if !s.inner.config.test_payments {
        return Err(test_payments_off());
    }
    let id = askama::filters::escape(&checkout_id, askama::filters::Html)
        .map(|e| e.to_string())
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Test payment</title>\
         <link rel=stylesheet href=/static/app.css></head><body><main class=narrow>\
         <h1>Test payment — no money moves</h1>\
         <p class=notice>This site runs without a payment provider, so this page stands in for one. \
         Choose what the bank says.</p>\
         <form method=post action=\"/pay/test/{id}\"><input type=hidden name=decision value=approve>\
         <button type=submit>Approve payment</button></form>\
         <form method=post action=\"/pay/test/{id}\"><input type=hidden name=decision value=decline>\
         <button type=submit class=secondary>Decline payment</button></form></main></body></html>"
    );
    Ok(axum::response::Html(html).into_response())
}

#[derive(Debug, Deserialize)]
struct Decision {
    decision: String,
}

/// Queues the decision on the same path a payment provider's webhook takes.
async fn test_payment(
    State(s): State<EdgeState>,
    Path(checkout_id): Path<String>,
    Form(d): Form<Decision>,
) -> Result<Response, ApiError> {
    if !s.inner.config.test_payments {
        return Err(test_payments_off());
    }
    let approved = match d.decision.as_str() {
        "approve" => true,
        "decline" => false,
        _ => {
            return Err(ApiError(ErrorEnvelope::bad_request(
                "decide approve or decline",
            )));
        }
    };
    if !o::is_guest_id(&checkout_id) {
        return Err(ApiError(ErrorEnvelope::not_found(
            "there is no such checkout",
        )));
    }
    let job = PaymentNotification {
        event_id: format!("test-{checkout_id}"),
        kind: "test.payment".into(),
        payload: serde_json::json!({ "checkout_id": checkout_id, "approved": approved })
            .to_string(),
        signature: None,
    };
    enqueue_job(&s.inner.jetstream, &job, &job.event_id)
        .await
        .map_err(|e| ApiError(bazaar_runtime::internal(e)))?;
    Ok(Redirect::to(&format!("/checkout/{checkout_id}")).into_response())
}

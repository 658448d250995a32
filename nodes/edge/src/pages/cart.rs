//! The buyer's shopping pages: cart, wishlist, checkout, the checkout result
//! and notifications. Plain HTML forms posting and redirecting (they work
//! without JavaScript); a refused form comes back with the reason on the page.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::{self as a, Account, Address};
use bazaar_subjects::orders::{
    self as o, AddToCart, ApplyCoupon, Cart, CartOwner, CheckoutId, CheckoutRequest,
    CheckoutResult, CheckoutStatus, MarkRead, Notification, PaymentMethod, RemoveCartLine,
    ShippingAddress, UpdateCartLine, Wishlist, WishlistChange,
};
use bazaar_subjects::recommend::{
    AlsoBought, AlsoBoughtRequest, RecommendationSource, Recommendations,
};
use bazaar_subjects::{Empty, ErrorEnvelope};
use serde::Deserialize;

use crate::api::commerce::{CartSession, cart_session};
use crate::extract::{Meta, SignedIn, Viewer};
use crate::pages::storefront::{Card, RECOMMENDATION_CARDS, recommendation_cards};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::chrome::Nav;
use crate::ui::errors::PageError;
use crate::ui::forms::FieldErrors;
use crate::ui::money::format_price;
use crate::ui::query::urlencode;
use crate::ui::redirect::{sign_in_first, with_error, with_notice};
use crate::ui::time::human_time;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/cart", get(cart_page))
        .route("/cart/add", post(add))
        .route("/cart/lines/{line_id}", post(update_line))
        .route("/cart/lines/{line_id}/remove", post(remove_line))
        .route("/cart/coupon", post(coupon))
        .route("/wishlist", get(wishlist_page))
        .route("/wishlist/add", post(wish_add))
        .route("/wishlist/{product_id}/remove", post(wish_remove))
        .route("/wishlist/{product_id}/move", post(wish_move))
        .route("/checkout", get(checkout_page).post(place))
        .route("/checkout/{id}", get(result_page))
        .route("/notifications", get(notifications_page))
        .route("/notifications/read", post(mark_all_read))
}

/// Who the cart is for (a signed-in buyer, whose guest cart is merged first,
/// or a guest), with the cookie to send back.
impl FromRequestParts<EdgeState> for CartSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &EdgeState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Meta(meta)) = Meta::from_request_parts(parts, state).await;
        Ok(cart_session(state, &meta, &parts.headers).await?)
    }
}

fn cookie_headers(session: &CartSession) -> AppendHeaders<Vec<(header::HeaderName, HeaderValue)>> {
    AppendHeaders(
        session
            .set_cookie
            .iter()
            .map(|v| (header::SET_COOKIE, v.clone()))
            .collect(),
    )
}

/// A link to this site as a path (so it works whatever host the browser
/// used); other sites' links as they are. The one-box test payment page is
/// always this site's, whatever public address the orders node was given.
pub(crate) fn same_site(s: &EdgeState, url: &str) -> String {
    let base = s.inner.config.public_url.trim_end_matches('/');
    if let Some(path) = url.strip_prefix(base).filter(|p| p.starts_with('/')) {
        return path.to_owned();
    }
    if s.inner.config.test_payments
        && let Some(path) = path_of(url).filter(|p| p.starts_with("/pay/test/"))
    {
        return path.to_owned();
    }
    url.to_owned()
}

/// The path (and query) of an absolute http(s) URL.
fn path_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    rest.find('/').map(|i| &rest[i..])
}

fn money(minor: i64, currency: &str) -> String {
    format_price(minor, currency)
}

// ---------------------------------------------------------------- cart

struct LineView {
    line_id: String,
    slug: String,
    title: String,
    image: Option<String>,
    options: String,
    quantity: i64,
    max: i64,
    unit: String,
    total: String,
    available: bool,
}

struct ShopGroup {
    shop_name: String,
    lines: Vec<LineView>,
    subtotal: String,
    discount: Option<String>,
    total: String,
}

struct CartView {
    groups: Vec<ShopGroup>,
    notices: Vec<String>,
    coupon: Option<String>,
    subtotal: String,
    discount: Option<String>,
    total: String,
    item_count: i64,
    can_checkout: bool,
}

fn options(color: &Option<String>, size: &Option<String>) -> String {
    [color.as_deref(), size.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ")
}

fn cart_view(cart: &Cart) -> CartView {
    let groups = cart
        .shops
        .iter()
        .map(|shop| ShopGroup {
            shop_name: shop.shop_name.clone(),
            lines: cart
                .lines
                .iter()
                .filter(|l| l.shop_id == shop.shop_id)
                .map(|l| LineView {
                    line_id: l.line_id.clone(),
                    slug: l.slug.clone(),
                    title: l.title.clone(),
                    image: l.image.clone(),
                    options: options(&l.color, &l.size),
                    quantity: l.quantity,
                    max: l.stock.clamp(1, 99),
                    unit: money(l.unit_price, &l.currency),
                    total: money(l.line_total, &l.currency),
                    available: l.available,
                })
                .collect(),
            subtotal: money(shop.subtotal, &cart.currency),
            discount: (shop.discount > 0).then(|| money(shop.discount, &cart.currency)),
            total: money(shop.total, &cart.currency),
        })
        .collect::<Vec<_>>();
    // Lines of a shop the cart did not group (unavailable ones) still show.
    let grouped: Vec<&str> = cart.shops.iter().map(|s| s.shop_id.as_str()).collect();
    let mut groups = groups;
    let loose: Vec<LineView> = cart
        .lines
        .iter()
        .filter(|l| !grouped.contains(&l.shop_id.as_str()))
        .map(|l| LineView {
            line_id: l.line_id.clone(),
            slug: l.slug.clone(),
            title: l.title.clone(),
            image: l.image.clone(),
            options: options(&l.color, &l.size),
            quantity: l.quantity,
            max: l.stock.clamp(1, 99),
            unit: money(l.unit_price, &l.currency),
            total: money(l.line_total, &l.currency),
            available: l.available,
        })
        .collect();
    if !loose.is_empty() {
        groups.push(ShopGroup {
            shop_name: "Unavailable".into(),
            lines: loose,
            subtotal: money(0, &cart.currency),
            discount: None,
            total: money(0, &cart.currency),
        });
    }
    CartView {
        groups,
        notices: cart.notices.iter().map(|n| n.message.clone()).collect(),
        coupon: cart.coupon.as_ref().map(|c| c.code.clone()),
        subtotal: money(cart.subtotal, &cart.currency),
        discount: (cart.discount > 0).then(|| money(cart.discount, &cart.currency)),
        total: money(cart.total, &cart.currency),
        item_count: cart.item_count,
        can_checkout: cart.lines.iter().any(|l| l.available),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "cart.html")]
struct CartPage {
    viewer: Option<Account>,
    chrome: Chrome,
    cart: CartView,
    error: Option<String>,
    notice: Option<String>,
    /// "Customers also bought": empty (hidden) when there are none or the
    /// recommend node does not answer.
    also_bought: Vec<Card>,
}

/// What customers who bought the cart's products also bought.
pub(crate) async fn also_bought(
    s: &EdgeState,
    meta: &RequestMeta,
    cart: &Cart,
    limit: u32,
) -> Result<Recommendations, ErrorEnvelope> {
    let mut product_ids: Vec<String> = Vec::new();
    for line in &cart.lines {
        if !product_ids.contains(&line.product_id) && product_ids.len() < 50 {
            product_ids.push(line.product_id.clone());
        }
    }
    if product_ids.is_empty() {
        return Ok(Recommendations {
            items: Vec::new(),
            source: RecommendationSource::CoPurchase,
            model_version: None,
        });
    }
    s.call::<AlsoBought>(meta, &AlsoBoughtRequest { product_ids, limit })
        .await
        .map_err(|e| e.0)
}

async fn load_cart(
    s: &EdgeState,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<(CartSession, Cart), ErrorEnvelope> {
    let mut session = cart_session(s, meta, headers).await.map_err(|e| e.0)?;
    let cart = session.cart(s, meta).await.map_err(|e| e.0)?;
    Ok((session, cart))
}

async fn cart_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (session, cart) = load_cart(&s, &meta, &headers).await?;
    let (nav, also) = tokio::join!(
        Nav::load(&s, &meta, &viewer, Some(cart.item_count)),
        also_bought(&s, &meta, &cart, RECOMMENDATION_CARDS),
    );
    Ok((
        cookie_headers(&session),
        CartPage {
            viewer,
            chrome: Chrome { nav, ..chrome },
            cart: cart_view(&cart),
            error: q.get("error").cloned(),
            notice: q.get("notice").cloned(),
            also_bought: recommendation_cards(also),
        },
    )
        .into_response())
}

#[derive(Deserialize)]
struct AddForm {
    product_id: String,
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    quantity: Option<String>,
}

async fn add(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    session: CartSession,
    Form(f): Form<AddForm>,
) -> Result<Response, PageError> {
    let quantity = match f
        .quantity
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        None => None,
        Some(q) => match q.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Ok((
                    cookie_headers(&session),
                    with_error("/cart", "Enter a quantity as a whole number."),
                )
                    .into_response());
            }
        },
    };
    let empty_none = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let result = s
        .call::<o::AddCartItem>(
            &meta,
            &AddToCart {
                guest_id: session.guest_id.clone(),
                product_id: f.product_id,
                color: empty_none(f.color),
                size: empty_none(f.size),
                quantity,
            },
        )
        .await;
    match result {
        Ok(_) => Ok((cookie_headers(&session), Redirect::to("/cart")).into_response()),
        // The cart page says why (not for sale, out of stock, a bad option).
        Err(e) if matches!(e.0.status, 400 | 404 | 409 | 422) => {
            Ok((cookie_headers(&session), with_error("/cart", &e.0.message)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct QuantityForm {
    quantity: String,
}

async fn update_line(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Path(line_id): Path<String>,
    Form(f): Form<QuantityForm>,
) -> Result<Response, PageError> {
    let Ok(quantity) = f.quantity.trim().parse::<i64>() else {
        return Ok(with_error("/cart", "Enter a quantity as a whole number.").into_response());
    };
    let session = cart_session(&s, &meta, &headers).await?;
    let result = s
        .call::<o::UpdateCartItem>(
            &meta,
            &UpdateCartLine {
                guest_id: session.guest_id.clone(),
                line_id,
                quantity,
            },
        )
        .await;
    cart_redirect(&session, result.map(|_| "Cart updated."))
}

fn cart_redirect(
    session: &CartSession,
    result: Result<&str, crate::error::ApiError>,
) -> Result<Response, PageError> {
    back_with_message("/cart", session, result)
}

/// Back to `path` with the notice, or with a refusal's reason; a failure of
/// ours gets the error page.
fn back_with_message(
    path: &str,
    session: &CartSession,
    result: Result<&str, crate::error::ApiError>,
) -> Result<Response, PageError> {
    match result {
        Ok(notice) => Ok((cookie_headers(session), with_notice(path, notice)).into_response()),
        Err(e) if e.0.status < 500 => {
            Ok((cookie_headers(session), with_error(path, &e.0.message)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn remove_line(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    session: CartSession,
    Path(line_id): Path<String>,
) -> Result<Response, PageError> {
    let result = s
        .call::<o::RemoveCartItem>(
            &meta,
            &RemoveCartLine {
                guest_id: session.guest_id.clone(),
                line_id,
            },
        )
        .await;
    cart_redirect(&session, result.map(|_| "Removed from your cart."))
}

#[derive(Deserialize)]
struct CouponForm {
    #[serde(default)]
    code: String,
}

async fn coupon(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    session: CartSession,
    Form(f): Form<CouponForm>,
) -> Result<Response, PageError> {
    let code = f.code.trim().to_owned();
    let notice = if code.is_empty() {
        "Discount code removed."
    } else {
        "Discount code applied."
    };
    let result = s
        .call::<o::ApplyCartCoupon>(
            &meta,
            &ApplyCoupon {
                guest_id: session.guest_id.clone(),
                code,
            },
        )
        .await;
    cart_redirect(&session, result.map(|_| notice))
}

// ---------------------------------------------------------------- wishlist

struct WishView {
    product_id: String,
    slug: String,
    title: String,
    image: Option<String>,
    price: String,
    available: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "wishlist.html")]
struct WishlistPage {
    viewer: Option<Account>,
    chrome: Chrome,
    items: Vec<WishView>,
    error: Option<String>,
    notice: Option<String>,
}

async fn wishlist_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    session: CartSession,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let list: Wishlist = s
        .call::<o::GetWishlist>(
            &meta,
            &CartOwner {
                guest_id: session.guest_id.clone(),
            },
        )
        .await?;
    let cart_count = session.merged.as_ref().map(|c| c.item_count);
    let nav = Nav::load(&s, &meta, &viewer, cart_count).await;
    let items = list
        .items
        .into_iter()
        .map(|i| WishView {
            price: money(i.price, &i.currency),
            product_id: i.product_id,
            slug: i.slug,
            title: i.title,
            image: i.image,
            available: i.available,
        })
        .collect();
    Ok((
        cookie_headers(&session),
        WishlistPage {
            viewer,
            chrome: Chrome { nav, ..chrome },
            items,
            error: q.get("error").cloned(),
            notice: q.get("notice").cloned(),
        },
    )
        .into_response())
}

#[derive(Deserialize)]
struct WishForm {
    product_id: String,
}

async fn wish_add(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    session: CartSession,
    Form(f): Form<WishForm>,
) -> Result<Response, PageError> {
    let result = s
        .call::<o::AddWishlistItem>(
            &meta,
            &WishlistChange {
                guest_id: session.guest_id.clone(),
                product_id: f.product_id,
            },
        )
        .await;
    wish_redirect(&session, result.map(|_| "Added to your wishlist."))
}

fn wish_redirect(
    session: &CartSession,
    result: Result<&str, crate::error::ApiError>,
) -> Result<Response, PageError> {
    back_with_message("/wishlist", session, result)
}

async fn wish_remove(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    session: CartSession,
    Path(product_id): Path<String>,
) -> Result<Response, PageError> {
    let result = s
        .call::<o::RemoveWishlistItem>(
            &meta,
            &WishlistChange {
                guest_id: session.guest_id.clone(),
                product_id,
            },
        )
        .await;
    wish_redirect(&session, result.map(|_| "Removed from your wishlist."))
}

/// Puts the product in the cart (its first options) and takes it off the list.
async fn wish_move(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    session: CartSession,
    Path(product_id): Path<String>,
) -> Result<Response, PageError> {
    let added = s
        .call::<o::AddCartItem>(
            &meta,
            &AddToCart {
                guest_id: session.guest_id.clone(),
                product_id: product_id.clone(),
                color: None,
                size: None,
                quantity: Some(1),
            },
        )
        .await;
    if let Err(e) = added {
        return wish_redirect(&session, Err(e));
    }
    let removed = s
        .call::<o::RemoveWishlistItem>(
            &meta,
            &WishlistChange {
                guest_id: session.guest_id.clone(),
                product_id,
            },
        )
        .await;
    match removed {
        Ok(_) => Ok((
            cookie_headers(&session),
            with_notice("/cart", "Moved from your wishlist."),
        )
            .into_response()),
        Err(e) => wish_redirect(&session, Err(e)),
    }
}

// ---------------------------------------------------------------- checkout

#[derive(Deserialize, Default, Clone)]
struct CheckoutForm {
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    address_id: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    payment: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    viewer: Option<Account>,
    chrome: Chrome,
    cart: CartView,
    addresses: Vec<Address>,
    form: CheckoutForm,
    errors: FieldErrors,
    error: Option<String>,
    card_ok: bool,
    cod_ok: bool,
}

impl CheckoutPage {
    fn address_line(a: &Address) -> String {
        let f = &a.fields;
        let mut parts = vec![f.full_name.clone(), f.line1.clone()];
        if let Some(l2) = f.line2.as_ref().filter(|l| !l.is_empty()) {
            parts.push(l2.clone());
        }
        parts.push(format!("{} {}", f.postal_code, f.city));
        parts.push(f.country.clone());
        parts.join(", ")
    }
}

async fn checkout_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(viewer): SignedIn,
    chrome: Chrome,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    render_checkout(
        &s,
        &meta,
        Some(viewer),
        chrome,
        &headers,
        CheckoutForm::default(),
        None,
    )
    .await
}

async fn render_checkout(
    s: &EdgeState,
    meta: &RequestMeta,
    viewer: Option<Account>,
    chrome: Chrome,
    headers: &HeaderMap,
    mut form: CheckoutForm,
    refusal: Option<ErrorEnvelope>,
) -> Result<Response, PageError> {
    let (session, cart) = match load_cart(s, meta, headers).await {
        Ok(v) => v,
        Err(e) if e.status == 401 => return Ok(sign_in_first("/checkout")),
        Err(e) => return Err(e.into()),
    };
    if cart.lines.is_empty() && refusal.is_none() {
        return Ok((cookie_headers(&session), Redirect::to("/cart")).into_response());
    }
    let addresses = s
        .call::<a::ListAddresses>(meta, &Empty {})
        .await
        .map(|l| l.addresses)
        .unwrap_or_default();
    // A fresh key per rendered form: a double submit of this form orders once,
    // a corrected resubmission after a refusal is a new attempt.
    form.idempotency_key = uuid::Uuid::new_v4().simple().to_string();
    if form.address_id.is_empty() && form.full_name.is_empty() {
        if let Some(a) = addresses
            .iter()
            .find(|a| a.fields.is_default)
            .or(addresses.first())
        {
            form.address_id = a.id.clone();
        } else {
            form.address_id = "new".into();
        }
    }
    let card_ok = cart.shops.iter().all(|s| s.accepts_card);
    let cod_ok = cart
        .lines
        .iter()
        .filter(|l| l.available)
        .all(|l| l.cash_on_delivery);
    if form.payment.is_empty() {
        form.payment = if card_ok { "card" } else { "cod" }.into();
    }
    let (errors, error, status) = match refusal {
        Some(e) => {
            let errors = FieldErrors::from_envelope(&e);
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            // Fields the form has are marked beside them; others (the
            // cart's discount code) are said in the banner.
            const SHOWN: [&str; 10] = [
                "address",
                "address_id",
                "payment",
                "address.full_name",
                "address.line1",
                "address.line2",
                "address.city",
                "address.postal_code",
                "address.country",
                "address.phone",
            ];
            let others: Vec<String> = e
                .fields
                .iter()
                .filter(|f| !SHOWN.contains(&f.field.as_str()))
                .map(|f| format!("{}: {}", f.field.replace('_', " "), f.message))
                .collect();
            let message = if e.status == 409 {
                format!("{} Please check your cart and try again.", e.message)
            } else if !others.is_empty() {
                others.join("; ")
            } else if !e.fields.is_empty() {
                "Please correct the marked fields.".to_owned()
            } else {
                e.message
            };
            (errors, Some(message), status)
        }
        None => (FieldErrors::default(), None, StatusCode::OK),
    };
    let nav = Nav::load(s, meta, &viewer, Some(cart.item_count)).await;
    Ok((
        status,
        cookie_headers(&session),
        CheckoutPage {
            viewer,
            chrome: Chrome { nav, ..chrome },
            cart: cart_view(&cart),
            addresses,
            form,
            errors,
            error,
            card_ok,
            cod_ok,
        },
    )
        .into_response())
}

fn optional(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

async fn place(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    headers: HeaderMap,
    Form(form): Form<CheckoutForm>,
) -> Result<Response, PageError> {
    if viewer.is_none() {
        return Ok(sign_in_first("/checkout"));
    }
    // Any guest cart of this browser joins the account's cart first.
    cart_session(&s, &meta, &headers).await?;
    let payment = match form.payment.as_str() {
        "card" => PaymentMethod::Card,
        "cod" => PaymentMethod::Cod,
        _ => {
            let e = ErrorEnvelope::validation(vec![bazaar_subjects::FieldError {
                field: "payment".into(),
                message: "choose card or cash on delivery".into(),
            }]);
            return render_checkout(&s, &meta, viewer, chrome, &headers, form, Some(e)).await;
        }
    };
    let (address_id, address) = if form.address_id.is_empty() || form.address_id == "new" {
        (
            None,
            Some(ShippingAddress {
                full_name: form.full_name.trim().to_owned(),
                line1: form.line1.trim().to_owned(),
                line2: optional(&form.line2),
                city: form.city.trim().to_owned(),
                postal_code: form.postal_code.trim().to_owned(),
                country: form.country.trim().to_uppercase(),
                phone: optional(&form.phone),
            }),
        )
    } else {
        (Some(form.address_id.clone()), None)
    };
    let key = if form.idempotency_key.trim().is_empty() {
        uuid::Uuid::new_v4().simple().to_string()
    } else {
        form.idempotency_key.trim().to_owned()
    };
    let result = s
        .call::<o::PlaceCheckout>(
            &meta,
            &CheckoutRequest {
                address_id,
                address,
                coupon: None,
                payment,
                idempotency_key: key,
            },
        )
        .await;
    match result {
        Ok(r) => Ok(match (&r.payment_url, r.status) {
            (Some(url), CheckoutStatus::AwaitingPayment | CheckoutStatus::Reserving) => {
                Redirect::to(&same_site(&s, url)).into_response()
            }
            _ => Redirect::to(&format!("/checkout/{}", r.checkout_id)).into_response(),
        }),
        Err(e) if e.0.status == 401 => Ok(sign_in_first("/checkout")),
        Err(e) if e.0.status < 500 => {
            render_checkout(&s, &meta, viewer, chrome, &headers, form, Some(e.0)).await
        }
        Err(e) => Err(e.into()),
    }
}

struct OrderLink {
    id: String,
    number: String,
    shop_name: String,
    total: String,
    status: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "checkout_result.html")]
struct ResultPage {
    viewer: Option<Account>,
    chrome: Chrome,
    result: CheckoutResult,
    orders: Vec<OrderLink>,
    pay_link: Option<String>,
}

impl ResultPage {
    fn placed(&self) -> bool {
        self.result.status == CheckoutStatus::Placed
    }
    fn waiting(&self) -> bool {
        matches!(
            self.result.status,
            CheckoutStatus::AwaitingPayment | CheckoutStatus::Reserving
        )
    }
}

async fn result_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    if viewer.is_none() {
        return Ok(sign_in_first(&format!("/checkout/{}", urlencode(&id))));
    }
    let result = s
        .call::<o::GetCheckout>(&meta, &CheckoutId { checkout_id: id })
        .await?;
    let orders = result
        .orders
        .iter()
        .map(|o| OrderLink {
            id: o.id.clone(),
            number: o.number.clone(),
            shop_name: o.shop_name.clone(),
            total: money(o.total, &o.currency),
            status: o.status.label().to_owned(),
        })
        .collect();
    let nav = Nav::load(&s, &meta, &viewer, None).await;
    let pay_link = result.payment_url.as_deref().map(|u| same_site(&s, u));
    Ok(ResultPage {
        viewer,
        chrome: Chrome { nav, ..chrome },
        result,
        orders,
        pay_link,
    }
    .into_response())
}

// ---------------------------------------------------------------- notifications

struct NoteView {
    title: String,
    body: String,
    link: Option<String>,
    read: bool,
    at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    viewer: Option<Account>,
    chrome: Chrome,
    items: Vec<NoteView>,
}

fn note_view(n: Notification) -> NoteView {
    NoteView {
        at: human_time(&n.created_at),
        title: n.title,
        body: n.body,
        // Only links within the site.
        link: n
            .link
            // Our own nodes write these links, always to this site.
            .map(|l| path_of(&l).map(str::to_owned).unwrap_or(l))
            .filter(|l| l.starts_with('/') && !l.starts_with("//")),
        read: n.read,
    }
}

async fn notifications_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(viewer): SignedIn,
    chrome: Chrome,
) -> Result<Response, PageError> {
    let list = match s.call::<o::ListNotifications>(&meta, &Empty {}).await {
        Ok(l) => l,
        Err(e) if e.0.status == 401 => return Ok(sign_in_first("/notifications")),
        Err(e) => return Err(e.into()),
    };
    let nav = Nav {
        cart_count: None,
        unread: list.unread,
    };
    Ok(NotificationsPage {
        viewer: Some(viewer),
        chrome: Chrome { nav, ..chrome },
        items: list.notifications.into_iter().map(note_view).collect(),
    }
    .into_response())
}

async fn mark_all_read(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
) -> Result<Response, PageError> {
    if viewer.is_none() {
        return Ok(sign_in_first("/notifications"));
    }
    s.call::<o::MarkNotificationsRead>(&meta, &MarkRead { ids: Vec::new() })
        .await?;
    Ok(Redirect::to("/notifications").into_response())
}

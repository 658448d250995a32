//! Order pages: the buyer's orders, the seller's shop orders and discount
//! codes, and every order for admins. Plain forms, redirect after post.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Form, Router};
use bazaar_subjects::auth::Account;
use bazaar_subjects::orders::{
    self as o, AdvanceOrder, Coupon, CouponId, CouponInput, CouponKind, ListOrders, Order, OrderId,
    OrderList, OrderStatus, PaymentMethod, PaymentStatus,
};
use bazaar_subjects::{Currency, Empty, ErrorEnvelope, Money};
use serde::Deserialize;

use crate::extract::{Meta, SignedIn, Viewer};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::chrome::Nav;
use crate::ui::errors::{OnPage, PageError, Refusal, Refusals};
use crate::ui::forms::FieldErrors;
use crate::ui::money::parse_price;
use crate::ui::query::urlencode;
use crate::ui::redirect::{with_error, with_notice};
use crate::ui::time::human_time;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/orders", order_list(Role::Buyer))
        .route("/orders/{id}", order_detail(Role::Buyer))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/seller/orders", order_list(Role::Seller))
        .route("/seller/orders/{id}", order_detail(Role::Seller))
        .route("/seller/orders/{id}/status", post(advance))
        .route("/seller/orders/{id}/refund", post(refund))
        .route("/seller/coupons", get(coupons_page).post(create_coupon))
        .route("/seller/coupons/{id}/delete", post(delete_coupon))
        .route("/admin/orders", order_list(Role::Admin))
}

/// The discount codes page, where its forms come back to.
const COUPONS: &str = "/seller/coupons";

/// Who is looking at an order list or order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Buyer,
    Seller,
    Admin,
}

impl Role {
    /// Where this role's order list is; an order's page is below it.
    fn list_path(self) -> &'static str {
        match self {
            Role::Buyer => "/orders",
            Role::Seller => "/seller/orders",
            Role::Admin => "/admin/orders",
        }
    }

    /// How these pages read a refused call, in their own words.
    fn refusals(self) -> Refusals {
        let message = match self {
            Role::Seller => "Only sellers see their shop's orders and discount codes.",
            Role::Admin => "Only admins see every order.",
            Role::Buyer => "This is not yours to see.",
        };
        Refusals {
            forbidden: Some(Refusal {
                title: "You can't go there",
                message,
            }),
            missing: Some("There is no such order."),
        }
    }
}

fn status_param(raw: &str) -> Option<OrderStatus> {
    OrderStatus::FLOW
        .into_iter()
        .chain([OrderStatus::Cancelled, OrderStatus::Refunded])
        .find(|s| s.as_str() == raw)
}

fn payment_label(m: PaymentMethod, s: PaymentStatus) -> String {
    let method = match m {
        PaymentMethod::Card => "Card",
        PaymentMethod::Cod => "Cash on delivery",
    };
    let status = match s {
        PaymentStatus::Pending => "to be paid on delivery",
        PaymentStatus::Paid => "paid",
        PaymentStatus::Refunded => "refunded",
        PaymentStatus::Cancelled => "cancelled",
    };
    format!("{method}, {status}")
}

struct Row {
    href: String,
    number: String,
    shop_name: String,
    status: String,
    status_key: &'static str,
    payment: String,
    total: String,
    items: i64,
    at: String,
}

struct StatusChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "orders.html")]
struct OrdersPage {
    viewer: Option<Account>,
    chrome: Chrome,
    heading: &'static str,
    path: &'static str,
    rows: Vec<Row>,
    statuses: Vec<StatusChoice>,
    total: i64,
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
    show_shop: bool,
    /// An admin's narrowing to one buyer or seller, kept by the filter form.
    only: Vec<(&'static str, String)>,
}

async fn list_page(
    s: EdgeState,
    meta: bazaar_runtime::RequestMeta,
    viewer: Account,
    chrome: Chrome,
    q: HashMap<String, String>,
    role: Role,
) -> Result<Response, PageError> {
    let path = role.list_path();
    let heading = match role {
        Role::Buyer => "Your orders",
        Role::Seller => "Shop orders",
        Role::Admin => "All orders",
    };
    let viewer = Some(viewer);
    let raw_status = q.get("status").cloned().unwrap_or_default();
    let status = status_param(&raw_status);
    let page = q
        .get("page")
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    // Admins may narrow the list to one buyer's or one seller's orders
    // (the account pages link here so).
    let admin_filter = |key: &str| {
        q.get(key)
            .filter(|v| role == Role::Admin && !v.trim().is_empty())
            .cloned()
    };
    let req = ListOrders {
        status,
        page: Some(page),
        page_size: Some(20),
        buyer: admin_filter("buyer"),
        seller: admin_filter("seller"),
    };
    let list: Result<OrderList, _> = match role {
        Role::Buyer => s.call::<o::ListMyOrders>(&meta, &req).await,
        Role::Seller => s.call::<o::ListShopOrders>(&meta, &req).await,
        Role::Admin => s.call::<o::ListAllOrders>(&meta, &req).await,
    };
    let list = list.on_page(path, role.refusals())?;
    // Admins see the list only.
    let detail_base = (role != Role::Admin).then(|| role.list_path());
    let rows = list
        .orders
        .iter()
        .map(|o| Row {
            href: detail_base
                .map(|b| format!("{b}/{}", urlencode(&o.id)))
                .unwrap_or_default(),
            number: o.number.clone(),
            shop_name: o.shop_name.clone(),
            status: o.status.label().to_owned(),
            status_key: o.status.as_str(),
            payment: payment_label(o.payment_method, o.payment_status),
            total: o.total().to_string(),
            items: o.item_count,
            at: human_time(&o.created_at),
        })
        .collect();
    let mut filter = status
        .map(|s| format!("status={}&", s.as_str()))
        .unwrap_or_default();
    for (key, value) in [("buyer", &req.buyer), ("seller", &req.seller)] {
        if let Some(v) = value {
            filter.push_str(&format!("{key}={}&", urlencode(v)));
        }
    }
    let href = |n: u32| format!("{path}?{filter}page={n}");
    let statuses = std::iter::once(StatusChoice {
        value: "",
        label: "Any status",
        selected: status.is_none(),
    })
    .chain(
        OrderStatus::FLOW
            .into_iter()
            .chain([OrderStatus::Cancelled, OrderStatus::Refunded])
            .map(|st| StatusChoice {
                value: st.as_str(),
                label: st.label(),
                selected: Some(st) == status,
            }),
    )
    .collect();
    let nav = Nav::load(&s, &meta, &viewer, None).await;
    Ok(OrdersPage {
        viewer,
        chrome: Chrome { nav, ..chrome },
        heading,
        path,
        rows,
        statuses,
        total: list.total,
        page: list.page,
        pages: list.pages,
        prev: (list.page > 1).then(|| href(list.page - 1)),
        next: (list.page < list.pages).then(|| href(list.page + 1)),
        show_shop: role != Role::Seller,
        only: [("buyer", req.buyer.clone()), ("seller", req.seller.clone())]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect(),
    }
    .into_response())
}

/// The order list a role sees, as the handler of its route.
fn order_list(role: Role) -> MethodRouter<EdgeState> {
    get(
        move |State(s): State<EdgeState>,
              Meta(meta): Meta,
              SignedIn(viewer): SignedIn,
              chrome: Chrome,
              Query(q): Query<HashMap<String, String>>| {
            list_page(s, meta, viewer, chrome, q, role)
        },
    )
}

struct ItemView {
    product_id: String,
    slug: String,
    title: String,
    image: Option<String>,
    options: String,
    quantity: i64,
    unit: String,
    total: String,
}

struct Step {
    label: &'static str,
    at: Option<String>,
    done: bool,
}

struct NextStep {
    value: &'static str,
    label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "order.html")]
struct OrderPage {
    viewer: Option<Account>,
    chrome: Chrome,
    seller: bool,
    order: Order,
    status: &'static str,
    status_key: &'static str,
    payment: String,
    items: Vec<ItemView>,
    subtotal: String,
    discount: Option<String>,
    total: String,
    fee: String,
    payout: String,
    created: String,
    steps: Vec<Step>,
    next_steps: Vec<NextStep>,
    can_cancel: bool,
    can_refund: bool,
    /// A buyer's delivered order: its products and shop may be reviewed.
    can_review: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn order_page(
    viewer: Option<Account>,
    chrome: Chrome,
    nav: Nav,
    order: Order,
    seller: bool,
    q: &HashMap<String, String>,
) -> Response {
    let money = |m: i64| order.money(m).to_string();
    let items = order
        .items
        .iter()
        .map(|i| ItemView {
            product_id: i.product_id.clone(),
            slug: i.slug.clone(),
            title: i.title.clone(),
            image: i.image.clone(),
            options: [i.color.as_deref(), i.size.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            quantity: i.quantity,
            unit: money(i.unit_price),
            total: money(i.line_total),
        })
        .collect();
    let ended = matches!(order.status, OrderStatus::Cancelled | OrderStatus::Refunded);
    let mut steps: Vec<Step> = OrderStatus::FLOW
        .into_iter()
        .map(|st| {
            let at = order
                .timeline
                .iter()
                .find(|t| t.status == st)
                .map(|t| human_time(&t.at));
            Step {
                label: st.label(),
                done: at.is_some(),
                at,
            }
        })
        .collect();
    for t in order
        .timeline
        .iter()
        .filter(|t| matches!(t.status, OrderStatus::Cancelled | OrderStatus::Refunded))
    {
        steps.push(Step {
            label: t.status.label(),
            at: Some(human_time(&t.at)),
            done: true,
        });
    }
    let next_steps = if ended {
        Vec::new()
    } else {
        OrderStatus::FLOW
            .into_iter()
            .filter(|st| *st > order.status)
            .map(|st| NextStep {
                value: st.as_str(),
                label: st.label(),
            })
            .collect()
    };
    let before_shipping = matches!(order.status, OrderStatus::Ordered | OrderStatus::Packed);
    let page = OrderPage {
        viewer,
        chrome: Chrome { nav, ..chrome },
        seller,
        status: order.status.label(),
        status_key: order.status.as_str(),
        payment: payment_label(order.payment_method, order.payment_status),
        items,
        subtotal: order.subtotal().to_string(),
        discount: (order.discount > 0).then(|| order.discount().to_string()),
        total: order.total().to_string(),
        fee: order.platform_fee().to_string(),
        payout: order.payout().to_string(),
        created: human_time(&order.created_at),
        steps,
        next_steps,
        can_cancel: !seller && before_shipping,
        can_refund: seller && !ended,
        can_review: !seller && order.status == OrderStatus::Delivered,
        error: q.get("error").cloned(),
        notice: q.get("notice").cloned(),
        order,
    };
    page.into_response()
}

/// An order's page for its buyer or its shop's seller, as the handler of
/// its route (admins see the list only).
fn order_detail(role: Role) -> MethodRouter<EdgeState> {
    get(
        move |State(s): State<EdgeState>,
              Meta(meta): Meta,
              SignedIn(viewer): SignedIn,
              chrome: Chrome,
              Path(id): Path<String>,
              Query(q): Query<HashMap<String, String>>| {
            detail_page(s, meta, viewer, chrome, id, q, role)
        },
    )
}

async fn detail_page(
    s: EdgeState,
    meta: bazaar_runtime::RequestMeta,
    viewer: Account,
    chrome: Chrome,
    id: String,
    q: HashMap<String, String>,
    role: Role,
) -> Result<Response, PageError> {
    let seller = role == Role::Seller;
    let here = format!("{}/{}", role.list_path(), urlencode(&id));
    let which = OrderId { id };
    let order = if seller {
        s.call::<o::GetShopOrder>(&meta, &which).await
    } else {
        s.call::<o::GetMyOrder>(&meta, &which).await
    }
    .on_page(&here, role.refusals())?;
    let viewer = Some(viewer);
    let nav = Nav::load(&s, &meta, &viewer, None).await;
    Ok(order_page(viewer, chrome, nav, order, seller, &q))
}

/// Back to an order page with what happened.
fn after(
    here: &str,
    result: Result<&str, crate::error::ApiError>,
    role: Role,
) -> Result<Redirect, PageError> {
    match result {
        Ok(notice) => Ok(with_notice(here, notice)),
        Err(e) if matches!(e.0.status, 400 | 409 | 422) => Ok(with_error(here, &e.0.message)),
        Err(e) => Err(PageError::from(e).on_page(here, role.refusals())),
    }
}

async fn cancel(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let here = format!("/orders/{}", urlencode(&id));
    if viewer.is_none() {
        return Err(PageError::sign_in(&here));
    }
    let result = s.call::<o::CancelMyOrder>(&meta, &OrderId { id }).await;
    after(
        &here,
        result.map(|_| "Your order is cancelled."),
        Role::Buyer,
    )
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn advance(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Result<Redirect, PageError> {
    let here = format!("/seller/orders/{}", urlencode(&id));
    if viewer.is_none() {
        return Err(PageError::sign_in(&here));
    }
    let Some(status) = status_param(&f.status) else {
        return Ok(with_error(&here, "Choose the next step."));
    };
    let result = s
        .call::<o::AdvanceShopOrder>(&meta, &AdvanceOrder { id, status })
        .await;
    let notice = format!("Marked {}.", status.label().to_lowercase());
    after(&here, result.map(|_| notice.as_str()), Role::Seller)
}

async fn refund(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let here = format!("/seller/orders/{}", urlencode(&id));
    if viewer.is_none() {
        return Err(PageError::sign_in(&here));
    }
    let result = s.call::<o::RefundShopOrder>(&meta, &OrderId { id }).await;
    after(
        &here,
        result.map(|o| {
            if o.status == OrderStatus::Refunded {
                "The order is refunded."
            } else {
                "The order is cancelled."
            }
        }),
        Role::Seller,
    )
}

// ---------------------------------------------------------------- coupons

#[derive(Deserialize, Default)]
struct CouponForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    min_subtotal: String,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    usage_limit: String,
}

struct CouponRow {
    id: String,
    code: String,
    off: String,
    min: String,
    expires: String,
    used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller_coupons.html")]
struct CouponsPage {
    viewer: Option<Account>,
    chrome: Chrome,
    coupons: Vec<CouponRow>,
    form: CouponForm,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
    currency: Currency,
}

fn coupon_row(c: Coupon, currency: Currency) -> CouponRow {
    CouponRow {
        off: match c.kind {
            CouponKind::Percent => format!("{}%", c.amount),
            CouponKind::Fixed => Money::new(c.amount, currency).to_string(),
        },
        min: c
            .min_subtotal
            .map(|m| Money::new(m, currency).to_string())
            .unwrap_or_else(|| "—".into()),
        expires: c
            .expires_at
            .as_deref()
            .map(human_time)
            .unwrap_or_else(|| "never".into()),
        used: match c.usage_limit {
            Some(l) => format!("{} of {l}", c.used),
            None => c.used.to_string(),
        },
        id: c.id,
        code: c.code,
    }
}

async fn render_coupons(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    viewer: Account,
    chrome: Chrome,
    form: CouponForm,
    refused: Option<ErrorEnvelope>,
    q: &HashMap<String, String>,
) -> Result<Response, PageError> {
    let list = s
        .call::<o::ListCoupons>(meta, &Empty {})
        .await
        .on_page(COUPONS, Role::Seller.refusals())?;
    let viewer = Some(viewer);
    // Discount codes carry no currency of their own: the platform's.
    let currency = Currency::DEFAULT;
    let (errors, error, status) = match refused {
        Some(e) => {
            let errors = FieldErrors::from_envelope(&e);
            let known = [
                "code",
                "kind",
                "amount",
                "min_subtotal",
                "expires_at",
                "usage_limit",
            ];
            let message = if errors.is_empty() || errors.any_outside(&known) {
                e.message.clone()
            } else {
                "Please correct the marked fields.".to_owned()
            };
            (
                errors,
                Some(message),
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            )
        }
        None => (FieldErrors::default(), None, StatusCode::OK),
    };
    let nav = Nav::load(s, meta, &viewer, None).await;
    Ok((
        status,
        CouponsPage {
            viewer,
            chrome: Chrome { nav, ..chrome },
            coupons: list
                .coupons
                .into_iter()
                .map(|c| coupon_row(c, currency))
                .collect(),
            form,
            errors,
            error,
            notice: q.get("notice").cloned(),
            currency,
        },
    )
        .into_response())
}

async fn coupons_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(viewer): SignedIn,
    chrome: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let form = CouponForm {
        kind: "percent".into(),
        ..Default::default()
    };
    render_coupons(&s, &meta, viewer, chrome, form, None, &q).await
}

/// The form's text as a coupon, or the fields it got wrong.
fn coupon_input(f: &CouponForm, currency: Currency) -> Result<CouponInput, ErrorEnvelope> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: &str| {
        errors.push(bazaar_subjects::FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    let kind = match f.kind.as_str() {
        "fixed" => CouponKind::Fixed,
        _ => CouponKind::Percent,
    };
    let amount = match kind {
        CouponKind::Percent => match f.amount.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                bad("amount", "enter a whole percentage, 1–100");
                0
            }
        },
        CouponKind::Fixed => match parse_price(&f.amount, currency) {
            Ok(Some(n)) => n,
            Ok(None) => {
                bad("amount", "enter the amount off");
                0
            }
            Err(m) => {
                bad("amount", &m);
                0
            }
        },
    };
    let min_subtotal = match parse_price(&f.min_subtotal, currency) {
        Ok(v) => v,
        Err(m) => {
            bad("min_subtotal", &m);
            None
        }
    };
    let usage_limit = match f.usage_limit.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                bad("usage_limit", "enter a whole number");
                None
            }
        },
    };
    let expires_at = match f.expires_at.trim() {
        "" => None,
        // A date input: the end of that day, UTC.
        t if t.len() == 10 => Some(format!("{t}T23:59:59Z")),
        t => Some(t.to_owned()),
    };
    if !errors.is_empty() {
        return Err(ErrorEnvelope::validation(errors));
    }
    Ok(CouponInput {
        code: f.code.trim().to_owned(),
        kind,
        amount,
        min_subtotal,
        expires_at,
        usage_limit,
    })
}

async fn create_coupon(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(viewer): SignedIn,
    chrome: Chrome,
    Form(form): Form<CouponForm>,
) -> Result<Response, PageError> {
    let input = match coupon_input(&form, Currency::DEFAULT) {
        Ok(i) => i,
        Err(e) => {
            return render_coupons(&s, &meta, viewer, chrome, form, Some(e), &HashMap::new()).await;
        }
    };
    match s.call::<o::CreateCoupon>(&meta, &input).await {
        Ok(c) => Ok(with_notice(COUPONS, &format!("Code {} created.", c.code)).into_response()),
        Err(e) if matches!(e.0.status, 400 | 409 | 422) => {
            render_coupons(&s, &meta, viewer, chrome, form, Some(e.0), &HashMap::new()).await
        }
        Err(e) => Err(PageError::from(e).on_page(COUPONS, Role::Seller.refusals())),
    }
}

async fn delete_coupon(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    if viewer.is_none() {
        return Err(PageError::sign_in(COUPONS));
    }
    s.call::<o::DeleteCoupon>(&meta, &CouponId { id })
        .await
        .on_page(COUPONS, Role::Seller.refusals())?;
    Ok(with_notice(COUPONS, "Code deleted."))
}

//! Analytics pages: the figures on the seller overview (`/seller`), their
//! CSV export (`/seller/analytics.csv`), and the platform's for admins
//! (`/admin/analytics`, `/admin/analytics.csv`).
//!
//! The analytics node answers from its rollups and decides who may read
//! what; these pages pick the range (the last 7, 30 or 90 days, or any
//! two days), compare it with the period just before, and draw each series
//! as SVG (see [`crate::ui::charts`]) with its data table beside it.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::analytics::{
    AnalyticsRange, GetPlatformAnalytics, GetShopAnalytics, PlatformAnalytics, ShopAnalytics,
};
use bazaar_subjects::auth::Account;
use bazaar_subjects::catalog::{GetProductsByIds, ProductIds};
use bazaar_subjects::{Currency, ErrorEnvelope, Money};
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

use crate::extract::{Admin, Meta};
use crate::state::EdgeState;
use crate::ui::charts::{bar_chart, line_chart};
use crate::ui::chrome::Chrome;
use crate::ui::errors::PageError;
use crate::ui::query::{first, query_pairs};

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/seller/analytics.csv", get(seller_csv))
        .route("/admin/analytics", get(admin_page))
        .route("/admin/analytics.csv", get(admin_csv))
}

/// The preset ranges, in days.
const PRESETS: [i64; 3] = [7, 30, 90];
const DEFAULT_DAYS: i64 = 30;

fn day(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The range the query asks for: `range=7|30|90` (the last so many days,
/// today included) or `range=custom&from=…&to=…`; 30 days by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Picked {
    /// `7`, `30`, `90` or `custom`.
    pub key: String,
    pub from: String,
    pub to: String,
    pub shop_id: Option<String>,
}

impl Picked {
    pub(crate) fn read(raw: Option<&str>) -> Self {
        let pairs = query_pairs(raw);
        let key = first(&pairs, "range");
        let (from, to) = (first(&pairs, "from"), first(&pairs, "to"));
        let shop = first(&pairs, "shop_id");
        let shop_id = Some(shop).filter(|s| !s.is_empty());
        let today = OffsetDateTime::now_utc().date();
        if key == "custom" || (key.is_empty() && !from.is_empty() && !to.is_empty()) {
            return Self {
                key: "custom".into(),
                from,
                to,
                shop_id,
            };
        }
        let days = key
            .parse::<i64>()
            .ok()
            .filter(|d| PRESETS.contains(d))
            .unwrap_or(DEFAULT_DAYS);
        Self {
            key: days.to_string(),
            from: day(today - Duration::days(days - 1)),
            to: day(today),
            shop_id,
        }
    }

    pub(crate) fn range(&self) -> AnalyticsRange {
        AnalyticsRange {
            from: self.from.clone(),
            to: self.to.clone(),
            shop_id: self.shop_id.clone(),
        }
    }

    /// The query string that asks for this range again.
    pub(crate) fn query(&self) -> String {
        let mut pairs = vec![
            ("range", self.key.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ];
        if let Some(s) = &self.shop_id {
            pairs.push(("shop_id", s));
        }
        serde_html_form::to_string(pairs).unwrap_or_default()
    }
}

/// One figure, now and in the period before.
pub(crate) struct Kpi {
    pub label: &'static str,
    pub value: String,
    pub previous: String,
    /// `+12 %`, `−3 %`, or `—` when there is nothing to compare with.
    pub change: String,
}

fn change(now: i64, before: i64) -> String {
    if before == 0 {
        return if now == 0 { "0 %".into() } else { "—".into() };
    }
    let pct = (now - before) as f64 * 100.0 / before.abs() as f64;
    format!("{}{:.0} %", if pct >= 0.0 { "+" } else { "−" }, pct.abs())
}

fn kpi(label: &'static str, now: i64, before: i64, fmt: &dyn Fn(i64) -> String) -> Kpi {
    Kpi {
        label,
        value: fmt(now),
        previous: fmt(before),
        change: change(now, before),
    }
}

/// A rate in per cent with one decimal, `—` without a base.
fn rate(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".into()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

/// A chart and the table of what it draws.
pub(crate) struct Chart {
    pub id: &'static str,
    pub title: String,
    pub svg: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

pub(crate) struct FunnelStep {
    pub label: &'static str,
    pub count: i64,
    pub rate: String,
}

pub(crate) struct TopProduct {
    pub name: String,
    pub product_id: String,
    /// Formatted in the shop's currency.
    pub revenue: String,
    pub units: i64,
    pub orders: i64,
    pub views: i64,
    pub cart_adds: i64,
}

/// What the seller overview shows of a shop's figures.
pub(crate) struct ShopView {
    pub picked: Picked,
    pub presets: [i64; 3],
    pub query: String,
    pub from: String,
    pub to: String,
    pub previous_from: String,
    pub previous_to: String,
    pub kpis: Vec<Kpi>,
    pub funnel: Vec<FunnelStep>,
    pub funnel_svg: String,
    pub charts: Vec<Chart>,
    pub top: Vec<TopProduct>,
    pub followers: i64,
}

fn money(currency: Currency) -> impl Fn(i64) -> String {
    move |minor| Money::new(minor, currency).to_string()
}

fn plain(v: i64) -> String {
    v.to_string()
}

/// The overview's figures for the range the query picks; `Err` carries the
/// node's refusal (no shop yet, a range it cannot read).
pub(crate) async fn shop_view(
    s: &EdgeState,
    meta: &RequestMeta,
    raw: Option<&str>,
) -> Result<ShopView, ErrorEnvelope> {
    let picked = Picked::read(raw);
    let a = s
        .call::<GetShopAnalytics>(meta, &picked.range())
        .await
        .map_err(|e| e.0)?;
    let names = product_names(s, meta, &a).await;
    Ok(build_shop_view(picked, &a, &names))
}

async fn product_names(
    s: &EdgeState,
    meta: &RequestMeta,
    a: &ShopAnalytics,
) -> std::collections::HashMap<String, String> {
    if a.top_products.is_empty() {
        return Default::default();
    }
    let ids = ProductIds {
        ids: a
            .top_products
            .iter()
            .map(|p| p.product_id.clone())
            .collect(),
    };
    match s.call::<GetProductsByIds>(meta, &ids).await {
        Ok(found) => found.items.into_iter().map(|p| (p.id, p.title)).collect(),
        Err(_) => Default::default(),
    }
}

fn build_shop_view(
    picked: Picked,
    a: &ShopAnalytics,
    names: &std::collections::HashMap<String, String>,
) -> ShopView {
    let m = money(a.currency);
    let (c, p) = (&a.current, &a.previous);
    let kpis = vec![
        kpi("Revenue", c.revenue, p.revenue, &m),
        kpi("Orders", c.orders, p.orders, &plain),
        kpi(
            "Average order value",
            c.average_order_value,
            p.average_order_value,
            &m,
        ),
        kpi("Units sold", c.units, p.units, &plain),
        kpi(
            "Unique visitors",
            c.unique_visitors,
            p.unique_visitors,
            &plain,
        ),
        kpi("Product views", c.product_views, p.product_views, &plain),
        kpi("New followers", c.new_followers, p.new_followers, &plain),
    ];
    let funnel = vec![
        FunnelStep {
            label: "Product views",
            count: c.product_views,
            rate: "100 %".into(),
        },
        FunnelStep {
            label: "Cart adds",
            count: c.cart_adds,
            rate: rate(c.cart_adds, c.product_views),
        },
        FunnelStep {
            label: "Orders",
            count: c.orders,
            rate: rate(c.orders, c.product_views),
        },
    ];
    let funnel_svg = bar_chart(
        "chart-funnel",
        "Conversion: product views, cart adds, orders",
        &funnel
            .iter()
            .map(|f| (f.label.to_owned(), f.count))
            .collect::<Vec<_>>(),
    );
    let labels: Vec<String> = a.days.iter().map(|d| d.day.clone()).collect();
    let series = |f: fn(&bazaar_subjects::analytics::ShopDay) -> i64| -> Vec<i64> {
        a.days.iter().map(f).collect()
    };
    let revenue = series(|d| d.revenue);
    let orders = series(|d| d.orders);
    let visitors = series(|d| d.unique_visitors);
    let followers = series(|d| d.followers);
    let table = |values: &[i64], fmt: &dyn Fn(i64) -> String| -> Vec<Vec<String>> {
        labels
            .iter()
            .zip(values)
            .map(|(d, v)| vec![d.clone(), fmt(*v)])
            .collect()
    };
    let charts = vec![
        Chart {
            id: "chart-revenue",
            title: format!("Revenue per day, {} to {}", a.from, a.to),
            svg: line_chart(
                "chart-revenue",
                &format!("Revenue per day, {} to {}", a.from, a.to),
                &labels,
                &revenue,
                None,
                &m,
            ),
            headers: vec!["Day", "Revenue"],
            rows: table(&revenue, &m),
        },
        Chart {
            id: "chart-orders",
            title: format!("Orders per day, {} to {}", a.from, a.to),
            svg: line_chart(
                "chart-orders",
                &format!("Orders per day, {} to {}", a.from, a.to),
                &labels,
                &orders,
                None,
                &plain,
            ),
            headers: vec!["Day", "Orders"],
            rows: table(&orders, &plain),
        },
        Chart {
            id: "chart-visitors",
            title: format!("Unique visitors per day, {} to {}", a.from, a.to),
            svg: line_chart(
                "chart-visitors",
                &format!("Unique visitors per day, {} to {}", a.from, a.to),
                &labels,
                &visitors,
                None,
                &plain,
            ),
            headers: vec!["Day", "Unique visitors"],
            rows: table(&visitors, &plain),
        },
        Chart {
            id: "chart-followers",
            title: format!("Followers, {} to {}", a.from, a.to),
            svg: line_chart(
                "chart-followers",
                &format!("Followers, {} to {}", a.from, a.to),
                &labels,
                &followers,
                None,
                &plain,
            ),
            headers: vec!["Day", "Followers"],
            rows: table(&followers, &plain),
        },
    ];
    let top = a
        .top_products
        .iter()
        .map(|t| TopProduct {
            name: names
                .get(&t.product_id)
                .cloned()
                .unwrap_or_else(|| t.product_id.clone()),
            product_id: t.product_id.clone(),
            revenue: m(t.revenue),
            units: t.units,
            orders: t.orders,
            views: t.views,
            cart_adds: t.cart_adds,
        })
        .collect();
    ShopView {
        query: picked.query(),
        picked,
        presets: PRESETS,
        from: a.from.clone(),
        to: a.to.clone(),
        previous_from: a.previous_from.clone(),
        previous_to: a.previous_to.clone(),
        kpis,
        funnel,
        funnel_svg,
        charts,
        top,
        followers: a.followers,
    }
}

// ---------------------------------------------------------------------------
// CSV

fn csv_response(name: &str, rows: Vec<Vec<String>>) -> Response {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        let _ = w.write_record(&r);
    }
    let body = w.into_inner().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn major(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).major_units()
}

/// The shop's tables as CSV: `table=days` (the default), `products` or
/// `totals`, for the same range query as the overview. Money is in major
/// units of the `currency` column.
pub(crate) fn shop_csv_rows(table: &str, a: &ShopAnalytics) -> Option<(String, Vec<Vec<String>>)> {
    let cur = a.currency;
    let code = cur.to_string();
    let rows = match table {
        "" | "days" => {
            let mut rows = vec![
                [
                    "day",
                    "currency",
                    "revenue",
                    "orders",
                    "units",
                    "product_views",
                    "cart_adds",
                    "unique_visitors",
                    "followers",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(a.days.iter().map(|d| {
                vec![
                    d.day.clone(),
                    code.clone(),
                    major(d.revenue, cur),
                    d.orders.to_string(),
                    d.units.to_string(),
                    d.product_views.to_string(),
                    d.cart_adds.to_string(),
                    d.unique_visitors.to_string(),
                    d.followers.to_string(),
                ]
            }));
            rows
        }
        "products" => {
            // Revenue comes last, so columns read by position stay put.
            let mut rows = vec![
                [
                    "product_id",
                    "units",
                    "orders",
                    "views",
                    "cart_adds",
                    "currency",
                    "revenue",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(a.top_products.iter().map(|p| {
                vec![
                    p.product_id.clone(),
                    p.units.to_string(),
                    p.orders.to_string(),
                    p.views.to_string(),
                    p.cart_adds.to_string(),
                    code.clone(),
                    major(p.revenue, cur),
                ]
            }));
            rows
        }
        "totals" => {
            let (c, p) = (&a.current, &a.previous);
            let mut rows = vec![
                ["metric", "current", "previous"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            let money_rows = [
                ("revenue", c.revenue, p.revenue),
                (
                    "average_order_value",
                    c.average_order_value,
                    p.average_order_value,
                ),
            ];
            for (name, now, before) in money_rows {
                rows.push(vec![name.into(), major(now, cur), major(before, cur)]);
            }
            let counts = [
                ("orders", c.orders, p.orders),
                ("cancelled", c.cancelled, p.cancelled),
                ("units", c.units, p.units),
                ("product_views", c.product_views, p.product_views),
                ("cart_adds", c.cart_adds, p.cart_adds),
                ("wishlist_adds", c.wishlist_adds, p.wishlist_adds),
                ("unique_visitors", c.unique_visitors, p.unique_visitors),
                ("new_followers", c.new_followers, p.new_followers),
                ("reviews", c.reviews, p.reviews),
            ];
            for (name, now, before) in counts {
                rows.push(vec![name.into(), now.to_string(), before.to_string()]);
            }
            rows
        }
        _ => return None,
    };
    let table = if table.is_empty() { "days" } else { table };
    Some((
        format!("shop-{}-{}-{}-{}", table, a.shop_id, a.from, a.to),
        rows,
    ))
}

async fn seller_csv(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    if meta.authorization.is_none() {
        return Err(PageError::sign_in("/seller"));
    }
    let picked = Picked::read(raw.as_deref());
    let table = first(&query_pairs(raw.as_deref()), "table");
    let a = s.call::<GetShopAnalytics>(&meta, &picked.range()).await?;
    let (name, rows) = shop_csv_rows(&table, &a)
        .ok_or_else(|| ErrorEnvelope::bad_request("`table` is days, products or totals"))?;
    Ok(csv_response(&name, rows))
}

// ---------------------------------------------------------------------------
// Admins

#[derive(Template, WebTemplate)]
#[template(path = "admin_analytics.html")]
struct PlatformPage {
    viewer: Option<Account>,
    chrome: Chrome,
    picked: Picked,
    presets: [i64; 3],
    query: String,
    a: PlatformAnalytics,
    kpis: Vec<Kpi>,
    charts: Vec<Chart>,
    top_shops: Vec<(String, String, String, i64)>,
    top_categories: Vec<TopCategory>,
}

/// A row of the top categories table, formatted.
struct TopCategory {
    category_id: String,
    name: String,
    gmv: String,
    previous_gmv: String,
    change: String,
    orders: i64,
    units: i64,
}

/// Category names by slug, as the admins' list has them now; a category
/// since deleted (or a list that cannot be read) shows by its slug.
async fn category_names(s: &EdgeState, meta: &RequestMeta) -> HashMap<String, String> {
    match s.categories(meta).await {
        Ok(list) => list
            .categories
            .into_iter()
            .map(|c| (c.slug, c.name))
            .collect(),
        Err(_) => HashMap::new(),
    }
}

fn category_name(names: &HashMap<String, String>, slug: &str) -> String {
    names.get(slug).cloned().unwrap_or_else(|| slug.to_owned())
}

async fn admin_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let picked = Picked::read(raw.as_deref());
    let range = picked.range();
    let (a, names) = tokio::join!(
        s.call::<GetPlatformAnalytics>(&meta, &range),
        category_names(&s, &meta),
    );
    let a = a?;
    let m = money(a.currency);
    let (c, p) = (&a.current, &a.previous);
    let kpis = vec![
        kpi("GMV", c.gmv, p.gmv, &m),
        kpi("Platform fees", c.fees, p.fees, &m),
        kpi("Orders", c.orders, p.orders, &plain),
        kpi("New buyers", c.new_buyers, p.new_buyers, &plain),
        kpi("New sellers", c.new_sellers, p.new_sellers, &plain),
        kpi("Active shops", c.active_shops, p.active_shops, &plain),
        kpi("Product views", c.product_views, p.product_views, &plain),
    ];
    let labels: Vec<String> = a.days.iter().map(|d| d.day.clone()).collect();
    let chart = |id: &'static str, name: &str, values: Vec<i64>, fmt: &dyn Fn(i64) -> String| {
        let title = format!("{name} per day, {} to {}", a.from, a.to);
        Chart {
            id,
            svg: line_chart(id, &title, &labels, &values, None, fmt),
            title,
            headers: vec!["Day", "Value"],
            rows: labels
                .iter()
                .zip(&values)
                .map(|(d, v)| vec![d.clone(), fmt(*v)])
                .collect(),
        }
    };
    let charts = vec![
        chart(
            "chart-gmv",
            "GMV",
            a.days.iter().map(|d| d.gmv).collect(),
            &m,
        ),
        chart(
            "chart-fees",
            "Platform fees",
            a.days.iter().map(|d| d.fees).collect(),
            &m,
        ),
        chart(
            "chart-orders",
            "Orders",
            a.days.iter().map(|d| d.orders).collect(),
            &plain,
        ),
        chart(
            "chart-buyers",
            "New buyers",
            a.days.iter().map(|d| d.new_buyers).collect(),
            &plain,
        ),
        chart(
            "chart-active",
            "Active shops",
            a.days.iter().map(|d| d.active_shops).collect(),
            &plain,
        ),
    ];
    let top_shops = a
        .top_shops
        .iter()
        .map(|t| {
            let name = if t.name.is_empty() {
                t.shop_id.clone()
            } else {
                t.name.clone()
            };
            (t.shop_id.clone(), name, m(t.revenue), t.orders)
        })
        .collect();
    let top_categories = a
        .top_categories
        .iter()
        .map(|c| TopCategory {
            category_id: c.category_id.clone(),
            name: category_name(&names, &c.category_id),
            gmv: m(c.gmv),
            previous_gmv: m(c.previous_gmv),
            change: change(c.gmv, c.previous_gmv),
            orders: c.orders,
            units: c.units,
        })
        .collect();
    Ok(PlatformPage {
        viewer: Some(viewer),
        chrome,
        query: picked.query(),
        picked,
        presets: PRESETS,
        kpis,
        charts,
        top_shops,
        top_categories,
        a,
    }
    .into_response())
}

async fn admin_csv(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    if meta.authorization.is_none() {
        return Err(PageError::sign_in("/admin/analytics"));
    }
    let picked = Picked::read(raw.as_deref());
    let table = first(&query_pairs(raw.as_deref()), "table");
    let a = s
        .call::<GetPlatformAnalytics>(&meta, &picked.range())
        .await?;
    let names = if table == "categories" {
        category_names(&s, &meta).await
    } else {
        HashMap::new()
    };
    let cur = a.currency;
    let code = cur.to_string();
    let rows = match table.as_str() {
        "" | "days" => {
            let mut rows = vec![
                [
                    "day",
                    "currency",
                    "gmv",
                    "fees",
                    "orders",
                    "new_buyers",
                    "new_sellers",
                    "active_shops",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(a.days.iter().map(|d| {
                vec![
                    d.day.clone(),
                    code.clone(),
                    major(d.gmv, cur),
                    major(d.fees, cur),
                    d.orders.to_string(),
                    d.new_buyers.to_string(),
                    d.new_sellers.to_string(),
                    d.active_shops.to_string(),
                ]
            }));
            rows
        }
        "shops" => {
            let mut rows = vec![
                ["shop_id", "name", "currency", "revenue", "orders"]
                    .map(str::to_owned)
                    .to_vec(),
            ];
            rows.extend(a.top_shops.iter().map(|t| {
                vec![
                    t.shop_id.clone(),
                    t.name.clone(),
                    code.clone(),
                    major(t.revenue, cur),
                    t.orders.to_string(),
                ]
            }));
            rows
        }
        "categories" => {
            let mut rows = vec![
                [
                    "category_id",
                    "name",
                    "currency",
                    "gmv",
                    "orders",
                    "units",
                    "previous_gmv",
                    "previous_orders",
                    "previous_units",
                ]
                .map(str::to_owned)
                .to_vec(),
            ];
            rows.extend(a.top_categories.iter().map(|c| {
                vec![
                    c.category_id.clone(),
                    category_name(&names, &c.category_id),
                    code.clone(),
                    major(c.gmv, cur),
                    c.orders.to_string(),
                    c.units.to_string(),
                    major(c.previous_gmv, cur),
                    c.previous_orders.to_string(),
                    c.previous_units.to_string(),
                ]
            }));
            rows
        }
        _ => {
            return Err(ErrorEnvelope::bad_request("`table` is days, shops or categories").into());
        }
    };
    let table = if table.is_empty() { "days" } else { &table };
    Ok(csv_response(
        &format!("platform-{table}-{}-{}", a.from, a.to),
        rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_come_from_the_query() {
        let p = Picked::read(Some("range=7"));
        assert_eq!(p.key, "7");
        let custom = Picked::read(Some("range=custom&from=2026-01-01&to=2026-01-31"));
        assert_eq!(custom.from, "2026-01-01");
        assert_eq!(custom.to, "2026-01-31");
        assert_eq!(Picked::read(None).key, "30");
        assert_eq!(Picked::read(Some("range=12")).key, "30");
        assert_eq!(change(110, 100), "+10 %");
        assert_eq!(change(90, 100), "−10 %");
        assert_eq!(change(5, 0), "—");
        assert_eq!(rate(1, 4), "25.0 %");
    }
}

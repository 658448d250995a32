//! Answering from the rollups: a shop's figures and the platform's, over a
//! range of days and the same number of days before it. Every figure is a
//! sum of rollup rows (one per shop, product or platform and day); nothing
//! here reads an order.

use std::collections::{BTreeMap, HashMap};

use bazaar_schema::Db;
use bazaar_subjects::analytics::{
    AnalyticsRange, CategoryStat, MAX_RANGE_DAYS, PlatformAnalytics, PlatformDay, PlatformTotals,
    ProductStat, ShopAnalytics, ShopDay, ShopStat, ShopTotals, TOP,
};
use bazaar_subjects::{Currency, ErrorEnvelope};
use serde::Deserialize;
use serde_json::Value;
use time::{Date, Duration, Month};

use crate::AnalyticsError;
use crate::sketch::Visitors;

/// A checked range and the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub from: Date,
    pub to: Date,
    pub previous_from: Date,
    pub previous_to: Date,
}

pub fn parse_day(s: &str) -> Option<Date> {
    let mut parts = s.splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let d: u8 = parts.next()?.parse().ok()?;
    if s.len() != 10 {
        return None;
    }
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

pub fn fmt_day(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl Days {
    pub fn check(range: &AnalyticsRange) -> Result<Self, ErrorEnvelope> {
        let bad = |m: &str| ErrorEnvelope::bad_request(m.to_owned());
        let from = parse_day(&range.from).ok_or_else(|| bad("`from` is a day: YYYY-MM-DD"))?;
        let to = parse_day(&range.to).ok_or_else(|| bad("`to` is a day: YYYY-MM-DD"))?;
        if to < from {
            return Err(bad("`to` comes on or after `from`"));
        }
        let len = (to - from).whole_days() + 1;
        if len > MAX_RANGE_DAYS {
            return Err(bad("a range is at most 731 days"));
        }
        let previous_to = from - Duration::days(1);
        let previous_from = previous_to - Duration::days(len - 1);
        Ok(Self {
            from,
            to,
            previous_from,
            previous_to,
        })
    }

    fn each(from: Date, to: Date) -> impl Iterator<Item = Date> {
        let mut d = Some(from);
        std::iter::from_fn(move || {
            let day = d.filter(|d| *d <= to)?;
            d = day.next_day();
            Some(day)
        })
    }
}

/// Days `from` to `to`, both included, as stored (`YYYY-MM-DD`, or
/// `YYYY-MM` for months); an empty span matches no row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    from: String,
    to: String,
}

impl Span {
    fn days(from: Date, to: Date) -> Self {
        if to < from {
            return Self::empty();
        }
        Self {
            from: fmt_day(from),
            to: fmt_day(to),
        }
    }

    fn empty() -> Self {
        // `from` after `to`: no key lies between.
        Self {
            from: "1".into(),
            to: "0".into(),
        }
    }
}

fn fmt_month(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), u8::from(d.month()))
}

fn first_of_month(d: Date) -> Date {
    d.replace_day(1).unwrap_or(d)
}

fn last_of_month(d: Date) -> Date {
    d.replace_day(d.month().length(d.year())).unwrap_or(d)
}

/// A range as it is read: the days before its first whole month, its whole
/// months (from the monthly rollups) and the days after the last. A range
/// without a whole month is all head.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Split {
    head: Span,
    months: Span,
    tail: Span,
}

impl Split {
    fn of(from: Date, to: Date) -> Self {
        let first_whole = if from.day() == 1 {
            Some(from)
        } else {
            last_of_month(from).next_day()
        };
        let last_whole = if last_of_month(to) == to {
            Some(to)
        } else {
            first_of_month(to).previous_day()
        };
        match (first_whole, last_whole) {
            (Some(a), Some(b)) if a <= b => Self {
                head: a
                    .previous_day()
                    .map_or_else(Span::empty, |h| Span::days(from, h)),
                months: Span {
                    from: fmt_month(a),
                    to: fmt_month(b),
                },
                tail: b.next_day().map_or_else(Span::empty, |t| Span::days(t, to)),
            },
            _ => Self {
                head: Span::days(from, to),
                months: Span::empty(),
                tail: Span::empty(),
            },
        }
    }

    /// Binds its spans as `$<name>_h0`, `$<name>_h1`, `_m0`, `_m1`, `_t0`,
    /// `_t1`, and each end as `_h1_end`…: past every id `[shop, end, …]`
    /// (`~` sorts after the digits), an exclusive end for ids with a
    /// product after the day.
    fn bind(&self, name: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (part, span) in [("h", &self.head), ("m", &self.months), ("t", &self.tail)] {
            out.push((format!("{name}_{part}0"), span.from.clone()));
            out.push((format!("{name}_{part}1"), span.to.clone()));
            out.push((format!("{name}_{part}1_end"), format!("{}~", span.to)));
        }
        out
    }
}

/// One shop's day (or month) as stored.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct ShopRow {
    day: String,
    placed: i64,
    placed_total: i64,
    cancelled: i64,
    cancelled_total: i64,
    units: i64,
    views: i64,
    cart_adds: i64,
    wishlist_adds: i64,
    follows: i64,
    unfollows: i64,
    reviews: i64,
    visitors: i64,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct PlatformRow {
    day: String,
    placed: i64,
    placed_total: i64,
    cancelled: i64,
    cancelled_total: i64,
    fees: i64,
    cancelled_fees: i64,
    new_buyers: i64,
    new_sellers: i64,
    active_shops: i64,
    views: i64,
    currency: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct ProductRow {
    product: String,
    units: i64,
    orders: i64,
    views: i64,
    cart_adds: i64,
    revenue: i64,
    cancelled_revenue: i64,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct CategoryRow {
    category: String,
    day: String,
    placed: i64,
    placed_total: i64,
    cancelled_total: i64,
    units: i64,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct ShopGroup {
    shop: String,
    placed: i64,
    placed_total: i64,
    cancelled_total: i64,
}

/// Rows read into `T`; a field a row lacks comes back as null when it is
/// named in the projection, and reads as its default like an absent one.
fn rows<T: for<'de> Deserialize<'de>>(v: Vec<Value>) -> Vec<T> {
    v.into_iter()
        .map(|mut r| {
            if let Value::Object(fields) = &mut r {
                fields.retain(|_, v| !v.is_null());
            }
            r
        })
        .filter_map(|r| serde_json::from_value(r).ok())
        .collect()
}

fn currency(code: Option<&str>) -> Currency {
    code.and_then(|c| serde_json::from_value(Value::String(c.to_owned())).ok())
        .unwrap_or(Currency::USD)
}

fn shop_totals(rows: &[&ShopRow], visitors: i64) -> ShopTotals {
    let mut t = ShopTotals::default();
    for r in rows {
        t.revenue += r.placed_total - r.cancelled_total;
        t.orders += r.placed;
        t.cancelled += r.cancelled;
        t.units += r.units;
        t.product_views += r.views;
        t.cart_adds += r.cart_adds;
        t.wishlist_adds += r.wishlist_adds;
        t.new_followers += r.follows - r.unfollows;
        t.reviews += r.reviews;
    }
    t.average_order_value = if t.orders > 0 {
        t.revenue / t.orders
    } else {
        0
    };
    t.unique_visitors = visitors;
    t
}

/// The shop whose owner is `account`, as the shop events said.
pub async fn shop_of_owner(db: &Db, account: &str) -> Result<Option<String>, AnalyticsError> {
    let mut r = db
        .query("SELECT VALUE record::id(id) FROM an_shop WHERE owner = $me LIMIT 1")
        .bind(("me", account.to_owned()))
        .await?;
    let ids: Vec<String> = r.take(0)?;
    Ok(ids.into_iter().next())
}

/// A shop's range, every row read by a range of record ids: its days one
/// by one (for the series); the period before, the range's visitors and
/// its products by whole months and the days around them; the follows
/// after the range (to go back from the followers now); the shop.
const SHOP_QUERY: &str = "
    SELECT SHOP_FIELDS FROM an_shop_day:[$shop, $from]..=[$shop, $to];
    SELECT SHOP_FIELDS FROM an_shop_day:[$shop, $p_h0]..=[$shop, $p_h1];
    SELECT SHOP_FIELDS FROM an_shop_month:[$shop, $p_m0]..=[$shop, $p_m1];
    SELECT SHOP_FIELDS FROM an_shop_day:[$shop, $p_t0]..=[$shop, $p_t1];
    SELECT follows, unfollows FROM an_shop_day:[$shop, $after]..=[$shop, $month_end];
    SELECT follows, unfollows FROM an_shop_month:[$shop, $next_month]..[$shop, '~'];
    SELECT VALUE sketch FROM an_visitors:[$shop, $c_h0]..=[$shop, $c_h1];
    SELECT VALUE sketch FROM an_visitors_month:[$shop, $c_m0]..=[$shop, $c_m1];
    SELECT VALUE sketch FROM an_visitors:[$shop, $c_t0]..=[$shop, $c_t1];
    SELECT VALUE sketch FROM an_visitors:[$shop, $p_h0]..=[$shop, $p_h1];
    SELECT VALUE sketch FROM an_visitors_month:[$shop, $p_m0]..=[$shop, $p_m1];
    SELECT VALUE sketch FROM an_visitors:[$shop, $p_t0]..=[$shop, $p_t1];
    SELECT PRODUCT_SUMS FROM an_shop_product_day:[$shop, $c_h0]..[$shop, $c_h1_end] GROUP BY product;
    SELECT PRODUCT_SUMS FROM an_product_month:[$shop, $c_m0]..[$shop, $c_m1_end] GROUP BY product;
    SELECT PRODUCT_SUMS FROM an_shop_product_day:[$shop, $c_t0]..[$shop, $c_t1_end] GROUP BY product;
    SELECT followers, currency FROM type::record('an_shop', $shop);
";

/// What a shop's figures need of its days and months (every field read
/// is a value the database hands over, so no more than these).
const SHOP_FIELDS: &str = "day, placed, placed_total, cancelled, cancelled_total, units, views, \
    cart_adds, wishlist_adds, follows, unfollows, reviews, visitors";

/// A product's rows summed in the database, which hands over one row per
/// product rather than one per product and day.
const PRODUCT_SUMS: &str = "product, math::sum(units) AS units, math::sum(orders) AS orders, \
    math::sum(views) AS views, math::sum(cart_adds) AS cart_adds, \
    math::sum(revenue) AS revenue, math::sum(cancelled_revenue) AS cancelled_revenue";

static SHOP_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    SHOP_QUERY
        .replace("SHOP_FIELDS", SHOP_FIELDS)
        .replace("PRODUCT_SUMS", PRODUCT_SUMS)
});

/// The distinct visitors of the sketches, merged.
fn visitors(sketches: &[Vec<String>]) -> i64 {
    let mut merged = Visitors::new();
    for json in sketches.iter().flatten() {
        merged.merge(&Visitors::from_json(json));
    }
    merged.count()
}

/// The products' rows summed per product, ranked by revenue, then units
/// sold, then views; the first [`TOP`].
fn top_products(parts: Vec<Vec<ProductRow>>) -> Vec<ProductStat> {
    let mut by_product: HashMap<String, ProductStat> = HashMap::new();
    for p in parts.into_iter().flatten() {
        let stat = by_product
            .entry(p.product.clone())
            .or_insert_with(|| ProductStat {
                product_id: p.product,
                ..ProductStat::default()
            });
        stat.revenue += p.revenue - p.cancelled_revenue;
        stat.units += p.units;
        stat.orders += p.orders;
        stat.views += p.views;
        stat.cart_adds += p.cart_adds;
    }
    let mut top: Vec<ProductStat> = by_product.into_values().collect();
    top.sort_by(|a, b| {
        (b.revenue, b.units, b.views, &a.product_id).cmp(&(
            a.revenue,
            a.units,
            a.views,
            &b.product_id,
        ))
    });
    top.truncate(TOP);
    top
}

/// A shop's figures over `days` (and the days before).
pub async fn shop(db: &Db, shop_id: &str, days: Days) -> Result<ShopAnalytics, AnalyticsError> {
    let (from, to) = (fmt_day(days.from), fmt_day(days.to));
    let (pfrom, pto) = (fmt_day(days.previous_from), fmt_day(days.previous_to));
    let month_end = last_of_month(days.to);
    let mut q = db
        .query(SHOP_SQL.as_str())
        .bind(("shop", shop_id.to_owned()))
        .bind(("from", from.clone()))
        .bind(("to", to.clone()))
        .bind((
            "after",
            days.to.next_day().map_or_else(|| "~".into(), fmt_day),
        ))
        .bind(("month_end", fmt_day(month_end)))
        .bind((
            "next_month",
            month_end.next_day().map_or_else(|| "~".into(), fmt_month),
        ));
    let current = Split::of(days.from, days.to);
    let previous = Split::of(days.previous_from, days.previous_to);
    for bound in current.bind("c").into_iter().chain(previous.bind("p")) {
        q = q.bind(bound);
    }
    let mut r = q.await?.check()?;
    let day_rows: Vec<ShopRow> = rows(r.take(0)?);
    let mut previous_rows: Vec<ShopRow> = Vec::new();
    for i in 1..=3 {
        previous_rows.extend(rows::<ShopRow>(r.take(i)?));
    }
    let mut later: Vec<ShopRow> = rows(r.take(4)?);
    later.extend(rows::<ShopRow>(r.take(5)?));
    let mut sketches: Vec<Vec<String>> = Vec::new();
    for i in 6..=11 {
        sketches.push(r.take(i)?);
    }
    let mut products: Vec<Vec<ProductRow>> = Vec::new();
    for i in 12..=14 {
        products.push(rows(r.take(i)?));
    }
    let shop_row: Vec<Value> = r.take(15)?;
    let (now_sketches, prev_sketches) = sketches.split_at(3);

    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let shop_row = shop_row.first();
    let followers_now = shop_row.map_or(0, |s| num(s, "followers"));
    // Followers when the range began: those now, less the net follows
    // since it began.
    let net = |rows: &[ShopRow]| rows.iter().map(|r| r.follows - r.unfollows).sum::<i64>();
    let mut followers = followers_now - net(&later) - net(&day_rows);
    let previous_refs: Vec<&ShopRow> = previous_rows.iter().collect();
    let previous_totals = shop_totals(&previous_refs, visitors(prev_sketches));
    let by_day: HashMap<&str, &ShopRow> = day_rows.iter().map(|r| (r.day.as_str(), r)).collect();
    let mut series = Vec::new();
    for d in Days::each(days.from, days.to) {
        let key = fmt_day(d);
        let r = by_day
            .get(key.as_str())
            .copied()
            .cloned()
            .unwrap_or_default();
        followers += r.follows - r.unfollows;
        series.push(ShopDay {
            day: key,
            revenue: r.placed_total - r.cancelled_total,
            orders: r.placed,
            units: r.units,
            product_views: r.views,
            cart_adds: r.cart_adds,
            unique_visitors: r.visitors,
            followers,
        });
    }
    let current_refs: Vec<&ShopRow> = day_rows.iter().collect();

    Ok(ShopAnalytics {
        shop_id: shop_id.to_owned(),
        currency: currency(
            shop_row
                .and_then(|s| s.get("currency"))
                .and_then(Value::as_str),
        ),
        from,
        to,
        previous_from: pfrom,
        previous_to: pto,
        current: shop_totals(&current_refs, visitors(now_sketches)),
        previous: previous_totals,
        days: series,
        top_products: top_products(products),
        followers: followers_now,
    })
}

const PLATFORM_QUERY: &str = "
    SELECT * OMIT id FROM an_platform_day WHERE day >= $pfrom AND day <= $to;
    SELECT shop, math::sum(placed) AS placed, math::sum(placed_total) AS placed_total,
        math::sum(cancelled_total) AS cancelled_total
        FROM an_shop_day WHERE day >= $from AND day <= $to AND placed > 0 GROUP BY shop;
    SELECT shop FROM an_shop_day WHERE day >= $pfrom AND day <= $pto AND placed > 0 GROUP BY shop;
    SELECT category, day, placed, placed_total, cancelled_total, units
        FROM an_category_day WHERE day >= $pfrom AND day <= $to;
";

/// The categories' days summed per category, for the range and the one
/// before; ranked by GMV, then orders; the first [`TOP`].
fn top_categories(rows: &[CategoryRow], from: &str) -> Vec<CategoryStat> {
    let mut by_category: HashMap<&str, CategoryStat> = HashMap::new();
    for r in rows {
        let stat = by_category
            .entry(r.category.as_str())
            .or_insert_with(|| CategoryStat {
                category_id: r.category.clone(),
                ..CategoryStat::default()
            });
        let gmv = r.placed_total - r.cancelled_total;
        if r.day.as_str() >= from {
            stat.gmv += gmv;
            stat.orders += r.placed;
            stat.units += r.units;
        } else {
            stat.previous_gmv += gmv;
            stat.previous_orders += r.placed;
            stat.previous_units += r.units;
        }
    }
    let mut top: Vec<CategoryStat> = by_category
        .into_values()
        .filter(|c| c.orders > 0 || c.gmv != 0)
        .collect();
    top.sort_by(|a, b| (b.gmv, b.orders, &a.category_id).cmp(&(a.gmv, a.orders, &b.category_id)));
    top.truncate(TOP);
    top
}

/// The platform's figures over `days` (and the days before).
pub async fn platform(db: &Db, days: Days) -> Result<PlatformAnalytics, AnalyticsError> {
    let (from, to) = (fmt_day(days.from), fmt_day(days.to));
    let (pfrom, pto) = (fmt_day(days.previous_from), fmt_day(days.previous_to));
    let mut r = db
        .query(PLATFORM_QUERY)
        .bind(("from", from.clone()))
        .bind(("to", to.clone()))
        .bind(("pfrom", pfrom.clone()))
        .bind(("pto", pto.clone()))
        .await?
        .check()?;
    let day_rows: Vec<PlatformRow> = rows(r.take(0)?);
    let groups: Vec<ShopGroup> = rows(r.take(1)?);
    let previous_active: Vec<Value> = r.take(2)?;
    let categories: Vec<CategoryRow> = rows(r.take(3)?);

    let totals = |rows: &[&PlatformRow], active: usize| {
        let mut t = PlatformTotals::default();
        for r in rows {
            t.gmv += r.placed_total - r.cancelled_total;
            t.fees += r.fees - r.cancelled_fees;
            t.orders += r.placed;
            t.cancelled += r.cancelled;
            t.new_buyers += r.new_buyers;
            t.new_sellers += r.new_sellers;
            t.product_views += r.views;
        }
        t.active_shops = active as i64;
        t
    };
    let current: Vec<&PlatformRow> = day_rows.iter().filter(|r| r.day >= from).collect();
    let previous: Vec<&PlatformRow> = day_rows.iter().filter(|r| r.day <= pto).collect();
    let by_day: BTreeMap<&str, &PlatformRow> =
        day_rows.iter().map(|r| (r.day.as_str(), r)).collect();
    let series = Days::each(days.from, days.to)
        .map(|d| {
            let key = fmt_day(d);
            let r = by_day
                .get(key.as_str())
                .copied()
                .cloned()
                .unwrap_or_default();
            PlatformDay {
                day: key,
                gmv: r.placed_total - r.cancelled_total,
                fees: r.fees - r.cancelled_fees,
                orders: r.placed,
                new_buyers: r.new_buyers,
                new_sellers: r.new_sellers,
                active_shops: r.active_shops,
            }
        })
        .collect();

    let mut top: Vec<ShopStat> = groups
        .iter()
        .map(|g| ShopStat {
            shop_id: g.shop.clone(),
            name: String::new(),
            revenue: g.placed_total - g.cancelled_total,
            orders: g.placed,
        })
        .collect();
    top.sort_by(|a, b| (b.revenue, &a.shop_id).cmp(&(a.revenue, &b.shop_id)));
    top.truncate(TOP);
    let ids: Vec<String> = top.iter().map(|s| s.shop_id.clone()).collect();
    let mut names = db
        .query("SELECT record::id(id) AS id, name FROM $ids.map(|$i| type::record('an_shop', $i))")
        .bind(("ids", ids))
        .await?
        .check()?;
    let names: Vec<Value> = names.take(0)?;
    let names: HashMap<String, String> = names
        .into_iter()
        .filter_map(|n| {
            Some((
                n.get("id")?.as_str()?.to_owned(),
                n.get("name")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    for s in &mut top {
        s.name = names.get(&s.shop_id).cloned().unwrap_or_default();
    }

    let code = day_rows.iter().rev().find_map(|r| r.currency.as_deref());
    let top_categories = top_categories(&categories, &from);
    Ok(PlatformAnalytics {
        currency: currency(code),
        from,
        to,
        previous_from: pfrom,
        previous_to: pto,
        current: totals(&current, groups.len()),
        previous: totals(&previous, previous_active.len()),
        days: series,
        top_shops: top,
        top_categories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_has_a_previous_one_as_long() {
        let d = Days::check(&AnalyticsRange {
            from: "2026-03-01".into(),
            to: "2026-03-07".into(),
            shop_id: None,
        })
        .unwrap();
        assert_eq!(fmt_day(d.previous_from), "2026-02-22");
        assert_eq!(fmt_day(d.previous_to), "2026-02-28");
        assert_eq!(Days::each(d.from, d.to).count(), 7);
        assert!(
            Days::check(&AnalyticsRange {
                from: "2026-03-08".into(),
                to: "2026-03-07".into(),
                shop_id: None
            })
            .is_err()
        );
        assert!(parse_day("2026-3-1").is_none());
    }

    #[test]
    fn a_range_reads_its_whole_months_and_the_days_around_them() {
        let day = |s: &str| parse_day(s).unwrap();
        let span = |from: &str, to: &str| Span {
            from: from.into(),
            to: to.into(),
        };
        let year = Split::of(day("2025-12-07"), day("2026-12-06"));
        assert_eq!(year.head, span("2025-12-07", "2025-12-31"));
        assert_eq!(year.months, span("2026-01", "2026-11"));
        assert_eq!(year.tail, span("2026-12-01", "2026-12-06"));
        let whole = Split::of(day("2025-01-01"), day("2025-12-31"));
        assert_eq!(whole.head, Span::empty());
        assert_eq!(whole.months, span("2025-01", "2025-12"));
        assert_eq!(whole.tail, Span::empty());
        let week = Split::of(day("2026-03-01"), day("2026-03-07"));
        assert_eq!(week.head, span("2026-03-01", "2026-03-07"));
        assert_eq!(week.months, Span::empty());
        let across = Split::of(day("2026-02-20"), day("2026-03-10"));
        assert_eq!(across.head, span("2026-02-20", "2026-03-10"));
    }
}

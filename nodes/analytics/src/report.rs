//! Answering from the rollups: a shop's figures and the platform's, over a
//! range of days and the same number of days before it. Every figure is a
//! sum of rollup rows (one per shop, product or platform and day); nothing
//! here reads an order.

use std::collections::{BTreeMap, HashMap};

use bazaar_schema::Db;
use bazaar_subjects::analytics::{
    AnalyticsRange, MAX_RANGE_DAYS, PlatformAnalytics, PlatformDay, PlatformTotals, ProductStat,
    ShopAnalytics, ShopDay, ShopStat, ShopTotals, TOP,
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

/// One shop's day as stored.
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
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct ShopGroup {
    shop: String,
    placed: i64,
    placed_total: i64,
    cancelled_total: i64,
}

fn rows<T: for<'de> Deserialize<'de>>(v: Vec<Value>) -> Vec<T> {
    v.into_iter()
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

const SHOP_QUERY: &str = "
    SELECT * OMIT id FROM an_shop_day WHERE shop = $shop AND day >= $pfrom AND day <= $to;
    SELECT math::sum(follows) AS follows, math::sum(unfollows) AS unfollows
        FROM an_shop_day WHERE shop = $shop AND day < $pfrom GROUP ALL;
    SELECT day, sketch FROM an_visitors WHERE shop = $shop AND day >= $pfrom AND day <= $to;
    SELECT product, math::sum(units) AS units, math::sum(orders) AS orders,
        math::sum(views) AS views, math::sum(cart_adds) AS cart_adds
        FROM an_product_day WHERE shop = $shop AND day >= $from AND day <= $to GROUP BY product;
    SELECT followers, currency FROM type::record('an_shop', $shop);
";

/// A shop's figures over `days` (and the days before).
pub async fn shop(db: &Db, shop_id: &str, days: Days) -> Result<ShopAnalytics, AnalyticsError> {
    let (from, to) = (fmt_day(days.from), fmt_day(days.to));
    let (pfrom, pto) = (fmt_day(days.previous_from), fmt_day(days.previous_to));
    let mut r = db
        .query(SHOP_QUERY)
        .bind(("shop", shop_id.to_owned()))
        .bind(("from", from.clone()))
        .bind(("to", to.clone()))
        .bind(("pfrom", pfrom.clone()))
        .await?
        .check()?;
    let day_rows: Vec<ShopRow> = rows(r.take(0)?);
    let before: Vec<Value> = r.take(1)?;
    let sketches: Vec<Value> = r.take(2)?;
    let products: Vec<ProductRow> = rows(r.take(3)?);
    let shop_row: Vec<Value> = r.take(4)?;

    let by_day: HashMap<&str, &ShopRow> = day_rows.iter().map(|r| (r.day.as_str(), r)).collect();
    let current: Vec<&ShopRow> = day_rows.iter().filter(|r| r.day >= from).collect();
    let previous: Vec<&ShopRow> = day_rows.iter().filter(|r| r.day <= pto).collect();

    let (mut now_v, mut prev_v) = (Visitors::new(), Visitors::new());
    for s in &sketches {
        let (Some(day), Some(json)) = (
            s.get("day").and_then(Value::as_str),
            s.get("sketch").and_then(Value::as_str),
        ) else {
            continue;
        };
        let sketch = Visitors::from_json(json);
        if day >= from.as_str() {
            now_v.merge(&sketch);
        } else {
            prev_v.merge(&sketch);
        }
    }

    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut followers = before
        .first()
        .map_or(0, |b| num(b, "follows") - num(b, "unfollows"));
    let mut series = Vec::new();
    for d in Days::each(days.previous_from, days.to) {
        let key = fmt_day(d);
        let row = by_day.get(key.as_str());
        if let Some(r) = row {
            followers += r.follows - r.unfollows;
        }
        if d < days.from {
            continue;
        }
        let r = row.copied().cloned().unwrap_or_default();
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

    let mut top: Vec<ProductStat> = products
        .into_iter()
        .map(|p| ProductStat {
            product_id: p.product,
            units: p.units,
            orders: p.orders,
            views: p.views,
            cart_adds: p.cart_adds,
        })
        .collect();
    top.sort_by(|a, b| (b.units, b.views, &a.product_id).cmp(&(a.units, a.views, &b.product_id)));
    top.truncate(TOP);

    let shop_row = shop_row.first();
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
        current: shop_totals(&current, now_v.count()),
        previous: shop_totals(&previous, prev_v.count()),
        days: series,
        top_products: top,
        followers: shop_row.map_or(0, |s| num(s, "followers")),
    })
}

const PLATFORM_QUERY: &str = "
    SELECT * OMIT id FROM an_platform_day WHERE day >= $pfrom AND day <= $to;
    SELECT shop, math::sum(placed) AS placed, math::sum(placed_total) AS placed_total,
        math::sum(cancelled_total) AS cancelled_total
        FROM an_shop_day WHERE day >= $from AND day <= $to AND placed > 0 GROUP BY shop;
    SELECT shop FROM an_shop_day WHERE day >= $pfrom AND day <= $pto AND placed > 0 GROUP BY shop;
";

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
}

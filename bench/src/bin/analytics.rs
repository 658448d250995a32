//! The seller dashboard of a busy shop: a year of orders (100,000 by
//! default, spread over 365 days and 50 products, with a product view and
//! a visitor for each) sent as events to the analytics node, then the
//! seller overview page (`/seller`, which reads the figures from the
//! rollups) requested over the last 30 and 90 days and the whole year.
//! Prints how long the rollups took to take the events in and each range's
//! latency (p50, p99, max). A benchmark: it prints numbers, it never fails
//! on timing.
//!
//! Everything runs in this process, as the platform tests do: a real
//! nats-server, SurrealDB in memory, every node and an edge.

use std::time::{Duration, Instant};

use bazaar_runtime::jetstream::publish_event;
use bazaar_subjects::Currency;
use bazaar_subjects::analytics::{AnalyticsRange, GetShopAnalytics};
use bazaar_subjects::catalog::ProductViewed;
use bazaar_subjects::orders::{
    OrderEvent, OrderEventItem, OrderPlaced, OrderStatus, PaymentStatus,
};
use bazaar_tests::Platform;
use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "The seller dashboard of a shop with a year of orders")]
struct Args {
    /// Orders over the year.
    #[arg(long, default_value_t = 100_000)]
    orders: u64,
    /// Requests per range.
    #[arg(long, default_value_t = 200)]
    requests: u64,
    /// Send the orders as events through the analytics node (its intake is
    /// what is timed then) instead of writing the rollups they lead to
    /// straight into the database.
    #[arg(long)]
    via_events: bool,
}

const YEAR_START: &str = "2025-12-07";

fn day(i: u64) -> String {
    let start = time::Date::from_calendar_date(2025, time::Month::December, 7).expect("a day");
    let d = start + time::Duration::days((i % 365) as i64);
    d.to_string()
}

/// The value of `key` in a query string of ours.
fn query_value(query: &str, key: &str) -> String {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_default()
        .to_owned()
}

/// The month (`YYYY-MM`) of a day.
fn month(day: &str) -> String {
    bazaar_analytics::rollup::month_of(day).to_owned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    bazaar_tests::install_crypto();
    let p = Platform::spawn().await;
    p.create_categories(&[("Electronics", &["Audio"])]).await;
    let (seller, shop) = p.seller_with_shop("Busy Bazaar", "electronics").await;

    let sent = Instant::now();
    if args.via_events {
        send_events(&p, &shop.id, args.orders).await;
    } else {
        write_rollups(&p, &shop.id, args.orders).await?;
        println!(
            "wrote the rollups of {} orders in {:.1} s",
            args.orders,
            sent.elapsed().as_secs_f64()
        );
    }
    // Until the rollups hold every order.
    let meta = bazaar_runtime::RequestMeta {
        request_id: "bench".into(),
        authorization: Some(seller.clone()),
    };
    let year = AnalyticsRange {
        from: YEAR_START.into(),
        to: day(364),
        shop_id: None,
    };
    loop {
        let a = bazaar_runtime::call::<GetShopAnalytics>(
            &p.ctx.nats,
            &meta,
            &year,
            Duration::from_secs(30),
        )
        .await;
        if a.is_ok_and(|a| a.current.orders as u64 >= args.orders) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if args.via_events {
        let counted = sent.elapsed();
        println!(
            "rollups took in every order {:.1} s after the first was sent ({:.0} events/s)",
            counted.as_secs_f64(),
            (2 * args.orders) as f64 / counted.as_secs_f64()
        );
    }

    let ranges = [
        (
            "last 30 days",
            format!("range=custom&from={}&to={}", day(335), day(364)),
        ),
        (
            "last 90 days",
            format!("range=custom&from={}&to={}", day(275), day(364)),
        ),
        (
            "the year",
            format!("range=custom&from={YEAR_START}&to={}", day(364)),
        ),
    ];
    for (name, query) in ranges {
        let url = p.url(&format!("/seller?{query}"));
        let mut latency = Histogram::<u64>::new(3)?;
        let mut failed = 0;
        for _ in 0..args.requests {
            let t = Instant::now();
            let r = p
                .http
                .get(&url)
                .header("cookie", format!("bazaar_access={seller}"))
                .send()
                .await?;
            let ok = r.status().is_success();
            let body = r.text().await?;
            if !ok || !body.contains("id=\"chart-revenue\"") {
                failed += 1;
            }
            latency.record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX))?;
        }
        // The analytics node's answer alone, without the edge's page.
        let asked = AnalyticsRange {
            from: query_value(&query, "from"),
            to: query_value(&query, "to"),
            shop_id: None,
        };
        let mut node = Histogram::<u64>::new(3)?;
        for _ in 0..args.requests {
            let t = Instant::now();
            let a = bazaar_runtime::call::<GetShopAnalytics>(
                &p.ctx.nats,
                &meta,
                &asked,
                Duration::from_secs(30),
            )
            .await;
            if a.is_err() {
                failed += 1;
            }
            node.record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX))?;
        }
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{}",
            json!({
                "range": name,
                "requests": args.requests,
                "failed": failed,
                "p50_ms": ms(&latency, 0.5),
                "p99_ms": ms(&latency, 0.99),
                "max_ms": latency.max() as f64 / 1000.0,
                "node_p50_ms": ms(&node, 0.5),
                "node_p99_ms": ms(&node, 0.99),
            })
        );
    }
    p.stop().await;
    Ok(())
}

/// The orders and their views as the orders and catalog nodes announce
/// them: order `i` on day `i % 365`, product `i % 50`, visitor `i % 40,000`.
async fn send_events(p: &Platform, shop_id: &str, orders: u64) {
    let js = p.ctx.jetstream.clone();
    let shop_id = shop_id.to_owned();
    let sent = Instant::now();
    futures::stream::iter(0..orders)
        .map(|i| {
            let (js, shop_id) = (js.clone(), shop_id.clone());
            async move {
                let at = format!("{}T{:02}:00:00Z", day(i), i % 24);
                let product = format!("p{}", i % 50);
                let order = OrderPlaced(OrderEvent {
                    order_id: format!("o{i}"),
                    number: format!("{i}"),
                    buyer_id: format!("b{}", i % 20_000),
                    shop_id: shop_id.clone(),
                    status: OrderStatus::Ordered,
                    payment_status: PaymentStatus::Pending,
                    total: 1_000 + (i % 9_000) as i64,
                    currency: Currency::USD,
                    product_ids: vec![product.clone()],
                    items: vec![OrderEventItem {
                        product_id: product.clone(),
                        quantity: 1 + (i % 3) as i64,
                        revenue: 1_000 + (i % 9_000) as i64,
                        category_id: Some("electronics".into()),
                    }],
                    platform_fee: 100,
                    at: Some(at.clone()),
                });
                let view = ProductViewed {
                    product_id: product,
                    shop_id,
                    account_id: None,
                    at,
                    visitor_id: Some(format!("{:032x}", i % 40_000)),
                };
                publish_event(&js, &order, &format!("bench-order-{i}")).await?;
                publish_event(&js, &view, &format!("bench-view-{i}")).await?;
                Ok::<(), async_nats::Error>(())
            }
        })
        .buffer_unordered(64)
        .for_each(|r| async move {
            if let Err(e) = r {
                eprintln!("publish failed: {e}");
            }
        })
        .await;
    let published = sent.elapsed();
    println!(
        "published {} orders and {} views in {:.1} s",
        orders,
        orders,
        published.as_secs_f64()
    );
}

/// The rollup rows the same orders lead to, written in bulk: one row per
/// day for the shop and the platform, one per product and day (keyed by
/// the product and by the shop), a visitor sketch per day, and the same per
/// month for the shop, its products and its visitors.
async fn write_rollups(p: &Platform, shop_id: &str, orders: u64) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    let mut shop_days: BTreeMap<u64, [i64; 5]> = BTreeMap::new();
    let mut product_days: BTreeMap<(u64, u64), [i64; 4]> = BTreeMap::new();
    let mut sketches: BTreeMap<u64, bazaar_analytics::sketch::Visitors> = BTreeMap::new();
    let mut month_sketches: BTreeMap<String, bazaar_analytics::sketch::Visitors> = BTreeMap::new();
    for i in 0..orders {
        let d = i % 365;
        let total = 1_000 + (i % 9_000) as i64;
        let units = 1 + (i % 3) as i64;
        let s = shop_days.entry(d).or_default();
        s[0] += 1;
        s[1] += total;
        s[2] += units;
        s[3] += 1;
        s[4] += 100;
        let pd = product_days.entry((i % 50, d)).or_default();
        pd[0] += 1;
        pd[1] += units;
        pd[2] += 1;
        pd[3] += total;
        let visitor = format!("{:032x}", i % 40_000);
        sketches.entry(d).or_default().insert(&visitor);
        month_sketches
            .entry(month(&day(d)))
            .or_default()
            .insert(&visitor);
    }
    let mut shop_rows = Vec::new();
    let mut platform_rows = Vec::new();
    let mut sketch_rows = Vec::new();
    let mut shop_months: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    for (d, counts) in &shop_days {
        let m = shop_months.entry(month(&day(*d))).or_default();
        for (sum, c) in m.iter_mut().zip(counts) {
            *sum += c;
        }
    }
    let shop_month_rows: Vec<serde_json::Value> = shop_months
        .iter()
        .map(|(m, [placed, placed_total, units, views, fees])| {
            json!({
                "id": [shop_id, m], "shop": shop_id, "month": m, "placed": placed,
                "placed_total": placed_total, "units": units, "views": views, "fees": fees,
            })
        })
        .collect();
    let month_sketch_rows: Vec<serde_json::Value> = month_sketches
        .iter()
        .map(|(m, sketch)| {
            json!({
                "id": [shop_id, m], "shop": shop_id, "month": m, "sketch": sketch.to_json(), "rev": 1,
            })
        })
        .collect();
    for (d, [placed, placed_total, units, views, fees]) in &shop_days {
        let day = day(*d);
        let sketch = sketches.get_mut(d).expect("a sketch per day");
        shop_rows.push(json!({
            "id": [shop_id, day], "shop": shop_id, "day": day, "placed": placed,
            "placed_total": placed_total, "units": units, "views": views, "fees": fees,
            "visitors": sketch.count(),
        }));
        platform_rows.push(json!({
            "id": day, "day": day, "placed": placed, "placed_total": placed_total,
            "fees": fees, "views": views, "active_shops": 1, "currency": "USD",
        }));
        sketch_rows.push(json!({
            "id": [shop_id, day], "shop": shop_id, "day": day, "sketch": sketch.to_json(), "rev": 1,
        }));
    }
    let product_rows: Vec<serde_json::Value> = product_days
        .iter()
        .map(|((product, d), [orders, units, views, revenue])| {
            let (product, day) = (format!("p{product}"), day(*d));
            json!({
                "id": [product, day], "product": product, "shop": shop_id, "day": day,
                "orders": orders, "units": units, "views": views, "revenue": revenue,
            })
        })
        .collect();
    let shop_product_rows: Vec<serde_json::Value> = product_days
        .iter()
        .map(|((product, d), [orders, units, views, revenue])| {
            let (product, day) = (format!("p{product}"), day(*d));
            json!({
                "id": [shop_id, day, product], "product": product, "shop": shop_id, "day": day,
                "orders": orders, "units": units, "views": views, "revenue": revenue,
            })
        })
        .collect();
    let mut product_months: BTreeMap<(u64, String), [i64; 4]> = BTreeMap::new();
    for ((product, d), counts) in &product_days {
        let m = product_months
            .entry((*product, month(&day(*d))))
            .or_default();
        for (sum, c) in m.iter_mut().zip(counts) {
            *sum += c;
        }
    }
    let product_month_rows: Vec<serde_json::Value> = product_months
        .iter()
        .map(|((product, m), [orders, units, views, revenue])| {
            let product = format!("p{product}");
            json!({
                "id": [shop_id, m, product], "product": product, "shop": shop_id, "month": m,
                "orders": orders, "units": units, "views": views, "revenue": revenue,
            })
        })
        .collect();
    // The shop's opening already counted a new seller today: these rows
    // replace the platform's days.
    p.db.query("DELETE an_platform_day").await?.check()?;
    for (table, rows) in [
        ("an_shop_day", shop_rows),
        ("an_platform_day", platform_rows),
        ("an_visitors", sketch_rows),
        ("an_product_day", product_rows),
        ("an_shop_month", shop_month_rows),
        ("an_visitors_month", month_sketch_rows),
        ("an_product_month", product_month_rows),
        ("an_shop_product_day", shop_product_rows),
    ] {
        for chunk in rows.chunks(1_000) {
            p.db.query(format!("INSERT INTO {table} $rows RETURN NONE"))
                .bind(("rows", serde_json::Value::Array(chunk.to_vec())))
                .await?
                .check()?;
        }
    }
    p.db.query("UPSERT type::record('an_shop', $shop) SET currency = 'USD' RETURN NONE")
        .bind(("shop", shop_id.to_owned()))
        .await?
        .check()?;
    Ok(())
}

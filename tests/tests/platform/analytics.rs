//! Analytics stories: a seller reads their shop's figures (and no one
//! else's), the rollups equal a recount of the raw events whatever is
//! delivered twice, charts draw for an empty shop and a year of orders, and
//! every table exports as CSV that reads back.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use bazaar_runtime::RequestMeta;
use bazaar_runtime::jetstream::publish_event;
use bazaar_subjects::analytics::{
    AnalyticsRange, GetPlatformAnalytics, GetShopAnalytics, PlatformAnalytics, ShopAnalytics,
};
use bazaar_subjects::catalog::{ProductChange, ProductChanged, ProductViewed};
use bazaar_subjects::orders::{
    OrderCancelled, OrderEvent, OrderEventItem, OrderPlaced, OrderStatus, PaymentStatus,
};
use bazaar_subjects::sellers::{ShopChanged, ShopFollowed};
use bazaar_subjects::{Currency, Domain, Endpoint, ErrorEnvelope, Event, Role};
use bazaar_tests::story::{Visitor, ok_as};
use bazaar_tests::{Options, Platform, eventually};
use futures::StreamExt;
use time::OffsetDateTime;

use crate::catalog::{categories, create};
use crate::commerce::{add, cod_product, place_cod, with_test_payments};

fn today() -> String {
    let d = OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn range(from: &str, to: &str) -> AnalyticsRange {
    AnalyticsRange {
        from: from.into(),
        to: to.into(),
        shop_id: None,
    }
}

/// Asks the analytics node straight over NATS, as the holder of `token`.
async fn ask<E: Endpoint>(
    p: &Platform,
    token: &str,
    body: &E::Request,
) -> Result<E::Reply, ErrorEnvelope> {
    let meta = RequestMeta {
        request_id: uuid::Uuid::now_v7().to_string(),
        authorization: Some(token.to_owned()),
    };
    bazaar_runtime::call::<E>(&p.ctx.nats, &meta, body, Duration::from_secs(10)).await
}

async fn publish<E: Event>(p: &Platform, event: &E) {
    let id = uuid::Uuid::new_v4().to_string();
    publish_event(&p.ctx.jetstream, event, &id).await.unwrap();
}

fn order(id: &str, shop: &str, buyer: &str, total: i64, units: i64, at: &str) -> OrderEvent {
    OrderEvent {
        order_id: id.into(),
        number: id.into(),
        buyer_id: buyer.into(),
        shop_id: shop.into(),
        status: OrderStatus::Ordered,
        payment_status: PaymentStatus::Pending,
        total,
        currency: Currency::EUR,
        product_ids: vec!["p-lamp".into()],
        items: vec![OrderEventItem {
            product_id: "p-lamp".into(),
            quantity: units,
            revenue: total,
            category_id: Some("lighting".into()),
        }],
        platform_fee: total / 10,
        at: Some(at.into()),
    }
}

/// An order of a lamp and a shade (another category), `units` of each,
/// the shade paid `shade` of the total.
fn two_item_order(
    id: &str,
    shop: &str,
    total: i64,
    shade: i64,
    units: i64,
    at: &str,
) -> OrderEvent {
    let mut o = order(id, shop, "b-two", total, units, at);
    o.items[0].revenue = total - shade;
    o.items.push(OrderEventItem {
        product_id: "p-shade".into(),
        quantity: units,
        revenue: shade,
        category_id: Some("decor".into()),
    });
    o.product_ids.push("p-shade".into());
    o
}

/// Per product and per category, as the order events of the streams say
/// (each order once): what was paid less what was cancelled, and for the
/// categories their orders and units too.
#[derive(Debug, Default, PartialEq, Eq)]
struct Split {
    products: BTreeMap<String, i64>,
    categories: BTreeMap<String, (i64, i64, i64)>,
}

async fn recount_split(p: &Platform, shop: &str) -> Split {
    let placed: BTreeMap<String, OrderEvent> = p
        .events_of::<OrderPlaced>()
        .await
        .into_iter()
        .filter(|e| e.0.shop_id == shop)
        .map(|e| (e.0.order_id.clone(), e.0))
        .collect();
    let cancelled: HashSet<String> = p
        .events_of::<OrderCancelled>()
        .await
        .into_iter()
        .filter(|e| e.0.shop_id == shop)
        .map(|e| e.0.order_id)
        .collect();
    let mut split = Split::default();
    for (id, o) in &placed {
        let sign = if cancelled.contains(id) { 0 } else { 1 };
        let mut seen = HashSet::new();
        for item in &o.items {
            *split.products.entry(item.product_id.clone()).or_default() += sign * item.revenue;
            let Some(c) = item.category_id.clone() else {
                continue;
            };
            let e = split.categories.entry(c.clone()).or_default();
            e.0 += sign * item.revenue;
            e.2 += item.quantity;
            if seen.insert(c) {
                e.1 += 1;
            }
        }
    }
    split
}

/// The same, as the analytics node answers them.
async fn split_of(p: &Platform, seller: &str, admin: &str, asked: &AnalyticsRange) -> Split {
    let shop = ask::<GetShopAnalytics>(p, seller, asked).await.unwrap();
    let platform = ask::<GetPlatformAnalytics>(p, admin, asked).await.unwrap();
    Split {
        products: shop
            .top_products
            .iter()
            .map(|t| (t.product_id.clone(), t.revenue))
            .collect(),
        categories: platform
            .top_categories
            .iter()
            .map(|c| (c.category_id.clone(), (c.gmv, c.orders, c.units)))
            .collect(),
    }
}

fn view(shop: &str, visitor: &str, at: &str) -> ProductViewed {
    ProductViewed {
        product_id: "p-lamp".into(),
        shop_id: shop.into(),
        account_id: None,
        at: at.into(),
        visitor_id: Some(visitor.into()),
    }
}

/// What the raw events say, counted here from the streams themselves: the
/// revenue (placed less cancelled, each order once), orders, units and
/// views of `shop`, and its distinct visitors.
async fn recount(p: &Platform, shop: &str) -> (i64, i64, i64, i64, usize) {
    let mut placed: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for e in p.events_of::<OrderPlaced>().await {
        if e.0.shop_id == shop {
            let units = e.0.items.iter().map(|i| i.quantity).sum();
            placed.insert(e.0.order_id.clone(), (e.0.total, units));
        }
    }
    let cancelled: HashSet<String> = p
        .events_of::<OrderCancelled>()
        .await
        .into_iter()
        .filter(|e| e.0.shop_id == shop)
        .map(|e| e.0.order_id)
        .collect();
    let gross: i64 = placed.values().map(|(t, _)| t).sum();
    let reversed: i64 = cancelled
        .iter()
        .filter_map(|id| placed.get(id))
        .map(|(t, _)| t)
        .sum();
    let units = placed.values().map(|(_, u)| u).sum();
    let views: Vec<ProductViewed> = p
        .views()
        .await
        .into_iter()
        .filter(|v| v.shop_id == shop)
        .collect();
    let visitors: HashSet<String> = views
        .iter()
        .filter_map(|v| v.account_id.clone().or(v.visitor_id.clone()))
        .collect();
    (
        gross - reversed,
        placed.len() as i64,
        units,
        views.len() as i64,
        visitors.len(),
    )
}

/// A shop's revenue, orders, units, views and unique visitors, as the
/// analytics node answers them.
async fn figures_of(
    p: &Platform,
    token: &str,
    asked: &AnalyticsRange,
) -> (i64, i64, i64, i64, usize) {
    ask::<GetShopAnalytics>(p, token, asked)
        .await
        .map(|a| {
            (
                a.current.revenue,
                a.current.orders,
                a.current.units,
                a.current.product_views,
                a.current.unique_visitors as usize,
            )
        })
        .unwrap_or_default()
}

struct Quiet;
impl bazaar_analytics::Progress for Quiet {
    fn stream(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Every message of the analytics streams applied again, as a redelivery
/// of all of them would.
async fn redeliver_everything(p: &Platform) {
    for s in bazaar_analytics::rollup::STREAMS {
        let stream = p.ctx.jetstream.get_stream(s.name).await.unwrap();
        let consumer = stream
            .create_consumer(async_nats::jetstream::consumer::pull::Config {
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut batch = consumer
            .fetch()
            .max_messages(10_000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        let mut facts = Vec::new();
        while let Some(Ok(msg)) = batch.next().await {
            facts.extend(bazaar_analytics::rollup::facts_of(&msg));
        }
        bazaar_analytics::rollup::apply(&p.db, &facts)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn analytics_rollups_equal_a_recount_after_duplicates_redeliveries_and_a_restart() {
    let p = Platform::spawn_with(Options {
        without: vec![Domain::Analytics],
        ..Default::default()
    })
    .await;
    for s in bazaar_analytics::rollup::STREAMS {
        bazaar_runtime::jetstream::ensure_stream(&p.ctx.jetstream, s)
            .await
            .unwrap();
    }
    let (owner, seller) = p.account("Lamp Seller", Role::Seller).await;
    let shop = "shop-lamps";
    publish(
        &p,
        &ShopChanged {
            shop_id: shop.into(),
            slug: "lamps".into(),
            name: "Lamps".into(),
            owner_id: owner.clone(),
            hidden: false,
        },
    )
    .await;
    publish(
        &p,
        &ProductChanged {
            product_id: "p-lamp".into(),
            slug: "lamp".into(),
            shop_id: shop.into(),
            change: ProductChange::Created,
            images: vec![],
        },
    )
    .await;
    for (i, day) in ["2026-03-02", "2026-03-02", "2026-03-03", "2026-03-04"]
        .iter()
        .enumerate()
    {
        let at = format!("{day}T10:00:00Z");
        let mut placed = order(
            &format!("o{i}"),
            shop,
            &format!("b{}", i % 2),
            1_000 * (i as i64 + 1),
            2,
            &at,
        );
        if i == 3 {
            // A lamp and a shade: 2 units in all, 1,500 of the 4,000 the shade's.
            placed = two_item_order("o3", shop, 4_000, 1_500, 1, &at);
            placed.buyer_id = "b1".into();
        }
        publish(&p, &OrderPlaced(placed)).await;
        publish(&p, &view(shop, &format!("v{}", i % 3), &at)).await;
    }
    // The same order announced twice (another message id, past the
    // stream's duplicate window as far as the rollups know).
    publish(
        &p,
        &OrderPlaced(order("o1", shop, "b1", 2_000, 2, "2026-03-02T10:00:00Z")),
    )
    .await;
    publish(
        &p,
        &OrderCancelled(order("o2", shop, "b0", 3_000, 2, "2026-03-05T09:00:00Z")),
    )
    .await;
    publish(
        &p,
        &ShopFollowed {
            shop_id: shop.into(),
            account_id: "b0".into(),
            following: true,
        },
    )
    .await;

    let node = p.start_node(Domain::Analytics);
    let asked = range("2026-03-01", "2026-03-07");
    let expected = recount(&p, shop).await;
    assert_eq!(expected, (1_000 + 2_000 + 4_000, 4, 8, 4, 3));
    let figures = || figures_of(&p, &seller, &asked);
    eventually("the rollups to count every event once", figures, |f| {
        *f == expected
    })
    .await;
    // Per product and per category too, the duplicated order once and the
    // cancelled one taken back out.
    let admin = p.token(Role::Admin);
    let split = || split_of(&p, &seller, &admin, &asked);
    let expected_split = recount_split(&p, shop).await;
    assert_eq!(
        expected_split,
        Split {
            products: [
                ("p-lamp".into(), 1_000 + 2_000 + 2_500),
                ("p-shade".into(), 1_500)
            ]
            .into(),
            categories: [
                ("decor".into(), (1_500, 1, 1)),
                ("lighting".into(), (5_500, 4, 7)),
            ]
            .into(),
        }
    );
    eventually(
        "products and categories to count every event once",
        split,
        |s| *s == expected_split,
    )
    .await;

    // Stopped: events go on arriving; restarted, the node carries on
    // from where its durable consumers were.
    node.stop().await;
    publish(
        &p,
        &OrderPlaced(order("o9", shop, "b9", 500, 1, "2026-03-06T12:00:00Z")),
    )
    .await;
    publish(&p, &view(shop, "v9", "2026-03-06T12:00:00Z")).await;
    let _node = p.start_node(Domain::Analytics);
    let expected = recount(&p, shop).await;
    assert_eq!(expected, (7_500, 5, 9, 5, 4));
    eventually("the restarted node to carry on", figures, |f| {
        *f == expected
    })
    .await;
    let expected_split = recount_split(&p, shop).await;
    assert_eq!(expected_split.products["p-lamp"], 6_000);
    eventually("products and categories to carry on", split, |s| {
        *s == expected_split
    })
    .await;

    // Every message delivered again changes nothing.
    redeliver_everything(&p).await;
    assert_eq!(figures().await, expected);
    assert_eq!(split().await, expected_split);
    let a = ask::<GetShopAnalytics>(&p, &seller, &asked).await.unwrap();
    assert_eq!(a.current.cancelled, 1);
    assert_eq!(a.followers, 1);
    assert_eq!(a.days.len(), 7);
    assert_eq!(a.days[1].orders, 2, "{:?}", a.days[1]);
    let platform: PlatformAnalytics = ask::<GetPlatformAnalytics>(&p, &admin, &asked)
        .await
        .unwrap();
    assert_eq!(platform.current.gmv, 7_500);
    assert_eq!(platform.current.fees, 750);
    assert_eq!(platform.current.new_buyers, 3);
    assert_eq!(platform.current.active_shops, 1);

    // A rebuild from the streams lands on the same figures.
    let applied = bazaar_analytics::rebuild(&p.db, &p.ctx.jetstream, &Quiet)
        .await
        .unwrap();
    assert!(applied >= 12, "{applied}");
    assert_eq!(figures().await, expected);
    assert_eq!(split().await, expected_split);
}

#[tokio::test]
async fn analytics_a_buyer_or_another_seller_is_refused_a_shops_figures() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, shop) = p.seller_with_shop("Own Figures", "electronics").await;
    let (other, _) = p.seller_with_shop("Nosy Neighbour", "electronics").await;
    let (_, buyer) = p.account("Curious Buyer", Role::Buyer).await;
    let today = today();
    let mine = range(&today, &today);
    eventually(
        "the seller to read their own shop",
        || async {
            ask::<GetShopAnalytics>(&p, &seller, &mine)
                .await
                .map(|a| a.shop_id)
                .ok()
        },
        |id| id.as_deref() == Some(shop.id.as_str()),
    )
    .await;
    let theirs = AnalyticsRange {
        shop_id: Some(shop.id.clone()),
        ..mine.clone()
    };
    let refused = ask::<GetShopAnalytics>(&p, &other, &theirs)
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403, "{refused:?}");
    let refused = ask::<GetShopAnalytics>(&p, &buyer, &theirs)
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403, "{refused:?}");
    let refused = ask::<GetPlatformAnalytics>(&p, &seller, &mine)
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403, "{refused:?}");
    let admin = p.token(Role::Admin);
    let read = ask::<GetShopAnalytics>(&p, &admin, &theirs).await.unwrap();
    assert_eq!(read.shop_id, shop.id);
    // Over HTTP too, as the node decides.
    let path = format!(
        "/api/seller/analytics?from={today}&to={today}&shop_id={}",
        shop.id
    );
    assert_eq!(p.get(&path, Some(&other)).await.status(), 403);
    assert_eq!(p.get(&path, Some(&buyer)).await.status(), 403);
    assert_eq!(
        p.get(
            "/api/admin/analytics?from=2026-01-01&to=2026-01-31",
            Some(&seller)
        )
        .await
        .status(),
        403
    );
    // The admins' page draws the platform's figures; a seller is turned away.
    let (_, real_admin) = p.account("Ada Admin", Role::Admin).await;
    let admin_browser = Visitor::new(&p);
    admin_browser.sign_in(&real_admin);
    let html = admin_browser.page("/admin/analytics?range=90").await;
    assert!(html.contains("Platform analytics"), "{html}");
    assert!(html.contains("<svg class=\"chart\" id=\"chart-gmv\" role=\"img\""));
    let csv = admin_browser
        .get("/admin/analytics.csv?table=days&range=7")
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv::Reader::from_reader(csv.html.as_bytes())
            .records()
            .count(),
        7
    );
    let (_, real_seller) = p.account("Sam Seller", Role::Seller).await;
    let seller_browser = Visitor::new(&p);
    seller_browser.sign_in(&real_seller);
    assert_eq!(seller_browser.get("/admin/analytics").await.status, 403);
    let bad = ask::<GetShopAnalytics>(&p, &seller, &range("2026-02-30", "2026-03-01"))
        .await
        .unwrap_err();
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn analytics_a_seller_sees_their_numbers_after_a_few_orders_and_exports_them() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (seller, _) = p.seller_with_shop("Counted Candles", "electronics").await;
    let candle = create(&p, &seller, &cod_product("Beeswax Candle", 1_250, 50)).await;
    // Two visitors open the product page (the edge gives each a cookie).
    for _ in 0..2 {
        let v = Visitor::new(&p);
        v.page(&format!("/products/{}", candle.slug)).await;
        v.page(&format!("/products/{}", candle.slug)).await;
    }
    let (_, buyer) = p.account("Candle Buyer", Role::Buyer).await;
    add(&p, &buyer, &candle.id, 2).await;
    place_cod(&p, &buyer, "first").await;
    add(&p, &buyer, &candle.id, 1).await;
    place_cod(&p, &buyer, "second").await;

    let today = today();
    let path = format!("/api/seller/analytics?from={today}&to={today}");
    let a: ShopAnalytics = eventually(
        "the seller's figures to show both orders",
        || async { ok_as::<ShopAnalytics>(p.get(&path, Some(&seller)).await).await },
        |a| a.current.orders == 2 && a.current.product_views >= 4 && a.current.cart_adds == 2,
    )
    .await;
    assert_eq!(a.current.revenue, 3 * 1_250);
    assert_eq!(a.current.units, 3);
    assert_eq!(a.current.average_order_value, 3 * 1_250 / 2);
    assert_eq!(a.current.unique_visitors, 2, "two cookies, two visitors");
    assert_eq!(a.top_products[0].product_id, candle.id);
    // Revenue per product and per category, as the orders placed say.
    let placed: Vec<OrderEvent> = p
        .events_of::<OrderPlaced>()
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(placed.len(), 2);
    let paid_for_candles: i64 = placed
        .iter()
        .flat_map(|o| &o.items)
        .filter(|i| i.product_id == candle.id)
        .map(|i| i.revenue)
        .sum();
    assert_eq!(paid_for_candles, 3 * 1_250);
    assert!(
        placed
            .iter()
            .flat_map(|o| &o.items)
            .all(|i| i.category_id.as_deref() == Some("electronics"))
    );
    assert_eq!(a.top_products[0].revenue, paid_for_candles);
    let (_, real_admin) = p.account("Ada Admin", Role::Admin).await;
    let platform = ask::<GetPlatformAnalytics>(&p, &real_admin, &range(&today, &today))
        .await
        .unwrap();
    let electronics = &platform.top_categories[0];
    assert_eq!(electronics.category_id, "electronics");
    assert_eq!(
        (electronics.gmv, electronics.orders, electronics.units),
        (paid_for_candles, 2, 3)
    );

    // The overview page shows them, with charts and their tables.
    let browser = Visitor::new(&p);
    browser.sign_in(&seller);
    let html = browser.page("/seller?range=7").await;
    assert!(html.contains("id=\"analytics\""), "{html}");
    assert!(
        html.contains("$37.50") || html.contains("37.50"),
        "revenue shown"
    );
    assert!(html.contains("Beeswax Candle"), "top product by name");
    assert!(html.contains("<svg class=\"chart\" id=\"chart-revenue\" role=\"img\""));
    assert!(html.contains("<title id=\"chart-revenue-title\">"));
    assert!(html.contains("Data table: Revenue per day"));

    // Each table as CSV reads back to the same figures.
    let csv_of = |table: &str| {
        format!("/seller/analytics.csv?table={table}&range=custom&from={today}&to={today}")
    };
    let r = browser.get(&csv_of("days")).await;
    assert_eq!(r.status, 200);
    let mut reader = csv::Reader::from_reader(r.html.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "day");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("day")], today.as_str());
    assert_eq!(&rows[0][col("revenue")], "37.50");
    assert_eq!(
        rows[0][col("orders")].parse::<i64>().unwrap(),
        a.days[0].orders
    );
    assert_eq!(
        rows[0][col("product_views")].parse::<i64>().unwrap(),
        a.days[0].product_views
    );
    let r = browser.get(&csv_of("products")).await;
    let mut reader = csv::Reader::from_reader(r.html.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][col("product_id")], candle.id.as_str());
    assert_eq!(rows[0][col("units")].parse::<i64>().unwrap(), 3);
    assert_eq!(&rows[0][col("revenue")], "37.50");
    assert_eq!(&rows[0][col("currency")], "USD");
    assert!(html.contains("Top products by revenue"));

    // The admins' top categories, by name, and as CSV.
    let admin_browser = Visitor::new(&p);
    admin_browser.sign_in(&real_admin);
    let html = admin_browser.page("/admin/analytics?range=7").await;
    assert!(html.contains("Top categories"), "{html}");
    assert!(
        html.contains("<th scope=\"row\" data-category=\"electronics\">Electronics</th>"),
        "{html}"
    );
    let r = admin_browser
        .get(&format!(
            "/admin/analytics.csv?table=categories&range=custom&from={today}&to={today}"
        ))
        .await;
    assert_eq!(r.status, 200);
    let mut reader = csv::Reader::from_reader(r.html.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][col("category_id")], "electronics");
    assert_eq!(&rows[0][col("name")], "Electronics");
    assert_eq!(&rows[0][col("gmv")], "37.50");
    assert_eq!(&rows[0][col("orders")], "2");
    assert_eq!(&rows[0][col("units")], "3");
    let r = browser.get(&csv_of("totals")).await;
    let mut reader = csv::Reader::from_reader(r.html.as_bytes());
    let totals: BTreeMap<String, String> = reader
        .records()
        .map(Result::unwrap)
        .map(|r| (r[0].to_owned(), r[1].to_owned()))
        .collect();
    assert_eq!(totals["orders"], "2");
    assert_eq!(totals["revenue"], "37.50");
    assert_eq!(browser.get(&csv_of("nonsense")).await.status, 400);
}

#[tokio::test]
async fn analytics_charts_draw_for_an_empty_shop_and_a_year_of_orders() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (empty_seller, _) = p.seller_with_shop("Quiet Corner", "electronics").await;
    let (seller, shop) = p.seller_with_shop("Busy Bazaar", "electronics").await;

    let browser = Visitor::new(&p);
    browser.sign_in(&empty_seller);
    let html = eventually(
        "the empty shop's figures on its overview",
        || browser.page("/seller"),
        |html| html.contains("id=\"analytics\""),
    )
    .await;
    assert!(html.contains("<svg class=\"chart\" id=\"chart-orders\""));
    assert!(html.contains("No products viewed or sold in this range."));

    // A year of orders, one a day, dated by the events themselves.
    let start = time::Date::from_calendar_date(2025, time::Month::January, 1).unwrap();
    for i in 0..365 {
        let d = start + time::Duration::days(i);
        let at = format!("{d}T12:00:00Z");
        publish(
            &p,
            &OrderPlaced(order(&format!("y{i}"), &shop.id, "b", 100 + i, 1, &at)),
        )
        .await;
    }
    let year = range("2025-01-01", "2025-12-31");
    let a = eventually(
        "a year of orders counted",
        || async { ask::<GetShopAnalytics>(&p, &seller, &year).await.ok() },
        |a| a.as_ref().is_some_and(|a| a.current.orders == 365),
    )
    .await
    .unwrap();
    assert_eq!(a.days.len(), 365);
    assert_eq!(a.current.revenue, (100..465).sum::<i64>());
    let busy = Visitor::new(&p);
    busy.sign_in(&seller);
    let html = busy
        .page("/seller?range=custom&from=2025-01-01&to=2025-12-31")
        .await;
    assert_eq!(
        html.matches("<svg class=\"chart\"").count(),
        5,
        "four series and the funnel"
    );
    assert!(html.contains("365 days from 2025-01-01 to 2025-12-31"));
    assert!(html.contains("<th scope=\"row\">2025-12-31</th>"));
}

#[tokio::test]
async fn analytics_in_a_browser_a_seller_reads_the_charts_and_changes_the_range() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, shop) = p.real_seller_with_shop("Lumen Lamps", "electronics").await;
    let now = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for i in 0..3 {
        publish(
            &p,
            &OrderPlaced(order(&format!("l{i}"), &shop.id, "b", 4_000, 1, &now)),
        )
        .await;
    }
    let today = today();
    eventually(
        "the orders counted",
        || async {
            ask::<GetShopAnalytics>(&p, &seller, &range(&today, &today))
                .await
                .map(|a| a.current.orders)
                .ok()
        },
        |n| *n == Some(3),
    )
    .await;

    let b = bazaar_tests::browser::Browser::start().await;
    b.sign_in(
        &p.base_url,
        "lumen-lamps@example.com",
        "a long and secret password",
    )
    .await;
    b.goto(&p.url("/seller?range=7")).await;
    assert_eq!(b.text("#analytics h2").await, "Analytics");
    let chart = b
        .client
        .find(fantoccini::Locator::Css("svg#chart-revenue"))
        .await
        .unwrap();
    assert!(chart.is_displayed().await.unwrap());
    let (_, _, width, height) = chart.rectangle().await.unwrap();
    assert!(width > 100.0 && height > 30.0, "{width}×{height}");
    assert_eq!(chart.attr("role").await.unwrap().as_deref(), Some("img"));
    let orders = b
        .text(".analytics-kpis tbody tr:nth-child(2) .kpi-value")
        .await;
    assert_eq!(orders, "3");

    // The range form works without a script: 90 days, then a data table.
    b.click("input[name=range][value='90']").await;
    b.click("form.analytics-range button[type=submit]").await;
    for _ in 0..50 {
        let url = b.client.current_url().await.unwrap();
        if url.query().unwrap_or_default().contains("range=90") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = b.client.current_url().await.unwrap();
    assert!(
        url.query().unwrap_or_default().contains("range=90"),
        "{url}"
    );
    b.click("figure[data-chart='chart-orders'] summary").await;
    let table = b.text("figure[data-chart='chart-orders'] table").await;
    assert!(table.contains(&today), "{table}");
    b.close().await;
}

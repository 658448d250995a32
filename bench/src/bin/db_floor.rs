//! How many orders per second the database alone allows: the fewest
//! SurrealDB transactions one cash-on-delivery order needs on Bazaar's own
//! schema, run by concurrent buyers against embedded SurrealDB, with no HTTP,
//! NATS, tokens, events or mail around them. The platform can only be slower
//! than this, so it is the ceiling `bazaar-bench-orders` is measured against.
//!
//! Per order, one transaction each (what the platform does today is more,
//! see the README):
//! 1. read the product for its price (a cart add prices the cart);
//! 2. put the line in the cart;
//! 3. record the checkout and its plan;
//! 4. take the stock and record the reservation;
//! 5. create the order, both notifications, close the checkout and empty
//!    the cart line;
//! 6. count the sale on the product (the catalog's order listener).
//!
//!     bazaar-bench-db-floor [--database-url surrealkv:///tmp/x] [--buyers 32] [--secs 15]

use anyhow::Context;
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    about = "The orders/s SurrealDB alone allows for Bazaar's minimal order, on this machine"
)]
struct Args {
    /// mem:// or surrealkv://PATH (default: a fresh surrealkv dir under /tmp).
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent buyers.
    #[arg(long, default_value_t = 32)]
    buyers: usize,
    /// How long to place orders.
    #[arg(long, default_value_t = 15)]
    secs: u64,
    /// Products to buy from (more products, fewer write conflicts).
    #[arg(long, default_value_t = 200)]
    products: u64,
}

const STEPS: [&str; 6] = [
    "read product",
    "cart line",
    "checkout",
    "reserve stock",
    "place order",
    "count sale",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempdir()?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("surrealkv://{}", dir.display()));
    let db = bazaar_schema::connect(&url, None).await?;
    bazaar_schema::migrate(&db).await?;
    db.query(
        "FOR $c IN $categories { UPSERT type::record('category', $c.slug) CONTENT $c; }",
    )
    .bind((
        "categories",
        json!([
            { "slug": "electronics", "name": "Electronics", "position": 0, "subcategories": [] },
            { "slug": "fashion", "name": "Fashion", "position": 1, "subcategories": [] },
        ]),
    ))
    .await?
    .check()?;
    let mut options = bazaar_catalog::seed::SeedOptions::new(args.products);
    options.seed = Some(7);
    bazaar_catalog::seed::seed_catalog(&db, &options).await?;
    db.query("UPDATE product SET stock = 1000000, live = true, status = 'active'")
        .await?
        .check()?;
    let products: Vec<String> = db
        .query("SELECT VALUE record::id(id) FROM product")
        .await?
        .check()?
        .take(0)?;
    let products = Arc::new(products);
    println!(
        "db floor: {url}, {} products, {} buyers, {} s, {} cores",
        products.len(),
        args.buyers,
        args.secs,
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    let placed = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for buyer in 0..args.buyers {
        let (db, products, placed, conflicts) = (
            db.clone(),
            products.clone(),
            placed.clone(),
            conflicts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut order_latency = Histogram::<u64>::new(3).expect("histogram");
            let mut step_time = vec![Duration::ZERO; STEPS.len()];
            let mut n = 0_usize;
            while Instant::now() < deadline {
                let product = &products[(buyer * 7919 + n * 31) % products.len()];
                let t = Instant::now();
                match one_order(&db, buyer, n, product, &mut step_time).await {
                    Ok(retries) => {
                        conflicts.fetch_add(retries, Ordering::Relaxed);
                        placed.fetch_add(1, Ordering::Relaxed);
                        order_latency.record(t.elapsed().as_micros() as u64).ok();
                    }
                    Err(e) => eprintln!("order failed: {e:#}"),
                }
                n += 1;
            }
            (order_latency, step_time)
        }));
    }
    let mut latency = Histogram::<u64>::new(3)?;
    let mut steps = vec![Duration::ZERO; STEPS.len()];
    for t in tasks {
        let (h, s) = t.await?;
        latency.add(h)?;
        for (total, one) in steps.iter_mut().zip(s) {
            *total += one;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let placed = placed.load(Ordering::Relaxed);
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "  placed       {placed}  ({:.1} orders/s)",
        placed as f64 / elapsed
    );
    println!(
        "  latency      p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms",
        ms(0.5),
        ms(0.95),
        ms(0.99)
    );
    println!(
        "  write conflicts retried {}",
        conflicts.load(Ordering::Relaxed)
    );
    println!(
        "  mean wall time per order and step (with {} buyers waiting on two cores):",
        args.buyers
    );
    for (name, total) in STEPS.iter().zip(&steps) {
        println!(
            "    {name:<14} {:.2} ms",
            total.as_secs_f64() * 1000.0 / placed.max(1) as f64
        );
    }
    let check: Vec<serde_json::Value> = db
        .query("SELECT count() AS n FROM shop_order GROUP ALL")
        .await?
        .take(0)?;
    println!(
        "  orders in the database {}",
        check.first().and_then(|r| r["n"].as_i64()).unwrap_or(0)
    );
    drop(db);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "bazaar-db-floor-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Runs a statement, again while it loses a write race; how often it lost.
async fn run(
    db: &bazaar_schema::Db,
    sql: &'static str,
    vars: serde_json::Value,
) -> anyhow::Result<(surrealdb::IndexedResults, u64)> {
    for attempt in 0..50 {
        let result = db.query(sql).bind(vars.clone()).await;
        match bazaar_schema::committed(result) {
            Ok(res) => return Ok((res, attempt)),
            Err(e) if bazaar_schema::is_retryable(&e) => continue,
            Err(e) => anyhow::bail!("{e}"),
        }
    }
    anyhow::bail!("kept conflicting")
}

async fn one_order(
    db: &bazaar_schema::Db,
    buyer: usize,
    n: usize,
    product: &str,
    step_time: &mut [Duration],
) -> anyhow::Result<u64> {
    let owner = format!("a:buyer{buyer}");
    let id = format!("b{buyer}n{n}{}", std::process::id());
    let mut retries = 0;
    let mut step = 0;
    let mut timed = |started: Instant, step: &mut usize| {
        step_time[*step] += started.elapsed();
        *step += 1;
    };

    let t = Instant::now();
    let (mut res, r) = run(
        db,
        "BEGIN; SELECT record::id(id) AS id, title, slug, price, currency, shop_id, shop_name, seller, stock, cash_on_delivery FROM type::record('product', $p); COMMIT;",
        json!({ "p": product }),
    )
    .await?;
    retries += r;
    let row: Option<serde_json::Value> = res.take(1)?;
    let p = row.context("product")?;
    timed(t, &mut step);

    let t = Instant::now();
    retries += run(
        db,
        "BEGIN; CREATE cart_line SET owner = $owner, product_id = $p, quantity = 1, seen_price = $price RETURN NONE; COMMIT;",
        json!({ "owner": owner, "p": product, "price": p["price"] }),
    )
    .await?
    .1;
    timed(t, &mut step);

    let line = json!({
        "product_id": product, "slug": p["slug"], "title": p["title"], "shop_id": p["shop_id"],
        "shop_name": p["shop_name"], "seller": p["seller"], "unit_price": p["price"],
        "currency": p["currency"], "quantity": 1, "cash_on_delivery": true,
    });
    let address = json!({ "full_name": "Floor Buyer", "line1": "1 Load Street", "city": "Berlin", "postal_code": "10115", "country": "DE" });
    let t = Instant::now();
    retries += run(
        db,
        "BEGIN; CREATE type::record('checkout', $id) SET buyer = $buyer, idempotency_key = $id, request_hash = $id,
            status = 'reserving', payment = 'cod', plan = $plan RETURN NONE; COMMIT;",
        json!({ "id": id, "buyer": format!("buyer{buyer}"), "plan": {
            "lines": [line], "address": address, "buyer_name": "Floor Buyer",
            "buyer_email": "floor@bench.test", "currency": p["currency"], "release_token": id,
        } }),
    )
    .await?
    .1;
    timed(t, &mut step);

    let t = Instant::now();
    retries += run(
        db,
        "BEGIN;
         LET $taken = UPDATE type::record('product', $p) SET stock -= 1, revision += 1, updated_at = time::now()
             WHERE live = true AND stock >= 1 RETURN VALUE id;
         IF array::len($taken) = 0 { THROW 'short'; };
         CREATE type::record('stock_reservation', $id) SET owner = $owner, release_hash = $id, lines = [$line] RETURN NONE;
         COMMIT;",
        json!({ "p": product, "id": id, "owner": owner, "line": line }),
    )
    .await?
    .1;
    timed(t, &mut step);

    let total = p["price"].as_i64().unwrap_or(0);
    let order = json!({
        "number": format!("BZ-{id}"), "checkout_id": id, "buyer": format!("buyer{buyer}"),
        "buyer_email": "floor@bench.test", "shop_id": p["shop_id"], "shop_name": p["shop_name"],
        "seller": p["seller"], "items": [line], "subtotal": total, "discount": 0, "total": total,
        "platform_fee": total / 10, "payout": total - total / 10, "currency": p["currency"],
        "payment_method": "cod", "payment_status": "pending", "status": "ordered",
        "timeline": [{ "status": "ordered" }], "address": address, "reservation_id": id,
    });
    let t = Instant::now();
    retries += run(
        db,
        "BEGIN;
         IF (SELECT VALUE status FROM ONLY type::record('checkout', $id)) != 'reserving' { THROW 'closed'; };
         CREATE type::record('shop_order', $id) CONTENT $order RETURN NONE;
         CREATE notification SET account = $order.buyer, title = 'Order placed', body = 'one item', link = '/orders' RETURN NONE;
         CREATE notification SET account = $order.seller, title = 'New order', body = 'one item', link = '/seller/orders' RETURN NONE;
         UPDATE type::record('checkout', $id) SET status = 'placed', orders = [$id], updated_at = time::now() RETURN NONE;
         DELETE cart_line WHERE owner = $owner AND product_id = $p RETURN NONE;
         COMMIT;",
        json!({ "id": id, "order": order, "owner": owner, "p": product }),
    )
    .await?
    .1;
    timed(t, &mut step);

    let t = Instant::now();
    retries += run(
        db,
        "BEGIN; UPDATE type::record('product', $p) SET sales += 1 RETURN NONE; COMMIT;",
        json!({ "p": product }),
    )
    .await?
    .1;
    timed(t, &mut step);
    Ok(retries)
}

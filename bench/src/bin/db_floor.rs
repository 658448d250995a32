//! How many orders per second the database alone allows: the fewest
//! SurrealDB transactions one cash-on-delivery order needs on Bazaar's own
//! schema, run by concurrent buyers against embedded SurrealDB, with no HTTP,
//! NATS, tokens, events or mail around them. The platform can only be slower
//! than this, so it is the ceiling `bazaar-bench-orders` is measured against.
//!
//! The steps, one transaction each (what the platform does today is more,
//! see docs/benchmarks.md); `--orders-per-transaction N` puts N buyers' orders in
//! each of them, to see what group commit would buy:
//! 1. read the product for its price (a cart add prices the cart);
//! 2. put the line in the cart;
//! 3. record the checkout and its plan;
//! 4. take the stock and record the reservation;
//! 5. create the order, both notifications, close the checkout and empty
//!    the cart line;
//! 6. count the sale on the product (the catalog's order listener).
//!
//! ```text
//! bazaar-bench-db-floor [--database-url surrealkv:///tmp/x] [--buyers 32] [--secs 15]
//!                       [--orders-per-transaction 1]
//! ```

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
    /// Orders of different buyers sharing each transaction (group commit):
    /// 1 is one order per transaction, as the platform does.
    #[arg(long, default_value_t = 1)]
    orders_per_transaction: usize,
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
    let dir = tempfile::Builder::new()
        .prefix("bazaar-db-floor-")
        .tempdir()?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("surrealkv://{}", dir.path().display()));
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
    let mut options = bazaar_seed::SeedOptions::new(args.products);
    options.seed = Some(7);
    bazaar_seed::seed_catalog(&db, None, &options).await?;
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
        "db floor: {url}, {} products, {} buyers, {} orders per transaction, {} s, {} cores",
        products.len(),
        args.buyers,
        args.orders_per_transaction.max(1),
        args.secs,
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    let placed = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let batch = args.orders_per_transaction.max(1);
    for worker in 0..args.buyers.div_ceil(batch) {
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
                let orders: Vec<Order> = (0..batch)
                    .map(|b| {
                        let buyer = worker * batch + b;
                        Order {
                            owner: format!("a:buyer{buyer}"),
                            buyer: format!("buyer{buyer}"),
                            id: format!("b{buyer}n{n}p{}", std::process::id()),
                            product: products[(buyer * 7919 + n * 31) % products.len()].clone(),
                        }
                    })
                    .collect();
                let t = Instant::now();
                match place(&db, &orders, &mut step_time).await {
                    Ok(retries) => {
                        conflicts.fetch_add(retries, Ordering::Relaxed);
                        placed.fetch_add(orders.len() as u64, Ordering::Relaxed);
                        for _ in &orders {
                            order_latency.record(t.elapsed().as_micros() as u64).ok();
                        }
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
    let batch = args.orders_per_transaction.max(1);
    let transactions = (placed as f64 / batch as f64).max(1.0);
    println!(
        "  mean wall time of each step's transaction ({} orders each, {} at once on {} cores):",
        batch,
        args.buyers.div_ceil(batch),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for (name, total) in STEPS.iter().zip(&steps) {
        println!(
            "    {name:<14} {:.2} ms",
            total.as_secs_f64() * 1000.0 / transactions
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
    // Closed before its directory goes.
    drop(db);
    drop(dir);
    Ok(())
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
            Err(e) if e.is_retryable() => continue,
            Err(e) => anyhow::bail!("{e}"),
        }
    }
    anyhow::bail!("kept conflicting")
}

/// One buyer's order: one line of one product, cash on delivery.
struct Order {
    owner: String,
    buyer: String,
    id: String,
    product: String,
}

/// Places the orders, each step one transaction for all of them; how many
/// write conflicts were retried.
async fn place(
    db: &bazaar_schema::Db,
    orders: &[Order],
    step_time: &mut [Duration],
) -> anyhow::Result<u64> {
    let mut steps = Steps {
        time: step_time,
        next: 0,
        retries: 0,
    };
    let ids: Vec<&str> = orders.iter().map(|o| o.product.as_str()).collect();

    let mut res = steps
        .run(
        db,
        "BEGIN; SELECT record::id(id) AS id, title, slug, price, currency, shop_id, shop_name, seller, stock, cash_on_delivery
            FROM array::map($ids, |$i| type::record('product', $i)); COMMIT;",
        json!({ "ids": ids }),
    )
    .await?;
    let rows: Vec<serde_json::Value> = res.take(1)?;
    let product = |id: &str| rows.iter().find(|p| p["id"] == id).context("product");

    let lines: Vec<serde_json::Value> = orders
        .iter()
        .map(|o| {
            let p = product(&o.product)?;
            Ok(json!({ "owner": o.owner, "p": o.product, "price": p["price"] }))
        })
        .collect::<anyhow::Result<_>>()?;
    steps
        .run(
        db,
        "BEGIN; FOR $l IN $lines {
            CREATE cart_line SET owner = $l.owner, product_id = $l.p, quantity = 1, seen_price = $l.price RETURN NONE;
         }; COMMIT;",
        json!({ "lines": lines }),
    )
    .await?;

    let address = json!({ "full_name": "Floor Buyer", "line1": "1 Load Street", "city": "Berlin", "postal_code": "10115", "country": "DE" });
    let mut checkouts = Vec::new();
    let mut reservations = Vec::new();
    let mut placed = Vec::new();
    for o in orders {
        let p = product(&o.product)?;
        let line = json!({
            "product_id": o.product, "slug": p["slug"], "title": p["title"], "shop_id": p["shop_id"],
            "shop_name": p["shop_name"], "seller": p["seller"], "unit_price": p["price"],
            "currency": p["currency"], "quantity": 1, "cash_on_delivery": true,
        });
        checkouts.push(json!({ "id": o.id, "buyer": o.buyer, "plan": {
            "lines": [line], "address": address, "buyer_name": "Floor Buyer",
            "buyer_email": "floor@bench.test", "currency": p["currency"], "release_token": o.id,
        } }));
        reservations.push(json!({ "id": o.id, "owner": o.owner, "p": o.product, "line": line }));
        let total = p["price"].as_i64().unwrap_or(0);
        placed.push(json!({ "id": o.id, "owner": o.owner, "p": o.product, "order": {
            "number": format!("BZ-{}", o.id), "checkout_id": o.id, "buyer": o.buyer,
            "buyer_email": "floor@bench.test", "shop_id": p["shop_id"], "shop_name": p["shop_name"],
            "seller": p["seller"], "items": [line], "subtotal": total, "discount": 0, "total": total,
            "platform_fee": total / 10, "payout": total - total / 10, "currency": p["currency"],
            "payment_method": "cod", "payment_status": "pending", "status": "ordered",
            "timeline": [{ "status": "ordered" }], "address": address, "reservation_id": o.id,
        } }));
    }

    steps
        .run(
        db,
        "BEGIN; FOR $c IN $checkouts {
            CREATE type::record('checkout', $c.id) SET buyer = $c.buyer, idempotency_key = $c.id,
                request_hash = $c.id, status = 'reserving', payment = 'cod', plan = $c.plan RETURN NONE;
         }; COMMIT;",
        json!({ "checkouts": checkouts }),
    )
    .await?;

    steps
        .run(
        db,
        "BEGIN; FOR $r IN $reservations {
            LET $taken = UPDATE type::record('product', $r.p) SET stock -= 1, revision += 1, updated_at = time::now()
                WHERE live = true AND stock >= 1 RETURN VALUE id;
            IF array::len($taken) = 0 { THROW 'short'; };
            CREATE type::record('stock_reservation', $r.id) SET owner = $r.owner, release_hash = $r.id, lines = [$r.line] RETURN NONE;
         }; COMMIT;",
        json!({ "reservations": reservations }),
    )
    .await?;

    steps
        .run(
        db,
        "BEGIN; FOR $o IN $placed {
            IF (SELECT VALUE status FROM ONLY type::record('checkout', $o.id)) != 'reserving' { THROW 'closed'; };
            CREATE type::record('shop_order', $o.id) CONTENT $o.order RETURN NONE;
            CREATE notification SET account = $o.order.buyer, title = 'Order placed', body = 'one item', link = '/orders' RETURN NONE;
            CREATE notification SET account = $o.order.seller, title = 'New order', body = 'one item', link = '/seller/orders' RETURN NONE;
            UPDATE type::record('checkout', $o.id) SET status = 'placed', orders = [$o.id], updated_at = time::now() RETURN NONE;
            DELETE cart_line WHERE owner = $o.owner AND product_id = $o.p RETURN NONE;
         }; COMMIT;",
        json!({ "placed": placed }),
    )
    .await?;

    steps
        .run(
        db,
        "BEGIN; FOR $p IN $ids { UPDATE type::record('product', $p) SET sales += 1 RETURN NONE; }; COMMIT;",
        json!({ "ids": ids }),
    )
    .await?;
    Ok(steps.retries)
}

/// Times each step's transaction and counts the write conflicts retried.
struct Steps<'a> {
    time: &'a mut [Duration],
    next: usize,
    retries: u64,
}

impl Steps<'_> {
    async fn run(
        &mut self,
        db: &bazaar_schema::Db,
        sql: &'static str,
        vars: serde_json::Value,
    ) -> anyhow::Result<surrealdb::IndexedResults> {
        let started = Instant::now();
        let (res, retries) = run(db, sql, vars).await?;
        self.retries += retries;
        self.time[self.next] += started.elapsed();
        self.next += 1;
        Ok(res)
    }
}

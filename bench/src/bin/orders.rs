//! Places orders through a running Bazaar's edge and prints orders/s and
//! latency percentiles — a benchmark: it prints numbers, it never fails on
//! timing. It does check that every order was placed exactly once.
//!
//! Setup (not measured): one seller with a shop and products holding plenty
//! of stock, `--buyers` buyers signed up through the API (codes read from the
//! one-box mailbox page, so run it against `bazaar dev` without SMTP and with
//! the rate limits raised; `scripts/bench-orders` does all that).
//!
//! Each buyer then loops: add a product to the cart, check out, and for card
//! payments approve on the test payment page (the same JetStream path a
//! payment provider's webhook takes) and wait until the orders are placed.
//!
//! Where the platform serves its metrics on the same address (`bazaar dev`),
//! it also prints how far the events lagged behind the orders: what the
//! outbox had published when the last order was placed, and the delay 99 %
//! of it stayed within (`bazaar_outbox_delay_seconds`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::Mutex;

#[path = "../shop_client.rs"]
mod shop_client;
use shop_client::{Client, address, uuid_like};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Payment {
    /// Cash on delivery: checkout places the orders at once.
    Cod,
    /// Card via the test payment page: checkout, payment notification
    /// through JetStream, orders placed by the orders node.
    Card,
}

#[derive(Debug, Parser)]
#[command(about = "Order placement load generator for a running Bazaar")]
struct Args {
    /// The edge, e.g. http://127.0.0.1:8080.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Buyers placing orders at once.
    #[arg(long, default_value_t = 32)]
    buyers: usize,
    /// How long to place orders.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    #[arg(long, value_enum, default_value_t = Payment::Cod)]
    payment: Payment,
    /// Products to spread the orders over.
    #[arg(long, default_value_t = 20)]
    products: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        base: args.url.trim_end_matches('/').to_owned(),
    });
    let run = uuid_like();
    eprintln!(
        "setting up: a seller, {} products, {} buyers …",
        args.products, args.buyers
    );
    let (seller, listed) = shop_client::open_bench_shop(&client, &run, args.products).await?;
    let products: Vec<String> = listed.into_iter().map(|(id, _)| id).collect();
    let mut buyers = Vec::new();
    for i in 0..args.buyers {
        buyers.push(
            client
                .sign_up("/api/register/user", &format!("buyer-{i}-{run}@bench.test"))
                .await?,
        );
    }

    eprintln!("placing orders for {} s ({:?}) …", args.secs, args.payment);
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1,
        120_000_000,
        3,
    )?));
    let placed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let started = Instant::now();
    let tasks: Vec<_> = buyers
        .iter()
        .enumerate()
        .map(|(b, token)| {
            let (client, hist, placed, failed, token, products) = (
                client.clone(),
                hist.clone(),
                placed.clone(),
                failed.clone(),
                token.clone(),
                products.clone(),
            );
            let payment = args.payment;
            tokio::spawn(async move {
                let mut n = 0usize;
                while Instant::now() < deadline {
                    n += 1;
                    let product = &products[(b + n) % products.len()];
                    let t0 = Instant::now();
                    match order_once(&client, &token, product, &format!("b{b}-{n}"), payment).await
                    {
                        Ok(()) => {
                            placed.fetch_add(1, Ordering::Relaxed);
                            let us = t0.elapsed().as_micros() as u64;
                            let _ = hist.lock().await.record(us.max(1));
                        }
                        Err(e) => {
                            if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("order failed: {e:#}");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let placed = placed.load(Ordering::Relaxed);
    // Read at once: what the outbox has published by the last order.
    let lag = outbox_lag(&client).await;
    let hist = hist.lock().await;

    // Exactly once: every buyer's orders add up to what was placed, and the
    // shop's stock went down by exactly the items sold.
    let mut counted = 0;
    for token in &buyers {
        let (_, list) = client
            .call(
                reqwest::Method::GET,
                "/api/orders?page_size=1",
                Some(token),
                None,
                None,
            )
            .await?;
        counted += list["total"].as_u64().unwrap_or(0);
    }
    let mut sold = 0;
    for id in &products {
        let (_, mine) = client
            .call(
                reqwest::Method::GET,
                &format!("/api/seller/products/{id}"),
                Some(&seller),
                None,
                None,
            )
            .await?;
        sold += 1_000_000 - mine["stock"].as_u64().unwrap_or(1_000_000);
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "orders ({:?}, {} buyers, {:.1} s)",
        args.payment, args.buyers, elapsed
    );
    println!(
        "  placed       {placed}  ({:.1} orders/s)",
        placed as f64 / elapsed
    );
    println!("  failed       {}", failed.load(Ordering::Relaxed));
    println!(
        "  latency      p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        ms(0.5),
        ms(0.95),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    println!(
        "  exactly once {} (orders counted {counted}, units sold {sold}, placed {placed})",
        if counted == placed && sold == placed {
            "yes"
        } else {
            "NO"
        }
    );
    if let Some(lag) = lag {
        println!(
            "  events       {} published by the last order, 99 % within {} s of their change",
            lag.published, lag.p99_within
        );
    }
    Ok(())
}

/// What the platform's metrics say of its outbox.
struct OutboxLag {
    published: u64,
    /// The histogram bucket bound 99 % of the delays stayed within.
    p99_within: String,
}

/// [`OutboxLag`] from `/metrics` in Prometheus' text format, when the
/// platform serves it there (none for an edge apart from its nodes).
async fn outbox_lag(client: &Client) -> Option<OutboxLag> {
    let text = client
        .http
        .get(format!("{}/metrics", client.base))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .text()
        .await
        .ok()?;
    let published = text
        .lines()
        .find_map(|l| l.strip_prefix("bazaar_outbox_relayed_total "))?
        .trim()
        .parse::<f64>()
        .ok()? as u64;
    // Cumulative buckets, in increasing bounds: `…_bucket{le="0.25"} 14916`.
    let buckets: Vec<(&str, f64)> = text
        .lines()
        .filter_map(|l| {
            let (le, count) = l
                .strip_prefix("bazaar_outbox_delay_seconds_bucket{le=\"")?
                .split_once("\"}")?;
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last()?.1;
    let p99_within = buckets
        .iter()
        .find(|(_, n)| *n >= 0.99 * total)?
        .0
        .to_owned();
    Some(OutboxLag {
        published,
        p99_within,
    })
}

/// One order: cart, checkout, and for cards the payment and the wait.
async fn order_once(
    client: &Client,
    token: &str,
    product: &str,
    key: &str,
    payment: Payment,
) -> anyhow::Result<()> {
    let (status, cart) = client
        .call(
            reqwest::Method::POST,
            "/api/cart/items",
            Some(token),
            Some(json!({ "product_id": product, "quantity": 1 })),
            None,
        )
        .await?;
    if status != 200 {
        bail!("add: {status} {cart}");
    }
    let method = match payment {
        Payment::Cod => "cod",
        Payment::Card => "card",
    };
    let (status, result) = client
        .call(
            reqwest::Method::POST,
            "/api/checkout",
            Some(token),
            Some(json!({ "address": address(), "payment": method })),
            Some(key),
        )
        .await?;
    if status != 201 {
        bail!("checkout: {status} {result}");
    }
    if let Payment::Cod = payment {
        return Ok(());
    }
    let id = result["checkout_id"].as_str().context("checkout id")?;
    let r = client
        .http
        .post(format!("{}/pay/test/{id}", client.base))
        .form(&[("decision", "approve")])
        .send()
        .await?;
    if !(r.status().is_success() || r.status().is_redirection()) {
        bail!("payment: {}", r.status());
    }
    for _ in 0..2000 {
        let (_, c) = client
            .call(
                reqwest::Method::GET,
                &format!("/api/checkouts/{id}"),
                Some(token),
                None,
                None,
            )
            .await?;
        match c["status"].as_str() {
            Some("placed") => return Ok(()),
            Some("failed") => bail!("checkout failed: {c}"),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    bail!("checkout {id} never placed")
}

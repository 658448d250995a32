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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Mutex;

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

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Signs an account up and returns its access token, reading the code
    /// from the one-box mailbox page.
    async fn sign_up(&self, path: &str, email: &str) -> anyhow::Result<String> {
        let mut body = json!({ "name": "Bench User", "email": email, "password": "a long benchmark password" });
        if path.ends_with("seller") {
            body["phone"] = json!("+49 30 1234567");
            body["country"] = json!("DE");
        }
        let (status, v) = self
            .call(reqwest::Method::POST, path, None, Some(body), None)
            .await?;
        if status != 202 {
            bail!("sign-up {email}: {status} {v}");
        }
        let mut code = None;
        for _ in 0..100 {
            let page = self
                .http
                .get(format!("{}/dev/mailbox", self.base))
                .send()
                .await?
                .text()
                .await?;
            code = page
                .split("<article")
                .find(|a| a.contains(&format!("to {email}")))
                .and_then(|a| {
                    // The random address itself may hold six digits in a row.
                    a.replace(email, "")
                        .split(|c: char| !c.is_ascii_digit())
                        .find(|w| w.len() == 6)
                        .map(str::to_owned)
                });
            if code.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let code = code.with_context(|| {
            format!("no code for {email} on /dev/mailbox (is this `bazaar dev` without SMTP?)")
        })?;
        let (status, session) = self
            .call(
                reqwest::Method::POST,
                "/api/register/verify",
                None,
                Some(json!({ "email": email, "otp": code })),
                None,
            )
            .await?;
        if status != 200 {
            bail!("verify {email}: {status} {session}");
        }
        session["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access token")
    }
}

fn address() -> Value {
    json!({ "full_name": "Bench Buyer", "line1": "1 Load Street", "city": "Berlin", "postal_code": "10115", "country": "DE" })
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
    let seller = client
        .sign_up("/api/register/seller", &format!("seller-{run}@bench.test"))
        .await?;
    let (_, categories) = client
        .call(reqwest::Method::GET, "/api/categories", None, None, None)
        .await?;
    let category = categories["categories"][0]["slug"]
        .as_str()
        .context("no categories: seed the site")?
        .to_owned();
    let (status, shop) = client
        .call(
            reqwest::Method::POST,
            "/api/shops",
            Some(&seller),
            Some(json!({ "name": format!("Bench Shop {run}"), "category": category })),
            None,
        )
        .await?;
    if status != 201 {
        bail!("shop: {status} {shop}");
    }
    let mut products = Vec::new();
    for i in 0..args.products {
        let (status, p) = client
            .call(
                reqwest::Method::POST,
                "/api/seller/products",
                Some(&seller),
                Some(json!({ "title": format!("Bench Item {i} {run}"), "category": category, "regular_price": 1000 + i as i64,
                              "stock": 1_000_000, "cash_on_delivery": true })),
                None,
            )
            .await?;
        if status != 201 {
            bail!("product: {status} {p}");
        }
        products.push(p["id"].as_str().context("product id")?.to_owned());
    }
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
    Ok(())
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

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

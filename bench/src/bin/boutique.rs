//! `bazaar-bench-boutique`: Online Boutique's load mix against a running
//! Bazaar, through one edge or several. Each simulated shopper (a buyer who
//! signed up, with an address of their own) picks its next step at random
//! with Online Boutique's locustfile weights — browse a product 10, view the
//! cart 3, add to the cart 2, the home page 1, check out 1 (add a product,
//! then pay cash on delivery) — sending each request to the next edge in
//! turn. It prints, per step and in all, requests, errors, throughput and
//! p50/p95/p99; with `--bare` it first measures a bare axum handler
//! (`bazaar-bench-bare`) with the same shoppers for the same time, the
//! ceiling any edge answer is measured against. A benchmark: it prints
//! numbers and never fails on timing.
//!
//! Start the platform with `BAZAAR_TRUST_FORWARDED=true` (each shopper
//! sends its own `X-Forwarded-For`) and the mailbox page (`bazaar dev`
//! without SMTP); `scripts/bench-boutique` does all that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[path = "../shop_client.rs"]
mod shop_client;
use shop_client::{Client, address, uuid_like};

#[derive(Debug, Parser)]
#[command(about = "Online Boutique's load mix against a running Bazaar")]
struct Args {
    /// An edge; repeat for several (requests go to each in turn).
    #[arg(long = "url", default_value = "http://127.0.0.1:8080")]
    urls: Vec<String>,
    /// Shoppers at once.
    #[arg(long, default_value_t = 16)]
    shoppers: usize,
    /// How long to shop.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Products of the benchmark's own shop (the ones added to carts).
    #[arg(long, default_value_t = 20)]
    products: usize,
    /// A bare axum handler to measure first, as the ceiling.
    #[arg(long)]
    bare: Option<String>,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Browse,
    ViewCart,
    AddToCart,
    Home,
    Checkout,
}

/// Online Boutique's locustfile weights.
const MIX: [(Step, u32); 5] = [
    (Step::Browse, 10),
    (Step::ViewCart, 3),
    (Step::AddToCart, 2),
    (Step::Home, 1),
    (Step::Checkout, 1),
];

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Browse => "browse a product",
            Step::ViewCart => "view the cart",
            Step::AddToCart => "add to the cart",
            Step::Home => "home page",
            Step::Checkout => "check out (add + pay on delivery)",
        }
    }

    fn pick(rng: &mut StdRng) -> Step {
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut n = rng.random_range(0..total);
        for (step, w) in MIX {
            if n < w {
                return step;
            }
            n -= w;
        }
        Step::Browse
    }
}

/// Latencies and errors of one step.
struct Tally {
    hist: Histogram<u64>,
    errors: u64,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            hist: Histogram::new_with_bounds(1, 120_000_000, 3)?,
            errors: 0,
        })
    }
}

type Tallies = Arc<Mutex<Vec<(Step, Tally)>>>;

struct Shopper {
    http: reqwest::Client,
    urls: Arc<Vec<String>>,
    token: String,
    address: String,
    turn: usize,
}

impl Shopper {
    fn next_base(&mut self) -> String {
        self.turn += 1;
        self.urls[self.turn % self.urls.len()].clone()
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> anyhow::Result<u16> {
        let base = self.next_base();
        let mut r = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.token)
            .header("X-Forwarded-For", &self.address);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await?;
        let status = resp.status().as_u16();
        // Read the whole answer, as a browser would.
        let _ = resp.bytes().await?;
        Ok(status)
    }

    /// One step; whether it succeeded.
    async fn step(
        &mut self,
        step: Step,
        slugs: &[String],
        ids: &[String],
        rng: &mut StdRng,
        n: usize,
        who: usize,
    ) -> anyhow::Result<bool> {
        let ok = |s: u16| (200..300).contains(&s);
        Ok(match step {
            Step::Browse => {
                let slug = slugs.choose(rng).context("no products")?;
                ok(self
                    .send(
                        reqwest::Method::GET,
                        &format!("/api/products/{slug}"),
                        None,
                        None,
                    )
                    .await?)
            }
            Step::ViewCart => ok(self
                .send(reqwest::Method::GET, "/api/cart", None, None)
                .await?),
            Step::AddToCart => {
                let id = ids.choose(rng).context("no products")?;
                let body = json!({ "product_id": id, "quantity": rng.random_range(1..=3) });
                ok(self
                    .send(reqwest::Method::POST, "/api/cart/items", Some(body), None)
                    .await?)
            }
            Step::Home => ok(self.send(reqwest::Method::GET, "/", None, None).await?),
            Step::Checkout => {
                let id = ids.choose(rng).context("no products")?;
                let body = json!({ "product_id": id, "quantity": 1 });
                let added = self
                    .send(reqwest::Method::POST, "/api/cart/items", Some(body), None)
                    .await?;
                let body = json!({ "address": address(), "payment": "cod" });
                let key = format!("boutique-{who}-{n}");
                ok(added)
                    && ok(self
                        .send(
                            reqwest::Method::POST,
                            "/api/checkout",
                            Some(body),
                            Some(&key),
                        )
                        .await?)
            }
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let urls: Vec<String> = args
        .urls
        .iter()
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let setup = Client {
        http: http.clone(),
        base: urls[0].clone(),
    };
    let run = uuid_like();
    eprintln!(
        "setting up: a shop of {} products, {} shoppers …",
        args.products, args.shoppers
    );
    let (_, listed) = shop_client::open_bench_shop(&setup, &run, args.products).await?;
    let ids: Vec<String> = listed.iter().map(|(id, _)| id.clone()).collect();
    // Browsing spreads over the whole catalog, as shoppers do.
    let mut slugs: Vec<String> = listed.iter().map(|(_, slug)| slug.clone()).collect();
    for page in 1..=10 {
        let (_, found) = setup
            .call(
                reqwest::Method::GET,
                &format!("/api/products?page={page}"),
                None,
                None,
                None,
            )
            .await?;
        let items = found["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        slugs.extend(
            items
                .iter()
                .filter_map(|i| i["slug"].as_str().map(str::to_owned)),
        );
    }
    let mut tokens = Vec::new();
    for i in 0..args.shoppers {
        tokens.push(
            setup
                .sign_up(
                    "/api/register/user",
                    &format!("shopper-{i}-{run}@bench.test"),
                )
                .await?,
        );
    }
    let machine = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "Online Boutique mix: {} shoppers, {} s, {} edge(s), {} products browsed, {machine} cores",
        args.shoppers,
        args.secs,
        urls.len(),
        slugs.len()
    );
    if let Some(bare) = &args.bare {
        ceiling(&http, bare, args.shoppers, args.secs).await?;
    }

    let tallies: Tallies = Arc::new(Mutex::new(
        MIX.iter()
            .map(|(s, _)| Ok((*s, Tally::new()?)))
            .collect::<anyhow::Result<_>>()?,
    ));
    let (urls, slugs, ids) = (Arc::new(urls), Arc::new(slugs), Arc::new(ids));
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(who, token)| {
            let mut shopper = Shopper {
                http: http.clone(),
                urls: urls.clone(),
                token,
                address: format!("10.{}.{}.{}", who / 65536 % 256, who / 256 % 256, who % 256),
                turn: who,
            };
            let (tallies, slugs, ids) = (tallies.clone(), slugs.clone(), ids.clone());
            let seed = args.seed.wrapping_add(who as u64);
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let step = Step::pick(&mut rng);
                    let t0 = Instant::now();
                    let done = shopper.step(step, &slugs, &ids, &mut rng, n, who).await;
                    let us = (t0.elapsed().as_micros() as u64).max(1);
                    let mut all = tallies.lock().await;
                    if let Some((_, t)) = all.iter_mut().find(|(s, _)| *s == step) {
                        match done {
                            Ok(true) => {
                                let _ = t.hist.record(us);
                            }
                            Ok(false) | Err(_) => t.errors += 1,
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
    let all = tallies.lock().await;
    println!(
        "| step | requests | errors | req/s | p50 | p95 | p99 |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    let mut total = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut errors = 0;
    for (step, t) in all.iter() {
        row(step.name(), &t.hist, t.errors, elapsed);
        total.add(&t.hist)?;
        errors += t.errors;
    }
    row("all steps", &total, errors, elapsed);
    Ok(())
}

fn row(name: &str, h: &Histogram<u64>, errors: u64, secs: f64) {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let n = h.len() + errors;
    println!(
        "| {name} | {n} | {errors} ({:.2} %) | {:.1} | {:.2} ms | {:.2} ms | {:.2} ms |",
        if n == 0 {
            0.0
        } else {
            errors as f64 * 100.0 / n as f64
        },
        h.len() as f64 / secs,
        ms(0.5),
        ms(0.95),
        ms(0.99)
    );
}

/// The bare handler, hit by as many clients as there are shoppers for as
/// long: the most this box answers through this client.
async fn ceiling(
    http: &reqwest::Client,
    url: &str,
    clients: usize,
    secs: u64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url) = (http.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
                let mut errors = 0;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match http.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            let _ = h.record((t0.elapsed().as_micros() as u64).max(1));
                        }
                        _ => errors += 1,
                    }
                }
                anyhow::Ok((h, errors))
            })
        })
        .collect();
    let mut total = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await??;
        total.add(&h)?;
        errors += e;
    }
    println!(
        "| step | requests | errors | req/s | p50 | p95 | p99 |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    row(
        "bare axum handler (the ceiling)",
        &total,
        errors,
        started.elapsed().as_secs_f64(),
    );
    println!();
    Ok(())
}

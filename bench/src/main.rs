//! `bazaar-bench`: a load generator for a running Bazaar (`--url`). It runs
//! four scenarios over HTTP, each as it is used from the storefront:
//!
//! * `search`: full-text searches with words (and phrases and word pairs)
//!   from the catalog seeder's vocabulary, facets included as the API
//!   returns them;
//! * `filtered`: category listings with a price range, sorted by price;
//! * `product`: product pages (with the shop card) of products found first;
//! * `suggest`: search-box completions for word prefixes.
//!
//! Each scenario runs a **cold** pass of distinct requests (nothing cached
//! yet: every search is a miss in the catalog's KV cache) and then a
//! **warm** pass repeating a few of them (cache hits), then an optional
//! **mixed** run of all four at once for a while. It reports requests,
//! errors, throughput and p50/p95/p99/max latency per scenario and pass. It
//! never fails on timing; it fails only when the platform cannot be reached.
//!
//! The edge rate-limits per client IP (1200/min by default). Start it with
//! `BAZAAR_TRUST_FORWARDED=true` and a high `BAZAAR_RATE_LIMIT_PER_MINUTE`:
//! each worker then sends its own `X-Forwarded-For` address, like that many
//! shoppers (`scripts/bench` does this).

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bazaar_subjects::admin::CategoryList;
use bazaar_subjects::catalog::SearchResults;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

#[derive(Parser, Debug)]
#[command(
    name = "bazaar-bench",
    about = "Load generator for Bazaar's catalog: search, filtered listings, product pages, suggestions"
)]
struct Args {
    /// Base URL of a running platform.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Requests in flight at once (each worker is one simulated shopper).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Requests per scenario in each of the cold and warm passes.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// How many distinct requests the warm pass repeats.
    #[arg(long, default_value_t = 20)]
    warm_set: usize,
    /// Skip the warm (cache hit) pass: cold numbers only.
    #[arg(long)]
    no_cache_warm: bool,
    /// Seconds of the mixed run (all scenarios at once, 80 % repeats); 0 skips it.
    #[arg(long, default_value_t = 20)]
    mixed_secs: u64,
    /// Which scenarios to run.
    #[arg(long, value_delimiter = ',', default_values_t = Scenario::ALL)]
    scenarios: Vec<Scenario>,
    /// Random seed for the request mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Per-request timeout.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// Send no X-Forwarded-For (all requests count against one client IP).
    #[arg(long)]
    same_ip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
enum Scenario {
    Search,
    Filtered,
    Product,
    Suggest,
}

impl Scenario {
    const ALL: [Scenario; 4] = [
        Scenario::Search,
        Scenario::Filtered,
        Scenario::Product,
        Scenario::Suggest,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Search => "search",
            Scenario::Filtered => "filtered",
            Scenario::Product => "product",
            Scenario::Suggest => "suggest",
        }
    }

    /// Share of the mixed run.
    fn weight(self) -> u32 {
        match self {
            Scenario::Search => 40,
            Scenario::Filtered => 25,
            Scenario::Product => 25,
            Scenario::Suggest => 10,
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a pass measured.
struct Measured {
    latency: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Measured {
    fn new() -> Self {
        Self {
            latency: histogram(),
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
        }
    }

    fn merge(&mut self, other: Measured) {
        let _ = self.latency.add(&other.latency);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn record(&mut self, result: Result<Duration, String>) {
        match result {
            Ok(took) => {
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                let _ = self.latency.record(micros.clamp(1, 120_000_000));
            }
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 2 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Everything needed to make requests: the vocabulary and what the
/// platform has.
struct Workload {
    words: Vec<&'static str>,
    phrases: Vec<&'static str>,
    /// Category slug and its subcategory slugs.
    categories: Vec<(String, Vec<String>)>,
    slugs: Vec<String>,
}

impl Workload {
    fn request(&self, scenario: Scenario, rng: &mut StdRng, serial: usize) -> String {
        match scenario {
            Scenario::Search => {
                let q = match rng.random_range(0..100) {
                    0..55 => pick(rng, &self.words).to_lowercase(),
                    55..75 => pick(rng, &self.phrases).to_lowercase(),
                    _ => format!("{} {}", pick(rng, &self.words), pick(rng, &self.words))
                        .to_lowercase(),
                };
                let mut url = format!("/api/products?q={}", encode(&q));
                if rng.random_bool(0.2) {
                    url.push_str("&sort=price_asc");
                }
                if rng.random_bool(0.15) {
                    url.push_str("&page=2");
                }
                url
            }
            Scenario::Filtered => {
                let (category, subs) = self
                    .categories
                    .choose(rng)
                    .cloned()
                    .unwrap_or_else(|| ("electronics".into(), Vec::new()));
                let mut url = format!("/api/products?category={}", encode(&category));
                if !subs.is_empty() && rng.random_bool(0.5) {
                    url.push_str(&format!("&subcategory={}", encode(pick(rng, &subs))));
                }
                let min: i64 = *[0, 500, 1_000, 2_500, 5_000, 10_000, 25_000]
                    .choose(rng)
                    .unwrap_or(&0);
                let max = min.max(1_000) * rng.random_range(2..=12);
                url.push_str(&format!("&min_price={min}&max_price={max}"));
                url.push_str(if rng.random_bool(0.5) {
                    "&sort=price_asc"
                } else {
                    "&sort=price_desc"
                });
                let page = match rng.random_range(0..10) {
                    0..7 => 1,
                    7..9 => 2,
                    _ => 3,
                };
                url.push_str(&format!("&page={page}"));
                url
            }
            Scenario::Product => {
                let slug = if self.slugs.is_empty() {
                    "no-such-product"
                } else {
                    // Distinct while there are enough: walk the list.
                    &self.slugs[serial % self.slugs.len()]
                };
                format!("/api/products/{slug}")
            }
            Scenario::Suggest => {
                let word = pick(rng, &self.words).to_lowercase();
                let len = rng.random_range(2..=word.chars().count().clamp(2, 7));
                let prefix: String = word.chars().take(len).collect();
                format!("/api/search/suggest?q={}", encode(&prefix))
            }
        }
    }

    /// `n` distinct requests (fewer if the space is smaller).
    fn distinct(&self, scenario: Scenario, rng: &mut StdRng, n: usize) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut serial = 0;
        while out.len() < n && serial < n * 50 {
            let r = self.request(scenario, rng, serial);
            serial += 1;
            if seen.insert(r.clone()) {
                out.push(r);
            }
        }
        out
    }
}

fn pick<'a, T: AsRef<str>>(rng: &mut StdRng, items: &'a [T]) -> &'a str {
    items.choose(rng).map_or("", AsRef::as_ref)
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!(
                "GET {url}: {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(response.json().await?)
    }

    /// One timed request, body read to the end.
    async fn timed(&self, path: &str, ip: Option<&str>) -> Result<Duration, String> {
        let started = Instant::now();
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(ip) = ip {
            request = request.header("x-forwarded-for", ip);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{path}: {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        Ok(started.elapsed())
    }
}

/// Runs `requests` with `concurrency` workers, each with its own client IP.
async fn run_pass(
    client: &Client,
    requests: Vec<String>,
    concurrency: usize,
    same_ip: bool,
) -> Measured {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
            let ip = (!same_ip).then(|| worker_ip(w));
            tokio::spawn(async move {
                let mut m = Measured::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = requests.get(i) else { break };
                    m.record(client.timed(path, ip.as_deref()).await);
                }
                m
            })
        })
        .collect();
    let mut total = Measured::new();
    for w in futures::future::join_all(workers).await {
        match w {
            Ok(m) => total.merge(m),
            Err(e) => total.record(Err(format!("worker failed: {e}"))),
        }
    }
    total.elapsed = started.elapsed();
    total
}

fn worker_ip(worker: usize) -> String {
    format!(
        "10.{}.{}.{}",
        (worker >> 16) & 255,
        (worker >> 8) & 255,
        worker & 255
    )
}

struct Line {
    scenario: String,
    pass: &'static str,
    m: Measured,
}

fn table(lines: &[Line]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | pass | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for l in lines {
        let h = &l.m.latency;
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let n = h.len();
        let rps = n as f64 / l.m.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
            l.scenario,
            l.pass,
            n,
            l.m.errors,
            rps,
            ms(0.5),
            ms(0.95),
            ms(0.99),
            h.max() as f64 / 1000.0
        );
    }
    out
}

async fn workload(client: &Client, args: &Args) -> anyhow::Result<Workload> {
    let categories: CategoryList = client.get_json("/api/categories").await?;
    let categories: Vec<(String, Vec<String>)> = categories
        .categories
        .into_iter()
        .map(|c| {
            (
                c.slug,
                c.subcategories.into_iter().map(|s| s.slug).collect(),
            )
        })
        .collect();
    // Product pages to visit: best rated first in every category, enough
    // for a cold pass of distinct pages.
    let wanted = args.requests + args.warm_set;
    let mut slugs = Vec::new();
    let mut seen = HashSet::new();
    'pages: for page in 1..=20 {
        let before = slugs.len();
        for (category, _) in &categories {
            let found: SearchResults = client
                .get_json(&format!(
                    "/api/products?category={}&sort=rating&page_size=60&page={page}",
                    encode(category)
                ))
                .await?;
            for item in found.items {
                if seen.insert(item.slug.clone()) {
                    slugs.push(item.slug);
                }
            }
            if slugs.len() >= wanted {
                break 'pages;
            }
        }
        if slugs.len() == before {
            break;
        }
    }
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    use rand::seq::SliceRandom;
    slugs.shuffle(&mut rng);
    Ok(Workload {
        words: bazaar_seed::search_words(),
        phrases: bazaar_seed::search_phrases(),
        categories,
        slugs,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Both rustls providers are linked in (via the catalog crate); pick one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        .pool_max_idle_per_host(args.concurrency.max(1))
        .build()?;
    let client = Client {
        http,
        base: args.url.trim_end_matches('/').to_owned(),
    };
    let probe: SearchResults = client
        .get_json("/api/products?page_size=1&sort=newest")
        .await
        .context("is the platform running? (`scripts/bench` starts one)")?;
    let load = workload(&client, &args).await?;
    println!(
        "bazaar-bench: {} live products, {} categories, {} product pages to visit, {} search words; \
         concurrency {}, {} requests per scenario and pass",
        probe.total,
        load.categories.len(),
        load.slugs.len(),
        load.words.len(),
        args.concurrency,
        args.requests
    );
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut lines = Vec::new();
    let mut warm_sets = Vec::new();
    for &scenario in &args.scenarios {
        let cold = load.distinct(scenario, &mut rng, args.requests);
        let warm_set: Vec<String> = cold.iter().take(args.warm_set.max(1)).cloned().collect();
        eprintln!("{scenario}: cold pass, {} distinct requests", cold.len());
        let m = run_pass(&client, cold, args.concurrency, args.same_ip).await;
        lines.push(Line {
            scenario: scenario.name().to_owned(),
            pass: "cold",
            m,
        });
        if !args.no_cache_warm {
            let warm: Vec<String> = (0..args.requests)
                .map(|_| pick(&mut rng, &warm_set).to_owned())
                .collect();
            eprintln!(
                "{scenario}: warm pass, {} requests over {} cached ones",
                warm.len(),
                warm_set.len()
            );
            let m = run_pass(&client, warm, args.concurrency, args.same_ip).await;
            lines.push(Line {
                scenario: scenario.name().to_owned(),
                pass: "warm",
                m,
            });
        }
        warm_sets.push((scenario, warm_set));
    }
    if args.mixed_secs > 0 && !warm_sets.is_empty() {
        eprintln!("mixed: all scenarios for {} s", args.mixed_secs);
        let (load, sets) = (Arc::new(load), Arc::new(warm_sets));
        lines.extend(mixed(&client, load, &args, sets).await);
    }
    println!();
    print!("{}", table(&lines));
    for l in &lines {
        if let Some(e) = &l.m.first_error {
            println!("{} {}: first error: {e}", l.scenario, l.pass);
        }
    }
    println!(
        "\ncold: distinct requests, so every search is a miss in the catalog's KV cache (a product \
         page is cached per slug, a search per request and catalog revision); warm: the first {} \
         of them repeated (cache hits); mixed: all scenarios at once, 80 % repeats and 20 % new.",
        args.warm_set
    );
    Ok(())
}

/// All scenarios at once for `mixed_secs`, by weight; 80 % of requests
/// repeat a cached one, 20 % are new.
async fn mixed(
    client: &Client,
    load: Arc<Workload>,
    args: &Args,
    warm_sets: Arc<Vec<(Scenario, Vec<String>)>>,
) -> Vec<Line> {
    let deadline = Instant::now() + Duration::from_secs(args.mixed_secs);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|w| {
            let (client, load, sets) = (client.clone(), load.clone(), warm_sets.clone());
            let ip = (!args.same_ip).then(|| worker_ip(1000 + w));
            let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(1 + w as u64));
            let first_serial = args.requests + w * 1_000_000;
            tokio::spawn(async move {
                let total_weight: u32 = sets.iter().map(|(s, _)| s.weight()).sum();
                let mut per: Vec<Measured> = sets.iter().map(|_| Measured::new()).collect();
                let mut serial = first_serial;
                while Instant::now() < deadline {
                    let mut x = rng.random_range(0..total_weight.max(1));
                    let mut which = 0;
                    for (k, (s, _)) in sets.iter().enumerate() {
                        if x < s.weight() {
                            which = k;
                            break;
                        }
                        x -= s.weight();
                    }
                    let (scenario, set) = &sets[which];
                    let path = if rng.random_bool(0.8) {
                        pick(&mut rng, set).to_owned()
                    } else {
                        serial += 1;
                        load.request(*scenario, &mut rng, serial)
                    };
                    per[which].record(client.timed(&path, ip.as_deref()).await);
                }
                per
            })
        })
        .collect();
    let mut per: Vec<Measured> = warm_sets.iter().map(|_| Measured::new()).collect();
    let mut all = Measured::new();
    for w in futures::future::join_all(workers).await {
        let Ok(ms) = w else { continue };
        for (k, m) in ms.into_iter().enumerate() {
            let _ = all.latency.add(&m.latency);
            all.errors += m.errors;
            if all.first_error.is_none() {
                all.first_error.clone_from(&m.first_error);
            }
            per[k].merge(m);
        }
    }
    let elapsed = started.elapsed();
    let mut lines: Vec<Line> = warm_sets
        .iter()
        .zip(per)
        .map(|((s, _), mut m)| {
            m.elapsed = elapsed;
            Line {
                scenario: s.name().to_owned(),
                pass: "mixed",
                m,
            }
        })
        .collect();
    all.elapsed = elapsed;
    lines.push(Line {
        scenario: "all".to_owned(),
        pass: "mixed",
        m: all,
    });
    lines
}
